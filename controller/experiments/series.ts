/**
 * The per-second series of a target (for the report's charts and the console's progress line):
 * the last two statistics seconds, merged across the target's sidecars.
 */
import { fmt } from '../../src/experiments/judge.ts'
import type { SidecarClient } from '../sidecar-client.ts'
import type { SeriesPoint } from './journal.ts'
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
  return {
    t: both!.at,
    count: m.count,
    rps: Math.max(0, m.count - current!.merged.count),
    errorRate: m.count === 0 ? null : m.errorRate,
    p50: orNull(latencyOf(m, 'p50')),
    p95: orNull(latencyOf(m, 'p95')),
    p99: orNull(latencyOf(m, 'p99')),
  }
}

/** "p95 12.3 ms, err 0.0%, 100 req/s"; figures without data show as "-", never as 0. */
export function progressFigures(p: SeriesPoint): string {
  const p95 = p.p95 === null ? 'p95 - (no requests)' : `p95 ${p.p95.toFixed(1)} ms`
  const err = p.errorRate === null ? 'err -' : `err ${(p.errorRate * 100).toFixed(1)}%`
  return `${p95}, ${err}, ${fmt(Math.round(p.rps))} req/s`
}
