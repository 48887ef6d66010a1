/**
 * Measurement honesty, over a real sidecar's admin socket with an injected clock: what the
 * controller reads from statistics windows (rates, recovery, missing data).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type CheckContext, sampleCheck } from '../../controller/experiments/checks.ts'
import { seriesPoint } from '../../controller/experiments/series.ts'
import { SidecarClient } from '../../controller/sidecar-client.ts'
import { PhaseTracker } from '../../src/experiments/judge.ts'
import type { CheckSpec } from '../../src/experiments/schema.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { send, startWorld, type World } from '../helpers/world.ts'

/** A whole second, so bucket boundaries are easy to read in the tests. */
const T0 = Date.parse('2026-01-01T00:00:00Z')

let world: World | undefined
const servers: http.Server[] = []
afterEach(async () => {
  await world?.close()
  world = undefined
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
})

async function requests(w: World, n: number): Promise<void> {
  for (let i = 0; i < n; i += 25)
    await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => send(`${w.proxyUrl}/echo/x`)))
}

/** Records `n` finished exchanges of `ms` each at the sidecar's current (manual) time. */
function exchanges(w: World, n: number, ms: number): void {
  for (let i = 0; i < n; i++) w.sidecar.stats.record(ms * 1000, false, false)
}

async function clockedWorld(): Promise<{ clock: ManualClock; w: World; ctx: CheckContext }> {
  const clock = new ManualClock(T0)
  const w = (world = await startWorld({ clock }))
  const clients = [new SidecarClient(w.adminUrl)]
  return { clock, w, ctx: { sidecars: () => clients, baseline: () => undefined, now: clock.now } }
}

const p95Check = (window: number): CheckSpec => ({
  name: 'p95',
  sidecar: { target: 'app', stat: 'p95' },
  tolerance: { max: 100 },
  window,
  minSamples: 5,
})

describe('request rate (console progress and series)', () => {
  it('is the last whole second, not a partial window divided by its nominal length', async () => {
    const { clock, w } = await clockedWorld()
    await requests(w, 100) // one whole second at 100 req/s...
    clock.advance(1250)
    await requests(w, 25) // ...and 250 ms of the current one at the same rate
    const p = await seriesPoint([new SidecarClient(w.adminUrl)], clock.now)
    expect(p.count).toBe(125)
    expect(p.rps).toBe(100) // 125 requests / 2 s would say 62.5
  })

  it('the throughput statistic is honest the same way', async () => {
    const { clock, w, ctx } = await clockedWorld()
    clock.advance(8000)
    exchanges(w, 300, 1) // a whole second at 300 req/s...
    clock.advance(1500)
    exchanges(w, 150, 1) // ...and the first half of the current one
    const c: CheckSpec = { name: 't', sidecar: { target: 'app', stat: 'throughput' }, tolerance: { min: 250 } }
    const s = await sampleCheck({ ...c, window: 2000, minSamples: 1 }, 'during', ctx)
    expect(s).toMatchObject({ outcome: 'pass', from: T0 + 8000 })
    expect(s.value).toBe(300) // 450 requests / 2 s = 225 would fail min 250
  })
})

describe('recovery is judged on requests completed after the revert', () => {
  it('traffic still at the faulted level after the revert is not "recovered", however long the window', async () => {
    const { clock, w, ctx } = await clockedWorld()
    for (let s = 0; s < 9; s++) {
      exchanges(w, 100, 2) // 9 s of steady state
      clock.advance(1000)
    }
    exchanges(w, 20, 400) // the fault
    clock.advance(600)
    const revertAt = clock.now()
    clock.advance(400)
    exchanges(w, 10, 400) // still slow after the revert
    clock.advance(500)
    // The whole 10 s window: 800 fast requests dilute 30 slow ones, so p95 looks fine.
    expect((await sampleCheck(p95Check(10_000), 'after', ctx)).outcome).toBe('pass')
    // Only what completed after the revert: still slow.
    const honest = await sampleCheck(p95Check(10_000), 'after', ctx, { since: revertAt })
    expect(honest).toMatchObject({ outcome: 'fail', from: T0 + 10_000 })
    expect(honest.value).toBeGreaterThan(399) // HDR keeps three significant digits
  })

  it('traffic fine at once after the revert recovers within the first statistics second, not after the window', async () => {
    const { clock, w, ctx } = await clockedWorld()
    for (let s = 0; s < 4; s++) {
      exchanges(w, 100, 300) // 4 s of fault
      clock.advance(1000)
    }
    exchanges(w, 30, 300)
    clock.advance(300)
    const revertAt = clock.now() // T0 + 4.3 s
    const tracker = new PhaseTracker('after', 2, revertAt)
    const first = await sampleCheck(p95Check(5000), 'after', ctx, { since: revertAt })
    expect(first).toMatchObject({ outcome: 'nodata' }) // no second has begun since the revert
    expect(tracker.add({ ...first, at: clock.now(), phase: 'after' })).toBe(false)
    clock.advance(700)
    exchanges(w, 100, 2) // fine from the first moment after the revert
    clock.advance(500)
    // A 5 s window would still hold 4 faulted seconds here (and for 4 more seconds).
    expect((await sampleCheck(p95Check(5000), 'after', ctx)).outcome).toBe('fail')
    const second = await sampleCheck(p95Check(5000), 'after', ctx, { since: revertAt })
    expect(second).toMatchObject({ outcome: 'pass', from: T0 + 5000 })
    expect(tracker.add({ ...second, at: clock.now(), phase: 'after' })).toBe(true)
    expect(tracker.result()).toMatchObject({
      result: 'pass',
      recoveredAfterMs: 700,
      recoveryWindow: { from: T0 + 5000, to: T0 + 5500 },
    })
  })
})

describe('no data is never 0 ms', () => {
  it('a series point with no requests has no latency, error rate or rate figures', async () => {
    const { clock, w } = await clockedWorld()
    clock.advance(1500)
    const p = await seriesPoint([new SidecarClient(w.adminUrl)], clock.now)
    expect(p).toMatchObject({ count: 0, p50: null, p95: null, p99: null, errorRate: null })
  })

  it('a sidecar check on a window without requests is nodata, whatever minSamples says', async () => {
    const { ctx } = await clockedWorld()
    const s = await sampleCheck({ ...p95Check(5000), minSamples: 1 }, 'during', ctx)
    expect(s).toMatchObject({ outcome: 'nodata' })
    expect(s.value).toBeUndefined()
  })

  it('a PromQL query that returns no series is no data, not an error and not 0', async () => {
    const server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }))
    })
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const c: CheckSpec = { name: 'q', promql: { url, query: 'sum(rate(x[1m]))' }, tolerance: { max: 1 } }
    const ctx: CheckContext = { sidecars: () => [], baseline: () => undefined, now: Date.now }
    expect(await sampleCheck(c, 'during', ctx)).toMatchObject({ outcome: 'nodata' })
  })
})

describe('regexes that cannot run never pass', () => {
  it('an HTTP check whose bodyRegex does not compile is an error sample (validation refuses it first)', async () => {
    world = await startWorld()
    const c: CheckSpec = { name: 'h', http: { url: `${world.proxyUrl}/echo/x`, bodyRegex: '(unclosed' } }
    const ctx: CheckContext = { sidecars: () => [], baseline: () => undefined, now: Date.now }
    expect(await sampleCheck(c, 'during', ctx)).toMatchObject({ outcome: 'error' })
  })

  it('so does a command check whose outputRegex does not compile', async () => {
    const c: CheckSpec = { name: 'c', command: { run: [process.execPath, '-e', ''], outputRegex: '(a)\\1' } }
    const ctx: CheckContext = { sidecars: () => [], baseline: () => undefined, now: Date.now }
    expect(await sampleCheck(c, 'during', ctx)).toMatchObject({ outcome: 'error' })
  })
})
