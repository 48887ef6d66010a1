import { afterEach, expect, it } from 'vitest'
import { json, send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

it('ignores fault headers unless enabled, and forwards them untouched', async () => {
  world = await startWorld()
  const reply = await send(world.proxyUrl + '/echo/x', { headers: { 'x-faultline-abort-status': '503' } })
  expect(reply.status).toBe(200)
  expect(json(reply).headers['x-faultline-abort-status']).toBe('503')
})

it('when enabled, applies capped header faults and strips them before forwarding', async () => {
  world = await startWorld({ headerFaults: { maxDelayMs: 100 } })
  const aborted = await send(world.proxyUrl + '/echo/x', { headers: { 'x-faultline-abort-status': '429' } })
  expect(aborted.status).toBe(429)
  expect(aborted.headers['x-faultline-fault']).toBe('header-request')
  const delayed = await send(world.proxyUrl + '/echo/x', {
    headers: { 'x-faultline-delay-ms': '60000', 'x-faultline-other': '1' },
  })
  expect(delayed.status).toBe(200)
  expect(delayed.ms).toBeGreaterThanOrEqual(95)
  expect(delayed.ms).toBeLessThan(1000)
  const seen = json(delayed).headers
  expect(Object.keys(seen).filter((k) => k.startsWith('x-faultline'))).toEqual([])
  const ignored = await send(world.proxyUrl + '/echo/x', { headers: { 'x-faultline-abort-status': '200' } })
  expect(ignored.status).toBe(200)
})
