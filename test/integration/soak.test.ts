/** A bounded soak (`npm run soak` runs ten minutes): mixed faults, rule swaps, no unintended errors. */
import { expect, it } from 'vitest'
import { runSoak } from '../../benchmarks/soak.ts'

it('a short soak: every shape served, faults marked, no unintended error', async () => {
  const r = await runSoak({ durationS: 4, connections: 10, swapEveryS: 0.25 })
  expect(r.examples).toEqual([])
  expect(r.unintended).toBe(0)
  expect(r.swaps).toBeGreaterThanOrEqual(8)
  for (const n of Object.values(r.perShape)) expect(n).toBeGreaterThan(10)
  expect(r.faulted).toBeGreaterThan(0)
  expect(r.rssMiB.end).toBeGreaterThan(0)
})
