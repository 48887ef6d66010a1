import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { buildSidecar } from '../../sidecar/build.ts'
import { silentLogger } from '../../src/log.ts'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

it('passes WebSocket traffic through in both directions', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((r) => wss.once('listening', r))
  wss.on('connection', (socket, req) => {
    socket.send(`hello ${req.url}`)
    socket.on('message', (m) => socket.send(`echo ${m}`))
  })
  cleanup.push(() => new Promise<void>((r) => wss.close(() => r())))
  const sc = buildSidecar({
    upstream: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
  })
  const { proxyUrl } = await sc.listen()
  cleanup.push(() => sc.close())
  const ws = new WebSocket(proxyUrl.replace('http', 'ws') + '/chat?room=1')
  const messages: string[] = []
  ws.on('message', (m) => messages.push(m.toString()))
  await new Promise((r) => ws.once('open', r))
  ws.send('ping')
  await expect.poll(() => messages).toEqual(['hello /chat?room=1', 'echo ping'])
  ws.close()
  await new Promise((r) => ws.once('close', r))
})
