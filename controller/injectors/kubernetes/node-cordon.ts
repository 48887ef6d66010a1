/**
 * nodeCordon: the selected nodes are marked unschedulable (`spec.unschedulable: true`, as
 * `kubectl cordon` does) for the step's duration. A node that was already cordoned is left
 * exactly as it was and is never uncordoned by the revert. The change and its prior state are
 * written on the node in the same patch (ownership.ts), so a restarted controller reverts it
 * from the node alone.
 */
import type { StepSpec } from '../../../src/experiments/schema.ts'
import { type Injector, sleep } from '../types.ts'
import { cordon, nodesOf, planNodes, uncordonAll } from './node-shared.ts'

type Spec = NonNullable<StepSpec['nodeCordon']>

export const nodeCordon: Injector<Spec, undefined> = {
  step: 'nodeCordon',

  plan: (s, step, ctx) =>
    planNodes(
      'nodeCordon',
      s,
      step,
      ctx,
      (names) => `cordon node(s) ${names.join(', ')} for ${s.duration / 1000}s`,
      undefined,
    ),

  async apply({ record }, s, ctx) {
    const cluster = ctx.cluster()
    const cordoned: string[] = []
    const already: string[] = []
    for (const name of nodesOf(record)) {
      const r = await cordon(cluster, ctx.runId, name)
      ;(r.changed ? cordoned : already).push(name)
    }
    const detail = [
      cordoned.length ? `cordoned ${cordoned.join(', ')}` : 'cordoned nothing',
      already.length ? `already cordoned, left as they were: ${already.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ')
    ctx.say(`  [fault] ${record.step}: ${detail} for ${s.duration / 1000}s`)
    return detail
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  revert: ({ record }, _s, ctx) => uncordonAll(record, ctx),

  recover: (record, ctx) => uncordonAll(record, ctx),
}
