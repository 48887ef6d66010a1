/**
 * podKill: delete the selected pods, with each pod's own grace period or the step's
 * `gracePeriodSeconds` (0 deletes at once: `kubectl delete --force --grace-period=0`).
 *
 * Recovery is measured from a watch on each pod's namespace (started before the delete, so no
 * event is missed), not from polling: the time from a pod's delete until a replacement is Ready.
 * A replacement is a pod with a uid that did not exist before the kill, owned by the same object
 * (the killed pod's controller, else its first owner). A StatefulSet's replacement keeps the
 * name; a ReplicaSet's gets a new one. Waiting is bounded by `recoverWithin` (default 60 s);
 * `recoveryMs` is the slowest pod's time, or null when any owned pod was not replaced in time.
 * A pod nobody owns is not replaced: the step says so.
 *
 * On a real cluster, a graceful delete leaves the pod Terminating for up to its grace period
 * while its replacement starts (ReplicaSets replace at once; StatefulSets only once the old pod
 * is gone, so their recovery includes the grace period). Nothing to revert; no hold.
 */
import type { V1Pod } from '@kubernetes/client-node'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import { kubernetesError, statusOf } from '../../drivers/kubernetes/cluster.ts'
import { assertFree } from '../../drivers/kubernetes/ownership.ts'
import { podReady } from '../../drivers/kubernetes/state.ts'
import type { ObjectRef } from '../../experiments/journal.ts'
import { type Injector, sleep } from '../types.ts'
import { nameOf, ownerOfPod, planPods, PodWatch, podRefs, rereadPod } from './pod-shared.ts'

type Spec = NonNullable<StepSpec['podKill']>

export const DEFAULT_RECOVER_WITHIN_MS = 60_000

interface Kill {
  ref: ObjectRef
  grace?: number
  owner?: { uid: string; kind: string; name: string }
  deletedAt?: number
  replacement?: { name: string; readyAt: number }
  /** Why the pod was not deleted. */
  skipped?: string
}

export const podKill: Injector<Spec, undefined> = {
  step: 'podKill',

  async plan(s, step, ctx) {
    const grace = s.gracePeriodSeconds === undefined ? "the pod's own grace period" : `grace ${s.gracePeriodSeconds}s`
    return planPods('podKill', s.target, step, ctx, (_pods, refs) => ({
      intent: `delete ${refs.length} pod(s) (${grace}): ${refs.map(nameOf).join(', ')}`,
      data: undefined,
    }))
  },

  async apply({ record }, s, ctx) {
    const cluster = ctx.cluster()
    const recoverWithin = s.recoverWithin ?? DEFAULT_RECOVER_WITHIN_MS
    const kills: Kill[] = podRefs(record).map((ref) => ({ ref }))
    const used = new Set<string>()
    let settle: () => void = () => undefined
    const settled = new Promise<void>((resolve) => (settle = resolve))
    const pending = () => kills.filter((k) => k.deletedAt !== undefined && k.owner && !k.replacement)

    // A Ready pod that did not exist before the kill, owned by a killed pod's owner, replaces
    // the earliest killed pod of that owner that has no replacement yet.
    const known = new Set<string>()
    const seen = (type: string, pod: V1Pod) => {
      const uid = pod.metadata?.uid
      if (type === 'DELETED' || !uid || known.has(uid) || used.has(uid) || !podReady(pod)) return
      const owner = ownerOfPod(pod)?.uid
      const k = pending().find((x) => x.owner!.uid === owner)
      if (!k) return
      used.add(uid)
      k.replacement = { name: pod.metadata!.name!, readyAt: Date.now() }
      if (pending().length === 0) settle()
    }

    const watches: PodWatch[] = []
    try {
      for (const ns of new Set(kills.map((k) => k.ref.namespace!))) {
        const w = new PodWatch(cluster, ns, seen, ctx.log)
        watches.push(w)
        for (const p of await w.start()) known.add(p.metadata!.uid!)
      }
      for (const k of kills) await kill(k)
      record.appliedAt = Date.now()
      if (pending().length) {
        const last = Math.max(...kills.map((k) => k.deletedAt ?? 0))
        // The wait ends at the deadline, when the run stops, or once every pod is replaced.
        const done = new AbortController()
        await Promise.race([
          settled,
          sleep(last + recoverWithin - Date.now(), AbortSignal.any([ctx.signal, done.signal])),
        ])
        done.abort()
      }
    } finally {
      for (const w of watches) w.stop()
    }

    async function kill(k: Kill): Promise<void> {
      const now = await rereadPod(cluster, k.ref)
      if (!now.pod) return void (k.skipped = now.why)
      assertFree(now.pod, ctx.runId, `pod ${nameOf(k.ref)}`)
      k.owner = ownerOfPod(now.pod)
      k.grace = s.gracePeriodSeconds ?? now.pod.spec?.terminationGracePeriodSeconds ?? 30
      // Counted from the moment the delete is sent: a replacement may be Ready before the answer.
      k.deletedAt = Date.now()
      try {
        await cluster.core.deleteNamespacedPod({
          name: k.ref.name,
          namespace: k.ref.namespace!,
          gracePeriodSeconds: s.gracePeriodSeconds,
          // Only the pod that was selected: never its same-named successor.
          body: { preconditions: { uid: now.pod.metadata!.uid } },
        })
      } catch (err) {
        k.deletedAt = undefined
        const status = statusOf(err)
        if (status === 404) return void (k.skipped = 'gone')
        if (status === 409) return void (k.skipped = 'replaced by a new pod since it was selected')
        throw kubernetesError(`delete pod ${nameOf(k.ref)}`, err)
      }
    }

    const inTime = (k: Kill) => k.replacement !== undefined && k.replacement.readyAt - k.deletedAt! <= recoverWithin
    const killed = kills.filter((k) => k.deletedAt !== undefined)
    const owned = killed.filter((k) => k.owner)
    if (killed.length)
      record.recoveryMs =
        owned.length === killed.length && owned.every(inTime)
          ? Math.max(...owned.map((k) => k.replacement!.readyAt - k.deletedAt!))
          : null
    const lines = kills.map((k) => {
      const pod = nameOf(k.ref)
      if (k.skipped) return `${pod} not deleted: ${k.skipped}`
      const what = `${pod} deleted (grace ${k.grace}s)`
      if (!k.owner) return `${what}: no owner, so nothing replaces it`
      if (k.replacement && inTime(k))
        return `${what}: replacement ${k.replacement.name} Ready after ${k.replacement.readyAt - k.deletedAt!} ms`
      return `${what}: no replacement from ${k.owner.kind} ${k.owner.name} Ready within ${recoverWithin} ms${ctx.signal.aborted ? ' (run stopped while waiting)' : ''}`
    })
    for (const l of lines) ctx.say(`  [podKill] ${l}`)
    return lines.join('; ')
  },

  // No hold: a kill is one-shot, and nothing is left to undo.
  async revert() {
    return undefined
  },
}
