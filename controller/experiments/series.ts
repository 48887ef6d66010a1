/**
 * The per-second series of a target (for the report's charts and the console's progress line):
 * the last two statistics seconds, merged across the target's sidecars.
 */
import { fmt } from '../../src/experiments/judge.ts'
import type { SidecarClient } from '../sidecar-client.ts'
import type { Logger } from '../../src/log.ts'
import type { Journal, SeriesPoint } from './journal.ts'
import { latencyOf, readWindows } from './windows.ts'

/** Two buckets: the last whole second and the current one, so a point is never empty by timing. */
export const SERIES_WINDOW_SECONDS = 2

/**
 * Latency over the last two buckets; the rate over the last whole second alone (two buckets
 * minus the current one). A rate over a partial second swings with bursty load (autocannon
 * sends each second's requests at once), and dividing a partial window by its nominal length
 * is what halved the rate the console showed.
 */
export async function seriesPoint(clients: SidecarClient[], now: () => number): Promise<SeriesPoint> {
  const [both, current] = await readWindows(clients, [SERIES_WINDOW_SECONDS, 1], now)
  const m = both!.merged
  const orNull = (v: number | undefined) => (v === undefined ? null : v)
  const cohort = (c: 'faulted' | 'unfaulted') => {
    const f = m.cohorts[c]
    return {
      count: f.count,
      errorRate: f.count === 0 ? null : f.errorRate,
      p50: orNull(latencyOf(f, 'p50')),
      p95: orNull(latencyOf(f, 'p95')),
      p99: orNull(latencyOf(f, 'p99')),
    }
  }
  return {
    t: both!.at,
    count: m.count,
    rps: Math.max(0, m.count - current!.merged.count),
    errorRate: m.count === 0 ? null : m.errorRate,
    p50: orNull(latencyOf(m, 'p50')),
    p95: orNull(latencyOf(m, 'p95')),
    p99: orNull(latencyOf(m, 'p99')),
    // The dashboard's faulted/unfaulted switch.
    cohorts: { faulted: cohort('faulted'), unfaulted: cohort('unfaulted') },
  }
}

/** "p95 12.3 ms, err 0.0%, 100 req/s"; figures without data show as "-", never as 0. */
export function progressFigures(p: SeriesPoint): string {
  const p95 = p.p95 === null ? 'p95 - (no requests)' : `p95 ${p.p95.toFixed(1)} ms`
  const err = p.errorRate === null ? 'err -' : `err ${(p.errorRate * 100).toFixed(1)}%`
  return `${p95}, ${err}, ${fmt(Math.round(p.rps))} req/s`
}

const SERIES_INTERVAL_MS = 1000
const PROGRESS_INTERVAL_MS = 2000

/**
 * What a run shows while it runs: a per-second series of each target's figures (for the report's
 * charts) and a console line every two seconds. A target whose statistics cannot be read is
 * logged once per outage and shows as a gap, never as zeros.
 */
export class LiveFigures {
  readonly #journal: Journal
  readonly #targets: () => Iterable<[string, { sidecars: SidecarClient[] }]>
  readonly #log: Logger
  readonly #say: (line: string) => void
  readonly #plannedMs: number
  readonly #down = new Set<string>()
  readonly #timers: NodeJS.Timeout[] = []
  #phase = 'setup'
  #methodStartedAt: number | undefined

  constructor(opts: {
    journal: Journal
    targets: () => Iterable<[string, { sidecars: SidecarClient[] }]>
    log: Logger
    say: (line: string) => void
    plannedMs: number
  }) {
    this.#journal = opts.journal
    this.#targets = opts.targets
    this.#log = opts.log
    this.#say = opts.say
    this.#plannedMs = opts.plannedMs
    this.#timers.push(setInterval(() => void this.#sample(), SERIES_INTERVAL_MS).unref())
    this.#timers.push(setInterval(() => this.#say(this.#line()), PROGRESS_INTERVAL_MS).unref())
  }

  phase(name: string, methodStartedAt?: number): void {
    this.#phase = name
    if (methodStartedAt !== undefined) this.#methodStartedAt = methodStartedAt
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t)
  }

  async #sample(): Promise<void> {
    for (const [name, t] of this.#targets()) {
      if (t.sidecars.length === 0) continue
      try {
        ;(this.#journal.series[name] ??= []).push(await seriesPoint(t.sidecars, Date.now))
        if (this.#down.delete(name)) this.#log.info({ target: name }, 'statistics readable again')
      } catch (err) {
        // The chart shows the outage as a gap; the log says why.
        if (!this.#down.has(name)) this.#log.warn({ err, target: name }, 'cannot read statistics for the series')
        this.#down.add(name)
      }
    }
  }

  /** The console's live line: each target's latest figures and how the checks stand. */
  #line(): string {
    const left =
      this.#phase === 'during' && this.#methodStartedAt !== undefined
        ? Math.max(0, this.#plannedMs - (Date.now() - this.#methodStartedAt))
        : undefined
    const when = left === undefined ? this.#phase : `${this.#phase}, ~${(left / 1000).toFixed(0)}s left`
    const parts = Object.entries(this.#journal.series).map(([t, pts]) => {
      const p = pts.at(-1)
      return p ? `${t} ${progressFigures(p)}` : ''
    })
    const last = Object.entries(this.#journal.checks).map(([n, c]) => [n, c.samples.at(-1)?.outcome] as const)
    const failing = last.filter(([, o]) => o === 'fail').map(([n]) => n)
    const passing = last.filter(([, o]) => o === 'pass').length
    return `  [${when}] ${parts.filter(Boolean).join(' | ')}  checks: ${passing} passing${failing.length ? `, failing: ${failing.join(', ')}` : ''}`
  }
}
