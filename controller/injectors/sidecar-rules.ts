/**
 * Sidecar faults: rules added to every sidecar of a target through its rule bus, tagged with a
 * source unique to this run step and a ttl of the step's duration plus a margin, so a runner
 * that dies leaves nothing behind. Injected means acknowledged. Before the revert, each
 * sidecar's counts for the rules are read as evidence that the fault landed.
 */
import type { StepSpec } from '../../src/experiments/schema.ts'
import { deliveryError } from '../bus/index.ts'
import { collectEvidence } from '../experiments/evidence.ts'
import type { FaultRecord } from '../experiments/journal.ts'
import { type Injector, sleep } from './types.ts'

type Spec = NonNullable<StepSpec['sidecarFault']>

export const sidecarRules: Injector<Spec> = {
  step: 'sidecarFault',

  async plan(s, step, ctx) {
    const t = ctx.target(s.target)
    const service = t.bus.kind === 'redis' ? ctx.journal.targets[s.target]?.service : undefined
    const ttlMs = s.duration + ctx.ttlMarginMs
    const record: FaultRecord = {
      id: '',
      kind: 'sidecar',
      step: step.label,
      target: s.target,
      source: `${ctx.runId}/${step.key}`,
      service,
      on: t.sidecars.map((c) => c.adminUrl),
      ruleIds: s.rules.map((r) => r.id as string),
      ttlMs,
      intentAt: Date.now(),
      acknowledged: {},
    }
    const intent = `add ${s.rules.length} rule(s) to ${s.target}${service ? ` (service ${service})` : ''} for ${s.duration} ms (ttl ${ttlMs} ms)`
    return [{ record, intent, data: undefined }]
  },

  async apply({ record }, s, ctx) {
    const bus = ctx.target(s.target).bus
    const delivery = await bus.add(s.rules as Record<string, unknown>[], record.source!, record.ttlMs!)
    record.acknowledged = delivery.acknowledged
    if (delivery.problems.length)
      record.error = `not acknowledged by ${delivery.problems.length} sidecar(s): ${delivery.problems.join('; ')}`
    const refused = deliveryError(bus, delivery)
    if (refused) throw refused
    const acks = Object.keys(record.acknowledged).length
    ctx.say(
      `  [fault] ${record.step}: ${record.ruleIds!.join(', ')} on ${s.target} (${acks} sidecar(s)) for ${s.duration / 1000}s`,
    )
    return `acknowledged by ${acks} sidecar(s)${record.error ? `; ${record.error}` : ''}`
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  async revert({ record }, s, ctx) {
    const t = ctx.target(s.target)
    const now = Date.now()
    for (const c of t.sidecars) {
      const problem = await collectEvidence(record, c, now)
      if (!problem) continue
      ctx.log.warn(
        { err: problem, code: problem.code, fault: record.id, sidecar: c.adminUrl },
        'fault evidence unavailable',
      )
      ctx.event({
        type: 'evidence-unavailable',
        step: record.step,
        fault: record.id,
        detail: `${problem.message} [${problem.code}]`,
      })
      ctx.say(`  [evidence] ${problem.message} [${problem.code}]`)
    }
    const removal = await t.bus.removeBySource(record.source!)
    if (removal.failed.length)
      throw new AggregateError(
        removal.failed.map((f) => f.error),
        `rules not removed from ${removal.failed.length} sidecar(s): ${removal.failed.map((f) => f.error.message).join('; ')}`,
      )
    return `rules removed from ${s.target}`
  },
}
