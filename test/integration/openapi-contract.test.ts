/**
 * The OpenAPI documents against real answers: a real controller (token on) driving a real
 * sidecar, and a real sidecar admin API. Every answer's status must be documented for its
 * operation, its media type must be the documented one, and a JSON body must validate (ajv,
 * draft 2020-12, strict) against the schema documented for that status. Every operation of
 * each document must be exercised with a success at least once, so none is left unchecked.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openApiDocument } from '../../controller/api/openapi.ts'
import { FleetBus } from '../../controller/bus/fleet.ts'
import { type SampleApp, startSampleApp } from '../../examples/sample-app.ts'
import { adminOpenApiDocument } from '../../sidecar/admin-openapi.ts'
import { buildSidecar, type Sidecar } from '../../sidecar/build.ts'
import { silentLogger } from '../../src/log.ts'
import { type ControllerWorld, startController } from '../helpers/controller.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'
import { startWorld, type World } from '../helpers/world.ts'

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, unknown> } }

/** The document's schemas with references made absolute, so a response schema compiles on its own. */
function absolute(v: unknown, base: string): unknown {
  if (Array.isArray(v)) return v.map((x) => absolute(x, base))
  if (!v || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      k === '$ref' && typeof x === 'string' ? x.replace('#/components/schemas/', `${base}#/$defs/`) : absolute(x, base),
    ]),
  )
}

/**
 * A client that checks every answer against `doc` and remembers which operations succeeded.
 * `raw` bodies are sent as given with their content type; anything else as JSON.
 */
function contractClient(baseUrl: string, doc: Doc, name: string, auth?: string) {
  const ajv = new Ajv2020({ allErrors: true, strict: true })
  const base = `urn:faultline:${name}`
  ajv.addSchema({ $id: base, $defs: absolute(doc.components.schemas, base) as Record<string, unknown> })
  const compiled = new Map<unknown, ValidateFunction>()
  const succeeded = new Set<string>()
  const operations = Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      pattern: new RegExp(`^${p.replace(/\{\w+\}/g, '[^/]+').replaceAll('.', '\\.')}$`),
      op,
    })),
  )

  async function call(
    method: string,
    url: string,
    body?: unknown,
    opts: { contentType?: string; token?: string | null } = {},
  ): Promise<{ status: number; body: any; type: string }> {
    const headers: Record<string, string> = {}
    const token = opts.token === undefined ? auth : opts.token
    if (token) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json'
    const res = await fetch(baseUrl + url, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await res.text()
    const type = res.headers.get('content-type') ?? ''
    const pathname = url.split('?')[0]!
    const found = operations.find((o) => o.method === method && o.pattern.test(pathname))
    expect(found, `${method} ${pathname} is an operation of the ${name} document`).toBeDefined()
    const { op } = found!
    const where = `${op.operationId} answered ${res.status}`
    const response = op.responses[String(res.status)] ?? op.responses[`${String(res.status)[0]}XX`]
    expect(response, `${where}: documented`).toBeDefined()
    const [mediaType, media] = Object.entries(response.content as Record<string, { schema: unknown }>)[0]!
    expect(type.split(';')[0], `${where}: media type`).toBe(mediaType.split(';')[0])
    let parsed: unknown = text
    if (mediaType === 'application/json') {
      parsed = JSON.parse(text)
      let validate = compiled.get(media.schema)
      if (!validate) compiled.set(media.schema, (validate = ajv.compile(absolute(media.schema, base) as object)))
      expect(validate(parsed), `${where}: ${JSON.stringify(validate.errors)}\n${text.slice(0, 2000)}`).toBe(true)
    } else expect(text.length, where).toBeGreaterThan(0)
    if (res.status < 300) succeeded.add(op.operationId)
    return { status: res.status, body: parsed as any, type }
  }

  const all = operations.map((o) => o.op.operationId as string).sort()
  return { call, missing: () => all.filter((id) => !succeeded.has(id)) }
}

const TOKEN = 'contract-token'

/** Until the controller no longer runs `runId` (its journal is final then). */
async function runEnded(c: ControllerWorld, runId: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (c.controller.runs.active().some((r) => r.runId === runId)) {
    if (Date.now() > deadline) throw new Error(`run ${runId} still running`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('the controller answers as its OpenAPI document says', () => {
  let c: ControllerWorld
  let world: World
  beforeAll(async () => {
    world = await startWorld()
    c = await startController({ token: TOKEN })
  })
  afterAll(async () => {
    await c?.close()
    await world?.close()
  })

  it('on every operation, with successes and errors', async () => {
    const doc = (await fetch(`${c.url}/openapi.json`).then((r) => r.json())) as Doc
    const api = contractClient(c.url, doc, 'controller', TOKEN)
    const { call } = api
    const experiment = {
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'contract' },
      spec: {
        targets: { app: { sidecars: [world.adminUrl] } },
        hypothesis: {
          title: 'the app answers',
          checks: [{ name: 'up', http: { url: `${world.proxyUrl}/echo/up` }, interval: '200ms' }],
        },
        method: [
          {
            name: 'slow',
            sidecarFault: {
              target: 'app',
              duration: '1s',
              rules: [{ id: 'slow', match: { path: '/echo/**' }, delay: { ms: 5 } }],
            },
          },
        ],
      },
    }
    const yaml = JSON.stringify(experiment) // JSON is YAML: sent as application/yaml

    await call('GET', '/healthz', undefined, { token: null })
    await call('GET', '/openapi.json', undefined, { token: null })
    await call('GET', '/metrics', undefined, { token: null })
    expect((await call('GET', '/experiments', undefined, { token: null })).status).toBe(401)

    // experiments, in JSON and YAML
    expect((await call('POST', '/experiments/validate', yaml, { contentType: 'application/yaml' })).status).toBe(200)
    expect((await call('POST', '/experiments/validate', { ...experiment, kind: 'Nope' })).status).toBe(400)
    expect((await call('POST', '/experiments', yaml, { contentType: 'application/yaml' })).status).toBe(201)
    expect((await call('POST', '/experiments', experiment)).status).toBe(409)
    // A wrong content type and a body too large keep the one client-error code (docs/errors.md).
    expect(await call('POST', '/experiments', 'x: 1', { contentType: 'text/csv' })).toMatchObject({
      status: 415,
      body: { code: 'FL_ERR_BAD_REQUEST' },
    })
    expect(await call('POST', '/experiments', `"${'x'.repeat(8 * 1024 * 1024)}"`)).toMatchObject({
      status: 413,
      body: { code: 'FL_ERR_BAD_REQUEST' },
    })
    expect((await call('PUT', '/experiments/contract', experiment)).status).toBe(200)
    expect((await call('GET', '/experiments/contract')).status).toBe(200)
    expect((await call('GET', '/experiments/..%2Fx')).status).toBe(400)
    await call('GET', '/experiments')

    // runs, journal and reports
    const started = await call('POST', '/runs', { experiment: 'contract' })
    expect(started.status).toBe(202)
    await call('GET', '/runs')
    await runEnded(c, started.body.runId)
    expect((await call('GET', `/runs/${started.body.runId}`)).body.status).toBe('completed')
    expect((await call('GET', `/runs/${started.body.runId}/report`)).type).toMatch(/^text\/html/)
    expect((await call('GET', `/runs/${started.body.runId}/report.md`)).type).toMatch(/^text\/markdown/)
    expect((await call('POST', `/runs/${started.body.runId}/abort`)).body.note).toBe('was not running')
    // A finished run's event stream replays it and closes; the dashboard's files need no token
    // (its page at /ui/ is read by dashboard-browser.test.ts).
    expect((await call('GET', `/runs/${started.body.runId}/events`)).type).toMatch(/^text\/event-stream/)
    expect((await call('GET', '/runs/no-such-run/events')).status).toBe(404)
    expect((await call('GET', '/ui/main.ts', undefined, { token: null })).type).toMatch(/^text\/javascript/)
    expect((await call('GET', '/ui/nope.ts', undefined, { token: null })).status).toBe(404)
    expect((await call('GET', '/runs/no-such-run')).status).toBe(404)
    expect((await call('POST', '/runs', { experiment: 'missing' })).status).toBe(404)

    // sidecars: one reachable, one not (listed with its error)
    const unreachable = structuredClone(experiment)
    unreachable.metadata.name = 'unreachable'
    unreachable.spec.targets.app.sidecars = ['http://127.0.0.1:1']
    expect((await call('POST', '/experiments', unreachable)).status).toBe(201)
    const sidecars = (await call('GET', '/sidecars')).body.sidecars as { reachable: boolean; error?: unknown }[]
    expect(sidecars.map((s) => s.reachable).sort()).toEqual([false, true])

    // traffic shaping
    const shaping = { name: 'ci', sidecars: [world.adminUrl], duration: '1m', rules: [{ id: 'x', delay: { ms: 1 } }] }
    const applied = await call('POST', '/shaping', shaping)
    expect(applied.status).toBe(201)
    await call('GET', '/shaping')
    expect((await call('DELETE', `/shaping/${applied.body.id}`)).status).toBe(200)
    expect((await call('DELETE', '/shaping/shape-none')).status).toBe(404)
    expect((await call('POST', '/shaping', { ...shaping, sidecars: ['http://127.0.0.1:1'] })).status).toBe(502)

    // schedules
    const schedule = { name: 'nightly', experiment: 'contract', cron: '0 3 * * *', timezone: 'UTC' }
    expect((await call('POST', '/schedules', schedule)).status).toBe(201)
    expect((await call('POST', '/schedules', schedule)).status).toBe(409)
    await call('PUT', '/schedules/nightly', { ...schedule, concurrencyPolicy: 'forbid', historyLimit: 5 })
    await call('GET', '/schedules/nightly')
    await call('GET', '/schedules')
    const fired = await call('POST', '/schedules/nightly/trigger')
    if (fired.body.runId) await runEnded(c, fired.body.runId)
    expect((await call('DELETE', '/schedules/nightly')).status).toBe(200)
    expect((await call('GET', '/schedules/nightly')).status).toBe(404)

    // halt
    expect((await call('POST', '/halt', { reason: 'contract test' })).body.halted).toBe(true)
    expect((await call('GET', '/halt')).body).toMatchObject({ halted: true, reason: 'contract test' })
    expect((await call('POST', '/runs', { experiment: 'contract' })).status).toBe(409)
    await call('DELETE', '/halt')
    expect((await call('GET', '/halt')).body).toEqual({ halted: false })

    expect((await call('DELETE', '/experiments/contract')).status).toBe(200)
    expect((await call('DELETE', '/experiments/contract')).status).toBe(404)
    // GET /events never ends by itself: events-sse.test.ts reads it.
    expect(api.missing()).toEqual(['streamEvents'])
  }, 60_000)
})

describe('the sidecar admin API answers as its OpenAPI document says', () => {
  let world: World
  beforeAll(async () => {
    world = await startWorld({ adminToken: TOKEN })
  })
  afterAll(async () => world?.close())

  it('on every operation, with successes and errors', async () => {
    const doc = (await fetch(`${world.adminUrl}/openapi.json`).then((r) => r.json())) as Doc
    const api = contractClient(world.adminUrl, doc, 'admin', TOKEN)
    const { call } = api
    const rule = { id: 'one', source: 'run-1', match: { path: '/echo/**' }, delay: { ms: 1 }, ttl: '1m' }

    expect((await call('PUT', '/rules', { rules: [rule] }, { token: null })).status).toBe(401)
    expect((await call('PUT', '/rules', { rules: [rule] })).status).toBe(200)
    expect((await call('PUT', '/rules', { rules: [{ ...rule, delay: { ms: -1 } }] })).status).toBe(400)
    expect((await call('POST', '/rules', { ...rule, id: 'two' })).status).toBe(201)
    expect((await call('POST', '/rules', { rules: [{ ...rule, id: 'three' }] })).status).toBe(201)
    expect((await call('POST', '/rules', rule)).status).toBe(409)
    for (const contentType of ['application/yaml', 'text/plain'])
      expect(await call('POST', '/rules', 'id: x', { contentType })).toMatchObject({
        status: 415,
        body: { code: 'FL_ERR_BAD_REQUEST' },
      })
    expect((await call('GET', '/rules')).body.rules).toHaveLength(3)
    expect((await call('DELETE', '/rules/two')).status).toBe(200)
    expect((await call('DELETE', '/rules/two')).status).toBe(404)
    expect((await call('DELETE', '/rules?source=run-1')).body.removed.sort()).toEqual(['one', 'three'])
    expect((await call('DELETE', '/rules')).status).toBe(400)
    expect((await call('POST', '/reset')).status).toBe(200)
    await call('GET', '/schema')
    await fetch(`${world.proxyUrl}/echo/x`).then((r) => r.text())
    expect((await call('GET', '/stats?window=5s')).body.count).toBeGreaterThanOrEqual(1)
    expect((await call('GET', '/stats?window=5s&format=hdr')).body.histograms).toBeDefined()
    expect((await call('GET', '/stats?window=1h')).status).toBe(400)
    await call('GET', '/metrics')
    await call('GET', '/healthz')
    await call('GET', '/openapi.json')
    expect((await call('GET', '/readyz')).body.ready).toBe(true)
    expect(api.missing()).toEqual([])
    // Not ready: the same body, with 503.
    const down = await startWorld({ upstream: 'http://127.0.0.1:1' })
    try {
      const ready = await contractClient(down.adminUrl, doc, 'admin-down').call('GET', '/readyz')
      expect(ready).toMatchObject({ status: 503, body: { ready: false, upstream: false } })
    } finally {
      await down.close()
    }
  }, 30_000)
})

describe('fleet mode answers as the OpenAPI documents say', () => {
  let redis: RedisServer
  let app: SampleApp
  let bus: FleetBus
  let sidecar: Sidecar
  let c: ControllerWorld
  beforeAll(async () => {
    redis = await startRedis()
    app = await startSampleApp()
    bus = new FleetBus(redis.url, { log: silentLogger() })
    sidecar = buildSidecar({
      upstream: app.url,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      logger: silentLogger(),
      service: 'orders',
      redisUrl: redis.url,
    })
    c = await startController({ fleet: new FleetBus(redis.url, { log: silentLogger() }) })
  })
  afterAll(async () => {
    await c?.close()
    await sidecar?.close()
    await bus?.close()
    await app?.close()
    await redis?.close()
  })

  it('sidecar readiness and statistics with fleet status (following, then stale); 422 for a service with no sidecars', async () => {
    const { adminUrl } = await sidecar.listen()
    const admin = contractClient(adminUrl, adminOpenApiDocument() as Doc, 'admin-fleet')
    await expect.poll(async () => (await bus.instances('orders')).length, { timeout: 10_000 }).toBe(1)
    await bus.addRules('orders', [
      { id: 'slow', source: 's', expiresAt: new Date(Date.now() + 60_000).toISOString(), delay: { ms: 1 } },
    ])
    expect((await admin.call('GET', '/readyz')).body.fleet).toMatchObject({ service: 'orders', applied: {} })
    expect((await admin.call('GET', '/stats')).body.fleet.connected).toBe(true)

    const controller = contractClient(c.url, openApiDocument() as Doc, 'controller-fleet')
    const shaping = { service: 'nobody', duration: '1m', rules: [{ id: 'x', delay: { ms: 1 } }] }
    expect((await controller.call('POST', '/shaping', shaping)).status).toBe(422)
    expect((await controller.call('GET', '/sidecars')).body.sidecars).toHaveLength(1)

    await redis.close()
    await expect
      .poll(async () => (await admin.call('GET', '/readyz')).body.fleet.stale?.code, { timeout: 10_000 })
      .toBe('FL_ERR_FLEET_STALE')
    expect((await admin.call('GET', '/stats?format=hdr')).body.fleet.stale.reason).toBe('redis-unreachable')
  }, 30_000)
})
