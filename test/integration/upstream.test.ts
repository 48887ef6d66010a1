import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { startSampleApp } from '../../examples/sample-app.ts'
import { buildSidecar, type Sidecar } from '../../sidecar/build.ts'
import { silentLogger } from '../../src/log.ts'
import { json, send } from '../helpers/world.ts'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** Starts a test server on port 0 (closed after the test); resolves to its URL. */
async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanup.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function sidecarFor(
  upstream: string,
  extra: object = {},
): Promise<{ sc: Sidecar; proxyUrl: string; adminUrl: string }> {
  const sc = buildSidecar({
    upstream,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    ...extra,
  })
  const urls = await sc.listen()
  cleanup.push(() => sc.close())
  return { sc, ...urls }
}

it('answers 503 with a clear body while the upstream is down, and recovers when it is back', async () => {
  const app = await startSampleApp()
  const port = Number(new URL(app.url).port)
  const { proxyUrl, adminUrl } = await sidecarFor(app.url)
  expect((await send(proxyUrl + '/')).status).toBe(200)
  await app.close()
  const down = await send(proxyUrl + '/')
  expect(down.status).toBe(503)
  expect(json(down)).toMatchObject({ code: 'FL_ERR_UPSTREAM_UNAVAILABLE' })
  expect(down.headers['x-faultline-fault']).toBeUndefined()
  expect((await fetch(adminUrl + '/readyz')).status).toBe(503)
  const back = await startSampleApp(port)
  cleanup.push(() => back.close())
  expect((await send(proxyUrl + '/')).status).toBe(200)
  expect((await fetch(adminUrl + '/readyz')).status).toBe(200)
})

it('answers 504 when the upstream does not answer in time', async () => {
  const hang = http.createServer(() => {})
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r))
  cleanup.push(
    () =>
      new Promise((r) => {
        hang.closeAllConnections()
        hang.close(() => r())
      }),
  )
  const { proxyUrl } = await sidecarFor(`http://127.0.0.1:${(hang.address() as AddressInfo).port}`, {
    upstreamTimeoutMs: 200,
  })
  const reply = await send(proxyUrl + '/')
  expect(reply.status).toBe(504)
  expect(json(reply).code).toBe('FL_ERR_UPSTREAM_TIMEOUT')
})

it('cuts the client connection when the upstream dies mid-body, and keeps serving', async () => {
  const dying = http.createServer((req, res) => {
    if (req.url === '/ok') return res.end('ok')
    res.writeHead(200, { 'content-length': '1000' })
    res.write('partial')
    setTimeout(() => res.socket?.destroy(), 20)
  })
  const { proxyUrl } = await sidecarFor(await listen(dying))
  await expect(send(proxyUrl + '/die')).rejects.toThrow()
  expect((await send(proxyUrl + '/ok')).status).toBe(200)
})
