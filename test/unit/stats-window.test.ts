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
})
