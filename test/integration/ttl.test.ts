import { afterEach, expect, it } from 'vitest'
import { ManualClock } from '../helpers/manual-clock.ts'
import { send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

it('the sidecar expires a rule at its ttl without anyone asking', async () => {
  const clock = new ManualClock(Date.now())
  world = await startWorld({ clock })
  const { body } = await world.putRules([{ id: 'brief', abort: { status: 503 }, ttl: '30s' }])
  expect(body.generation).toBe(1)
  expect((await send(world.proxyUrl + '/')).status).toBe(503)
  const listed = (await world.admin('GET', '/rules')).body
  expect(listed.rules[0].expiresAt).toBe(new Date(clock.now() + 30_000).toISOString())
  clock.advance(29_999)
  expect((await send(world.proxyUrl + '/')).status).toBe(503)
  clock.advance(1)
  expect((await send(world.proxyUrl + '/')).status).toBe(200)
  const after = (await world.admin('GET', '/rules')).body
  expect(after).toEqual({ generation: 2, rules: [] })
  expect((await world.admin('GET', '/metrics')).body).toContain('faultline_rules_active{service="default"} 0')
})
