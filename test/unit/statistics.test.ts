/**
 * The statistical judgement's building blocks against published reference values: Clopper-Pearson
 * bounds (Clopper & Pearson 1934 tables, as reproduced by R's binom.test), Newcombe's interval
 * (Newcombe 1998, Table II, method 10), Holm (1979), the minimum sizes and the worked example of
 * ../shared/reference/statistics.md (checked there against SciPy).
 */
import * as hdr from 'hdr-histogram-js'
import { describe, expect, it } from 'vitest'
import {
  cpLower,
  cpUpper,
  holm,
  holmLevel,
  levelAtWhich,
  minimumN,
  neededN,
  newcombe,
  orderStatisticRanks,
  pAbove,
  pBelow,
  sampleRatioPValue,
} from '../../src/experiments/statistics.ts'
import {
  clausesOf,
  combine,
  decide,
  evaluate,
  type Evaluated,
  type Levels,
} from '../../src/experiments/statistics-clause.ts'
import { countAbove, countBelow, distributionOf, valueAtRank } from '../../src/experiments/statistics-histogram.ts'
import { HolmBoard, lookLevel, plannedLooks } from '../../src/experiments/statistics-looks.ts'

describe('Clopper-Pearson bounds', () => {
  // Two-sided 95% intervals (each side at 0.025), R: binom.test(x, n)$conf.int
  it.each([
    [0, 10, 0, 0.3085],
    [1, 10, 0.00253, 0.445],
    [5, 10, 0.1871, 0.8129],
    [4, 20, 0.05733, 0.43661],
    [10, 10, 0.6915, 1],
  ])('%i of %i: [%f, %f]', (k, n, lo, hi) => {
    expect(cpLower(k, n, 0.025)).toBeCloseTo(lo, 4)
    expect(cpUpper(k, n, 0.025)).toBeCloseTo(hi, 4)
  })

  it('reproduces the worked example (SciPy reference)', () => {
    expect(cpUpper(64, 2000, 0.05)).toBeCloseTo(0.03926, 4)
    expect(cpUpper(9, 2000, 0.05)).toBeCloseTo(0.0078, 4)
    expect(cpLower(160, 2000, 0.025)).toBeCloseTo(0.0685, 3)
    expect(cpLower(160, 2000, 0.0025)).toBeCloseTo(0.0639, 3)
    expect(cpUpper(8, 200, 0.05)).toBeCloseTo(0.0713, 3)
  })

  it('is dual to the exact binomial test', () => {
    for (const [k, n, p0] of [
      [12, 100, 0.05],
      [30, 400, 0.05],
      [3, 500, 0.01],
    ] as const) {
      const a = pAbove(k, n, p0)
      expect(cpLower(k, n, a * 1.001) > p0).toBe(true)
      expect(cpLower(k, n, a * 0.999) > p0).toBe(false)
    }
    expect(pAbove(0, 100, 0.05)).toBe(1)
    expect(pBelow(0, 59, 0.05)).toBeCloseTo(0.95 ** 59, 10)
  })
})

describe('minimum sizes', () => {
  it.each([
    [0.05, 0.05, 59],
    [0.01, 0.05, 299],
    [0.05, 0.025, 72],
    [0.05, 0.005, 104],
    [0.01, 0.005, 528],
    [0.001, 0.05, 2995],
  ])('share %f at level %f needs %i requests', (p0, a, n) => {
    expect(minimumN(p0, a)).toBe(n)
    expect(cpUpper(0, n, a)).toBeLessThan(p0)
    expect(cpUpper(0, n - 1, a)).toBeGreaterThanOrEqual(p0)
  })

  it('estimates the requests that would decide an undecided share', () => {
    // 2% slow of 100 cannot show < 5% yet; at 2% it takes a few hundred.
    const n = neededN(2, 100, 0.05, 0.05, 0.05)!
    expect(n).toBeGreaterThan(100)
    expect(cpUpper(Math.round(0.02 * n), n, 0.05)).toBeLessThan(0.05)
    expect(cpUpper(Math.round(0.02 * (n - 1)), n - 1, 0.05)).toBeGreaterThanOrEqual(0.05)
    expect(neededN(5, 100, 0.05, 0.05, 0.05)).toBeUndefined()
    expect(neededN(9, 100, 0.05, 0.05, 0.05)).toBeGreaterThan(100)
  })
})

describe('Holm', () => {
  it('steps down and stops at the first p-value that is not small enough', () => {
    expect(holm([0.01, 0.04, 0.03, 0.005], 0.05)).toEqual([true, false, false, true])
    expect(holm([0.01, 0.02, 0.03], 0.05)).toEqual([true, true, true])
    expect(holm([0.02, 0.02], 0.05)).toEqual([true, true])
    expect(holm([0.03, 0.03], 0.05)).toEqual([false, false])
    expect(holmLevel([0.01, 0.04, 0.03, 0.005], 0, 0.05)).toBeCloseTo(0.05 / 3)
  })

  it('a board counts unreported clauses as not rejected', () => {
    const board = new HolmBoard(['a#0', 'b#0'])
    board.post('a#0', 0.03)
    expect(board.judge('a#0', 0.05)).toEqual({ rejected: false, level: 0.025 })
    board.post('b#0', 0.01)
    expect(board.judge('a#0', 0.05).rejected).toBe(true)
    board.post('b#0', 0.2)
    expect(board.judge('a#0', 0.05).rejected).toBe(false)
  })
})

describe('looks', () => {
  it('spends alpha over the planned looks, with a reserve for looks past the plan', () => {
    expect(plannedLooks(10_000, 2000)).toBe(6)
    expect(plannedLooks(0, 2000)).toBe(1)
    const K = 6
    expect(lookLevel(0.05, 1, K)).toBeCloseTo(0.05 / 7)
    let sum = 0
    for (let i = 1; i <= 200; i++) sum += lookLevel(0.05, i, K)
    expect(sum).toBeLessThanOrEqual(0.05)
  })
})

describe('Newcombe hybrid score interval (Newcombe 1998, Table II, method 10)', () => {
  it.each([
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [0, 10, 0, 10, -0.2775, 0.2775],
    [10, 10, 0, 10, 0.6075, 1],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
    [10, 10, 0, 20, 0.6791, 1],
  ])('%i/%i - %i/%i: [%f, %f]', (k1, n1, k2, n2, lo, hi) => {
    const ci = newcombe(k1, n1, k2, n2, 0.025)
    expect(ci.lower).toBeCloseTo(lo, 3)
    expect(ci.upper).toBeCloseTo(hi, 3)
  })
})

describe('sample ratio and order statistics', () => {
  it('flags a faulted share far from the rule percent', () => {
    // 1,850 faulted of 20,000 at a configured 10%: p = 0.0004 (Fabijan et al. example).
    expect(sampleRatioPValue(1850, 20000, 0.1)).toBeGreaterThan(0.0002)
    expect(sampleRatioPValue(1850, 20000, 0.1)).toBeLessThan(0.001)
    expect(sampleRatioPValue(2000, 20000, 0.1)).toBeGreaterThan(0.5)
    expect(sampleRatioPValue(0, 0, 0.1)).toBe(1)
  })

  it('bounds a percentile by ranks (n = 2000, p95: ranks 1880 and 1920)', () => {
    expect(orderStatisticRanks(2000, 0.95, 0.025)).toEqual({ lower: 1880, upper: 1920 })
  })

  it('finds the level at which a monotone test rejects', () => {
    expect(levelAtWhich((a) => a >= 0.01)).toBeCloseTo(0.01, 6)
    expect(levelAtWhich(() => false)).toBe(1)
  })
})

function histogram(valuesMs: number[]): hdr.Histogram {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  })
  for (const v of valuesMs) h.recordValue(Math.round(v * 1000))
  return h
}

/** n requests, `slow` of them at 400 ms, the rest at 20 ms. */
const mix = (n: number, slow: number) => ({
  dist: distributionOf(histogram([...Array<number>(slow).fill(400), ...Array<number>(n - slow).fill(20)])),
  errors: 0,
})

const levels = (over: Partial<Levels> = {}): Levels => ({
  confidence: 0.95,
  aPass: 0.05,
  aFail: 0.05,
  rejected: false,
  mayPass: true,
  ...over,
})

function judge(n: number, slow: number, lv: Partial<Levels> = {}) {
  const [spec] = clausesOf('p95', { max: 150 })!
  const e = evaluate(spec!, mix(n, slow), undefined, 0.05) as Evaluated
  return decide(e, levels({ rejected: e.pFail() <= 0.05, ...lv }))
}

describe('counting in histograms', () => {
  it('counts requests beyond a threshold and reads ranks', () => {
    const d = distributionOf(histogram([10, 20, 30, 400, 400]))
    expect(d.total).toBe(5)
    expect(countAbove(d, 150)).toBe(2)
    expect(countBelow(d, 25)).toBe(2)
    expect(valueAtRank(d, 3)).toBeCloseTo(30, 0)
    expect(valueAtRank(d, 0)).toBe(0)
    expect(valueAtRank(d, 6)).toBe(Infinity)
  })
})

describe('each verdict path of a clause', () => {
  it('pass: the upper bound is below the allowed share, said in words', () => {
    const s = judge(3142, 66)
    expect(s.decision).toBe('pass')
    expect(s).toMatchObject({ method: 'clopper-pearson', n: 3142, k: 66, threshold: 0.05 })
    expect(s.upper).toBeLessThan(0.05)
    expect(s.words).toBe('p95 <= 150 ms held with 95% confidence: 2.1% of 3,142 requests were slower (at most 2.6%)')
  })

  it('fail: the lower bound is above it', () => {
    const s = judge(2000, 160)
    expect(s.decision).toBe('fail')
    expect(s.lower).toBeGreaterThan(0.05)
    expect(s.words).toMatch(
      /^p95 <= 150 ms broken with 95% confidence: 8% of 2,000 requests were slower \(at least [\d.]+%, allowed 5%\)$/,
    )
  })

  it('inconclusive: the bounds straddle it, with the requests that would decide', () => {
    const s = judge(400, 22)
    expect(s.decision).toBe('inconclusive')
    expect(s.lower).toBeLessThan(0.05)
    expect(s.upper).toBeGreaterThan(0.05)
    expect(s.needed).toBeGreaterThan(400)
    expect(s.words).toMatch(
      /undecided: 5.5% of 400 requests were slower \(between .* allowed 5%\); about [\d,]+ requests would decide it/,
    )
  })

  it('not enough data: below the minimum, with the number needed', () => {
    const s = judge(30, 0)
    expect(s.decision).toBe('not-enough-data')
    expect(s.needed).toBe(59)
    expect(s.words).toBe('not enough data: 30 requests, at least 59 needed (p95 <= 150 ms)')
  })

  it('an interim look of the during phase does not pass yet', () => {
    const s = judge(3142, 66, { mayPass: false })
    expect(s.decision).toBe('inconclusive')
    expect(s.words).toMatch(/holding so far/)
  })

  it('error rates, minimums and a check of several clauses', () => {
    const [spec] = clausesOf('errorRate', { max: 0.01 })!
    const e = evaluate(spec!, { dist: mix(2000, 0).dist, errors: 9 }, undefined, 0.05) as Evaluated
    const s = decide(e, levels())
    expect(s.decision).toBe('pass')
    expect(s.upper).toBeCloseTo(0.0078, 4)
    expect(s.words).toMatch(/^error rate <= 1% held with 95% confidence: 0.45% of 2,000 requests failed/)
    expect(minimumN(e.share, 0.05)).toBe(299)
    expect(clausesOf('p95', { max: 150, min: 1 })).toHaveLength(2)
    expect(clausesOf('max', { max: 150 })).toBeUndefined()
    expect(clausesOf('p95', { oneOf: [1] })).toBeUndefined()
    const fail = judge(2000, 160)
    expect(combine([judge(3142, 66), fail]).decision).toBe('fail')
    expect(combine([judge(3142, 66), judge(30, 0)]).decision).toBe('not-enough-data')
  })

  it('relative to the unfaulted cohort: Newcombe for an error-rate increase', () => {
    const [spec] = clausesOf('errorRate', { relative: { to: 'unfaulted', maxIncrease: 0.05 } })!
    const faulted = { dist: mix(2000, 0).dist, errors: 400 }
    const control = { dist: mix(18000, 0).dist, errors: 180 }
    const e = evaluate(spec!, faulted, control, 0.05) as Evaluated
    const s = decide(e, levels({ rejected: e.pFail() <= 0.05 }))
    expect(s.method).toBe('newcombe')
    expect(s.decision).toBe('fail')
    expect(s.estimate).toBeCloseTo(0.19, 5)
    expect(s.words).toMatch(/^error rate <= the unfaulted error rate \+ 5% broken with 95% confidence: \+19%/)
  })

  it('relative to the unfaulted cohort: maxRatio on a percentile counts the control percentile uncertainty', () => {
    const [spec] = clausesOf('p95', { relative: { to: 'unfaulted', maxRatio: 2 } })!
    // Control: all around 20 ms; faulted: 1% at 400 ms (passes), or 20% (fails).
    const control = mix(5000, 0)
    const pass = evaluate(spec!, mix(2000, 20), control, 0.05) as Evaluated
    expect(decide(pass, levels()).decision).toBe('pass')
    const fail = evaluate(spec!, mix(2000, 400), control, 0.05) as Evaluated
    expect(fail.pFail()).toBeLessThan(1e-6)
    expect(decide(fail, levels({ rejected: true })).words).toMatch(
      /slower than 40\.\d+ ms \(2x the unfaulted p95 of 20\.\d+ ms\)/,
    )
    // Too small a control has no lower bound for its p95: no pass is possible.
    const tiny = evaluate(spec!, mix(2000, 20), mix(1, 0), 0.05) as Evaluated
    expect(decide(tiny, levels()).decision).not.toBe('pass')
    expect(evaluate(spec!, mix(2000, 20), undefined, 0.05)).toEqual({
      missing: 'no unfaulted requests to compare with',
    })
  })
})
