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
  /** Requests that may be counted twice (a commit that could not be made exact; see PhaseAccumulator). */
  uncertain: number
}

/** Past this many seconds since the last commit, a look commits the whole ones (windows stay small and cheap). */
const COMMIT_AFTER_SECONDS = 4
/** A commit that cannot be made exact waits for a later look, up to this span; then it is made anyway. */
const FORCE_COMMIT_SECONDS = 60
const EXACT_COMMIT_TRIES = 5

const countOf = (w: EncodedWindow) => {
  let n = 0
  for (const c of COHORTS) n += hdr.decodeFromCompressedBase64(w.histograms[c], 32, false).totalCount
  return n
}

/**
 * All the requests of a phase from a first statistics second on, across any number of looks and
 * past the sidecars' 120 s of retention, counted once. A look reads every second since the last
 * commit in one window (exact: a sidecar merges whole seconds plus its current one), and keeps
 * that window small by committing the whole seconds into the controller's own histograms once
 * it spans more than 4 s (a sidecar merges a 100 s window in about half a second of CPU; a few
 * seconds take a millisecond).
 *
 * A window cannot leave out the sidecar's current second, so a commit is the span's window minus
 * the current second's, read just after it. That is exact when no request completes in between:
 * each sidecar is read current / span / current, and the commit is kept only when both reads of
 * the current second agree (tried five times, a few milliseconds each). A sidecar too busy for
 * that waits for a later look; past 60 s its commit is made anyway (span minus the first read
 * of the current second), and the requests that came in between, which the next look reads
 * again, are reported as `uncertain`.
 */
export class PhaseAccumulator {
  #next: number
  #from: number
  #committed = emptyCohorts()
  #lost = 0
  #uncertain = 0

  /** `firstSecond`: epoch seconds of the first statistics second that belongs to the phase. */
  constructor(firstSecond: number) {
    this.#next = this.#from = firstSecond
  }

  /** Starts again from `firstSecond` (what came before a failing look is known not steady, or not recovered). */
  restart(firstSecond: number): void {
    this.#next = this.#from = firstSecond
    this.#committed = emptyCohorts()
    this.#uncertain = 0
  }

  /** Undefined while no statistics second of the phase has begun. */
  async look(clients: SidecarClient[], now: () => number): Promise<Look | undefined> {
    for (let attempt = 0; ; attempt++) {
      const second = Math.floor(now() / 1000)
      if (second < this.#next) return undefined
      const lost = Math.max(0, second - this.#next + 1 - RETENTION_SECONDS)
      if (lost > 0) {
        this.#lost += lost
        this.#next += lost
      }
      if (second - this.#next + 1 > COMMIT_AFTER_SECONDS) await this.#commit(clients, second, now)
      const span = second - this.#next + 1
      const whole = await Promise.all(clients.map((c) => c.statsEncoded(span * 1000)))
      // The second turned while reading: the window no longer lines up with the plan; read again.
      if (Math.floor(now() / 1000) !== second && attempt < 2) continue
      const data = copyOf(this.#committed)
      addEncoded(data, whole, 1)
      return { data, from: this.#from * 1000, at: now(), lostSeconds: this.#lost, uncertain: this.#uncertain }
    }
  }

  /** Commits the whole seconds from #next to `second` - 1 of every sidecar (all or none, one second). */
  async #commit(clients: SidecarClient[], second: number, now: () => number): Promise<void> {
    const span = second - this.#next + 1
    const force = span > FORCE_COMMIT_SECONDS
    const parts = await Promise.all(clients.map((c) => this.#wholeSeconds(c, span, second, now, force)))
    if (parts.some((p) => p === undefined) || Math.floor(now() / 1000) !== second) return
    for (const p of parts) {
      addEncoded(this.#committed, [p!.span], 1)
      addEncoded(this.#committed, [p!.current], -1)
      this.#uncertain += p!.uncertain
    }
    this.#next = second
  }

  /** One sidecar's span and current-second windows whose difference is its whole seconds. */
  async #wholeSeconds(c: SidecarClient, span: number, second: number, now: () => number, force: boolean) {
    for (let i = 0; i < EXACT_COMMIT_TRIES; i++) {
      const before = await c.statsEncoded(1000)
      const whole = await c.statsEncoded(span * 1000)
      const after = await c.statsEncoded(1000)
      if (Math.floor(now() / 1000) !== second) return undefined
      const a = countOf(before)
      const b = countOf(after)
      if (a === b) return { span: whole, current: after, uncertain: 0 }
      // The current second only grows: the earlier read is inside the span's, so the difference is never negative.
      if (force && i === EXACT_COMMIT_TRIES - 1) return { span: whole, current: before, uncertain: b - a }
    }
    return undefined
  }
}
