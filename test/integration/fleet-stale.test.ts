/**
 * A fleet sidecar that cannot follow its service's rules says so: in /readyz and /stats (without
 * going unready: a Redis outage must not take the app out of rotation), and in the log, once per
 * outage with a code, never silently.
 */
import { Redis } from 'ioredis'
import { afterEach, expect, it } from 'vitest'
import { type SampleApp, startSampleApp } from '../../examples/sample-app.ts'
import { buildSidecar, type Sidecar } from '../../sidecar/build.ts'
import { fleetKeys } from '../../src/fleet.ts'
import { capturedLogger } from '../helpers/log.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'

let redis: RedisServer | undefined
let app: SampleApp | undefined
let sidecar: Sidecar | undefined
afterEach(async () => {
  await sidecar?.close()
  await app?.close()
  await redis?.close()
  redis = app = sidecar = undefined
})

async function start(redisUrl: string, logger = capturedLogger('debug').log) {
  app = await startSampleApp()
  sidecar = buildSidecar({
    upstream: app.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger,
    service: 'web',
    redisUrl,
  })
  return sidecar.listen()
}

const getJson = async (url: string) => {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as any }
}

it('Redis down: stale in /readyz and /stats, still ready, one FL_ERR_REDIS line per outage; clears on return', async () => {
  redis = await startRedis()
  const { lines, log: logger } = capturedLogger('debug')
  const { adminUrl } = await start(redis.url, logger)
  expect((await getJson(adminUrl + '/readyz')).body.fleet.stale).toBeUndefined()
  await redis.kill()
  await expect
    .poll(async () => (await getJson(adminUrl + '/readyz')).body.fleet.stale?.reason, { timeout: 5000 })
    .toBe('redis-unreachable')
  const ready = await getJson(adminUrl + '/readyz')
  expect(ready.status).toBe(200)
  expect(ready.body.fleet.stale).toMatchObject({ code: 'FL_ERR_FLEET_STALE', reason: 'redis-unreachable' })
  expect((await getJson(adminUrl + '/stats')).body.fleet.stale.code).toBe('FL_ERR_FLEET_STALE')
  // Let ioredis retry several times; the outage is still reported once.
  await new Promise((r) => setTimeout(r, 600))
  expect(lines.filter((l) => l.code === 'FL_ERR_REDIS' && l.level === 50)).toHaveLength(1)
  await redis.start()
  await expect
    .poll(async () => (await getJson(adminUrl + '/readyz')).body.fleet.stale, { timeout: 10_000 })
    .toBeUndefined()
  expect(lines.some((l) => l.msg === 'redis connection restored')).toBe(true)
})

it('a refused subscription is logged with a code, shown as stale, and retried', async () => {
  redis = await startRedis()
  // A user that may use every key and publish acks, but may not subscribe to change notices.
  const admin = new Redis(redis.url)
  await admin.call(
    'ACL',
    'SETUSER',
    'limited',
    'on',
    '>pw',
    '~*',
    '+@all',
    'resetchannels',
    '&faultline:fleet:web:acked',
  )
  const { lines, log: logger } = capturedLogger('debug')
  const url = redis.url.replace('redis://', 'redis://limited:pw@')
  const { adminUrl } = await start(url, logger)
  await expect
    .poll(async () => (await getJson(adminUrl + '/readyz')).body.fleet.stale?.reason, { timeout: 5000 })
    .toBe('not-subscribed')
  expect(lines.find((l) => l.code === 'FL_ERR_FLEET_STALE')?.msg).toMatch(/cannot subscribe/)
  // Grant the channel: the retry succeeds and the sidecar follows again.
  await admin.call('ACL', 'SETUSER', 'limited', '&faultline:fleet:web:changes')
  await expect
    .poll(async () => (await getJson(adminUrl + '/readyz')).body.fleet, { timeout: 5000 })
    .toMatchObject({ subscribed: true })
  expect((await getJson(adminUrl + '/readyz')).body.fleet.stale).toBeUndefined()
  admin.disconnect()
})

it('a refusal is acknowledged with the sidecar code and field errors, and the last good rules stay', async () => {
  redis = await startRedis()
  await start(redis.url)
  const raw = new Redis(redis.url)
  const desired = (generation: number, rules: unknown[]) =>
    raw.set(fleetKeys.desired('web'), JSON.stringify({ epoch: 'e1', generation, rules }))
  await desired(1, [{ id: 'good', delay: { ms: 1 } }])
  await raw.publish(fleetKeys.changes('web'), 'e1:1')
  await expect.poll(() => sidecar!.store.list().map((r) => r.id)).toEqual(['good'])
  // Written behind the bus's back (as a newer controller with another schema might): refused.
  await desired(2, [{ id: 'bad', delay: { ms: -1 } }])
  await raw.publish(fleetKeys.changes('web'), 'e1:2')
  await expect
    .poll(async () => JSON.parse((await raw.hget(fleetKeys.acks('web'), sidecar!.fleet!.id)) ?? '{}').generation)
    .toBe(2)
  const ack = JSON.parse((await raw.hget(fleetKeys.acks('web'), sidecar!.fleet!.id))!)
  expect(ack).toMatchObject({ ok: false, code: 'FL_ERR_RULES_INVALID', errors: [{ path: '/rules/0/delay/ms' }] })
  expect(sidecar!.store.list().map((r) => r.id)).toEqual(['good'])
  raw.disconnect()
})
