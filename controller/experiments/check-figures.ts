/**
 * What each check measured, against which bound and baseline: the figures the report's check
 * table shows and the bound lines its charts draw. Read from the journal's samples only.
 */
import { fmt, type Sample, type Tolerance } from '../../src/experiments/judge.ts'
import type { CheckSpec } from '../../src/experiments/schema.ts'
import type { CheckRecord, Journal } from './journal.ts'

/** Which chart a check's figure belongs on. */
export type ChartKind = 'latency' | 'errorRate' | 'throughput'

export function chartOf(spec: CheckSpec | undefined): ChartKind | undefined {
  const stat = spec?.sidecar?.stat
  if (stat === undefined || stat === 'count') return undefined
  if (stat === 'errorRate') return 'errorRate'
  if (stat === 'throughput') return 'throughput'
  return 'latency'
}

/**
 * Every check of the experiment by name (hypothesis and guardrails). Tolerant of a partial
 * document (a hand-made or older journal): a check without its spec shows figures without bounds.
 */
export function checkSpecs(j: Journal): Map<string, CheckSpec> {
  const s = j.experiment.spec as Partial<Journal['experiment']['spec']> | undefined
  return new Map([...(s?.hypothesis?.checks ?? []), ...(s?.guardrails ?? [])].map((c) => [c.name, c]))
}

/** A figure in the check's own unit: error rates as percentages, latency in ms. */
export function showValue(spec: CheckSpec | undefined, v: number): string {
  const stat = spec?.sidecar?.stat
  if (stat === 'errorRate') return `${fmt(Number((v * 100).toPrecision(4)))}%`
  if (stat === 'throughput') return `${fmt(v)} req/s`
  if (stat === 'count') return `${fmt(v)} requests`
  if (stat !== undefined) return `${fmt(v)} ms`
  return fmt(v)
}

/**
 * The upper and lower bound a value was judged against, with a relative bound resolved against
 * `baseline` (both maxRatio and maxIncrease must hold, so the lower of the two is the bound).
 */
export function resolvedBounds(tol: Tolerance, baseline?: number): { max?: number; min?: number } {
  const uppers: number[] = []
  if (tol.max !== undefined) uppers.push(tol.max)
  const rel = tol.relative
  if (rel && baseline !== undefined) {
    if (rel.maxRatio !== undefined) uppers.push(baseline * rel.maxRatio)
    if (rel.maxIncrease !== undefined) uppers.push(baseline + rel.maxIncrease)
  }
  return { ...(uppers.length ? { max: Math.min(...uppers) } : {}), ...(tol.min !== undefined ? { min: tol.min } : {}) }
}

/** "≤ 250 ms", "≥ 50 req/s", "≤ 2x the before baseline (= 24.6 ms)". */
export function boundText(spec: CheckSpec | undefined, samples: Sample[]): string {
  const tol = spec?.tolerance as Tolerance | undefined
  if (!tol) return '-'
  const parts: string[] = []
  if (tol.max !== undefined) parts.push(`≤ ${showValue(spec, tol.max)}`)
  if (tol.min !== undefined) parts.push(`≥ ${showValue(spec, tol.min)}`)
  const rel = tol.relative
  if (rel) {
    const rules: string[] = []
    if (rel.maxRatio !== undefined) rules.push(`${fmt(rel.maxRatio)}x`)
    if (rel.maxIncrease !== undefined) rules.push(`+${showValue(spec, rel.maxIncrease)}`)
    const baselines = [...new Set(samples.flatMap((s) => (s.baseline === undefined ? [] : [s.baseline])))]
    // A before baseline is one number, so its resolved bound is one number too.
    const resolved =
      baselines.length === 1 && resolvedBounds({ relative: rel }, baselines[0]).max !== undefined
        ? ` (= ${showValue(spec, resolvedBounds({ relative: rel }, baselines[0]).max!)})`
        : ''
    parts.push(`≤ ${rules.join(' and ')} the ${rel.to} baseline${resolved}`)
  }
  return parts.join(', ')
}

/** The baseline(s) the samples were compared with: one value, or the range of the unfaulted cohort's. */
export function baselineText(spec: CheckSpec | undefined, samples: Sample[]): string {
  const rel = (spec?.tolerance as Tolerance | undefined)?.relative
  if (!rel) return '-'
  const values = samples.flatMap((s) => (s.baseline === undefined ? [] : [s.baseline]))
  if (values.length === 0) return `no ${rel.to} baseline`
  const lo = Math.min(...values)
  const hi = Math.max(...values)
  const range = lo === hi ? showValue(spec, lo) : `${showValue(spec, lo)} .. ${showValue(spec, hi)}`
  return `${range} (${rel.to})`
}

/** True when a larger value is the worse one (an upper bound, or none at all). */
function higherIsWorse(spec: CheckSpec | undefined): boolean {
  const tol = spec?.tolerance as Tolerance | undefined
  return !(tol && tol.min !== undefined && tol.max === undefined && tol.relative === undefined)
}

/**
 * The value each phase rests on: before, the sample that decided the gate; during, the worst
 * value seen; after, the first passing value (the recovery), else the last failing one.
 */
export function measuredByPhase(
  spec: CheckSpec | undefined,
  rec: CheckRecord,
): { phase: string; label: string; value: number }[] {
  const out: { phase: string; label: string; value: number }[] = []
  for (const phase of ['before', 'during', 'after'] as const) {
    const judged = rec.samples.filter(
      (s) => s.phase === phase && (s.outcome === 'pass' || s.outcome === 'fail') && s.value !== undefined,
    )
    if (judged.length === 0) continue
    if (phase === 'during') {
      const values = judged.map((s) => s.value!)
      const worse = higherIsWorse(spec)
      out.push({ phase, label: worse ? 'max' : 'min', value: worse ? Math.max(...values) : Math.min(...values) })
    } else {
      const decider =
        phase === 'after'
          ? (judged.find((s) => s.outcome === 'pass') ?? judged.at(-1)!)
          : (judged.find((s) => s.outcome === 'fail') ?? judged.at(-1)!)
      out.push({
        phase,
        label: decider.outcome === 'pass' && phase === 'after' ? 'recovered at' : '',
        value: decider.value!,
      })
    }
  }
  return out
}

export function measuredText(spec: CheckSpec | undefined, rec: CheckRecord): string {
  const m = measuredByPhase(spec, rec)
  if (m.length === 0) return 'no value measured'
  return m.map((x) => `${x.phase}${x.label ? ` ${x.label}` : ''} ${showValue(spec, x.value)}`).join(' · ')
}
