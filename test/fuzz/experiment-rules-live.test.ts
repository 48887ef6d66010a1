/**
 * Property: an experiment the validator accepts never fails at run time for its sidecar rules.
 * Each accepted document's sidecarFault steps are delivered to a live sidecar exactly as the
 * runner delivers them (the direct rule bus, a per-step source, a ttl of the step's duration
 * plus a margin), one step after another: every delivery must be acknowledged, the proxy must
 * then answer a request, and removing the step's source must leave no rule behind. A document
 * the validator accepts but a sidecar refuses would fail halfway through a real run.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DirectBus } from '../../controller/bus/direct.ts'
import { validateExperiment } from '../../src/experiments/schema.ts'
import { send, startWorld, type World } from '../helpers/world.ts'
import { experiment, runs, FUZZ_TIMEOUT_MS } from './arbitraries.ts'

let world: World
beforeAll(async () => {
  world = await startWorld()
})
afterAll(() => world.close())

it(
  'accepted experiments have sidecar rules a live sidecar takes, step by step',
  async () => {
    let accepted = 0
    let steps = 0
    await fc.assert(
      fc.asyncProperty(experiment, async (doc) => {
        const r = validateExperiment(doc)
        if (!r.ok) return
        accepted++
        const bus = new DirectBus([world.adminUrl])
        for (const [i, step] of r.experiment.spec.method.entries()) {
          const fault = step.sidecarFault
          if (!fault) continue
          steps++
          const source = `fuzz-run/${i}`
          const delivery = await bus.add(fault.rules, source, fault.duration + 30_000)
          expect(delivery.error?.toJSON(), JSON.stringify(fault.rules)).toBeUndefined()
          expect(Object.keys(delivery.acknowledged)).toEqual([world.adminUrl])
          // The rules are live: the proxy still answers (any status a rule may ask for), never hangs.
          await send(world.proxyUrl + '/echo/x').catch((err: Error) => expect(err.message).toMatch(/socket|reset/i))
          const removal = await bus.removeBySource(source)
          expect(removal.failed).toEqual([])
          expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
        }
      }),
      { numRuns: runs(120) },
    )
    // The generators must keep feeding this property accepted documents with sidecar steps.
    expect(accepted).toBeGreaterThan(20)
    expect(steps).toBeGreaterThan(20)
  },
  FUZZ_TIMEOUT_MS,
)
