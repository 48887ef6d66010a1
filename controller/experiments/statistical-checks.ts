/**
 * One look of a statistically judged sidecar check: every request of the cohort since the phase
 * began (merged exactly across the target's sidecars), each bound turned into a share of requests
 * with exact confidence bounds (src/experiments/statistics-clause.ts), Holm across the
 * hypothesis's clauses, and the validity gates of the during phase.
 */
import { type Phase, type Tolerance } from '../../src/experiments/judge.ts'
import type { CheckSpec } from '../../src/experiments/schema.ts'
import { sampleRatioPValue } from '../../src/experiments/statistics.ts'
import {
  type ClauseSpec,
  type CohortData,
  combine,
  decide,
  evaluate,
  type Statistics,
} from '../../src/experiments/statistics-clause.ts'
import { distributionOf } from '../../src/experiments/statistics-histogram.ts'
import { type HolmBoard, lookLevel } from '../../src/experiments/statistics-looks.ts'
import { summarize } from '../../src/stats/window.ts'
import type { CheckContext, SampleResult } from './checks.ts'
import { type CohortHistograms, emptyCohorts, type PhaseAccumulator } from './windows.ts'

/** A sample ratio this unlikely under the rule's percent is a mismatch (Fabijan et al. 2019). */
const SRM_P = 0.001

export interface LookPlan {
  phase: Phase
  acc: PhaseAccumulator
  clauses: ClauseSpec[]
  /** Holm board keys of this check's clauses. */
  keys: string[]
  board: HolmBoard
  confidence: number
  look: number
  looks: number
  /** Only the last look of the during phase may pass (the gate and recovery may at any look). */
  mayPass: boolean
  /** The before phase's requests of this check's cohort, for `relative: { to: before }`. */
  baseline?: CohortData
  /** During: the validity gates apply (the faults are on). */
  gates: boolean
  /** Percent of each sidecar fault rule on the check's target (for the sample-ratio test). */
  rulePercents: Map<string, number>
  /** Set by each look: the requests it judged (a passing gate keeps them as the before baseline). */
  judged?: CohortData
}

type Cohort = 'all' | 'faulted' | 'unfaulted'

/** One cohort's requests as the clauses read them. */
export function cohortData(d: CohortHistograms, cohort: Cohort): CohortData {
  if (cohort !== 'all') return { dist: distributionOf(d.histograms[cohort]), errors: d.errors[cohort] }
  const both = emptyCohorts().histograms.faulted
  both.add(d.histograms.faulted)
  both.add(d.histograms.unfaulted)
  return { dist: distributionOf(both), errors: d.errors.faulted + d.errors.unfaulted }
}

/** The point figure of a stat over a cohort (what the report shows as measured). */
function pointOf(d: CohortHistograms, cohort: Cohort, stat: string): number | undefined {
  const h = emptyCohorts().histograms.faulted
  const errors = cohort === 'all' ? d.errors.faulted + d.errors.unfaulted : d.errors[cohort]
  if (cohort !== 'unfaulted') h.add(d.histograms.faulted)
  if (cohort !== 'faulted') h.add(d.histograms.unfaulted)
  const s = summarize(h, errors)
  if (s.count === 0) return undefined
  return stat === 'errorRate'
    ? (s.errorRate ?? undefined)
    : ((s.latencyMs as unknown as Record<string, number>)[stat] ?? undefined)
}

/** A fault rule that injected into a share of its matched requests far from its percent. */
function sampleRatioMismatch(d: CohortHistograms, percents: Map<string, number>): string | undefined {
  for (const [id, percent] of percents) {
    const c = d.rules[id]
    if (!c || c.matched === 0 || percent >= 100) continue
    const p = sampleRatioPValue(c.injected, c.matched, percent / 100)
    if (p < SRM_P)
      return `sample-ratio mismatch: rule ${id} injected into ${c.injected.toLocaleString('en-US')} of ${c.matched.toLocaleString('en-US')} matched requests (${((100 * c.injected) / c.matched).toFixed(1)}%), its percent is ${percent}% (p = ${p.toPrecision(2)}): faults dropped, or requests leaking between cohorts`
  }
  return undefined
}

/** The unfaulted cohort alone breaks an absolute clause: the environment, not the fault, is to blame. */
function unfaultedBreaks(d: CohortHistograms, plan: LookPlan, aFail: number): Statistics | undefined {
  const control = cohortData(d, 'unfaulted')
  if (control.dist.total === 0 || d.histograms.faulted.totalCount === 0) return undefined
  for (const spec of plan.clauses) {
    if (spec.kind !== 'absolute') continue
    const e = evaluate(spec, control, undefined, aFail)
    if ('missing' in e || e.pFail() > aFail / plan.clauses.length) continue
    return decide(e, { confidence: plan.confidence, aPass: aFail, aFail, rejected: true, mayPass: false })
  }
  return undefined
}

/** One look; never throws for want of data (that is "no data" or "not enough data"). */
export async function statisticalSample(c: CheckSpec, ctx: CheckContext, plan: LookPlan): Promise<SampleResult> {
  const spec = c.sidecar!
  const clients = ctx.sidecars(spec.target)
  if (clients.length === 0) return { outcome: 'nodata', detail: `target ${spec.target} has no sidecars` }
  const look = await plan.acc.look(clients, ctx.now)
  if (!look) return { outcome: 'nodata', detail: 'no statistics second of the phase has begun yet' }
  const cohort = spec.cohort ?? 'all'
  const subject = cohortData(look.data, cohort)
  plan.judged = subject
  const rel = (c.tolerance as Tolerance | undefined)?.relative
  const control =
    rel?.to === 'unfaulted' ? cohortData(look.data, 'unfaulted') : rel?.to === 'before' ? plan.baseline : undefined
  const value = pointOf(look.data, cohort, spec.stat)
  const baseline =
    rel?.to === 'unfaulted'
      ? pointOf(look.data, 'unfaulted', spec.stat)
      : rel?.to === 'before'
        ? ctx.baseline(c.name)
        : undefined
  const from = look.from
  if (subject.dist.total === 0)
    return {
      outcome: 'nodata',
      from,
      detail: `no ${cohort} requests since ${new Date(from).toISOString().slice(11, 19)}`,
    }
  // A gate whose only bound is relative to itself takes its requests as the baseline.
  if (plan.clauses.length === 0)
    return {
      outcome: 'pass',
      value,
      from,
      detail: `baseline taken: ${subject.dist.total.toLocaleString('en-US')} requests`,
    }
  const alpha = 1 - plan.confidence
  const aLook = lookLevel(alpha, plan.look, plan.looks)
  // The final look of the during phase is the only one that may pass there: it spends the whole alpha.
  const aPass = plan.phase === 'during' ? alpha : aLook
  const evaluated = plan.clauses.map((s) => evaluate(s, subject, control, aPass))
  const missing = evaluated.find((e) => 'missing' in e)
  if (missing && 'missing' in missing) return { outcome: 'nodata', value, from, detail: missing.missing }
  const clauses = evaluated as Exclude<(typeof evaluated)[number], { missing: string }>[]
  clauses.forEach((e, i) => plan.board.post(plan.keys[i]!, e.pFail()))
  const judged = clauses.map((e, i) => {
    const holm = plan.board.judge(plan.keys[i]!, aLook)
    return decide(e, {
      confidence: plan.confidence,
      aPass,
      aFail: holm.level,
      rejected: holm.rejected,
      mayPass: plan.mayPass,
      look: plan.look,
      looks: plan.looks,
    })
  })
  let statistics = combine(judged)
  let detail = statistics.words
  if (plan.gates && (statistics.decision === 'pass' || statistics.decision === 'fail')) {
    const srm = sampleRatioMismatch(look.data, plan.rulePercents)
    const unhealthy = cohort === 'unfaulted' ? undefined : unfaultedBreaks(look.data, plan, aLook)
    const gate =
      srm ??
      (unhealthy &&
        `the unfaulted cohort alone breaks the hypothesis (${unhealthy.words}): the environment is unhealthy, the fault cannot be blamed`)
    if (gate) {
      statistics = { ...statistics, decision: 'inconclusive', words: `${gate}; ${statistics.words}` }
      detail = statistics.words
    }
  }
  if (look.lostSeconds > 0)
    detail += ` (${look.lostSeconds} s of requests could not be read: looks more than 120 s apart)`
  if (look.uncertain > 0)
    detail += ` (up to ${look.uncertain} requests may be counted twice: a sidecar too busy for an exact commit)`
  const outcome = statistics.decision === 'pass' ? 'pass' : statistics.decision === 'fail' ? 'fail' : 'inconclusive'
  return {
    outcome,
    value,
    baseline,
    from,
    detail,
    statistics: { ...statistics, words: detail },
    ...(judged.length > 1 ? { clauses: judged } : {}),
  }
}
