import http from 'node:http'
import { afterEach, expect, it } from 'vitest'
import { send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

it('a reused keep-alive socket sees a rule added after it opened', async () => {
  world = await startWorld()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const sockets = new Set<unknown>()
  agent.on('free', (socket) => sockets.add(socket))
  const first = await send(world.proxyUrl + '/echo/a', { agent })
  expect(first.status).toBe(200)
  expect(
    (await world.admin('POST', '/rules', { id: 'late', match: { path: '/echo/a' }, abort: { status: 503 } })).status,
  ).toBe(201)
  const second = await send(world.proxyUrl + '/echo/a', { agent })
  expect(second.status).toBe(503)
  expect(second.headers['x-faultline-fault']).toBe('late')
  await world.admin('DELETE', '/rules/late')
  const third = await send(world.proxyUrl + '/echo/a', { agent })
  expect(third.status).toBe(200)
  expect(sockets.size).toBe(1)
  agent.destroy()
})
