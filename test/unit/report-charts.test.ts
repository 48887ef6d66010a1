import { describe, expect, it } from 'vitest'
import {
  barChart,
  niceStep,
  niceTicks,
  tickLabel,
  timeChart,
  timeLabel,
  timeTicks,
} from '../../controller/experiments/charts.ts'
import { baselineText, boundText, measuredText, resolvedBounds } from '../../controller/experiments/check-figures.ts'
import type { Journal } from '../../controller/experiments/journal.ts'
import { recoveryBand, renderMarkdown } from '../../controller/experiments/report.ts'
import type { Sample } from '../../src/experiments/judge.ts'
import type { CheckSpec } from '../../src/experiments/schema.ts'

describe('round axis ticks', () => {
  it('steps are 1, 2, 2.5 or 5 times a power of ten', () => {
    expect([0.3, 1, 1.7, 2.2, 3, 7, 13, 24, 33.7].map(niceStep)).toEqual([0.5, 1, 2, 2.5, 5, 10, 20, 25, 50])
  })
  it('a 0..93.2 ms axis reads 0/25/50/75/100, not 33.74/67.48', () => {
    expect(niceTicks(0, 93.2)).toEqual([0, 25, 50, 75, 100])
    expect(niceTicks(0, 5.25)).toEqual([0, 2, 4, 6])
    expect(niceTicks(0, 0.07)).toEqual([0, 0.02, 0.04, 0.06, 0.08])
    expect(niceTicks(0, 0)).toEqual([0, 0.25, 0.5, 0.75, 1])
  })
  it('time ticks fall on whole 5 s and 15 s steps, not 0/5/9/14 s', () => {
    expect(timeTicks(17_500).map((ms) => ms / 1000)).toEqual([0, 5, 10, 15])
    expect(timeTicks(70_000).map((ms) => ms / 1000)).toEqual([0, 15, 30, 45, 60])
    expect(timeTicks(6_100).map((ms) => ms / 1000)).toEqual([0, 2, 4, 6])
    expect(timeTicks(2_000).map((ms) => ms / 1000)).toEqual([0, 0.5, 1, 1.5, 2])
  })
  it('long runs are labelled in whole minutes', () => {
    expect(timeTicks(11 * 60_000).map((ms) => timeLabel(ms, 120_000))).toEqual(['0m', '2m', '4m', '6m', '8m', '10m'])
    expect(timeLabel(15_000, 5000)).toBe('15s')
  })
  it('labels print as typed (no binary noise, no trailing zeros)', () => {
    expect([0.1 + 0.2, 2.5, 25, 0.06].map(tickLabel)).toEqual(['0.3', '2.5', '25', '0.06'])
  })
})

describe('charts', () => {
  const base = { cls: 'latency', target: 'app', ariaLabel: 'a', unit: 'ms', start: 0, end: 10_000 }
  const series = [{ key: 'p95', color: '#000', points: [0, 1, 2, 3].map((i) => ({ x: i * 1000, y: 20 + i })) }]
  it('draws a constant bound within reach as a line, and a far one as a labelled arrow', () => {
    const near = timeChart({ ...base, series, bounds: [{ kind: 'max', value: 50, label: 'p95 max' }] })
    expect(near).toMatch(/<g class="bound max"><line /)
    const far = timeChart({ ...base, series, bounds: [{ kind: 'max', value: 5000, label: 'p95 max' }] })
    expect(far).toContain('class="bound offscale"')
    expect(far).not.toMatch(/<g class="bound max">/)
  })
  it('draws a relative bound as a step line through the points it was resolved at', () => {
    const svg = timeChart({
      ...base,
      series,
      bounds: [
        {
          kind: 'max',
          label: 'vs unfaulted',
          points: [
            { x: 1000, y: 30 },
            { x: 3000, y: 35 },
          ],
        },
      ],
    })
    const pts = svg.match(/<g class="bound max relative"><polyline points="([^"]+)"/)![1]!.split(' ')
    expect(pts).toHaveLength(4)
    expect(pts[1]!.split(',')[1]).toBe(pts[0]!.split(',')[1]) // flat until the next sample
  })
  it('shades bands with at least 2 px, so an instant recovery is still visible', () => {
    const svg = timeChart({
      ...base,
      series,
      bands: [{ cls: 'recovery-window', from: 4000, to: 4000, color: '#0f0', label: 'recovery 0 s' }],
    })
    expect(svg).toMatch(/<rect class="recovery-window" x="[\d.]+" y="\d+" width="2.0"/)
  })
  it('bar charts put a whisker and a dot per round on each bar', () => {
    const svg = barChart({
      cls: 'p95',
      ariaLabel: 'p95',
      unit: 'ms',
      groups: [
        { label: 'baseline', bars: [{ key: 'p95', color: '#000', value: 10, lo: 9, hi: 12, rounds: [9, 10, 12] }] },
      ],
    })
    expect(svg.match(/<circle class="round"/g)).toHaveLength(3)
    expect(svg).toContain('<line class="spread"')
  })
})

const check = (tolerance: Record<string, unknown>, stat = 'p95'): CheckSpec =>
  ({ name: 'c', sidecar: { target: 'app', stat }, tolerance }) as unknown as CheckSpec
const sample = (phase: Sample['phase'], outcome: Sample['outcome'], value: number, baseline?: number): Sample => ({
  at: 0,
  phase,
  outcome,
  value,
  ...(baseline !== undefined ? { baseline } : {}),
})

describe('check figures', () => {
  it('a relative bound resolves against its baseline; both maxRatio and maxIncrease hold', () => {
    expect(resolvedBounds({ relative: { to: 'before', maxRatio: 2, maxIncrease: 5 } }, 10)).toEqual({ max: 15 })
    expect(resolvedBounds({ max: 12, relative: { to: 'before', maxRatio: 2 } }, 10)).toEqual({ max: 12 })
    expect(resolvedBounds({ min: 50 })).toEqual({ min: 50 })
  })
  it('says the bound in the check unit, resolved when the baseline is one value', () => {
    expect(boundText(check({ max: 250 }), [])).toBe('≤ 250 ms')
    expect(boundText(check({ max: 0.05 }, 'errorRate'), [])).toBe('≤ 5%')
    expect(boundText(check({ min: 50 }, 'throughput'), [])).toBe('≥ 50 req/s')
    const samples = [sample('during', 'pass', 20, 12), sample('during', 'pass', 22, 12)]
    expect(boundText(check({ relative: { to: 'before', maxRatio: 2 } }), samples)).toBe(
      '≤ 2x the before baseline (= 24 ms)',
    )
    expect(baselineText(check({ relative: { to: 'before', maxRatio: 2 } }), samples)).toBe('12 ms (before)')
    expect(
      baselineText(check({ relative: { to: 'unfaulted', maxIncrease: 1 } }), [
        sample('during', 'pass', 3, 1),
        sample('during', 'pass', 3, 2),
      ]),
    ).toBe('1 ms .. 2 ms (unfaulted)')
    expect(baselineText(check({ max: 1 }), samples)).toBe('-')
  })
  it('measured: the gate value, the worst value during, the value it recovered at', () => {
    const rec = {
      kind: 'sidecar',
      guardrail: false,
      phases: [],
      samples: [
        sample('before', 'pass', 10),
        sample('during', 'pass', 40),
        sample('during', 'fail', 300),
        sample('during', 'nodata', 9999),
        sample('after', 'fail', 260),
        sample('after', 'pass', 12),
      ],
    }
    expect(measuredText(check({ max: 250 }), rec)).toBe('before 10 ms · during max 300 ms · after recovered at 12 ms')
    expect(measuredText(check({ min: 50 }, 'throughput'), { ...rec, samples: rec.samples.slice(0, 3) })).toBe(
      'before 10 req/s · during min 40 req/s',
    )
  })
})

describe('the recovery phase', () => {
  const journal = (after: Record<string, unknown>, recoverWithin?: string): Journal =>
    ({
      startedAt: 0,
      endedAt: 60_000,
      experiment: {
        metadata: { name: 'x' },
        spec: {
          hypothesis: { title: 't', checks: [{ name: 'c', ...(recoverWithin ? { recoverWithin: 5000 } : {}) }] },
        },
      },
      timeline: [{ at: 10_000, type: 'phase', detail: 'after' }],
      faults: [],
      series: {},
      checks: {
        c: { kind: 'sidecar', guardrail: false, samples: [], phases: [{ phase: 'after', samples: 1, ...after }] },
      },
      status: 'completed',
      verdict: 'pass',
    }) as unknown as Journal
  it('runs from the revert to where the check recovered', () => {
    expect(recoveryBand(journal({ result: 'pass', reason: 'recovered', recoveredAfterMs: 1500 }))).toMatchObject({
      from: 10_000,
      to: 11_500,
      label: 'recovery 1.50 s',
    })
  })
  it('runs to the recoverWithin deadline when a check did not recover', () => {
    expect(recoveryBand(journal({ result: 'fail', reason: 'did not recover' }, '5s'))).toMatchObject({
      from: 10_000,
      to: 15_000,
      label: 'not recovered',
    })
  })
  it('the Markdown table has the measured value, bound and baseline columns', () => {
    expect(renderMarkdown(journal({ result: 'pass', reason: 'recovered', recoveredAfterMs: 0 }))).toContain(
      '| check | kind | result | measured | bound | baseline | phases |',
    )
  })
})
