import http from 'node:http'
import { afterEach, expect, it } from 'vitest'
import { startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

it('a client that leaves during a delay cancels it, and the upstream is never contacted', async () => {
  world = await startWorld()
  await world.putRules([{ id: 'slow', match: { path: '/echo/slow' }, delay: { ms: 5000 } }])
  const req = http.get(world.proxyUrl + '/echo/slow')
  req.on('error', () => {})
  // Wait until the sidecar holds the request (the rule is counted as active), then leave.
  await expect
    .poll(async () => (await world.admin('GET', '/metrics')).body as string)
    .toMatch(/faultline_active_faults\{service="default"\} 1/)
  req.destroy()
  await expect
    .poll(async () => (await world.admin('GET', '/metrics')).body as string)
    .toMatch(/faultline_active_faults\{service="default"\} 0/)
  const metrics = (await world.admin('GET', '/metrics')).body as string
  expect(metrics).toContain('faultline_faults_skipped_total{service="default",rule="slow",reason="client_gone"} 1')
  expect(metrics).toMatch(/faultline_requests_total\{service="default",method="GET",code="499",fault="delay"\} 1/)
  // Well after the delay would have ended, the app has still not seen the request.
  await new Promise((r) => setTimeout(r, 100))
  expect(world.app.hits.get('/echo/slow') ?? 0).toBe(0)
})
