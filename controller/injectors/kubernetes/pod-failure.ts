/**
 * podFailure (Chaos Mesh's pod-failure): every container and init container of each selected pod
 * gets the pause image (`pauseImage`, default registry.k8s.io/pause:3.10; configurable for
 * air-gapped clusters) for the step's duration. Pods are never deleted. One strategic merge patch
 * per pod changes the images and claims the pod: `faultline.io/run-id` and, in
 * `faultline.io/original`, the original images and which fault saved them, so a restarted
 * controller can restore them from the pod alone. A target's `containers` narrows it to those.
 *
 * The revert restores the images still set to the pause image (one someone changed meanwhile is
 * left as they set it) and removes both annotations. It is idempotent: a pod that is gone (404),
 * replaced by a new pod of that name, or no longer claimed by this fault counts as reverted.
 *
 * On a real cluster the kubelet restarts each changed container with the pause image; the app's
 * own command usually does not exist in it, so the container fails to start (or runs `/pause`)
 * and the pod stops being Ready until the revert restarts it with its own image. Only `image` may
 * change on a running pod, which is exactly what this relies on. Init containers that already
 * completed are not re-run by the kubelet (native sidecars, `restartPolicy: Always`, are).
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import type { Cluster } from '../../drivers/kubernetes/cluster.ts'
import { claim, release } from '../../drivers/kubernetes/ownership.ts'
import type { FaultRecord, ObjectRef } from '../../experiments/journal.ts'
import { STRATEGIC_PATCH } from '../../drivers/kubernetes/cluster.ts'
import { type Injector, type RecoveryContext, sleep } from '../types.ts'
import { claimable, nameOf, ourClaim, patchPod, planPods, podRefs, podTarget, type Saved } from './pod-shared.ts'

type Spec = NonNullable<StepSpec['podFailure']>

export const DEFAULT_PAUSE_IMAGE = 'registry.k8s.io/pause:3.10'

/** What `faultline.io/original` holds for a pod failure. */
interface Original extends Saved {
  pause: string
  /** Container name -> original image. */
  containers: Record<string, string>
  initContainers: Record<string, string>
}

type Lists = 'containers' | 'initContainers'
const LISTS: Lists[] = ['containers', 'initContainers']

function imagesOf(cs: V1Container[] | undefined, only: string[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (cs ?? []).filter((c) => !only || only.includes(c.name)).map((c) => [c.name, c.image ?? '']),
  )
}

/** Restores one pod, if this fault still holds it; says what happened. */
async function restore(cluster: Cluster, ref: ObjectRef, runId: string, faultId: string): Promise<string> {
  let kept = 0
  const done = await patchPod(cluster, ref, 'restore images on pod', (pod) => {
    const saved = ourClaim<Original>(pod, runId, faultId)
    if (!saved) return { skip: 'not changed by this fault (already reverted)' }
    kept = 0
    const spec: Record<string, { name: string; image: string }[]> = {}
    for (const list of LISTS) {
      const now = imagesOf(pod.spec?.[list], undefined)
      const back = Object.entries(saved[list] ?? {}).filter(([name]) => now[name] === saved.pause)
      kept += Object.keys(saved[list] ?? {}).filter((name) => name in now && now[name] !== saved.pause).length
      if (back.length) spec[list] = back.map(([name, image]) => ({ name, image }))
    }
    return { patch: { metadata: release().metadata, spec } }
  })
  if (!done.pod) return `${nameOf(ref)}: ${done.skip}`
  return `${nameOf(ref)}: images restored${kept ? ` (${kept} changed by someone else meanwhile, left as they are)` : ''}`
}

async function restoreAll(cluster: Cluster, record: FaultRecord, runId: string): Promise<string> {
  const lines: string[] = []
  for (const ref of podRefs(record)) lines.push(await restore(cluster, ref, runId, record.id))
  return lines.join('; ')
}

export const podFailure: Injector<Spec, { containers?: string[] }> = {
  step: 'podFailure',

  async plan(s, step, ctx) {
    const containers = podTarget(ctx, s.target, 'podFailure').containers
    const pause = s.pauseImage ?? DEFAULT_PAUSE_IMAGE
    return planPods('podFailure', s.target, step, ctx, (_pods, refs) => ({
      intent: `set ${containers ? `containers ${containers.join(', ')}` : 'every container'} of ${refs.length} pod(s) to ${pause} for ${s.duration} ms: ${refs.map(nameOf).join(', ')}`,
      data: { containers },
    }))
  },

  async apply({ record, data }, s, ctx) {
    const cluster = ctx.cluster()
    const pause = s.pauseImage ?? DEFAULT_PAUSE_IMAGE
    const lines: string[] = []
    let changed = 0
    for (const ref of podRefs(record)) {
      const what = `pod ${nameOf(ref)}`
      let already = false
      let count = 0
      const done = await patchPod(
        cluster,
        ref,
        'set pause images on pod',
        (pod: V1Pod) => {
          if (claimable(pod, ctx.runId, record.id, what) === 'ours') {
            already = true
            return { skip: 'already failed by this fault' }
          }
          const original: Original = {
            fault: record.id,
            pause,
            containers: imagesOf(pod.spec?.containers, data.containers),
            initContainers: imagesOf(pod.spec?.initContainers, data.containers),
          }
          const spec: Record<string, { name: string; image: string }[]> = {}
          for (const list of LISTS) {
            const names = Object.keys(original[list])
            if (names.length) spec[list] = names.map((name) => ({ name, image: pause }))
          }
          count = (spec.containers?.length ?? 0) + (spec.initContainers?.length ?? 0)
          if (!count) return { skip: `has none of the containers ${data.containers}` }
          return { patch: { metadata: claim(ctx.runId, original).metadata, spec } }
        },
        STRATEGIC_PATCH,
      )
      if (done.pod || already) changed++
      lines.push(
        done.pod ? `${nameOf(ref)}: ${count} container image(s) set to ${pause}` : `${nameOf(ref)}: ${done.skip}`,
      )
    }
    record.appliedAt = Date.now()
    for (const l of lines) ctx.say(`  [podFailure] ${l}`)
    return `${changed} of ${podRefs(record).length} pod(s) failed: ${lines.join('; ')}`
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  revert: ({ record }, _s, ctx) => restoreAll(ctx.cluster(), record, ctx.runId),

  recover: (record: FaultRecord, ctx: RecoveryContext) => restoreAll(ctx.cluster(), record, ctx.runId),
}
