/**
 * How checks are judged. Pure: the runner feeds samples in, this decides.
 *
 * - A sample is pass, fail, nodata (too few requests in the window, nothing to compare with) or
 *   error (the check itself failed, e.g. a PromQL query returned two series).
 * - before (gate): the first conclusive sample decides; `failureThreshold` consecutive failures
 *   fail it. during: fails on `failureThreshold` consecutive failures; nodata and errors neither
 *   break nor extend a streak. after (recovery): passes at the first passing sample before the
 *   deadline; the recovery time runs from the revert (the tracker's start) to the start of the
 *   data that first passed, so a statistics window's lag is not counted as recovery time.
 * - A phase with no conclusive sample is inconclusive. A check is the worst of its phases
 *   (fail > inconclusive > pass); the verdict is the worst of the hypothesis checks, and
 *   inconclusive when there are none.
 *
 * That is the point judgement. Sidecar percentile and error-rate bounds of the hypothesis are
 * judged statistically by default (statistics-clause.ts, statistics-looks.ts): their looks are
 * samples with outcome pass, fail or inconclusive, fed to the same tracker.
 */

import type { Statistics } from './statistics-clause.ts'

/**
 * `observed`: an observation's figure, recorded and never judged. `inconclusive`: a statistical
 * look that decided nothing yet (bounds straddle the threshold, or not enough requests).
 */
export type Outcome = 'pass' | 'fail' | 'nodata' | 'error' | 'observed' | 'inconclusive'
export type Phase = 'before' | 'during' | 'after'
export type Verdict = 'pass' | 'fail' | 'inconclusive'

export interface Tolerance {
  max?: number
  min?: number
  /** Strict bounds: value < exclusiveMax, value > exclusiveMin. */
  exclusiveMax?: number
  exclusiveMin?: number
  oneOf?: number[]
  noneOf?: number[]
  relative?: { to: 'before' | 'unfaulted'; maxRatio?: number; maxIncrease?: number }
}

export interface Sample {
  at: number
  phase: Phase
  outcome: Outcome
  value?: number
  baseline?: number
  detail?: string
  /**
   * Epoch ms where the data this sample judged begins (a sidecar window's oldest second). Absent
   * for point-in-time checks (HTTP, command, PromQL), whose data begins at `at`.
   */
  from?: number
  /** A statistical look: the deciding clause's counts, bounds and words (see statistics-clause.ts). */
  statistics?: Statistics
  /** Every clause of the look, when the check has more than one. */
  clauses?: Statistics[]
}

/** Judges one measured value. `baseline` is needed only for a relative tolerance. */
export function judgeValue(value: number, tol: Tolerance, baseline?: number): { outcome: Outcome; detail: string } {
  // A missing figure must never pass a bound by comparing false against it.
  if (typeof value !== 'number' || Number.isNaN(value)) return { outcome: 'nodata', detail: 'no value measured' }
  const fails: string[] = []
  if (tol.max !== undefined && value > tol.max) fails.push(`${fmt(value)} > max ${fmt(tol.max)}`)
  if (tol.min !== undefined && value < tol.min) fails.push(`${fmt(value)} < min ${fmt(tol.min)}`)
  if (tol.exclusiveMax !== undefined && !(value < tol.exclusiveMax))
    fails.push(`${fmt(value)} is not below ${fmt(tol.exclusiveMax)} (exclusiveMax)`)
  if (tol.exclusiveMin !== undefined && !(value > tol.exclusiveMin))
    fails.push(`${fmt(value)} is not above ${fmt(tol.exclusiveMin)} (exclusiveMin)`)
  if (tol.oneOf !== undefined && !tol.oneOf.includes(value))
    fails.push(`${fmt(value)} is not one of ${tol.oneOf.map(fmt).join(', ')}`)
  if (tol.noneOf?.includes(value)) fails.push(`${fmt(value)} is one of the excluded ${tol.noneOf.map(fmt).join(', ')}`)
  const rel = tol.relative
  if (rel) {
    if (baseline === undefined || Number.isNaN(baseline))
      return { outcome: 'nodata', detail: `no ${rel.to} baseline yet` }
    if (rel.maxIncrease !== undefined && value - baseline > rel.maxIncrease)
      fails.push(
        `${fmt(value)} is ${fmt(value - baseline)} above the ${rel.to} baseline ${fmt(baseline)} (max +${fmt(rel.maxIncrease)})`,
      )
    if (rel.maxRatio !== undefined) {
      const ratio = baseline === 0 ? (value === 0 ? 1 : Infinity) : value / baseline
      if (ratio > rel.maxRatio)
        fails.push(
          `${fmt(value)} is ${ratio === Infinity ? 'infinitely' : fmt(ratio) + 'x'} the ${rel.to} baseline ${fmt(baseline)} (max ${fmt(rel.maxRatio)}x)`,
        )
    }
  }
  if (fails.length) return { outcome: 'fail', detail: fails.join('; ') }
  return { outcome: 'pass', detail: baseline === undefined ? fmt(value) : `${fmt(value)} (baseline ${fmt(baseline)})` }
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Number.isInteger(n)) return String(n)
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3)
}

export interface PhaseResult {
  phase: Phase
  result: Verdict
  reason: string
  samples: number
  /** after phase: ms from the revert (the phase start) to the start of the first passing data. */
  recoveredAfterMs?: number
  /** after phase: the data that first passed, epoch ms (sample `from` .. `at`). */
  recoveryWindow?: { from: number; to: number }
  /** Statistical judgement: the look that decided the phase (its counts, bounds and words). */
  statistics?: Statistics
}

/** Follows one check through one phase. */
export class PhaseTracker {
  readonly phase: Phase
  readonly #threshold: number
  #streak = 0
  #passes = 0
  #fails = 0
  #samples = 0
  #failedAt: Sample | undefined
  #lastFail: Sample | undefined
  #firstPass: Sample | undefined
  #lastProblem: string | undefined
  readonly #startedAt: number

  constructor(phase: Phase, failureThreshold: number, startedAt: number) {
    this.phase = phase
    this.#threshold = failureThreshold
    this.#startedAt = startedAt
  }

  /** Adds a sample; returns true when the phase is decided and needs no more samples. */
  add(s: Sample): boolean {
    this.#samples++
    if (s.outcome === 'inconclusive') {
      this.#lastProblem = s.detail ?? 'inconclusive'
      return false
    }
    if (s.outcome === 'nodata' || s.outcome === 'error' || s.outcome === 'observed') {
      this.#lastProblem = `${s.outcome}: ${s.detail ?? ''}`.trim()
      return false
    }
    if (s.outcome === 'pass') {
      this.#passes++
      this.#streak = 0
      this.#firstPass ??= s
      // A gate or a recovery is decided by the first pass.
      return this.phase !== 'during'
    }
    this.#fails++
    this.#lastFail = s
    this.#streak++
    if (this.#streak >= this.#threshold && !this.#failedAt) this.#failedAt = s
    return this.phase === 'before' && this.#failedAt !== undefined
  }

  /** True once `failureThreshold` consecutive failures happened (guardrails abort on it). */
  get breached(): boolean {
    return this.#failedAt !== undefined
  }

  /**
   * `interrupted`: the phase was cut short (the run was aborted) before its deadline, so failing
   * recovery samples do not yet mean "did not recover".
   */
  result(opts: { interrupted?: boolean } = {}): PhaseResult {
    const base = { phase: this.phase, samples: this.#samples }
    if (this.phase === 'after') {
      const pass = this.#firstPass
      if (pass !== undefined) {
        const from = Math.max(this.#startedAt, pass.from ?? pass.at)
        return {
          ...base,
          result: 'pass',
          reason: 'recovered',
          recoveredAfterMs: from - this.#startedAt,
          recoveryWindow: { from, to: pass.at },
        }
      }
      if (this.#fails > 0 && opts.interrupted)
        return {
          ...base,
          result: 'inconclusive',
          reason: `interrupted before it recovered: ${this.#lastFail?.detail ?? ''}`,
        }
      if (this.#fails > 0)
        return { ...base, result: 'fail', reason: `did not recover: ${this.#lastFail?.detail ?? ''}` }
      return { ...base, result: 'inconclusive', reason: this.#lastProblem ?? 'no samples' }
    }
    if (this.phase === 'before' && this.#passes > 0 && !this.#failedAt)
      return { ...base, result: 'pass', reason: 'steady state met' }
    if (this.#failedAt) {
      const n = this.#threshold
      return {
        ...base,
        result: 'fail',
        reason: `${n} consecutive failing sample${n > 1 ? 's' : ''}: ${this.#failedAt.detail ?? ''}`,
      }
    }
    if (this.#passes > 0)
      return { ...base, result: 'pass', reason: `${this.#passes} passing sample(s), ${this.#fails} failing` }
    return { ...base, result: 'inconclusive', reason: this.#lastProblem ?? 'no samples' }
  }
}

const RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 }

export function worst(results: Verdict[], empty: Verdict = 'inconclusive'): Verdict {
  if (results.length === 0) return empty
  return results.reduce((a, b) => (RANK[b] > RANK[a] ? b : a))
}
