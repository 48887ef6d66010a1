/**
 * Per-scenario results of a bench: each figure's median across rounds with its spread, and the
 * change against the baseline, paired round by round (round i of a scenario against round i of
 * the baseline, which ran next to it), so drift over the run does not pass for a fault's effect.
 */

/** What one round of load measured (client side). */
export interface RoundFigures {
  /** Wall time the load ran, ms (shorter than planned when stopped). */
  elapsedMs: number
  /** Requests that got an answer or an error. */
  requests: number
  responses: number
  /** 5xx answers plus requests without an answer. */
  errors: number
  /** Requests without an answer: resets, closes, timeouts. */
  socketErrors: number
  statusCounts: Record<string, number>
  throughput: number
  errorRate: number | null
  p50: number | null
  p95: number | null
  p99: number | null
  max: number | null
  /** Per second of the round (the last one may be partial): for the report's over-time chart. */
  series?: SecondPoint[]
}

/** One second of a round: `t` is the middle of the second, epoch ms. */
export interface SecondPoint {
  t: number
  requests: number
  errors: number
  p50: number | null
  p95: number | null
}

export interface RoundResult {
  round: number
  scenario: string
  startedAt: number
  figures: RoundFigures
  /** Per rule id, from the sidecar's /stats over the round: requests matched and faulted. */
  injected?: Record<string, { matched: number; injected: number }>
}

export const METRICS = ['throughput', 'p50', 'p95', 'p99', 'errorRate'] as const
export type Metric = (typeof METRICS)[number]

/** A figure across rounds: the median, the spread (min..max) and every round's value. */
export interface Spread {
  median: number | null
  min: number | null
  max: number | null
  rounds: (number | null)[]
}

/**
 * The change against the baseline: throughput in percent, latency in ms (and percent), error
 * rate in percentage points. Each is a Spread over the paired rounds.
 */
export interface Change {
  throughputPct: Spread
  p50Ms: Spread
  p95Ms: Spread
  p99Ms: Spread
  p50Pct: Spread
  p95Pct: Spread
  p99Pct: Spread
  errorRatePp: Spread
}

export interface ScenarioSummary {
  name: string
  rounds: number
  requests: number
  figures: Record<Metric, Spread>
  /** Absent for the baseline itself. */
  change?: Change
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const r4 = (v: number) => Math.round(v * 10_000) / 10_000

export function spreadOf(rounds: (number | null)[]): Spread {
  const known = rounds.filter((v): v is number => v !== null && Number.isFinite(v))
  const m = median(known)
  return {
    median: m === null ? null : r4(m),
    min: known.length ? r4(Math.min(...known)) : null,
    max: known.length ? r4(Math.max(...known)) : null,
    rounds: rounds.map((v) => (v === null || !Number.isFinite(v) ? null : r4(v))),
  }
}

/** Per round: f(scenario, baseline of the same round), null where either is missing. */
function paired(
  mine: RoundResult[],
  base: RoundResult[],
  f: (s: RoundFigures, b: RoundFigures) => number | null,
): (number | null)[] {
  return mine.map((r) => {
    const b = base.find((x) => x.round === r.round)
    return b ? f(r.figures, b.figures) : null
  })
}

const pct = (s: number | null, b: number | null) => (s === null || b === null || b === 0 ? null : (s / b - 1) * 100)
const diff = (s: number | null, b: number | null) => (s === null || b === null ? null : s - b)

function changeOf(mine: RoundResult[], base: RoundResult[]): Change {
  const c = (f: (s: RoundFigures, b: RoundFigures) => number | null) => spreadOf(paired(mine, base, f))
  return {
    throughputPct: c((s, b) => pct(s.throughput, b.throughput)),
    p50Ms: c((s, b) => diff(s.p50, b.p50)),
    p95Ms: c((s, b) => diff(s.p95, b.p95)),
    p99Ms: c((s, b) => diff(s.p99, b.p99)),
    p50Pct: c((s, b) => pct(s.p50, b.p50)),
    p95Pct: c((s, b) => pct(s.p95, b.p95)),
    p99Pct: c((s, b) => pct(s.p99, b.p99)),
    errorRatePp: c((s, b) => {
      const d = diff(s.errorRate, b.errorRate)
      return d === null ? null : d * 100
    }),
  }
}

/** Summaries in scenario order; `baseline` names the unfaulted scenario. */
export function summarize(results: RoundResult[], scenarios: string[], baseline: string): ScenarioSummary[] {
  const base = results.filter((r) => r.scenario === baseline)
  return scenarios.map((name) => {
    const mine = results.filter((r) => r.scenario === name)
    const figures = Object.fromEntries(METRICS.map((m) => [m, spreadOf(mine.map((r) => r.figures[m]))])) as Record<
      Metric,
      Spread
    >
    return {
      name,
      rounds: mine.length,
      requests: mine.reduce((n, r) => n + r.figures.requests, 0),
      figures,
      ...(name === baseline ? {} : { change: changeOf(mine, base) }),
    }
  })
}
