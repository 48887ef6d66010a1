/**
 * nodeDrain, as `kubectl drain --ignore-daemonsets` does it, through the API only:
 *
 *   1. refuse, before changing anything, when a pod no controller owns would be evicted (it would
 *      not come back) unless `force: true`;
 *   2. cordon the selected nodes (same prior-state rule as nodeCordon: a node that was already
 *      cordoned stays cordoned after the revert);
 *   3. evict every pod on them through the Eviction API (PodDisruptionBudgets respected), except
 *      DaemonSet pods (their controller would put them straight back), mirror pods (the kubelet
 *      owns them) and pods already terminating. Pods in protected namespaces (kube-system, ...,
 *      the controller's own) stay unless the target allows protected namespaces. A 429 is
 *      retried until `timeout`; pods still blocked then are a finding ("blocked by
 *      PodDisruptionBudget NAME"), not an error;
 *   4. wait, from a watch, until the evicted pods are gone (bounded by the same timeout).
 *
 * Hold: the duration. Revert: uncordon back to the prior state; the evicted pods are not brought
 * back (their controllers have recreated them elsewhere, and will spread again once the node is
 * schedulable).
 */
import { type V1Pod, Watch } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import { type KubernetesTargetSpec, PROTECTED_NAMESPACES } from '../../../src/experiments/kubernetes-schema.ts'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import { matchesSelector, selectorFromObject } from '../../../src/kubernetes/label-selector.ts'
import type { Logger } from '../../../src/log.ts'
import { type Cluster, kubernetesError, statusOf } from '../../drivers/kubernetes/cluster.ts'
import { type InjectionContext, type Injector, sleep } from '../types.ts'
import { cordon, nodesOf, nodeTarget, planNodes, uncordonAll } from './node-shared.ts'

type Spec = NonNullable<StepSpec['nodeDrain']>

const DEFAULT_TIMEOUT_MS = 120_000
/** Between eviction attempts a PodDisruptionBudget refused (kubectl drain waits 5 s). */
const EVICTION_RETRY_MS = 1000
/** After a watch failed, before listing again: a broken watch must not become a busy loop. */
const WATCH_RETRY_MS = 500
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'

const podName = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`

type Skip = 'daemonset' | 'mirror' | 'terminating' | 'protected'

/** Why a pod on a drained node stays, or undefined when it is to be evicted. */
function skipReason(p: V1Pod, protectedNs: Set<string> | undefined): Skip | undefined {
  if (p.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return 'mirror'
  if ((p.metadata?.ownerReferences ?? []).some((o) => o.controller && o.kind === 'DaemonSet')) return 'daemonset'
  if (p.metadata?.deletionTimestamp) return 'terminating'
  if (protectedNs?.has(p.metadata?.namespace ?? '')) return 'protected'
  return undefined
}

/** Namespaces whose pods a drain leaves alone; none when the target allows protected namespaces. */
function protectedNamespaces(k: KubernetesTargetSpec, ctx: InjectionContext): Set<string> | undefined {
  if (k.allowProtectedNamespaces) return undefined
  return new Set<string>([...PROTECTED_NAMESPACES, ...(ctx.ownNamespace ? [ctx.ownNamespace] : [])])
}

/** A pod nothing would recreate: no controller, and not finished anyway (kubectl's rule). */
function unmanaged(p: V1Pod): boolean {
  const finished = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed'
  return !finished && !(p.metadata?.ownerReferences ?? []).some((o) => o.controller)
}

interface NodePods {
  node: string
  evict: V1Pod[]
  left: Record<Skip, string[]>
}

async function podsOn(cluster: Cluster, node: string, protectedNs: Set<string> | undefined): Promise<NodePods> {
  const pods = await cluster.listPods(undefined, { fieldSelector: `spec.nodeName=${node}` })
  const out: NodePods = { node, evict: [], left: { daemonset: [], mirror: [], terminating: [], protected: [] } }
  for (const p of pods) {
    const why = skipReason(p, protectedNs)
    if (why) out.left[why].push(podName(p))
    else out.evict.push(p)
  }
  return out
}

/** Refuses, naming them, pods that would be evicted but that no controller brings back. */
function refuseUnmanaged(all: NodePods[], force: boolean | undefined): void {
  if (force) return
  const bare = all.flatMap((n) => n.evict.filter(unmanaged).map((p) => `${podName(p)} on ${n.node}`))
  if (bare.length)
    throw errors.FL_ERR_TARGET_PROTECTED(
      `the drain would evict ${bare.length} pod(s) no controller owns, which would not come back: ${bare.join(', ')}`,
      { issues: [{ path: '/force', message: 'set force: true to evict pods no controller owns' }] },
    )
}

type Eviction =
  | { pod: V1Pod; result: 'evicted' | 'gone' }
  | { pod: V1Pod; result: 'blocked'; pdb: string }
  | { pod: V1Pod; result: 'stopped' }

/** The budget a 429 names ("The disruption budget NAME needs ..."), when the server said. */
function budgetNamed(err: unknown): string | undefined {
  let body = (err as { body?: unknown }).body
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      return undefined
    }
  }
  const causes = (body as { details?: { causes?: { message?: string }[] } } | undefined)?.details?.causes ?? []
  for (const c of causes) {
    const m = /disruption budget (\S+)/.exec(c.message ?? '')
    if (m) return m[1]
  }
  return undefined
}

/** The budget covering a pod, looked up when the 429 did not name it. */
async function budgetCovering(cluster: Cluster, pod: V1Pod): Promise<string | undefined> {
  const namespace = pod.metadata!.namespace!
  const pdbs = await cluster.call(`list PodDisruptionBudgets in ${namespace}`, () =>
    cluster.policy.listNamespacedPodDisruptionBudget({ namespace }),
  )
  const match = pdbs.items.find(
    (b) => b.spec?.selector && matchesSelector(selectorFromObject(b.spec.selector as never), pod.metadata?.labels),
  )
  return match?.metadata?.name
}

/**
 * Evicts one pod (the one listed: its uid is a precondition), retrying while a
 * PodDisruptionBudget refuses, until `deadline`.
 */
async function evict(
  cluster: Cluster,
  pod: V1Pod,
  gracePeriodSeconds: number | undefined,
  deadline: number,
  signal: AbortSignal,
): Promise<Eviction> {
  const name = pod.metadata!.name!
  const namespace = pod.metadata!.namespace!
  for (;;) {
    try {
      await cluster.core.createNamespacedPodEviction({
        name,
        namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace },
          deleteOptions: {
            ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
            preconditions: { uid: pod.metadata!.uid },
          },
        },
      })
      return { pod, result: 'evicted' }
    } catch (err) {
      const status = statusOf(err)
      // Gone already, or replaced by a pod of the same name (the uid precondition failed).
      if (status === 404 || status === 409) return { pod, result: 'gone' }
      if (status !== 429) throw kubernetesError(`evict pod ${namespace}/${name}`, err)
      const left = deadline - Date.now()
      if (left <= 0) {
        const pdb = budgetNamed(err) ?? (await budgetCovering(cluster, pod)) ?? '(unnamed)'
        return { pod, result: 'blocked', pdb: `${namespace}/${pdb}` }
      }
      await sleep(Math.min(EVICTION_RETRY_MS, left), signal)
      if (signal.aborted) return { pod, result: 'stopped' }
    }
  }
}

/**
 * Waits until the pods with these uids are gone from `node`: a list, then a watch from its
 * resourceVersion (listing again whenever the watch ends or fails). Returns those still there at
 * the deadline or when `signal` aborts.
 */
async function waitGone(
  cluster: Cluster,
  node: string,
  pods: Map<string, string>,
  deadline: number,
  signal: AbortSignal,
  log: Logger,
): Promise<string[]> {
  const fieldSelector = `spec.nodeName=${node}`
  for (;;) {
    const list = await cluster.call(`list pods on node ${node}`, () =>
      cluster.core.listPodForAllNamespaces({ fieldSelector }),
    )
    const present = new Set(list.items.map((p) => p.metadata?.uid))
    for (const uid of [...pods.keys()]) if (!present.has(uid)) pods.delete(uid)
    const left = deadline - Date.now()
    if (pods.size === 0 || left <= 0 || signal.aborted) return [...pods.values()]
    const failed = await new Promise<boolean>((resolve) => {
      let finished = false
      let watch: AbortController | undefined
      const timer = setTimeout(() => finish(false), left)
      const onAbort = () => finish(false)
      signal.addEventListener('abort', onAbort, { once: true })
      function finish(failure: boolean) {
        if (finished) return
        finished = true
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        watch?.abort()
        resolve(failure)
      }
      new Watch(cluster.kc)
        .watch(
          '/api/v1/pods',
          { fieldSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
          (phase, obj: V1Pod) => {
            if (phase === 'DELETED' && obj.metadata?.uid) pods.delete(obj.metadata.uid)
            // ERROR is a Status (410 Gone: the resourceVersion is too old): list again.
            if (phase === 'ERROR') {
              log.debug({ node, status: obj }, 'pod watch ended with an error event; listing again')
              finish(false)
            }
            if (pods.size === 0) finish(false)
          },
          (err) => {
            // The server closed the stream or the client's inactivity timer fired: list again.
            if (err && !finished) log.debug({ node, err }, 'pod watch ended; listing again')
            finish(Boolean(err) && !finished)
          },
        )
        .then(
          (w) => {
            watch = w
            if (finished) w.abort()
          },
          (err) => {
            log.warn({ node, err }, 'cannot watch pods; listing again')
            finish(true)
          },
        )
    })
    if (failed) await sleep(WATCH_RETRY_MS, signal)
  }
}

export const nodeDrain: Injector<Spec, undefined> = {
  step: 'nodeDrain',

  // The intent names the pods the drain would evict as of now (read-only list calls), so a dry
  // run answers "which pods?" too; apply lists them again, as more may have been scheduled since.
  async plan(s, step, ctx) {
    const planned = await planNodes(
      'nodeDrain',
      s,
      step,
      ctx,
      (names) =>
        `drain node(s) ${names.join(', ')} (cordon, evict all but DaemonSet and mirror pods${s.force ? ', unmanaged pods too' : ''}) for ${s.duration / 1000}s`,
      undefined,
    )
    const cluster = ctx.cluster()
    const protectedNs = protectedNamespaces(nodeTarget(ctx, s.target), ctx)
    for (const p of planned) {
      const pods: NodePods[] = []
      for (const node of nodesOf(p.record)) pods.push(await podsOn(cluster, node, protectedNs))
      const evict = pods.flatMap((n) => n.evict.map(podName))
      const left = pods.reduce((sum, n) => sum + Object.values(n.left).flat().length, 0)
      p.intent += `; would evict ${evict.length} pod(s)${evict.length ? `: ${evict.join(', ')}` : ''}${left ? ` (${left} left in place)` : ''}`
    }
    return planned
  },

  async apply({ record }, s, ctx) {
    const cluster = ctx.cluster()
    const nodes = nodesOf(record)
    const protectedNs = protectedNamespaces(nodeTarget(ctx, s.target), ctx)
    const timeout = s.timeout ?? DEFAULT_TIMEOUT_MS

    // Nothing changes if a pod would be lost for good.
    const before: NodePods[] = []
    for (const node of nodes) before.push(await podsOn(cluster, node, protectedNs))
    refuseUnmanaged(before, s.force)

    const cordoned: string[] = []
    const already: string[] = []
    for (const node of nodes) ((await cordon(cluster, ctx.runId, node)).changed ? cordoned : already).push(node)

    // Listed again now that nothing new is scheduled here; a pod bound in between is checked too.
    const now: NodePods[] = []
    for (const node of nodes) now.push(await podsOn(cluster, node, protectedNs))
    refuseUnmanaged(now, s.force)

    const deadline = Date.now() + timeout
    // One eviction failing for good (not a 429) fails the step: the others stop retrying too.
    const failed = new AbortController()
    const signal = AbortSignal.any([ctx.signal, failed.signal])
    const settled = await Promise.allSettled(
      now.flatMap((n) =>
        n.evict.map((p) =>
          evict(cluster, p, s.gracePeriodSeconds, deadline, signal).catch((err: unknown) => {
            failed.abort()
            throw err
          }),
        ),
      ),
    )
    const failure = settled.find((r) => r.status === 'rejected')
    if (failure) throw failure.reason
    const evictions = settled.map((r) => (r as PromiseFulfilledResult<Eviction>).value)
    const evicted = evictions.filter((e) => e.result === 'evicted')
    const blocked = evictions.filter((e): e is Extract<Eviction, { result: 'blocked' }> => e.result === 'blocked')
    const stopped = evictions.filter((e) => e.result === 'stopped')

    const terminating = (
      await Promise.all(
        now.map((n) => {
          const mine = new Map(
            evicted
              .filter((e) => e.pod.spec?.nodeName === n.node)
              .map((e) => [e.pod.metadata!.uid!, podName(e.pod)] as const),
          )
          return mine.size ? waitGone(cluster, n.node, mine, deadline, ctx.signal, ctx.log) : []
        }),
      )
    ).flat()

    const byPdb = new Map<string, string[]>()
    for (const b of blocked) byPdb.set(b.pdb, [...(byPdb.get(b.pdb) ?? []), podName(b.pod)])
    const left = (why: Skip) => now.flatMap((n) => n.left[why])
    const parts = [
      cordoned.length ? `cordoned ${cordoned.join(', ')}` : '',
      already.length ? `already cordoned, left cordoned: ${already.join(', ')}` : '',
      `evicted ${evicted.length} pod(s)${evicted.length ? `: ${evicted.map((e) => podName(e.pod)).join(', ')}` : ''}`,
      ...[...byPdb].map(
        ([pdb, pods]) =>
          `${pods.length} pod(s) blocked by PodDisruptionBudget ${pdb} after ${timeout / 1000}s: ${pods.join(', ')}`,
      ),
      stopped.length ? `not evicted (the run stopped): ${stopped.map((e) => podName(e.pod)).join(', ')}` : '',
      terminating.length ? `still terminating at the timeout: ${terminating.join(', ')}` : '',
      left('daemonset').length ? `left ${left('daemonset').length} DaemonSet pod(s)` : '',
      left('mirror').length ? `left ${left('mirror').length} mirror pod(s)` : '',
      left('protected').length
        ? `left ${left('protected').length} pod(s) in protected namespaces: ${left('protected').join(', ')}`
        : '',
    ].filter(Boolean)
    const detail = parts.join('; ')
    for (const [pdb, pods] of byPdb) {
      const finding = `${pods.length} pod(s) blocked by PodDisruptionBudget ${pdb}`
      ctx.event({ type: 'step', step: record.step, fault: record.id, detail: `${finding}: ${pods.join(', ')}` })
      ctx.say(`  [finding] ${record.step}: ${finding}`)
      ctx.log.info({ fault: record.id, pdb, pods }, 'drain blocked by a PodDisruptionBudget')
    }
    ctx.say(`  [fault] ${record.step}: ${detail}`)
    return detail
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  revert: ({ record }, _s, ctx) => uncordonAll(record, ctx),

  recover: (record, ctx) => uncordonAll(record, ctx),
}
