import { Redis } from 'ioredis'
import { Pool } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { type SampleApp, startSampleApp } from '../../examples/sample-app.ts'
import { FleetBus } from '../../controller/bus/fleet.ts'
import { buildSidecar, type Sidecar } from '../../sidecar/build.ts'
import { fleetKeys } from '../../src/fleet.ts'
import { silentLogger } from '../../src/log.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'

let redis: RedisServer | undefined
let app: SampleApp | undefined
let bus: FleetBus | undefined
const sidecars: Sidecar[] = []
afterEach(async () => {
  await Promise.all(sidecars.splice(0).map((s) => s.close()))
  await bus?.close()
  await app?.close()
  await redis?.close()
  redis = app = bus = undefined
})

async function fleetSidecar(service: string): Promise<{ sc: Sidecar; proxyUrl: string; adminUrl: string }> {
  const sc = buildSidecar({
    upstream: app!.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    service,
    redisUrl: redis!.url,
  })
  sidecars.push(sc)
  return { sc, ...(await sc.listen()) }
}

const rule = (id: string, source: string, expiresInMs = 60_000, extra: object = {}) => ({
  id,
  source,
  expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
  delay: { ms: 1 },
  ...extra,
})

describe('fleet mode over Redis', () => {
  it('50 sidecar instances follow a change and acknowledge it', async () => {
    redis = await startRedis()
    app = await startSampleApp()
    bus = new FleetBus(redis.url, { log: silentLogger() })
    await Promise.all(Array.from({ length: 50 }, () => fleetSidecar('checkout')))
    await expect.poll(async () => (await bus!.instances('checkout')).length, { timeout: 10_000 }).toBe(50)
    const added = await bus.addRules('checkout', [rule('slow', 'exp-1')])
    expect(added).toMatchObject({ generation: 1, missing: [], refused: {} })
    expect(added.acked).toHaveLength(50)
    for (const sc of sidecars) expect(sc.store.list().map((r) => r.id)).toEqual(['slow'])
    const removed = await bus.removeBySource('checkout', 'exp-1')
    expect(removed.acked).toHaveLength(50)
    for (const sc of sidecars) expect(sc.store.list()).toEqual([])
    expect((await bus.instances('checkout')).every((i) => i.generation === 2)).toBe(true)
  })

  it('a sidecar that joins late gets the desired rules with the same absolute expiry', async () => {
    redis = await startRedis()
    app = await startSampleApp()
    bus = new FleetBus(redis.url, { log: silentLogger() })
    const r = rule('late', 'exp-2', 30_000)
    await bus.addRules('orders', [r])
    const { sc, adminUrl } = await fleetSidecar('orders')
    expect(sc.store.list()).toEqual([r])
    const ready = (await (await fetch(adminUrl + '/readyz')).json()) as any
    expect(ready.fleet).toMatchObject({ service: 'orders', connected: true, applied: { generation: 1 } })
  })

  it('validates before publishing, and reports instances that do not acknowledge', async () => {
    redis = await startRedis()
    app = await startSampleApp()
    bus = new FleetBus(redis.url, { log: silentLogger() })
    await fleetSidecar('pay')
    await expect(bus.addRules('pay', [{ ...rule('bad', 's'), delay: { ms: -1 } }])).rejects.toMatchObject({
      code: 'FL_ERR_RULES_INVALID',
    })
    expect(await bus.desired('pay')).toBeUndefined()
    // An instance that registered and then hung (its heartbeat is still fresh).
    const raw = new Redis(redis.url)
    await raw.set(
      fleetKeys.instance('pay', 'ghost'),
      JSON.stringify({ id: 'ghost', service: 'pay', adminUrl: 'http://127.0.0.1:1', pid: 0, startedAt: 0 }),
    )
    await raw.zadd(fleetKeys.instances('pay'), Date.now(), 'ghost')
    raw.disconnect()
    const r = await bus.addRules('pay', [rule('ok', 's')], 500)
    expect(r.acked).toHaveLength(1)
    expect(r.missing).toEqual(['ghost'])
  })

  it('Redis killed and restarted under load: zero failed requests, rules still expire, then resync', async () => {
    redis = await startRedis()
    app = await startSampleApp()
    bus = new FleetBus(redis.url, { log: silentLogger() })
    const { sc, proxyUrl } = await fleetSidecar('web')
    await bus.addRules('web', [
      rule('marker', 'exp', 60_000, { phase: 'response', delay: undefined, patch: { headers: [['x-marked', '1']] } }),
      rule('brief', 'exp', 1500, { match: { path: '/nowhere' } }),
    ])
    const pool = new Pool(proxyUrl, { connections: 8 })
    const seen = { ok: 0, marked: 0, failed: [] as string[] }
    let running = true
    const worker = async () => {
      while (running) {
        try {
          const res = await pool.request({ path: '/echo/x', method: 'GET' })
          await res.body.text()
          if (res.statusCode === 200) seen.ok++
          else seen.failed.push(String(res.statusCode))
          if (res.headers['x-marked']) seen.marked++
        } catch (err) {
          seen.failed.push((err as Error).message)
        }
      }
    }
    const workers = Array.from({ length: 8 }, worker)
    await new Promise((r) => setTimeout(r, 200))
    await redis.kill()
    await expect.poll(() => sc.fleet!.connected).toBe(false)
    // Without Redis: still serving, still faulting, and the brief rule expires on the sidecar's own clock.
    await expect.poll(() => sc.store.list().map((r) => r.id), { timeout: 5000 }).toEqual(['marker'])
    const markedBefore = seen.marked
    await new Promise((r) => setTimeout(r, 300))
    expect(seen.marked).toBeGreaterThan(markedBefore)
    await redis.start()
    await expect.poll(() => sc.fleet!.connected, { timeout: 10_000 }).toBe(true)
    // The restarted Redis is empty: a new desired state has a new epoch, and the sidecar follows it.
    const after = await bus.addRules('web', [rule('fresh', 'exp2')])
    expect(after.acked).toEqual([sc.fleet!.id])
    expect(sc.store.list().map((r) => r.id)).toEqual(['fresh'])
    running = false
    await Promise.all(workers)
    await pool.close()
    expect(seen.failed).toEqual([])
    expect(seen.ok).toBeGreaterThan(200)
  })
})

describe('experiments on fleet services', () => {
  it('delivers a fault to every instance of a service, counts their acknowledgements, and reverts through Redis', async () => {
    const { runExperiment } = await import('../../controller/experiments/runner.ts')
    const { dataDir, experiment } = await import('../helpers/experiment.ts')
    redis = await startRedis()
    app = await startSampleApp()
    bus = new FleetBus(redis.url, { log: silentLogger() })
    const [first] = await Promise.all([fleetSidecar('svc'), fleetSidecar('svc'), fleetSidecar('svc')])
    await expect.poll(async () => (await bus!.instances('svc')).length).toBe(3)
    const x = experiment({
      targets: { svc: { service: 'svc' } },
      load: { url: `${first!.proxyUrl}/echo/x`, rate: 100, connections: 2 },
      hypothesis: {
        title: 'p95 under 500 ms',
        checks: [
          {
            name: 'p95',
            sidecar: { target: 'svc', stat: 'p95' },
            tolerance: { max: 500 },
            window: '2s',
            interval: '250ms',
            minSamples: 5,
          },
        ],
      },
      method: [
        // Two seconds: sidecar windows start at the first whole second after the fault, so a 1 s
        // fault can end before a window has minSamples requests (inconclusive on a loaded CI box).
        { name: 'slow', sidecarFault: { target: 'svc', duration: '2s', rules: [{ id: 'slow', delay: { ms: 10 } }] } },
      ],
    })
    const r = await runExperiment(x, { dataDir: dataDir(), fleet: bus })
    expect(r).toMatchObject({ status: 'completed', verdict: 'pass' })
    const fault = r.journal.faults[0]!
    expect(fault.service).toBe('svc')
    expect(Object.keys(fault.acknowledged!)).toHaveLength(3)
    expect(r.journal.targets.svc!.sidecars).toHaveLength(3)
    expect(fault.evidence![first!.adminUrl]!.slow!.injected).toBeGreaterThan(10)
    expect((await bus.desired('svc'))!.rules).toEqual([])
    for (const sc of sidecars) expect(sc.store.list()).toEqual([])
  })
})

describe('traffic shaping on a fleet service', () => {
  it('applies to every instance for the duration and is reverted at expiry', async () => {
    const { startController } = await import('../helpers/controller.ts')
    redis = await startRedis()
    app = await startSampleApp()
    await Promise.all([fleetSidecar('shop'), fleetSidecar('shop')])
    const c = await startController({ fleet: new FleetBus(redis.url, { log: silentLogger() }) })
    try {
      const r = await c.api('POST', '/shaping', {
        name: 'ci',
        service: 'shop',
        duration: '1500ms',
        rules: [{ id: 'ci-slow', delay: { ms: 1 } }],
      })
      expect(r.status).toBe(201)
      expect(Object.keys(r.body.acknowledged)).toHaveLength(2)
      for (const sc of sidecars) expect(sc.store.list().map((x) => x.id)).toEqual(['ci-slow'])
      await expect.poll(() => sidecars.flatMap((sc) => sc.store.list()), { timeout: 5000 }).toEqual([])
      expect(
        (
          await c.api('POST', '/shaping', {
            sidecars: ['http://x:1'],
            service: 'shop',
            duration: '1s',
            rules: [{ id: 'x', delay: { ms: 1 } }],
          })
        ).body.errors[0].message,
      ).toMatch(/exactly one/)
    } finally {
      await c.close()
    }
  })
})
