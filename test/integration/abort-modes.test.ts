import net from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

it('reset is seen by the client as a TCP reset', async () => {
  world = await startWorld()
  await world.putRules([{ id: 'rst', match: { path: '/echo/rst' }, abort: { mode: 'reset' } }])
  await expect(send(world.proxyUrl + '/echo/rst')).rejects.toMatchObject({ code: 'ECONNRESET' })
  expect(world.app.hits.get('/echo/rst') ?? 0).toBe(0)
})

it('close ends the connection without any response bytes', async () => {
  world = await startWorld()
  await world.putRules([{ id: 'cls', match: { path: '/echo/cls' }, abort: { mode: 'close' } }])
  const port = Number(new URL(world.proxyUrl).port)
  const received = await new Promise<{ bytes: number; error?: string }>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /echo/cls HTTP/1.1\r\nhost: x\r\n\r\n'))
    let bytes = 0
    s.on('data', (d) => (bytes += d.length))
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ bytes, error: e.code }))
    s.on('close', () => resolve({ bytes }))
  })
  expect(received.bytes).toBe(0)
})

it('a response-phase reset cuts a response the upstream already started', async () => {
  world = await startWorld()
  await world.putRules([{ id: 'rst2', phase: 'response', match: { path: '/bytes' }, abort: { mode: 'reset' } }])
  await expect(send(world.proxyUrl + '/bytes?n=100000')).rejects.toMatchObject({ code: 'ECONNRESET' })
  const stats = (await world.admin('GET', '/stats?window=10s')).body
  expect(stats.cohorts.faulted.errors).toBe(1)
  // The sidecar itself is unharmed.
  expect((await send(world.proxyUrl + '/')).status).toBe(200)
})

it('delay then abort gives a slow failure', async () => {
  world = await startWorld()
  await world.putRules([{ id: 'slowfail', match: { path: '/x' }, delay: { ms: 120 }, abort: { status: 500 } }])
  const reply = await send(world.proxyUrl + '/x')
  expect(reply.status).toBe(500)
  expect(reply.ms).toBeGreaterThanOrEqual(115)
})
