/**
 * podEvict: evict the selected pods through the Eviction API (policy/v1), as `kubectl drain`
 * does, so PodDisruptionBudgets are respected. All pods are evicted at once, each retried on 429
 * (a budget that allows no disruption now, or API priority and fairness) with a short backoff
 * until the step's `timeout` (default 60 s) or the run stops.
 *
 * A pod still refused at the deadline is a FINDING, not a faultline error: the budget did its
 * job. The step does not fail; the applied detail and a timeline event say "blocked by
 * PodDisruptionBudget NAME", the name read from the 429 Status (its DisruptionBudget cause),
 * else found as the budget in the pod's namespace whose selector matches the pod.
 *
 * On a real cluster an evicted pod is deleted gracefully (its own grace period unless
 * `gracePeriodSeconds` is given) and its owner replaces it. Nothing to revert; no hold.
 */
import type { V1Pod } from '@kubernetes/client-node'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import {
  type LabelSelectorObject,
  matchesSelector,
  selectorFromObject,
} from '../../../src/kubernetes/label-selector.ts'
import { type Cluster, kubernetesError, statusOf } from '../../drivers/kubernetes/cluster.ts'
import { assertFree } from '../../drivers/kubernetes/ownership.ts'
import type { ObjectRef } from '../../experiments/journal.ts'
import { type Injector, sleep } from '../types.ts'
import { nameOf, planPods, podRefs, rereadPod, statusDetails } from './pod-shared.ts'

type Spec = NonNullable<StepSpec['podEvict']>

export const DEFAULT_EVICT_TIMEOUT_MS = 60_000
const FIRST_BACKOFF_MS = 200
const MAX_BACKOFF_MS = 2000

type Outcome =
  | { evicted: true; tries: number }
  | { skipped: string }
  | { blocked: string; pdb?: string; tries: number; stopped: boolean }

/** The budget a 429 names: its DisruptionBudget cause says "The disruption budget NAME needs ...". */
function budgetNamed(err: unknown): string | undefined {
  const { message, causes } = statusDetails(err)
  for (const text of [...causes.map((c) => c.message), message])
    if (text) {
      const m = /disruption budget (\S+?) needs/i.exec(text)
      if (m) return m[1]
    }
  return undefined
}

/** The budget whose selector matches the pod (the eviction registry allows at most one). */
async function budgetFor(cluster: Cluster, pod: V1Pod): Promise<string | undefined> {
  const namespace = pod.metadata!.namespace!
  const list = await cluster.call(`list PodDisruptionBudgets in ${namespace}`, () =>
    cluster.policy.listNamespacedPodDisruptionBudget({ namespace }),
  )
  const labels = pod.metadata?.labels
  // An empty selector in policy/v1 selects every pod of the namespace; a missing one none.
  const match = list.items.find(
    (b) => b.spec?.selector && matchesSelector(selectorFromObject(b.spec.selector as LabelSelectorObject), labels),
  )
  return match?.metadata?.name
}

export const podEvict: Injector<Spec, undefined> = {
  step: 'podEvict',

  async plan(s, step, ctx) {
    const timeout = s.timeout ?? DEFAULT_EVICT_TIMEOUT_MS
    return planPods('podEvict', s.target, step, ctx, (_pods, refs) => ({
      intent: `evict ${refs.length} pod(s) (PodDisruptionBudgets respected, retried for up to ${timeout} ms): ${refs.map(nameOf).join(', ')}`,
      data: undefined,
    }))
  },

  async apply({ record }, s, ctx) {
    const cluster = ctx.cluster()
    const timeout = s.timeout ?? DEFAULT_EVICT_TIMEOUT_MS
    const deadline = Date.now() + timeout

    async function evict(ref: ObjectRef): Promise<Outcome> {
      const now = await rereadPod(cluster, ref)
      if (!now.pod) return { skipped: now.why }
      assertFree(now.pod, ctx.runId, `pod ${nameOf(ref)}`)
      const body = {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: ref.name, namespace: ref.namespace },
        // Only the pod that was selected: never its same-named successor.
        deleteOptions: { gracePeriodSeconds: s.gracePeriodSeconds, preconditions: { uid: now.pod.metadata!.uid } },
      }
      let backoff = FIRST_BACKOFF_MS
      for (let tries = 1; ; tries++) {
        try {
          await cluster.core.createNamespacedPodEviction({ name: ref.name, namespace: ref.namespace!, body })
          return { evicted: true, tries }
        } catch (err) {
          const status = statusOf(err)
          if (status === 404) return { skipped: 'gone' }
          if (status === 409) return { skipped: 'replaced by a new pod since it was selected' }
          if (status !== 429) throw kubernetesError(`evict pod ${nameOf(ref)}`, err)
          const left = deadline - Date.now()
          if (left <= 0 || ctx.signal.aborted) {
            const pdb = budgetNamed(err) ?? (await budgetFor(cluster, now.pod))
            return { blocked: statusDetails(err).message ?? 'refused (429)', pdb, tries, stopped: left > 0 }
          }
          await sleep(Math.min(backoff, left), ctx.signal)
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)
        }
      }
    }

    const refs = podRefs(record)
    const outcomes = await Promise.all(refs.map(evict))
    record.appliedAt = Date.now()
    const lines = refs.map((ref, i) => {
      const o = outcomes[i]!
      const pod = nameOf(ref)
      if ('evicted' in o) return `${pod} evicted${o.tries > 1 ? ` after ${o.tries} tries` : ''}`
      if ('skipped' in o) return `${pod} not evicted: ${o.skipped}`
      const by = o.pdb ? `blocked by PodDisruptionBudget ${o.pdb}` : `blocked: ${o.blocked}`
      const finding = `${pod} not evicted: ${by} (${o.tries} tries ${o.stopped ? 'before the run stopped' : `in ${timeout} ms`})`
      ctx.event({ type: 'step', step: record.step, fault: record.id, detail: finding })
      return finding
    })
    for (const l of lines) ctx.say(`  [podEvict] ${l}`)
    const evicted = outcomes.filter((o) => 'evicted' in o).length
    return `evicted ${evicted} of ${refs.length} pod(s): ${lines.join('; ')}`
  },

  // No hold: an eviction is one-shot, and nothing is left to undo.
  async revert() {
    return undefined
  },
}
