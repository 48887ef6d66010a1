/**
 * PhaseAccumulator: every request of a phase, across looks and past the sidecars' 120 s of
 * statistics, counted once. Driven by a real StatsWindow (the sidecar's own statistics) on a
 * controlled clock, read through the same encoded windows a sidecar serves.
 */
import { describe, expect, it } from 'vitest'
import { PhaseAccumulator } from '../../controller/experiments/windows.ts'
import type { SidecarClient } from '../../controller/sidecar-client.ts'
import { StatsWindow } from '../../src/stats/window.ts'

function sidecar() {
  let now = 1_000_000_000
  let recorded = -1
  const stats = new StatsWindow({ retentionSeconds: 120, now: () => now })
  const client = {
    statsEncoded: async (windowMs: number) => ({ ...stats.encoded(windowMs), generation: 1 }),
  } as unknown as SidecarClient
  return {
    client,
    now: () => now,
    record(n: number) {
      for (let i = 0; i < n; i++) stats.record(2000, false, false)
    },
    /** Advances to `ms`, recording `perSecond` requests at the start of each second it enters (one in five faulted, in error). */
    runTo(ms: number, perSecond: number) {
      while (now < ms) {
        const second = Math.floor(now / 1000)
        if (second !== recorded) for (let i = 0; i < perSecond; i++) stats.record(1000 + i, i % 5 === 0, i % 5 === 0)
        recorded = second
        now = Math.min(ms, (second + 1) * 1000)
      }
    },
  }
}

const total = (d: { histograms: { faulted: { totalCount: number }; unfaulted: { totalCount: number } } }) =>
  d.histograms.faulted.totalCount + d.histograms.unfaulted.totalCount

describe('PhaseAccumulator', () => {
  it('counts every request of the phase once across looks, commits and 300 s', async () => {
    const s = sidecar()
    const start = Math.floor(s.now() / 1000)
    const acc = new PhaseAccumulator(start)
    for (let t = 1; t <= 300; t++) {
      s.runTo((start + t) * 1000 + 500, 10)
      const expected = (t + 1) * 10
      // Looks every 7 s: each commits the whole seconds since the last one.
      if (t % 7 !== 0) continue
      const look = (await acc.look([s.client], s.now))!
      expect(total(look.data)).toBe(expected)
      expect(look.data.errors.faulted).toBe(expected / 5)
      expect(look.lostSeconds).toBe(0)
      expect(look.uncertain).toBe(0)
      expect(look.from).toBe(start * 1000)
    }
  })

  it('says how many seconds it lost when looks are more than 120 s apart', async () => {
    const s = sidecar()
    const start = Math.floor(s.now() / 1000)
    const acc = new PhaseAccumulator(start)
    s.runTo((start + 150) * 1000 + 500, 4)
    const look = (await acc.look([s.client], s.now))!
    expect(look.lostSeconds).toBe(31)
    expect(total(look.data)).toBe(120 * 4)
  })

  it('a sidecar too busy for an exact commit waits, then commits anyway and says how many may count twice', async () => {
    const s = sidecar()
    const start = Math.floor(s.now() / 1000)
    const acc = new PhaseAccumulator(start)
    // A request completes in the current second with every read: the two reads of it never agree.
    const busy = {
      statsEncoded: async (windowMs: number) => {
        const w = await s.client.statsEncoded(windowMs)
        s.record(1)
        return w
      },
    } as unknown as SidecarClient
    s.runTo((start + 10) * 1000 + 500, 10)
    const early = (await acc.look([busy], s.now))!
    expect(early.uncertain).toBe(0)
    s.runTo((start + 70) * 1000 + 500, 10)
    const late = (await acc.look([busy], s.now))!
    expect(late.uncertain).toBeGreaterThan(0)
    expect(late.uncertain).toBeLessThan(20)
  })

  it('has nothing before its first second, and restarts', async () => {
    const s = sidecar()
    const start = Math.floor(s.now() / 1000)
    const acc = new PhaseAccumulator(start + 2)
    s.runTo((start + 1) * 1000 + 500, 3)
    expect(await acc.look([s.client], s.now)).toBeUndefined()
    s.runTo((start + 5) * 1000 + 500, 3)
    expect(total((await acc.look([s.client], s.now))!.data)).toBe(4 * 3)
    acc.restart(start + 5)
    expect(total((await acc.look([s.client], s.now))!.data)).toBe(3)
  })
})
