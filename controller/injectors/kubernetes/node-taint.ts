/**
 * nodeTaint: the step's taints are added to each selected node, keeping the node's own. A taint
 * whose key and effect the node already has is left exactly as it was (its value too) and noted;
 * the revert never removes it. The node records its prior taint list and the (key, effect) pairs
 * this fault added in `faultline.io/original`, in the same patch that adds them.
 *
 * Revert removes exactly the taints this fault added, so the list is the prior one again. It
 * does not write the recorded list back wholesale: taints the cluster itself added meanwhile
 * (node.kubernetes.io/not-ready, the unschedulable taint of a cordon) are its own business and
 * stay. With no such change in between the result is the prior list, element for element.
 */
import type { V1Node, V1Taint } from '@kubernetes/client-node'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import type { Cluster } from '../../drivers/kubernetes/cluster.ts'
import { type Injector, sleep } from '../types.ts'
import { changeAspect, nodeAccess, nodesOf, planNodes, restoreAspect, restoreNodes } from './node-shared.ts'

type Spec = NonNullable<StepSpec['nodeTaint']>

export const TAINTS = 'taints'

interface TaintKey {
  key: string
  effect: string
}

/** What a node records for this aspect. */
export interface TaintsOriginal {
  /** The node's taints before (an absent list is recorded as []). */
  prior: V1Taint[]
  /** What this fault added, by key and effect (a taint's identity on a node). */
  added: TaintKey[]
  /** Whether the node had a taint list at all (restored as absent rather than []). */
  hadList: boolean
}

const same = (a: TaintKey, b: TaintKey) => a.key === b.key && a.effect === b.effect
const label = (t: { key: string; value?: string; effect: string }) =>
  `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`

export const nodeTaint: Injector<Spec, undefined> = {
  step: 'nodeTaint',

  plan: (s, step, ctx) =>
    planNodes(
      'nodeTaint',
      s,
      step,
      ctx,
      (names) => `taint node(s) ${names.join(', ')} with ${s.taints.map(label).join(', ')} for ${s.duration / 1000}s`,
      undefined,
    ),

  async apply({ record }, s, ctx) {
    const cluster = ctx.cluster()
    const parts: string[] = []
    for (const name of nodesOf(record)) {
      let present: string[] = []
      const r = await changeAspect<V1Node, TaintsOriginal>(nodeAccess(cluster, name), ctx.runId, TAINTS, (n) => {
        const prior = n.spec?.taints ?? []
        present = s.taints.filter((t) => prior.some((p) => same(p, t))).map(label)
        const add = s.taints.filter((t) => !prior.some((p) => same(p, t)))
        if (add.length === 0) return { skip: 'every taint already present' }
        const taints: V1Taint[] = [
          ...prior,
          ...add.map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })),
        ]
        return {
          prior: {
            prior,
            added: add.map((t) => ({ key: t.key, effect: t.effect })),
            hadList: n.spec?.taints !== undefined,
          },
          spec: { taints },
        }
      })
      parts.push(
        [
          r.changed
            ? `${name}: added ${r.prior.added.map((k) => `${k.key}:${k.effect}`).join(', ')}`
            : `${name}: nothing added`,
          present.length ? `already present, left as they were: ${present.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      )
    }
    const detail = parts.join(' | ')
    ctx.say(`  [fault] ${record.step}: ${detail} for ${s.duration / 1000}s`)
    return detail
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  revert: ({ record }, _s, ctx) =>
    restoreNodes(nodesOf(record), (name) => untaint(ctx.cluster(), ctx.runId, name), 'taints restored on'),

  recover: (record, ctx) =>
    restoreNodes(nodesOf(record), (name) => untaint(ctx.cluster(), ctx.runId, name), 'taints restored on'),
}

function untaint(cluster: Cluster, runId: string, name: string) {
  return restoreAspect<V1Node, TaintsOriginal>(nodeAccess(cluster, name), runId, TAINTS, (n, original) => {
    const taints = (n.spec?.taints ?? []).filter((t) => !original.added.some((a) => same(a, t)))
    // null removes the field: a node that had no taint list gets none back.
    return { taints: taints.length === 0 && !original.hadList ? null : taints }
  })
}
