import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { startControllerProcess } from '../helpers/cli.ts'
import { startWorld, type World } from '../helpers/world.ts'

const children: ChildProcess[] = []
let world: World | undefined
let dir: string
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  await world?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function controller(dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const c = await startControllerProcess(dataDir, extra)
  children.push(c.child)
  return c
}

const json = async (url: string, init?: RequestInit) => (await fetch(url, init)).json() as Promise<any>

it('a controller SIGKILLed mid-run, restarted: the run is found, its faults reverted, and it is marked aborted', async () => {
  world = await startWorld()
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-crash-'))
  const first = await controller(dir)
  const doc = {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name: 'long' },
    spec: {
      targets: { app: { sidecars: [world.adminUrl] } },
      hypothesis: { title: 't', checks: [] },
      method: [{ sidecarFault: { target: 'app', duration: '10m', rules: [{ id: 'held', delay: { ms: 1 } }] } }],
    },
  }
  const post = (url: string, body: unknown) =>
    json(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await post(`${first.url}/experiments`, doc)
  const { runId } = await post(`${first.url}/runs`, { experiment: 'long' })
  await expect.poll(async () => (await world!.admin('GET', '/rules')).body.rules.length, { timeout: 10_000 }).toBe(1)
  // Kill it once the journal on disk says the fault is applied (the sidecar's ack comes first).
  await expect
    .poll(async () => (await json(`${first.url}/runs/${runId}`)).faults?.[0]?.appliedAt, { timeout: 10_000 })
    .toBeGreaterThan(0)
  first.child.kill('SIGKILL')
  await new Promise((r) => first.child.once('exit', r))
  // The rule outlives the controller (its ttl is 10 minutes and change)...
  expect((await world.admin('GET', '/rules')).body.rules.map((r: { id: string }) => r.id)).toEqual(['held'])
  // ...until a controller starts on the same data and reverts what the journal says was applied.
  const second = await controller(dir)
  expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
  const journal = await json(`${second.url}/runs/${runId}`)
  expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive' })
  expect(journal.reason).toMatch(/controller stopped during the run/)
  expect(journal.faults[0].revertedAt).toBeGreaterThan(journal.faults[0].appliedAt)
  expect(journal.timeline.at(-1).detail).toMatch(/recovered after a controller restart: reverted 1 fault placement/)
  second.child.kill('SIGTERM')
  expect(await new Promise((r) => second.child.once('exit', r))).toBe(0)
})

it('with --redis: a controller SIGKILLed mid-run on a fleet service, restarted: faults reverted through Redis, run aborted', async () => {
  const { startRedis } = await import('../helpers/redis.ts')
  const { FleetBus } = await import('../../controller/bus/fleet.ts')
  const { buildSidecar } = await import('../../sidecar/build.ts')
  const { silentLogger } = await import('../../src/log.ts')
  const redis = await startRedis()
  world = await startWorld()
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-crash-'))
  const sc = buildSidecar({
    upstream: world.app.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    service: 'cart',
    redisUrl: redis.url,
  })
  await sc.listen()
  const bus = new FleetBus(redis.url, { log: silentLogger() })
  try {
    const first = await controller(dir, ['--redis', redis.url])
    const post = (url: string, body: unknown) =>
      json(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    await post(`${first.url}/experiments`, {
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'fleet-long' },
      spec: {
        targets: { cart: { service: 'cart' } },
        hypothesis: { title: 't', checks: [] },
        method: [{ sidecarFault: { target: 'cart', duration: '10m', rules: [{ id: 'held', delay: { ms: 1 } }] } }],
      },
    })
    const { runId } = await post(`${first.url}/runs`, { experiment: 'fleet-long' })
    await expect.poll(() => sc.store.list().map((r) => r.id), { timeout: 10_000 }).toEqual(['held'])
    first.child.kill('SIGKILL')
    await new Promise((r) => first.child.once('exit', r))
    expect((await bus.desired('cart'))!.rules.map((r) => r.id)).toEqual(['held'])
    const second = await controller(mkdtempSync(path.join(tmpdir(), 'faultline-crash-other-')), ['--redis', redis.url])
    // A second controller, even with another data directory, finds the run in Redis.
    await expect.poll(() => sc.store.list(), { timeout: 10_000 }).toEqual([])
    expect((await bus.desired('cart'))!.rules).toEqual([])
    const journal = await json(`${second.url}/runs/${runId}`)
    expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive' })
    expect(journal.timeline.at(-1).detail).toMatch(/reverted 1 fault placement/)
    expect((await json(`${second.url}/experiments`)).experiments.map((e: { name: string }) => e.name)).toEqual([
      'fleet-long',
    ])
    second.child.kill('SIGTERM')
    await new Promise((r) => second.child.once('exit', r))
  } finally {
    await sc.close()
    await bus.close()
    await redis.close()
  }
})
