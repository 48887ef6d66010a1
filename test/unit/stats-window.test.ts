import { describe, expect, it } from 'vitest'
import { mergeEncoded, StatsWindow } from '../../src/stats/window.ts'
import { ManualClock } from '../helpers/manual-clock.ts'

describe('stats window', () => {
  it('gives exact percentiles per cohort over the window', () => {
    const clock = new ManualClock()
    const w = new StatsWindow({ retentionSeconds: 60, now: clock.now })
    for (let i = 1; i <= 100; i++) w.record(i * 1000, false, false) // 1..100 ms
    for (let i = 0; i < 10; i++) w.record(500_000, true, i < 3) // 500 ms, 3 errors
    w.ruleMatched('r')
    w.ruleInjected('r')
    const s = w.query(30_000)
    expect(s.count).toBe(110)
    expect(s.errors).toBe(3)
    expect(s.cohorts.unfaulted.latencyMs.p50).toBeCloseTo(50, 0)
    expect(s.cohorts.unfaulted.latencyMs.p95).toBeCloseTo(95, 0)
    expect(s.cohorts.faulted.latencyMs.p95).toBeCloseTo(500, -1)
    expect(s.cohorts.faulted.errorRate).toBeCloseTo(0.3)
    expect(s.rules).toEqual({ r: { matched: 1, injected: 1 } })
  })

  it('never reports a percentile above the largest latency recorded', () => {
    const clock = new ManualClock()
    const w = new StatsWindow({ retentionSeconds: 60, now: clock.now })
    // 250 ms delays as a sidecar saw them: the top bucket of 262.426 ms ends at about 262.66.
    for (const us of [253_823, 258_001, 262_426]) w.record(us, true, false)
    const l = w.query(30_000).latencyMs
    expect(l.max).toBe(262.426)
    for (const p of [l.p50, l.p90, l.p95, l.p99]) expect(p!).toBeLessThanOrEqual(l.max!)
    expect(l.p99).toBe(262.426)
  })

  it('slides: old seconds leave the window', () => {
    const clock = new ManualClock()
    const w = new StatsWindow({ retentionSeconds: 60, now: clock.now })
    w.record(1000, false, false)
    clock.advance(10_000)
    w.record(2000, false, true)
    expect(w.query(5_000).count).toBe(1)
    expect(w.query(30_000).count).toBe(2)
    clock.advance(60_000)
    expect(w.query(60_000).count).toBe(0)
  })

  it('merges encoded windows from many sidecars exactly', () => {
    const clock = new ManualClock()
    const parts = [0, 1, 2].map((k) => {
      const w = new StatsWindow({ retentionSeconds: 10, now: clock.now })
      for (let i = 1; i <= 100; i++) w.record((k * 100 + i) * 1000, k === 2, false)
      return w.encoded(5000)
    })
    const merged = mergeEncoded(parts)
    expect(merged.count).toBe(300)
    expect(merged.latencyMs.p50).toBeCloseTo(150, 0)
    expect(merged.cohorts.faulted.count).toBe(100)
  })

  it('stays exact once finished seconds are sealed into packed histograms', () => {
    // A clock that can also step back, as a wall clock may.
    const start = Date.parse('2026-01-01T00:00:00Z')
    let now = start
    const spread = new StatsWindow({ retentionSeconds: 60, now: () => now })
    const oneSecond = new StatsWindow({ retentionSeconds: 60, now: () => now })
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const values: [number, boolean, boolean][] = []
    for (let s = 0; s < 20; s++)
      for (let i = 0; i < 200; i++)
        values.push([1 + next() * (s % 5 === 0 ? 2_000_000 : 50_000), next() < 0.3, next() < 0.05])
    values.forEach(([us, faulted, error], i) => {
      if (i > 0 && i % 200 === 0) now += 1000
      spread.record(us, faulted, error)
    })
    const spreadStats = spread.query(30_000)
    const spreadEncoded = spread.encoded(30_000)
    now = start + 40_000
    for (const [us, faulted, error] of values) oneSecond.record(us, faulted, error)
    const reference = oneSecond.query(1000)
    const referenceEncoded = oneSecond.encoded(1000)
    expect(spreadStats.count).toBe(4000)
    expect({ ...spreadStats, window: '', windowMs: 0, throughput: 0 }).toEqual({
      ...reference,
      window: '',
      windowMs: 0,
      throughput: 0,
    })
    // A sealed second keeps taking late records (a clock that stepped back) without losing any.
    now = start
    spread.record(123, false, false)
    now = start + 19_000
    expect(spread.query(30_000).count).toBe(4001)
    expect(mergeEncoded([spreadEncoded])).toEqual(mergeEncoded([referenceEncoded]))
  })
})
