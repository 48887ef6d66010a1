/**
 * Counting requests beyond a threshold in exact HDR histograms (latencies in microseconds), for
 * the statistical judgement. A bucket's values are read as its highest equivalent value, the
 * figure the sidecar reports percentiles with, so a count here agrees with a reported p95:
 * "p95 <= T" holds in the data exactly when at most 5% of requests count as slower than T.
 */
import * as hdr from 'hdr-histogram-js'

/** A histogram flattened to its non-empty buckets, ascending: value (µs, highest equivalent), count. */
export interface Distribution {
  values: number[]
  counts: number[]
  total: number
}

export function distributionOf(h: hdr.Histogram): Distribution {
  const j = h as unknown as hdr.JsHistogram
  const values: number[] = []
  const counts: number[] = []
  let total = 0
  for (let i = 0; i < j.countsArrayLength && total < h.totalCount; i++) {
    const c = j.getCountAtIndex(i)
    if (c === 0) continue
    values.push(j.highestEquivalentValue(j.valueFromIndex(i)))
    counts.push(c)
    total += c
  }
  return { values, counts, total }
}

/** Requests slower than `thresholdMs`. */
export function countAbove(d: Distribution, thresholdMs: number): number {
  const us = thresholdMs * 1000
  let k = 0
  for (let i = d.values.length - 1; i >= 0 && d.values[i]! > us; i--) k += d.counts[i]!
  return k
}

/** Requests faster than `thresholdMs`. */
export function countBelow(d: Distribution, thresholdMs: number): number {
  const us = thresholdMs * 1000
  let k = 0
  for (let i = 0; i < d.values.length && d.values[i]! < us; i++) k += d.counts[i]!
  return k
}

/** The value (ms) of the request at 1-based `rank` in ascending order; 0 below rank 1, Infinity past the end. */
export function valueAtRank(d: Distribution, rank: number): number {
  if (rank < 1) return 0
  let seen = 0
  for (let i = 0; i < d.values.length; i++) {
    seen += d.counts[i]!
    if (seen >= rank) return d.values[i]! / 1000
  }
  return Infinity
}
