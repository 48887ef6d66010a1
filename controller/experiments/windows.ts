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
import * as hdr from 'hdr-histogram-js'
import { type EncodedWindow, mergeEncoded } from '../../src/stats/window.ts'
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

/** One cohort pair of exact histograms (µs) with errors and rule counts: whole seconds added up. */
export interface CohortHistograms {
  histograms: Record<Cohort, hdr.Histogram>
  errors: Record<Cohort, number>
  rules: Record<string, { matched: number; injected: number }>
}

type Cohort = 'faulted' | 'unfaulted'
const COHORTS = ['faulted', 'unfaulted'] as const
/** What a sidecar keeps: an accumulation must read at least once in this many seconds. */
const RETENTION_SECONDS = 120

function emptyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  })
}

export function emptyCohorts(): CohortHistograms {
  return {
    histograms: { faulted: emptyHistogram(), unfaulted: emptyHistogram() },
    errors: { faulted: 0, unfaulted: 0 },
    rules: {},
  }
}

/** Adds (sign 1) or subtracts (sign -1) encoded windows into `into`. */
function addEncoded(into: CohortHistograms, parts: EncodedWindow[], sign: 1 | -1): void {
  for (const p of parts) {
    for (const c of COHORTS) {
      const h = hdr.decodeFromCompressedBase64(p.histograms[c], 32, false)
      if (sign > 0) into.histograms[c].add(h)
      else into.histograms[c].subtract(h)
      into.errors[c] += sign * p.errors[c]
    }
    addRules(into.rules, p.rules, sign)
  }
}

function addRules(into: CohortHistograms['rules'], from: CohortHistograms['rules'], sign: 1 | -1): void {
  for (const [id, c] of Object.entries(from)) {
    const t = (into[id] ??= { matched: 0, injected: 0 })
    t.matched += sign * c.matched
    t.injected += sign * c.injected
  }
}

function copyOf(x: CohortHistograms): CohortHistograms {
  const out = emptyCohorts()
  for (const c of COHORTS) {
    out.histograms[c].add(x.histograms[c])
    out.errors[c] = x.errors[c]
  }
  addRules(out.rules, x.rules, 1)
  return out
}

export interface Look {
  /** Every request since the first second, the current partial second included. */
  data: CohortHistograms
  /** Epoch ms where the data begins. */
  from: number
  at: number
  /** Whole seconds that could not be read (looks more than 120 s apart lose the oldest). */
  lostSeconds: number
}

/** Seconds kept uncommitted: a look re-reads them whole, exactly. */
const KEEP_SECONDS = 60
/** Past this many seconds since the last commit, the oldest are committed (below the 120 s a sidecar keeps). */
const COMMIT_AFTER_SECONDS = 100

const readAll = (clients: SidecarClient[], seconds: number) =>
  Promise.all(clients.map((c) => c.statsEncoded(seconds * 1000)))

/**
 * All the requests of a phase from a first statistics second on, across any number of looks and
 * past the sidecars' 120 s of retention. A look re-reads every second since the last commit in
 * one window (exact: the sidecar merges whole seconds and the current one). When that span nears
 * the retention, the seconds older than the last 60 are committed: the 60-second window is read,
 * then the whole span, and their difference added up. Nothing is counted twice, except requests
 * completed in the current second between those two reads (milliseconds apart, once every 40 s
 * or so); a window cannot exclude its current second, so that much is approximate.
 */
export class PhaseAccumulator {
  #next: number
  #from: number
  #committed = emptyCohorts()
  #lost = 0

  /** `firstSecond`: epoch seconds of the first statistics second that belongs to the phase. */
  constructor(firstSecond: number) {
    this.#next = this.#from = firstSecond
  }

  /** Starts again from `firstSecond` (recovery: what came before a failing look is known not recovered). */
  restart(firstSecond: number): void {
    this.#next = this.#from = firstSecond
    this.#committed = emptyCohorts()
  }

  /** Undefined while no statistics second of the phase has begun. */
  async look(clients: SidecarClient[], now: () => number): Promise<Look | undefined> {
    for (let attempt = 0; ; attempt++) {
      const second = Math.floor(now() / 1000)
      if (second < this.#next) return undefined
      let span = second - this.#next + 1
      const lost = Math.max(0, span - RETENTION_SECONDS)
      span -= lost
      const commit = span > COMMIT_AFTER_SECONDS
      const recent = commit ? await readAll(clients, KEEP_SECONDS) : undefined
      const whole = await readAll(clients, span)
      // The second turned while reading: the windows no longer line up with the plan; read again.
      if (Math.floor(now() / 1000) !== second && attempt < 2) continue
      this.#lost += lost
      const data = copyOf(this.#committed)
      addEncoded(data, whole, 1)
      if (recent) {
        addEncoded(this.#committed, whole, 1)
        addEncoded(this.#committed, recent, -1)
        this.#next = second - KEEP_SECONDS + 1
      } else this.#next = second - span + 1
      return { data, from: this.#from * 1000, at: now(), lostSeconds: this.#lost }
    }
  }
}
