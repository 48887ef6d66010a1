/**
 * Sidecar faults on a Kubernetes target, through the real runner against the fake API server,
 * with real sidecars:
 * - by pod IP: two sidecars that require an admin token, on 127.0.0.1 and 127.0.0.2 at the same
 *   admin port (the pods' podIP and sidecarAdminPort point at them); the target's adminToken
 *   reaches both, which acknowledge the rule; without it, the run fails as the sidecars refuse;
 * - by fleet service: a target with `service` and a pod selector delivers through a real Redis,
 *   whatever the pod IPs are (nothing is sent to them).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FleetBus } from '../../controller/bus/fleet.ts'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { type SampleApp, startSampleApp } from '../../examples/sample-app.ts'
import { buildSidecar, type Sidecar } from '../../sidecar/build.ts'
import { silentLogger } from '../../src/log.ts'
import { seededRandom } from '../../src/random.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'
import { build, type FakeKube, staticStatusAnnotation, startFakeKube } from '../helpers/fake-kube/index.ts'
import { startRedis, type RedisServer } from '../helpers/redis.ts'

const NS = 'shop'
const TOKEN = 'pod-admin-s3cret'
let fake: FakeKube
let app: SampleApp
let redis: RedisServer | undefined
let bus: FleetBus | undefined
const sidecars: Sidecar[] = []
beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20, namespaces: [NS] })
  app = await startSampleApp()
})
afterEach(async () => {
  await Promise.all(sidecars.splice(0).map((s) => s.close()))
  await bus?.close()
  await redis?.close()
  bus = redis = undefined
  await app.close()
  await fake.close()
})

/** A Ready pod at `podIP` whose status the fake leaves alone. */
function pod(name: string, podIP: string): void {
  const p = build.pod({ name, namespace: NS, labels: { app: 'cart' }, nodeName: 'node-1' })
  fake.put({
    ...p,
    metadata: { ...p.metadata, annotations: { [staticStatusAnnotation]: 'true' } },
    status: { phase: 'Running', podIP, conditions: [{ type: 'Ready', status: 'True' }] },
  })
}

async function sidecar(opts: Record<string, unknown>): Promise<{ sc: Sidecar; proxyUrl: string; adminUrl: string }> {
  const sc = buildSidecar({
    upstream: app.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    ...opts,
  })
  sidecars.push(sc)
  return { sc, ...(await sc.listen()) }
}

const fault = (target: string) => ({
  name: 'errors',
  sidecarFault: { target, duration: '1s', rules: [{ id: 'boom', abort: { status: 503 } }] },
})

describe('sidecar faults on Kubernetes targets', () => {
  it("the target's adminToken reaches every selected pod's sidecar by pod IP", async () => {
    const one = await sidecar({ adminToken: TOKEN })
    const port = Number(new URL(one.adminUrl).port)
    const two = await sidecar({ adminToken: TOKEN, admin: { host: '127.0.0.2', port } })
    pod('cart-1', '127.0.0.1')
    pod('cart-2', '127.0.0.2')
    const spec = (adminToken?: string) => ({
      targets: {
        cart: {
          ...(adminToken ? { adminToken } : {}),
          kubernetes: { namespaces: [NS], labelSelector: 'app=cart', mode: 'all', sidecarAdminPort: port },
        },
      },
      load: { url: `${one.proxyUrl}/echo/x`, rate: 50, connections: 2 },
      hypothesis: { title: 'errors are injected', checks: [] },
      method: [fault('cart')],
    })
    const run = (adminToken?: string) =>
      runExperiment(experiment(spec(adminToken)), {
        dataDir: dataDir(),
        cluster: () => new Cluster(fake.kubeConfig()),
        random: seededRandom(1),
      })

    const r = await run(TOKEN)
    expect(r.status).toBe('completed')
    const urls = [`http://127.0.0.1:${port}`, `http://127.0.0.2:${port}`]
    expect(Object.keys(r.journal.faults[0]!.acknowledged ?? {}).sort()).toEqual(urls)
    expect(r.journal.targets.cart!.sidecars.map((s) => s.adminUrl).sort()).toEqual(urls)
    expect(r.journal.faults[0]!.evidence?.[urls[0]!]?.boom?.injected).toBeGreaterThan(0)
    expect(one.sc.store.list()).toEqual([])
    expect(two.sc.store.list()).toEqual([])

    // Without the token the sidecars refuse the rule: the run fails as a tool and injects nothing.
    const refused = await run()
    expect(refused.status).toBe('errored')
    expect(refused.reason).toMatch(/401|unauthori[sz]ed|token/i)
    expect(one.sc.store.list()).toEqual([])
    expect(two.sc.store.list()).toEqual([])
  })

  it('a Kubernetes target with `service` delivers through Redis to the fleet, not to pod IPs', async () => {
    redis = await startRedis()
    bus = new FleetBus(redis.url, { log: silentLogger() })
    const a = await sidecar({ service: 'cart', redisUrl: redis.url })
    await sidecar({ service: 'cart', redisUrl: redis.url })
    await expect.poll(async () => (await bus!.instances('cart')).length).toBe(2)
    // Pod IPs nothing listens on: a rule sent there would fail the run.
    pod('cart-1', '192.0.2.10')
    pod('cart-2', '192.0.2.11')
    const before = fake.requests.length
    const r = await runExperiment(
      experiment({
        targets: {
          cart: { service: 'cart', kubernetes: { namespaces: [NS], labelSelector: 'app=cart', mode: 'all' } },
        },
        load: { url: `${a.proxyUrl}/echo/x`, rate: 50, connections: 2 },
        hypothesis: { title: 'errors are injected', checks: [] },
        method: [fault('cart')],
      }),
      { dataDir: dataDir(), cluster: () => new Cluster(fake.kubeConfig()), random: seededRandom(1), fleet: bus },
    )
    expect(r.status).toBe('completed')
    const f = r.journal.faults[0]!
    expect(f.service).toBe('cart')
    expect(Object.keys(f.acknowledged ?? {})).toHaveLength(2)
    expect(r.journal.targets.cart!.kubernetes).toMatchObject({ matched: 2 })
    expect(r.journal.targets.cart!.sidecars.every((s) => !s.adminUrl.includes('192.0.2.'))).toBe(true)
    expect(f.evidence?.[a.adminUrl]?.boom?.injected).toBeGreaterThan(0)
    expect((await bus.desired('cart'))!.rules).toEqual([])
    for (const sc of sidecars) expect(sc.store.list()).toEqual([])
    // The pods were selected from the cluster (a list call), and nothing was written to it.
    expect(fake.requests.slice(before).some((q) => q.path === `/api/v1/namespaces/${NS}/pods`)).toBe(true)
    expect(fake.requests.slice(before).filter((q) => q.method !== 'GET')).toEqual([])
  })
})
