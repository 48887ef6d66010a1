/**
 * One statistical look (controller/experiments/statistical-checks.ts) on the sidecar's own
 * statistics (StatsWindow on a controlled clock): the validity gates of the during phase turn a
 * pass or a fail into inconclusive with their reason, Holm shares alpha across clauses, and only
 * the final look of the during phase may pass.
 */
import { describe, expect, it } from 'vitest'
import type { CheckContext } from '../../controller/experiments/checks.ts'
import { type LookPlan, statisticalSample } from '../../controller/experiments/statistical-checks.ts'
import { PhaseAccumulator } from '../../controller/experiments/windows.ts'
import type { SidecarClient } from '../../controller/sidecar-client.ts'
import type { CheckSpec } from '../../src/experiments/schema.ts'
import { clausesOf } from '../../src/experiments/statistics-clause.ts'
import { HolmBoard } from '../../src/experiments/statistics-looks.ts'
import { StatsWindow } from '../../src/stats/window.ts'

const START = 2_000_000_000

interface Traffic {
  faulted: number
  faultedSlow: number
  unfaulted: number
  unfaultedSlow: number
  /** Matched and injected counts of rule `r`. */
  matched?: number
  injected?: number
}

function look(traffic: Traffic, tolerance: Record<string, unknown>, plan: Partial<LookPlan> = {}) {
  const now = START + 3500
  const stats = new StatsWindow({ retentionSeconds: 120, now: () => START + 1000 })
  const record = (n: number, slow: number, faulted: boolean) => {
    for (let i = 0; i < n; i++) stats.record(i < slow ? 400_000 : 20_000, faulted, false)
  }
  record(traffic.faulted, traffic.faultedSlow, true)
  record(traffic.unfaulted, traffic.unfaultedSlow, false)
  for (let i = 0; i < (traffic.matched ?? 0); i++) stats.ruleMatched('r')
  for (let i = 0; i < (traffic.injected ?? 0); i++) stats.ruleInjected('r')
  const client = { statsEncoded: async (ms: number) => ({ ...stats.encoded(ms), generation: 1 }) }
  const check = {
    name: 'c',
    sidecar: { target: 't', stat: 'p95', cohort: 'all' },
    tolerance,
  } as unknown as CheckSpec
  const clauses = clausesOf('p95', tolerance as never)!
  const ctx: CheckContext = {
    sidecars: () => [client as unknown as SidecarClient],
    baseline: () => undefined,
    now: () => now,
  }
  return statisticalSample(check, ctx, {
    phase: 'during',
    acc: new PhaseAccumulator(Math.floor(START / 1000) + 1),
    clauses,
    keys: clauses.map((_, i) => `c#${i}`),
    board: new HolmBoard(clauses.map((_, i) => `c#${i}`)),
    confidence: 0.95,
    look: 1,
    looks: 5,
    mayPass: true,
    gates: true,
    rulePercents: new Map([['r', 50]]),
    ...plan,
  })
}

describe('a statistical look', () => {
  it('passes, and fails, on the requests of the phase', async () => {
    const pass = await look({ faulted: 500, faultedSlow: 5, unfaulted: 500, unfaultedSlow: 0 }, { max: 150 })
    expect(pass.outcome).toBe('pass')
    expect(pass.statistics).toMatchObject({ n: 1000, k: 5, decision: 'pass', look: 1, looks: 5 })
    const fail = await look({ faulted: 500, faultedSlow: 200, unfaulted: 500, unfaultedSlow: 0 }, { max: 150 })
    expect(fail.outcome).toBe('fail')
  })

  it('does not pass before the final look of the during phase', async () => {
    const r = await look(
      { faulted: 500, faultedSlow: 5, unfaulted: 500, unfaultedSlow: 0 },
      { max: 150 },
      { mayPass: false },
    )
    expect(r.outcome).toBe('inconclusive')
    expect(r.detail).toMatch(/holding so far/)
  })

  it('is inconclusive when the unfaulted cohort alone breaks the hypothesis', async () => {
    const r = await look({ faulted: 500, faultedSlow: 200, unfaulted: 500, unfaultedSlow: 200 }, { max: 150 })
    expect(r.outcome).toBe('inconclusive')
    expect(r.detail).toMatch(
      /^the unfaulted cohort alone breaks the hypothesis \(p95 <= 150 ms broken .*\): the environment is unhealthy, the fault cannot be blamed; p95 <= 150 ms broken/,
    )
  })

  it('is inconclusive on a sample-ratio mismatch against the rule percent', async () => {
    const r = await look(
      { faulted: 100, faultedSlow: 0, unfaulted: 900, unfaultedSlow: 0, matched: 1000, injected: 100 },
      { max: 150 },
    )
    expect(r.outcome).toBe('inconclusive')
    expect(r.detail).toMatch(
      /^sample-ratio mismatch: rule r injected into 100 of 1,000 matched requests \(10.0%\), its percent is 50%/,
    )
    // The same split at the configured percent is fine.
    const ok = await look(
      { faulted: 500, faultedSlow: 0, unfaulted: 500, unfaultedSlow: 0, matched: 1000, injected: 500 },
      { max: 150 },
    )
    expect(ok.outcome).toBe('pass')
  })

  it('a clause relative to the unfaulted cohort compares the two', async () => {
    const r = await look(
      { faulted: 500, faultedSlow: 200, unfaulted: 2000, unfaultedSlow: 0 },
      { relative: { to: 'unfaulted', maxRatio: 2 } },
      { rulePercents: new Map() },
    )
    // cohort all includes the faulted: 200 of 2,500 slower than 2x the unfaulted p95.
    expect(r.outcome).toBe('fail')
    expect(r.statistics!.method).toBe('clopper-pearson+order-statistic')
    expect(r.baseline).toBeCloseTo(20, 0)
  })

  it('is no data without requests', async () => {
    const r = await look({ faulted: 0, faultedSlow: 0, unfaulted: 0, unfaultedSlow: 0 }, { max: 150 })
    expect(r.outcome).toBe('nodata')
  })
})
