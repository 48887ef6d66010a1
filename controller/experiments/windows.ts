/**
 * Reading sidecar statistics windows honestly.
 *
 * A sidecar keeps one bucket per wall-clock second and answers `/stats?window=Ns` with the last
 * N buckets, the current (partial) second included. So an N-second window read 250 ms into a
 * second holds N - 1 whole seconds plus 250 ms of data, not N seconds: rates divide by the time
 * actually covered, and "requests since time T" means buckets that started at or after T.
 *
 * This assumes the sidecar's clock agrees with ours to well under a second (same host, or
 * NTP-synchronised machines), which is what lets us place its bucket boundaries.
 */
import { mergeEncoded } from '../../src/stats/window.ts'
import type { SidecarClient } from '../sidecar-client.ts'

export type Merged = ReturnType<typeof mergeEncoded>

export interface WindowRead {
  merged: Merged
  /** Buckets asked for. */
  seconds: number
  /** Epoch ms where the oldest bucket read begins. */
  from: number
  /** Epoch ms of the read. */
  at: number
  /** How much time the data spans: at - from. */
  coveredMs: number
}

/** Where an N-bucket window read at `at` begins, and how much time it spans. */
export function coverage(seconds: number, at: number): { from: number; coveredMs: number } {
  const from = (Math.floor(at / 1000) - seconds + 1) * 1000
  return { from, coveredMs: at - from }
}

/** How many buckets (the current one included) began at or after `since`; 0 when none has yet. */
export function secondsSince(since: number, now: number): number {
  return Math.max(0, Math.floor(now / 1000) - Math.ceil(since / 1000) + 1)
}

/** Requests per second over a read; undefined when it spans no time. */
export function rateOf(count: number, coveredMs: number): number | undefined {
  return coveredMs > 0 ? count / (coveredMs / 1000) : undefined
}

/**
 * Reads and merges windows of the given sizes from every sidecar, at one moment. A read that
 * straddles a second boundary cannot tell which second the sidecar was in, so it is taken again
 * (once is enough: a read takes milliseconds).
 */
export async function readWindows(clients: SidecarClient[], sizes: number[], now: () => number): Promise<WindowRead[]> {
  for (let attempt = 0; ; attempt++) {
    const t0 = now()
    const parts = await Promise.all(sizes.map((n) => Promise.all(clients.map((c) => c.statsEncoded(n * 1000)))))
    const at = now()
    if (Math.floor(t0 / 1000) !== Math.floor(at / 1000) && attempt === 0) continue
    return parts.map((p, i) => ({ merged: mergeEncoded(p), seconds: sizes[i]!, at, ...coverage(sizes[i]!, at) }))
  }
}

/** The last `seconds` buckets of every sidecar, merged. */
export async function readWindow(clients: SidecarClient[], seconds: number, now: () => number): Promise<WindowRead> {
  return (await readWindows(clients, [seconds], now))[0]!
}

/** A latency figure, or undefined when there is none (no requests: never read that as 0 ms). */
export function latencyOf(figures: { count: number; latencyMs: object }, key: string): number | undefined {
  if (figures.count === 0) return undefined
  const v: unknown = (figures.latencyMs as Record<string, unknown>)[key]
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}
