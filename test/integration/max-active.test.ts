import { afterEach, expect, it } from 'vitest'
import { send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

it('maxActive caps concurrent requests held by a rule; the rest pass unfaulted', async () => {
  world = await startWorld()
  await world.putRules([{ id: 'cap', match: { path: '/echo/c' }, delay: { ms: 300 }, maxActive: 2 }])
  const replies = await Promise.all(Array.from({ length: 6 }, () => send(world.proxyUrl + '/echo/c')))
  const held = replies.filter((r) => r.headers['x-faultline-fault'] === 'cap')
  expect(held).toHaveLength(2)
  for (const r of held) expect(r.ms).toBeGreaterThanOrEqual(290)
  const metrics = (await world.admin('GET', '/metrics')).body as string
  expect(metrics).toContain('faultline_faults_skipped_total{service="default",rule="cap",reason="max_active"} 4')
  expect(metrics).toContain('faultline_active_faults{service="default"} 0')
})
