/**
 * Distribution-level statistics for verdicts: exact bounds on a share of requests, the tests
 * dual to them, Holm's step-down, the Newcombe interval for a difference of shares, the
 * sample-ratio test and order-statistic ranks for a percentile. Pure; the distribution functions
 * come from stdlib (tested against Julia fixtures there), none is written by hand here.
 * See docs/experiments.md "How a verdict is reached" and ../shared/reference/statistics.md.
 */
import betaQuantile from '@stdlib/stats-base-dists-beta-quantile'
import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf'
import binomialQuantile from '@stdlib/stats-base-dists-binomial-quantile'
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile'

/** Clopper-Pearson one-sided upper bound of a share: P(true share > bound) <= a. */
export function cpUpper(k: number, n: number, a: number): number {
  if (n <= 0 || k >= n) return 1
  return betaQuantile(1 - a, k + 1, n - k)
}

/** Clopper-Pearson one-sided lower bound of a share: P(true share < bound) <= a. */
export function cpLower(k: number, n: number, a: number): number {
  if (n <= 0 || k <= 0) return 0
  return betaQuantile(a, k, n - k + 1)
}

/**
 * Exact p-value against "the share is at most p0": P(X >= k) for X ~ Binomial(n, p0). Dual to
 * cpLower: cpLower(k, n, a) > p0 exactly when this is below a.
 */
export function pAbove(k: number, n: number, p0: number): number {
  if (k <= 0) return 1
  if (k > n) return 0
  return Math.max(0, 1 - binomialCdf(k - 1, n, p0))
}

/** Exact p-value against "the share is at least p0": P(X <= k) for X ~ Binomial(n, p0). */
export function pBelow(k: number, n: number, p0: number): number {
  if (k >= n) return 1
  return binomialCdf(k, n, p0)
}

/**
 * The fewest requests that could ever show a share below p0 at level a: even with none beyond
 * the threshold, the upper bound 1 - a^(1/n) must fall below p0. 59 for 5% at a = 0.05, 299 for 1%.
 */
export function minimumN(p0: number, a: number): number {
  if (p0 >= 1) return 1
  if (p0 <= 0) return Infinity
  const n = Math.ceil(Math.log(a) / Math.log(1 - p0))
  // Floating point can land exactly on the boundary; the bound must be strictly below p0.
  return cpUpper(0, n, a) < p0 ? n : n + 1
}

/**
 * About how many requests would decide a clause if the observed share held: the smallest total
 * whose bound clears p0 (upper below it, or lower above it). Undefined when the share sits on p0
 * (no amount of data decides it) or the number would exceed a billion.
 */
export function neededN(k: number, n: number, p0: number, aPass: number, aFail: number): number | undefined {
  const share = n > 0 ? k / n : 0
  const decides =
    share < p0
      ? (m: number) => cpUpper(Math.round(share * m), m, aPass) < p0
      : share > p0
        ? (m: number) => cpLower(Math.round(share * m), m, aFail) > p0
        : undefined
  if (!decides) return undefined
  let hi = Math.max(n, 1)
  while (!decides(hi)) {
    hi *= 2
    if (hi > 1e9) return undefined
  }
  let lo = Math.max(1, Math.floor(hi / 2))
  if (decides(lo)) return lo
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (decides(mid)) hi = mid
    else lo = mid
  }
  return hi
}

/**
 * Holm's step-down (Holm 1979): which hypotheses are rejected at family-wise level alpha. Sorted
 * ascending, the i-th smallest p-value (0-based) is compared with alpha / (m - i); the first that
 * is not below stops the rejections.
 */
export function holm(pValues: number[], alpha: number): boolean[] {
  const m = pValues.length
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0])
  const rejected = new Array<boolean>(m).fill(false)
  for (let r = 0; r < m; r++) {
    const [p, i] = order[r]!
    if (!(p <= alpha / (m - r))) break
    rejected[i] = true
  }
  return rejected
}

/** The level Holm compares the p-value at `index` with, given the others (its rank's share of alpha). */
export function holmLevel(pValues: number[], index: number, alpha: number): number {
  const mine = pValues[index]!
  const smaller = pValues.filter((p, i) => p < mine || (p === mine && i < index)).length
  return alpha / (pValues.length - smaller)
}

/** Wilson score interval of one share, each side at one-sided level a. */
function wilson(k: number, n: number, z: number): { lower: number; upper: number } {
  const p = k / n
  const z2 = z * z
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n)
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) }
}

/**
 * Newcombe's hybrid score interval (1998, method 10) for p1 - p2, each side at one-sided level a
 * (a = 0.025 on both sides is the usual 95% two-sided interval).
 */
export function newcombe(k1: number, n1: number, k2: number, n2: number, a: number): { lower: number; upper: number } {
  const z = normalQuantile(1 - a, 0, 1)
  const p1 = k1 / n1
  const p2 = k2 / n2
  const w1 = wilson(k1, n1, z)
  const w2 = wilson(k2, n2, z)
  const d = p1 - p2
  return {
    lower: d - Math.sqrt((p1 - w1.lower) ** 2 + (w2.upper - p2) ** 2),
    upper: d + Math.sqrt((w1.upper - p1) ** 2 + (p2 - w2.lower) ** 2),
  }
}

/**
 * Two-sided exact binomial test of a sample ratio: `hits` of `n` against the expected share
 * (a rule's percent). Small p means the split is not what was configured (Fabijan et al. 2019).
 */
export function sampleRatioPValue(hits: number, n: number, share: number): number {
  if (n === 0) return 1
  return Math.min(1, 2 * Math.min(pBelow(hits, n, share), pAbove(hits, n, share)))
}

/**
 * Distribution-free ranks (1-based) bounding the q-quantile of n values, each side at one-sided
 * level a: X(lower) <= quantile <= X(upper) with probability >= 1 - 2a. A rank of 0 means no lower
 * bound from the data, n + 1 no upper bound.
 */
export function orderStatisticRanks(n: number, q: number, a: number): { lower: number; upper: number } {
  if (n === 0) return { lower: 0, upper: 1 }
  return { lower: binomialQuantile(a, n, q), upper: Math.min(n + 1, binomialQuantile(1 - a, n, q) + 1) }
}

/**
 * The smallest level at which a monotone test rejects (its p-value), found by bisection on a log
 * scale: for bounds (Newcombe, relative thresholds) that have no closed-form dual test.
 */
export function levelAtWhich(rejects: (a: number) => boolean): number {
  if (!rejects(0.5)) return 1
  let lo = -12 // log10
  let hi = Math.log10(0.5)
  if (rejects(10 ** lo)) return 10 ** lo
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2
    if (rejects(10 ** mid)) hi = mid
    else lo = mid
  }
  return 10 ** hi
}
