/**
 * A bounded run of benchmarks/verdict-simulation.ts (npm run sim:verdicts): at the boundary the
 * judge passes and fails each at most 1 - confidence of the time, and it decides clear cases.
 * Seeded, so the numbers are the same on every run.
 */
import { describe, expect, it } from 'vitest'
import { simulate } from '../../benchmarks/verdict-simulation.ts'

/** Two standard errors of a rate estimated from `runs` experiments. */
const slack = (alpha: number, runs: number) => 2 * Math.sqrt((alpha * (1 - alpha)) / runs)

describe('verdict simulation', () => {
  it('keeps false passes and false fails at the boundary within 1 - confidence', () => {
    const o = { runs: 600, confidence: 0.95, looks: 6, perLook: 200, seed: 7 }
    const rows = simulate(o)
    expect(rows).toHaveLength(6)
    for (const r of rows) {
      expect(r.pass + r.fail + r.inconclusive).toBe(o.runs)
      if (r.truth === 'boundary') {
        // Exact for a pass (claimed only at the last look); simulated rates within two standard errors.
        expect(r.exactPass).toBeLessThanOrEqual(0.05)
        expect(r.pass / o.runs).toBeLessThanOrEqual(0.05 + slack(0.05, o.runs))
        expect(r.fail / o.runs).toBeLessThanOrEqual(0.05 + slack(0.05, o.runs))
        // The point judgement it replaces is a coin toss there.
        expect(r.pointFail / o.runs).toBeGreaterThan(0.2)
      }
      if (r.truth === 'holds') expect(r.fail).toBe(0)
      if (r.truth === 'broken') expect(r.pass).toBe(0)
    }
  })

  it('at 99% confidence the wrong calls are rarer still', () => {
    const o = { runs: 400, confidence: 0.99, looks: 4, perLook: 500, seed: 3 }
    for (const r of simulate(o).filter((x) => x.truth === 'boundary')) {
      expect(r.exactPass).toBeLessThanOrEqual(0.01)
      expect(r.pass / o.runs).toBeLessThanOrEqual(0.01 + slack(0.01, o.runs))
      expect(r.fail / o.runs).toBeLessThanOrEqual(0.01 + slack(0.01, o.runs))
    }
  })
})
