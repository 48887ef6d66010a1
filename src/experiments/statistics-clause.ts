/**
 * A sidecar check's bounds as statements about shares of requests, judged with exact bounds:
 *
 *   p95 <= 150 ms      at most 5% of requests slower than 150 ms
 *   p50 >= 10 ms       at most 50% of requests faster than 10 ms
 *   errorRate <= 0.01  at most 1% of requests in error
 *   relative           against a control (the unfaulted cohort, or the before phase's requests)
 *
 * Each clause gives its bounds at any level and the p-value of its failing test (for Holm across
 * clauses); `decide` turns them into pass, fail, inconclusive or not enough data, in words.
 * Pure. See docs/experiments.md "How a verdict is reached".
 */
import type { Tolerance } from './judge.ts'
import {
  cpLower,
  cpUpper,
  levelAtWhich,
  minimumN,
  neededN,
  newcombe,
  orderStatisticRanks,
  pAbove,
} from './statistics.ts'
import { countAbove, countBelow, type Distribution, valueAtRank } from './statistics-histogram.ts'

export const STATISTICAL_STATS = ['p50', 'p90', 'p95', 'p99', 'errorRate'] as const
export type StatisticalStat = (typeof STATISTICAL_STATS)[number]
export type Decision = 'pass' | 'fail' | 'inconclusive' | 'not-enough-data'

/** What the journal keeps for a judged clause (issue 15's `statistics`), with its sentence. */
export interface Statistics {
  method: 'clopper-pearson' | 'clopper-pearson+order-statistic' | 'newcombe'
  /** The hypothesis's level, e.g. 0.95. */
  confidence: number
  /** Requests judged (the subject cohort), and those beyond the threshold or in error. */
  n: number
  k: number
  /** k / n (for a difference of error rates: the faulted minus the control rate). */
  estimate: number
  /** Bounds of the share (or difference) at the levels this look used. */
  lower: number
  upper: number
  /** The allowed share (or increase). */
  threshold: number
  /** Requests that would decide an undecided clause at the observed share (or the minimum). */
  needed?: number
  decision: Decision
  clause: string
  words: string
  /** Planned looks of the phase, and which look this was. */
  look?: number
  looks?: number
}

export type ClauseSpec =
  | { kind: 'absolute'; stat: StatisticalStat; direction: 'max' | 'min'; limit: number }
  | { kind: 'ratio' | 'increase'; stat: StatisticalStat; limit: number; to: 'unfaulted' | 'before' }

/** The requests a clause reads: a distribution of latencies and the errors among them. */
export interface CohortData {
  dist: Distribution
  errors: number
}

/** Whether a check is judged statistically, and its clauses; undefined: point judgement. */
export function clausesOf(stat: string, tol: Tolerance | undefined): ClauseSpec[] | undefined {
  if (!tol || !(STATISTICAL_STATS as readonly string[]).includes(stat)) return undefined
  if (tol.oneOf !== undefined || tol.noneOf !== undefined) return undefined
  const s = stat as StatisticalStat
  const out: ClauseSpec[] = []
  const upper = Math.min(tol.max ?? Infinity, tol.exclusiveMax ?? Infinity)
  const lower = Math.max(tol.min ?? -Infinity, tol.exclusiveMin ?? -Infinity)
  if (upper !== Infinity) out.push({ kind: 'absolute', stat: s, direction: 'max', limit: upper })
  if (lower !== -Infinity) out.push({ kind: 'absolute', stat: s, direction: 'min', limit: lower })
  const rel = tol.relative
  if (rel?.maxRatio !== undefined) out.push({ kind: 'ratio', stat: s, limit: rel.maxRatio, to: rel.to })
  if (rel?.maxIncrease !== undefined) out.push({ kind: 'increase', stat: s, limit: rel.maxIncrease, to: rel.to })
  return out.length ? out : undefined
}

const quantileOf = (stat: StatisticalStat) => Number(stat.slice(1)) / 100
/** 1 - q without floating-point residue (1 - 0.95 is 0.050000000000000044). */
const complement = (q: number) => Number((1 - q).toFixed(6))

/** Bounds at a look: the upper bound (at aPass) must be below `passBelow`, the lower (at aFail) above `failAbove`. */
export interface Bounds {
  n: number
  k: number
  estimate: number
  lower: number
  upper: number
  passBelow: number
  failAbove: number
  /** For words: the latency threshold in ms a relative clause resolved to, and the control's figure. */
  thresholdMs?: number
  control?: { n: number; k?: number; value: number; lower?: number; upper?: number }
}

export interface Evaluated {
  spec: ClauseSpec
  label: string
  method: Statistics['method']
  /** The allowed share (or increase). */
  share: number
  /** Requests below which no pass is possible at aPass. */
  minimum: number
  bounds(aFail: number, aPass: number): Bounds
  /** p-value of the failing test: the smallest level at which the lower bound clears the threshold. */
  pFail(): number
}

const pct = (x: number) => {
  if (!Number.isFinite(x)) return String(x)
  const v = x * 100
  const digits = v === 0 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 1 : Math.abs(v) >= 0.1 ? 2 : 3
  return `${Number(v.toFixed(digits))}%`
}
const signedPct = (x: number) => `${x >= 0 ? '+' : ''}${pct(x)}`
const count = (n: number) => n.toLocaleString('en-US')
const ms = (v: number) => `${Number(v.toPrecision(4))} ms`

export function clauseLabel(spec: ClauseSpec): string {
  const name = spec.stat === 'errorRate' ? 'error rate' : spec.stat
  const show = (v: number) => (spec.stat === 'errorRate' ? pct(v) : ms(v))
  if (spec.kind === 'absolute') return `${name} ${spec.direction === 'max' ? '<=' : '>='} ${show(spec.limit)}`
  const base = `the ${spec.to} ${name}`
  return spec.kind === 'ratio' ? `${name} <= ${spec.limit}x ${base}` : `${name} <= ${base} + ${show(spec.limit)}`
}

/** An absolute clause: the share of requests beyond the limit, Clopper-Pearson. */
function absolute(spec: ClauseSpec & { kind: 'absolute' }, data: CohortData, aPass: number): Evaluated {
  const n = data.dist.total
  const latency = spec.stat !== 'errorRate'
  const q = latency ? quantileOf(spec.stat) : 0
  const share = latency
    ? spec.direction === 'max'
      ? complement(q)
      : q
    : spec.direction === 'max'
      ? spec.limit
      : complement(spec.limit)
  const k = latency
    ? spec.direction === 'max'
      ? countAbove(data.dist, spec.limit)
      : countBelow(data.dist, spec.limit)
    : spec.direction === 'max'
      ? data.errors
      : n - data.errors
  return {
    spec,
    label: clauseLabel(spec),
    method: 'clopper-pearson',
    share,
    minimum: minimumN(share, aPass),
    bounds: (aFail, aP) => ({
      n,
      k,
      estimate: n ? k / n : 0,
      lower: cpLower(k, n, aFail),
      upper: cpUpper(k, n, aP),
      passBelow: share,
      failAbove: share,
    }),
    pFail: () => pAbove(k, n, share),
  }
}

/**
 * A percentile against a control's percentile: the subject's share slower than maxRatio x (or
 * maxIncrease +) the control's percentile. The control's own uncertainty counts: the pass test
 * uses the low end of its order-statistic interval, the fail test the high end, each side's level
 * split evenly between the control's interval and the subject's bound (Bonferroni).
 */
function relativeLatency(
  spec: ClauseSpec & { kind: 'ratio' | 'increase' },
  subject: CohortData,
  control: CohortData,
  aPass: number,
): Evaluated {
  const q = quantileOf(spec.stat)
  const share = complement(q)
  const n = subject.dist.total
  const nC = control.dist.total
  const resolve = (x: number) => (spec.kind === 'ratio' ? x * spec.limit : x + spec.limit)
  const point = valueAtRank(control.dist, Math.max(1, Math.ceil(q * nC)))
  const failAt = (a: number) => {
    const ranks = orderStatisticRanks(nC, q, a / 2)
    return countAbove(subject.dist, resolve(valueAtRank(control.dist, ranks.upper)))
  }
  const bounds = (aFail: number, aP: number): Bounds => {
    const low = valueAtRank(control.dist, orderStatisticRanks(nC, q, aP / 2).lower)
    const high = valueAtRank(control.dist, orderStatisticRanks(nC, q, aFail / 2).upper)
    const k = countAbove(subject.dist, resolve(point))
    return {
      n,
      k,
      estimate: n ? k / n : 0,
      lower: high === Infinity ? 0 : cpLower(failAt(aFail), n, aFail / 2),
      upper: cpUpper(countAbove(subject.dist, resolve(low)), n, aP / 2),
      passBelow: share,
      failAbove: share,
      thresholdMs: resolve(point),
      control: { n: nC, value: point, lower: low, upper: high },
    }
  }
  return {
    spec,
    label: clauseLabel(spec),
    method: 'clopper-pearson+order-statistic',
    share,
    minimum: minimumN(share, aPass / 2),
    bounds,
    pFail: () => levelAtWhich((a) => bounds(a, 0.5).lower > share),
  }
}

/**
 * An error rate against a control's: Newcombe's interval for the difference (maxIncrease), or
 * exact bounds on each side for a ratio (maxRatio: the subject's bound against maxRatio x the
 * control's opposite bound, each at half the level).
 */
function relativeErrors(
  spec: ClauseSpec & { kind: 'ratio' | 'increase' },
  subject: CohortData,
  control: CohortData,
  aPass: number,
): Evaluated {
  const n = subject.dist.total
  const nC = control.dist.total
  const k = subject.errors
  const kC = control.errors
  const pC = nC ? kC / nC : 0
  const ctl = (aF: number, aP: number) => ({
    n: nC,
    k: kC,
    value: pC,
    lower: cpLower(kC, nC, aP / 2),
    upper: cpUpper(kC, nC, aF / 2),
  })
  const bounds =
    spec.kind === 'increase'
      ? (aFail: number, aP: number): Bounds => ({
          n,
          k,
          estimate: (n ? k / n : 0) - pC,
          lower: n && nC ? newcombe(k, n, kC, nC, aFail).lower : -1,
          upper: n && nC ? newcombe(k, n, kC, nC, aP).upper : 1,
          passBelow: spec.limit,
          failAbove: spec.limit,
          control: ctl(aFail, aP),
        })
      : (aFail: number, aP: number): Bounds => ({
          n,
          k,
          estimate: n ? k / n : 0,
          lower: cpLower(k, n, aFail / 2),
          upper: cpUpper(k, n, aP / 2),
          passBelow: spec.limit * cpLower(kC, nC, aP / 2),
          failAbove: spec.limit * cpUpper(kC, nC, aFail / 2),
          control: ctl(aFail, aP),
        })
  return {
    spec,
    label: clauseLabel(spec),
    method: spec.kind === 'increase' ? 'newcombe' : 'clopper-pearson',
    share: spec.kind === 'increase' ? spec.limit : spec.limit * pC,
    minimum: spec.kind === 'increase' ? minimumN(spec.limit, aPass) : minimumN(Math.min(1, spec.limit * pC), aPass / 2),
    bounds,
    pFail: () =>
      levelAtWhich((a) => {
        const b = bounds(a, 0.5)
        return b.lower > b.failAbove
      }),
  }
}

/** A clause over the data of one look; a relative clause without a control has nothing to compare. */
export function evaluate(
  spec: ClauseSpec,
  subject: CohortData,
  control: CohortData | undefined,
  aPass: number,
): Evaluated | { missing: string } {
  if (spec.kind === 'absolute') return absolute(spec, subject, aPass)
  if (!control || control.dist.total === 0) return { missing: `no ${spec.to} requests to compare with` }
  return spec.stat === 'errorRate'
    ? relativeErrors(spec, subject, control, aPass)
    : relativeLatency(spec, subject, control, aPass)
}

export interface Levels {
  /** The hypothesis's confidence, for the words (0.95). */
  confidence: number
  /** Level of this look's pass test. */
  aPass: number
  /** Level of this clause's fail test (its Holm level within this look's share of alpha). */
  aFail: number
  /** Holm rejected this clause's "holds" hypothesis at this look. */
  rejected: boolean
  /** A pass may be claimed at this look (only the last look of the during phase, or any gate look). */
  mayPass: boolean
  look?: number
  looks?: number
}

/** Decides one clause at one look and says it in words. */
export function decide(e: Evaluated, lv: Levels): Statistics {
  const b = e.bounds(lv.aFail, lv.aPass)
  const enough = b.n >= e.minimum
  const decision: Decision = lv.rejected
    ? 'fail'
    : enough && b.upper < b.passBelow
      ? lv.mayPass
        ? 'pass'
        : 'inconclusive'
      : enough
        ? 'inconclusive'
        : 'not-enough-data'
  const needed =
    decision === 'not-enough-data'
      ? Number.isFinite(e.minimum)
        ? e.minimum
        : undefined
      : decision === 'inconclusive' && e.spec.kind === 'absolute'
        ? neededN(b.k, b.n, e.share, lv.aPass, lv.aFail)
        : undefined
  const stats: Statistics = {
    method: e.method,
    confidence: lv.confidence,
    n: b.n,
    k: b.k,
    estimate: b.estimate,
    lower: b.lower,
    upper: b.upper,
    threshold: e.share,
    ...(needed !== undefined ? { needed } : {}),
    decision,
    clause: e.label,
    words: '',
    ...(lv.look !== undefined ? { look: lv.look, looks: lv.looks } : {}),
  }
  stats.words = wordsOf(e, b, stats, lv)
  return stats
}

/** "were slower", "were slower than 80 ms", "failed". */
function eventOf(spec: ClauseSpec, b: Bounds): string {
  if (spec.stat === 'errorRate') return spec.kind === 'absolute' && spec.direction === 'min' ? 'succeeded' : 'failed'
  if (spec.kind === 'absolute') return spec.direction === 'max' ? 'were slower' : 'were faster'
  return `were slower than ${ms(b.thresholdMs ?? 0)} (${spec.kind === 'ratio' ? `${spec.limit}x` : `+${ms(spec.limit)} over`} the ${spec.to} ${spec.stat} of ${ms(b.control?.value ?? 0)})`
}

function wordsOf(e: Evaluated, b: Bounds, s: Statistics, lv: Levels): string {
  const conf = `${Number((lv.confidence * 100).toFixed(2))}% confidence`
  if (s.decision === 'not-enough-data')
    return Number.isFinite(e.minimum)
      ? `not enough data: ${count(b.n)} requests, at least ${count(e.minimum)} needed (${e.label})`
      : `not enough data: ${e.label} can never be shown to hold from a sample (use judgement: point)`
  const diff = e.spec.kind === 'increase' && e.spec.stat === 'errorRate'
  const observed = diff
    ? `${signedPct(b.estimate)} (${pct(b.n ? b.k / b.n : 0)} of ${count(b.n)} requests failed, against ${pct(b.control?.value ?? 0)} of ${count(b.control?.n ?? 0)} ${e.spec.kind === 'absolute' ? '' : e.spec.to})`
    : `${pct(b.estimate)} of ${count(b.n)} requests ${eventOf(e.spec, b)}`
  const show = diff ? signedPct : pct
  switch (s.decision) {
    case 'pass':
      return `${e.label} held with ${conf}: ${observed} (at most ${show(b.upper)})`
    case 'fail':
      return `${e.label} broken with ${conf}: ${observed} (at least ${show(b.lower)}, allowed ${show(b.failAbove)})`
    default: {
      const between = `between ${show(b.lower)} and ${show(b.upper)}, allowed ${show(b.passBelow)}`
      if (!lv.mayPass && b.upper < b.passBelow)
        return `${e.label} holding so far: ${observed} (${between}); judged at the end of the phase`
      const more =
        s.needed !== undefined
          ? `; about ${count(s.needed)} requests would decide it`
          : e.spec.kind === 'absolute'
            ? '; the share sits on the bound, more requests would not decide it'
            : ''
      return `${e.label} undecided: ${observed} (${between})${more}`
    }
  }
}

/** The decision of a check from its clauses': any fail fails; all pass passes; else the first undecided. */
export function combine(clauses: Statistics[]): Statistics {
  return (
    clauses.find((c) => c.decision === 'fail') ??
    clauses.find((c) => c.decision === 'not-enough-data') ??
    clauses.find((c) => c.decision === 'inconclusive') ??
    clauses[0]!
  )
}
