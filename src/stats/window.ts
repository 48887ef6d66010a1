/**
 * Exact latency statistics over a sliding window: one pair of HDR histograms (faulted,
 * unfaulted cohorts) per second, merged on query. Recording is HOT PATH (one array index and one
 * recordValue) into dense histograms (95 KB each, recycled); once its second is over, a bucket is
 * sealed into packed histograms (the same counts, a few KB), so 120 s of retention holds about
 * 0.5 MB instead of 23 MB and queries stay exact.
 */
import { createRequire } from 'node:module'
import type * as Hdr from 'hdr-histogram-js'

type Histogram = Hdr.Histogram
type HistogramClass = new (lowest: number, highest: number, digits: number) => Histogram
const require = createRequire(import.meta.url)
// Recording needs only the JS histogram classes. The package's index also loads its WebAssembly
// build and pako (about 300 KB of source, kept by every sidecar); encoding loads it on first use.
const Int32Histogram = (require('hdr-histogram-js/dist/Int32Histogram.js') as { default: HistogramClass }).default
const PackedHistogram = (require('hdr-histogram-js/dist/PackedHistogram.js') as { default: HistogramClass }).default
let codec: typeof Hdr | undefined
const hdr = (): typeof Hdr => (codec ??= require('hdr-histogram-js') as typeof Hdr)

export type Cohort = 'faulted' | 'unfaulted'

/** Latencies are recorded in microseconds, 1 µs .. 1 h, three significant digits. */
const HIGHEST_US = 3_600_000_000

/** What hdr-histogram-js's build() makes for these settings (autoResize is off by default). */
function newHistogram(bitBucketSize: 32 | 'packed' = 32): Histogram {
  return new (bitBucketSize === 32 ? Int32Histogram : PackedHistogram)(1, HIGHEST_US, 3)
}

interface RuleCounts {
  matched: number
  injected: number
}

interface Bucket {
  second: number
  faulted: Histogram | undefined
  unfaulted: Histogram | undefined
  errorsFaulted: number
  errorsUnfaulted: number
  rules: Map<string, RuleCounts>
  /** Its histograms are packed copies (the second is over); dense ones go back to the spares. */
  sealed: boolean
}

/** Milliseconds; null when the window holds no request (no data is not 0 ms). */
export interface LatencySummary {
  p50: number | null
  p90: number | null
  p95: number | null
  p99: number | null
  max: number | null
}

export interface CohortStats {
  count: number
  errors: number
  /** errors / count; null when count is 0. */
  errorRate: number | null
  latencyMs: LatencySummary
}

export interface WindowStats extends CohortStats {
  window: string
  windowMs: number
  throughput: number
  cohorts: Record<Cohort, CohortStats>
  rules: Record<string, RuleCounts>
}

export interface EncodedWindow {
  window: string
  windowMs: number
  /** HDR histograms in compressed base64 (hdr-histogram-js / HdrHistogram V2 encoding), microseconds. */
  histograms: Record<Cohort, string>
  errors: Record<Cohort, number>
  rules: Record<string, RuleCounts>
}

export class StatsWindow {
  readonly retentionSeconds: number
  readonly #buckets: (Bucket | undefined)[]
  readonly #spare: Histogram[] = []
  readonly #now: () => number
  /** The bucket being recorded into; sealed when another one takes its place. */
  #current: Bucket | undefined

  constructor(opts: { retentionSeconds: number; now: () => number }) {
    this.retentionSeconds = opts.retentionSeconds
    this.#buckets = new Array(opts.retentionSeconds)
    this.#now = opts.now
  }

  #bucket(): Bucket {
    const second = Math.floor(this.#now() / 1000)
    const i = second % this.retentionSeconds
    let b = this.#buckets[i]
    if (b === undefined) {
      b = {
        second,
        faulted: undefined,
        unfaulted: undefined,
        errorsFaulted: 0,
        errorsUnfaulted: 0,
        rules: new Map(),
        sealed: false,
      }
      this.#buckets[i] = b
    } else if (b.second !== second) {
      this.#recycle(b)
      b.second = second
    }
    if (b !== this.#current) {
      // Once a second: the finished bucket is packed (a fraction of a millisecond).
      if (this.#current) this.#seal(this.#current)
      this.#current = b
    }
    return b
  }

  #seal(b: Bucket): void {
    if (b.sealed) return
    b.faulted = this.#packed(b.faulted)
    b.unfaulted = this.#packed(b.unfaulted)
    b.sealed = true
  }

  #packed(dense: Histogram | undefined): Histogram | undefined {
    if (!dense) return undefined
    const packed = newHistogram('packed')
    packed.add(dense)
    dense.reset()
    this.#spare.push(dense)
    return packed
  }

  #recycle(b: Bucket): void {
    if (!b.sealed)
      for (const h of [b.faulted, b.unfaulted]) {
        if (h) {
          h.reset()
          this.#spare.push(h)
        }
      }
    b.faulted = b.unfaulted = undefined
    b.errorsFaulted = b.errorsUnfaulted = 0
    b.rules.clear()
    b.sealed = false
  }

  /** HOT PATH: one finished exchange. */
  record(latencyUs: number, faulted: boolean, error: boolean): void {
    const b = this.#bucket()
    const us = latencyUs < 1 ? 1 : latencyUs > HIGHEST_US ? HIGHEST_US : Math.round(latencyUs)
    if (faulted) {
      ;(b.faulted ??= this.#spare.pop() ?? newHistogram()).recordValue(us)
      if (error) b.errorsFaulted++
    } else {
      ;(b.unfaulted ??= this.#spare.pop() ?? newHistogram()).recordValue(us)
      if (error) b.errorsUnfaulted++
    }
  }

  ruleMatched(id: string): void {
    this.#counts(id).matched++
  }

  ruleInjected(id: string): void {
    this.#counts(id).injected++
  }

  #counts(id: string): RuleCounts {
    const rules = this.#bucket().rules
    let c = rules.get(id)
    if (!c) rules.set(id, (c = { matched: 0, injected: 0 }))
    return c
  }

  #collect(windowMs: number) {
    const nowSecond = Math.floor(this.#now() / 1000)
    const seconds = Math.min(this.retentionSeconds, Math.max(1, Math.ceil(windowMs / 1000)))
    const merged = { faulted: newHistogram(), unfaulted: newHistogram() }
    const errors = { faulted: 0, unfaulted: 0 }
    const rules: Record<string, RuleCounts> = {}
    for (const b of this.#buckets) {
      if (!b || b.second <= nowSecond - seconds || b.second > nowSecond) continue
      if (b.faulted) merged.faulted.add(b.faulted)
      if (b.unfaulted) merged.unfaulted.add(b.unfaulted)
      errors.faulted += b.errorsFaulted
      errors.unfaulted += b.errorsUnfaulted
      for (const [id, c] of b.rules) {
        const t = (rules[id] ??= { matched: 0, injected: 0 })
        t.matched += c.matched
        t.injected += c.injected
      }
    }
    return { seconds, merged, errors, rules }
  }

  /** Exact figures over the last `windowMs` (whole seconds, the current one included). */
  query(windowMs: number): WindowStats {
    const { seconds, merged, errors, rules } = this.#collect(windowMs)
    const all = newHistogram()
    all.add(merged.faulted)
    all.add(merged.unfaulted)
    const total = summarize(all, errors.faulted + errors.unfaulted)
    return {
      window: `${seconds}s`,
      windowMs: seconds * 1000,
      ...total,
      throughput: total.count / seconds,
      cohorts: {
        faulted: summarize(merged.faulted, errors.faulted),
        unfaulted: summarize(merged.unfaulted, errors.unfaulted),
      },
      rules,
    }
  }

  /** The same window as mergeable histograms, for a controller that merges many sidecars. */
  encoded(windowMs: number): EncodedWindow {
    const { seconds, merged, errors, rules } = this.#collect(windowMs)
    return {
      window: `${seconds}s`,
      windowMs: seconds * 1000,
      histograms: {
        faulted: hdr().encodeIntoCompressedBase64(merged.faulted),
        unfaulted: hdr().encodeIntoCompressedBase64(merged.unfaulted),
      },
      errors,
      rules,
    }
  }
}

export function summarize(h: Histogram, errors: number): CohortStats {
  const count = h.totalCount
  // A percentile is the top of its HDR bucket (within 0.1%), which can lie above the largest value
  // recorded; the maximum itself is kept exactly, so no percentile is reported above it.
  const ms = (p: number) => (count === 0 ? null : Math.round(Math.min(h.getValueAtPercentile(p), h.maxValue)) / 1000)
  return {
    count,
    errors,
    errorRate: count === 0 ? null : errors / count,
    latencyMs: {
      p50: ms(50),
      p90: ms(90),
      p95: ms(95),
      p99: ms(99),
      max: count === 0 ? null : h.maxValue / 1000,
    },
  }
}

/** Merges encoded windows from many sidecars into exact combined figures. */
export function mergeEncoded(parts: EncodedWindow[]): Omit<WindowStats, 'window' | 'windowMs' | 'throughput'> {
  const merged = { faulted: newHistogram(), unfaulted: newHistogram() }
  const errors = { faulted: 0, unfaulted: 0 }
  const rules: Record<string, RuleCounts> = {}
  for (const p of parts) {
    for (const c of ['faulted', 'unfaulted'] as const) {
      merged[c].add(hdr().decodeFromCompressedBase64(p.histograms[c], 32, false))
      errors[c] += p.errors[c]
    }
    for (const [id, c] of Object.entries(p.rules)) {
      const t = (rules[id] ??= { matched: 0, injected: 0 })
      t.matched += c.matched
      t.injected += c.injected
    }
  }
  const all = newHistogram()
  all.add(merged.faulted)
  all.add(merged.unfaulted)
  return {
    ...summarize(all, errors.faulted + errors.unfaulted),
    cohorts: {
      faulted: summarize(merged.faulted, errors.faulted),
      unfaulted: summarize(merged.unfaulted, errors.unfaulted),
    },
    rules,
  }
}
