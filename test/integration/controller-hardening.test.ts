/**
 * The controller under hostile or broken input, over real sockets (issue 7, controller items):
 * empty and deeply nested bodies, names that try to leave the data directory, bodies with wrong
 * types or unknown fields, sidecars that cannot be reached or refuse, Redis going away, and
 * records on disk that cannot be read.
 */
import { capturedLogger } from '../helpers/log.ts'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { FleetBus } from '../../controller/bus/fleet.ts'
import { freePort } from '../../controller/drivers/local/ports.ts'
import { RedisStore } from '../../controller/store/redis.ts'
import { fleetKeys } from '../../src/fleet.ts'
import { silentLogger } from '../../src/log.ts'
import { NAME_PATTERN } from '../../src/names.ts'
import { type ControllerWorld, startController } from '../helpers/controller.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'
import { json, send, startWorld } from '../helpers/world.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})
const later = <T>(value: T, close: (v: T) => Promise<unknown> | unknown): T => {
  cleanups.push(() => close(value))
  return value
}
const controller = async (opts: Parameters<typeof startController>[0] = {}) =>
  later(await startController(opts), (c) => c.close())
const sidecarWorld = async (opts: Parameters<typeof startWorld>[0] = {}) =>
  later(await startWorld(opts), (w) => w.close())
const tmp = (prefix: string) => later(mkdtempSync(path.join(tmpdir(), prefix)), (d) => rmSync(d, { recursive: true }))

/** A request sent exactly as written (no URL normalisation: `%2F` and `%00` reach the server). */
async function raw(c: ControllerWorld, method: string, urlPath: string, body?: string) {
  const headers: Record<string, string> =
    body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
  const r = await send(c.url + urlPath, { method, body, headers })
  const text = r.body.toString('utf8')
  return { status: r.status, body: text.startsWith('{') ? json(r) : text }
}

const experimentDoc = (adminUrl: string, proxyUrl: string, name = 'probe') => ({
  apiVersion: 'faultline/v1',
  kind: 'Experiment',
  metadata: { name },
  spec: {
    targets: { app: { sidecars: [adminUrl] } },
    hypothesis: { title: 'up', checks: [{ name: 'up', http: { url: `${proxyUrl}/echo/up` }, interval: '200ms' }] },
    method: [{ sidecarFault: { target: 'app', duration: '1s', rules: [{ id: 'slow', delay: { ms: 5 } }] } }],
  },
})

const paths = (body: { errors?: { path: string }[] }) => (body.errors ?? []).map((e) => e.path)

// ── item 5: empty bodies ─────────────────────────────────────────────────────
describe('bodies: empty (item 5)', () => {
  it('DELETE and POST with content-type application/json and no body are accepted', async () => {
    const c = await controller()
    const empty = (method: string, p: string) => raw(c, method, p, '')
    expect(await empty('POST', '/halt')).toMatchObject({ status: 200, body: { halted: true } })
    expect(await empty('DELETE', '/halt')).toMatchObject({ status: 200, body: { halted: false } })
    expect((await empty('DELETE', '/experiments/nope')).body.code).toBe('FL_ERR_NOT_FOUND')
    expect((await empty('POST', '/runs/nope/abort')).body.code).toBe('FL_ERR_NOT_FOUND')
    expect((await empty('POST', '/schedules/nope/trigger')).body.code).toBe('FL_ERR_NOT_FOUND')
    expect((await empty('DELETE', '/shaping/nope')).body.code).toBe('FL_ERR_NOT_FOUND')
    // A body-taking call with no body says what it needs.
    expect(await empty('POST', '/runs')).toMatchObject({ status: 400, body: { code: 'FL_ERR_BAD_REQUEST' } })
  })
})

// ── item 6: deep bodies ──────────────────────────────────────────────────────
describe('bodies: nesting (item 6)', () => {
  const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)

  it('JSON nested 10,000 deep is a 400 with a path on every body, never a 500', async () => {
    const c = await controller()
    for (const [method, p] of [
      ['POST', '/experiments'],
      ['POST', '/experiments/validate'],
      ['PUT', '/experiments/x'],
      ['POST', '/runs'],
      ['POST', '/halt'],
      ['POST', '/shaping'],
      ['POST', '/schedules'],
      ['PUT', '/schedules/x'],
      ['DELETE', '/halt'],
    ] as const) {
      const r = await raw(c, method, p, deep(10_000))
      expect(r.status, `${method} ${p}`).toBe(400)
      expect(r.body.code).toBe('FL_ERR_BAD_REQUEST')
      expect(r.body.errors[0].path).toBe('/a'.repeat(64))
    }
    const inRun = await raw(c, 'POST', '/runs', `{"document":${deep(10_000)}}`)
    expect(inRun.status).toBe(400)
    expect(inRun.body.errors[0].path).toBe('/document' + '/a'.repeat(63))
    expect((await c.api('GET', '/halt')).body).toEqual({ halted: false })
  })

  it('YAML bodies are capped the same way', async () => {
    const c = await controller()
    const yaml = (n: number) => `a: ${'['.repeat(n)}${']'.repeat(n)}\n`
    const headers = { 'content-type': 'application/yaml' }
    const moderate = await c.api('POST', '/experiments', yaml(100), headers)
    expect(moderate.status).toBe(400)
    expect(moderate.body.errors[0].path).toBe('/a' + '/0'.repeat(63))
    const extreme = await c.api('POST', '/experiments', yaml(10_000), headers)
    expect(extreme).toMatchObject({ status: 400, body: { code: 'FL_ERR_BAD_REQUEST' } })
    expect((await c.api('GET', '/healthz')).status).toBe(200)
  })
})

// ── item 12: names from URLs ─────────────────────────────────────────────────
describe('names from URLs (item 12)', () => {
  it('every path parameter in the OpenAPI document is checked before any store call', async () => {
    const parent = tmp('faultline-traversal-')
    const dataDir = path.join(parent, 'data')
    // A file outside the data directory that looks like a stored schedule (and experiment).
    const victim = path.join(parent, 'x.json')
    const content = JSON.stringify({
      name: 'x',
      experiment: 'x',
      cron: '0 3 * * *',
      timezone: 'UTC',
      concurrencyPolicy: 'allow',
      historyLimit: 5,
      metadata: { name: 'x' },
    })
    writeFileSync(victim, content)
    const c = await controller({ dataDir })
    const { paths: api } = (await c.api('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; schema: { pattern: string } }[] }>>
    }
    const bad = ['..%2F..%2Fx', '..%2f..%2fx', '.x', 'a%3Ab', 'a*', 'a%00b', '-x', 'x'.repeat(129), '%20x', '%C3%A9']
    let checked = 0
    for (const [p, ops] of Object.entries(api)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const param of op.parameters ?? []) {
          for (const value of bad) {
            const url = p.replace(`{${param.name}}`, value).replace(/\{\w+\}/g, 'ok')
            const r = await raw(c, method.toUpperCase(), url, method === 'get' ? undefined : '{}')
            expect(r.status, `${method} ${url}`).toBe(400)
            expect(r.body).toMatchObject({
              code: 'FL_ERR_NAME_INVALID',
              errors: [{ path: `/params/${param.name}` }],
            })
            checked++
          }
          expect(param.schema.pattern).toBe(NAME_PATTERN.source)
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10 * bad.length)
    // Dot segments are resolved by the router like any URL's: the request reaches another route
    // (or none), never a store call with the dots in a name.
    // Resolved, two land on routes that answer: /runs/../events is GET /events (an endless event
    // stream), /ui/. is GET /ui/ (the dashboard page). Other routes, as intended, never a store call.
    const landElsewhere = new Set(['/runs/{id}/events', '/ui/{file}'])
    for (const [p, ops] of Object.entries(api))
      for (const method of Object.keys(ops))
        for (const dots of ['..', '.', '%2E%2E', '%2e'])
          if (p.includes('{') && !landElsewhere.has(p)) {
            const r = await raw(
              c,
              method.toUpperCase(),
              p.replace(/\{\w+\}/g, dots),
              method === 'get' ? undefined : '{}',
            )
            expect([400, 404], `${method} ${p} ${dots}`).toContain(r.status)
          }
    // Nothing outside the data directory was read into an answer, deleted or created.
    expect(readFileSync(victim, 'utf8')).toBe(content)
    expect(readdirSync(parent).sort()).toEqual(['data', 'x.json'])
  })

  it('accepts every name the project produces', async () => {
    const c = await controller()
    const longest = 'a'.repeat(61) + '-z'
    const runId = `${longest}-20260101-235959-ab12`
    for (const name of [longest, runId, 'shape-mbx1k2-0a1b2c', 'A.b_c-1'])
      expect(NAME_PATTERN.test(name), name).toBe(true)
    expect((await c.api('GET', `/runs/${runId}`)).body.code).toBe('FL_ERR_NOT_FOUND')
    expect((await c.api('GET', `/experiments/${longest}`)).body.code).toBe('FL_ERR_NOT_FOUND')
  })
})

// ── item 13: bodies are validated ────────────────────────────────────────────
describe('request bodies (item 13)', () => {
  it('POST /runs with "dryRun": "true" or the typo "dryrun" is a 400 and injects nothing', async () => {
    const world = await sidecarWorld()
    const c = await controller()
    expect((await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl))).status).toBe(201)
    const typed = await c.api('POST', '/runs', { experiment: 'probe', dryRun: 'true' })
    expect(typed).toMatchObject({ status: 400, body: { code: 'FL_ERR_BAD_REQUEST' } })
    expect(paths(typed.body)).toEqual(['/dryRun'])
    const typo = await c.api('POST', '/runs', { experiment: 'probe', dryrun: true })
    expect(typo.status).toBe(400)
    expect(typo.body.errors).toEqual([{ path: '/dryrun', message: 'unknown field "dryrun" (did you mean "dryRun"?)' }])
    const both = await c.api('POST', '/runs', { experiment: 'probe', document: {} })
    expect(both.status).toBe(400)
    const varsOnStored = await c.api('POST', '/runs', { experiment: 'probe', vars: { A: '1' } })
    expect(paths(varsOnStored.body)).toEqual(['/vars'])
    expect((await c.api('GET', '/runs')).body).toMatchObject({ active: [], runs: [] })
    expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
  })

  it('every operation with a body in the OpenAPI document rejects an unknown field, and changes nothing', async () => {
    const c = await controller()
    const doc = (await c.api('GET', '/openapi.json')).body
    let checked = 0
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.requestBody) continue
        const name = op.requestBody.content['application/json'].schema.$ref.split('/').at(-1)
        expect(doc.components.schemas[name].additionalProperties, name).toBe(false)
        const r = await c.api(method.toUpperCase(), p.replace(/\{\w+\}/g, 'probe'), { surprise: 1 })
        expect(r.status, `${method} ${p}`).toBe(400)
        expect(paths(r.body), `${method} ${p}`).toContain('/surprise')
        checked++
      }
    }
    expect(checked).toBe(14)
    // Every $ref in the description resolves inside it.
    const refs: string[] = []
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk)
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref') refs.push(x as string)
          else walk(x)
        }
    }
    walk(doc)
    expect(refs.length).toBeGreaterThan(20)
    for (const ref of new Set(refs)) {
      const target = ref
        .slice(2)
        .split('/')
        .reduce<any>((at, key) => at?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], doc)
      expect(target, ref).toBeDefined()
    }
    expect((await c.api('GET', '/halt')).body).toEqual({ halted: false })
    expect((await c.api('GET', '/experiments')).body.experiments).toEqual([])
    expect((await c.api('GET', '/schedules')).body.schedules).toEqual([])
  })

  it('an inline document reports its problems under /document', async () => {
    const c = await controller()
    const r = await c.api('POST', '/runs', { document: { apiVersion: 'faultline/v1', kind: 'Experiment' } })
    expect(r.body.code).toBe('FL_ERR_EXPERIMENT_INVALID')
    expect(paths(r.body)).toEqual(['/document/metadata', '/document/spec'])
  })

  it('unknown routes answer with the error body and code', async () => {
    const c = await controller()
    expect(await c.api('GET', '/nope')).toMatchObject({ status: 404, body: { code: 'FL_ERR_NOT_FOUND' } })
  })
})

// ── item 14: sidecar errors keep their codes ─────────────────────────────────
describe('sidecar errors (item 14)', () => {
  const shaping = (sidecars: string[], extra = {}) => ({
    name: 'probe',
    sidecars,
    duration: '1m',
    rules: [{ id: 'probe', delay: { ms: 1 } }],
    ...extra,
  })

  it('an unreachable sidecar is 502 FL_ERR_SIDECAR_UNREACHABLE naming it; nothing stays applied', async () => {
    const world = await sidecarWorld()
    const c = await controller()
    const dead = `http://127.0.0.1:${await freePort()}`
    const r = await c.api('POST', '/shaping', shaping([world.adminUrl, dead]))
    expect(r).toMatchObject({ status: 502, body: { code: 'FL_ERR_SIDECAR_UNREACHABLE', sidecar: { url: dead } } })
    expect(r.body.error).toMatch(/ECONNREFUSED/)
    // All or nothing: the sidecar that took the rules had them removed again.
    expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
    expect((await c.api('GET', '/shaping')).body.shaping).toEqual([])
  })

  it("a wrong sidecar token is 502 FL_ERR_SIDECAR_REJECTED carrying the sidecar's own answer", async () => {
    const world = await sidecarWorld({ adminToken: 'right' })
    const c = await controller()
    const r = await c.api('POST', '/shaping', shaping([world.adminUrl], { adminToken: 'wrong' }))
    expect(r).toMatchObject({
      status: 502,
      body: {
        code: 'FL_ERR_SIDECAR_REJECTED',
        sidecar: { url: world.adminUrl, status: 401, code: 'FL_ERR_UNAUTHORIZED' },
      },
    })
    // The same sidecar with the right token takes the rules.
    expect((await c.api('POST', '/shaping', shaping([world.adminUrl], { adminToken: 'right' }))).status).toBe(201)
  })

  it('a sidecar that answers with something other than its API is FL_ERR_SIDECAR_REJECTED', async () => {
    const impostor = http.createServer((_req, res) => res.end('<html>not a sidecar</html>'))
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r))
    later(impostor, (s) => new Promise((r) => s.close(r)))
    const url = `http://127.0.0.1:${(impostor.address() as { port: number }).port}`
    const c = await controller()
    expect(await c.api('POST', '/shaping', shaping([url]))).toMatchObject({
      status: 502,
      body: { code: 'FL_ERR_SIDECAR_REJECTED', sidecar: { url, status: 200 } },
    })
  })

  it('GET /sidecars lists a sidecar it cannot use with the error code', async () => {
    const world = await sidecarWorld()
    const c = await controller()
    const dead = `http://127.0.0.1:${await freePort()}`
    await c.api('POST', '/experiments', experimentDoc(dead, world.proxyUrl))
    expect((await c.api('GET', '/sidecars')).body.sidecars).toEqual([
      {
        adminUrl: dead,
        reachable: false,
        usedBy: ['experiment:probe'],
        error: expect.objectContaining({ code: 'FL_ERR_SIDECAR_UNREACHABLE', sidecar: { url: dead } }),
      },
    ])
  })

  it('crash recovery journals the code of a placement it could not revert', async () => {
    const dataDir = tmp('faultline-recovery-')
    const dead = `http://127.0.0.1:${await freePort()}`
    const runId = 'probe-20260101-000000-abcd'
    mkdirSync(path.join(dataDir, 'runs', runId), { recursive: true })
    writeFileSync(
      path.join(dataDir, 'runs', runId, 'journal.json'),
      JSON.stringify({
        faultline: 'test',
        runId,
        experimentHash: 'x',
        experiment: { metadata: { name: 'probe' }, spec: { targets: { app: { sidecars: [dead] } } } },
        dryRun: false,
        startedAt: 1,
        status: 'running',
        targets: {},
        timeline: [],
        faults: [{ id: 'fault-1', kind: 'sidecar', target: 'app', source: `${runId}/0`, on: [dead], ruleIds: ['x'] }],
        checks: {},
        series: {},
      }),
    )
    const c = await controller({ dataDir })
    const journal = (await c.api('GET', `/runs/${runId}`)).body
    expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive' })
    expect(journal.timeline.at(-1).detail).toMatch(
      new RegExp(`1 failed: fault-1@${dead}: FL_ERR_SIDECAR_UNREACHABLE: sidecar ${dead} unreachable`),
    )
  })
})

// ── items 14 and 15 with Redis: fleet refusals, outages ──────────────────────
describe('fleet and Redis (items 14, 15)', () => {
  /**
   * A redis-server that can be killed more than once: the helper's kill() waits for an exit that
   * already happened when the process was killed before (a signalled child has no exitCode).
   */
  async function redisServer(): Promise<RedisServer> {
    const r = await startRedis()
    let running = true
    const kill = async () => {
      if (running) await r.kill()
      running = false
    }
    const start = async () => {
      await r.start()
      running = true
    }
    return later({ ...r, kill, start, close: kill }, (w) => w.close())
  }
  const fleetShaping = (service: string) => ({ service, duration: '1m', rules: [{ id: 'probe', delay: { ms: 1 } }] })

  /** A fleet instance, registered by hand, that refuses every desired state it is told about. */
  async function refusingInstance(url: string, service: string): Promise<void> {
    const cmd = later(new Redis(url), (r) => r.disconnect())
    const sub = later(new Redis(url), (r) => r.disconnect())
    const id = 'fake-1'
    const info = { id, service, adminUrl: 'http://127.0.0.1:9/fake', pid: 1, startedAt: Date.now() }
    await cmd.set(fleetKeys.instance(service, id), JSON.stringify(info), 'PX', 60_000)
    await cmd.zadd(fleetKeys.instances(service), Date.now() + 60_000, id)
    sub.on('message', (_channel, notice: string) => {
      const [epoch, generation] = notice.split(':')
      const ack = {
        instance: id,
        epoch,
        generation: Number(generation),
        ok: false,
        error: '/rules/0 too spicy',
        at: Date.now(),
      }
      void cmd
        .multi()
        .hset(fleetKeys.acks(service), id, JSON.stringify(ack))
        .publish(fleetKeys.acked(service), JSON.stringify(ack))
        .exec()
    })
    await sub.subscribe(fleetKeys.changes(service))
  }

  it('fleet shaping: no sidecars is 422 FL_ERR_TARGET_UNRESOLVED, a refusing one 502 FL_ERR_SIDECAR_REJECTED', async () => {
    const redis = await redisServer()
    const fleet = later(new FleetBus(redis.url, { log: silentLogger() }), (f) => f.close())
    const c = await controller({ fleet })
    const none = await c.api('POST', '/shaping', fleetShaping('ghost'))
    expect(none).toMatchObject({
      status: 422,
      body: { code: 'FL_ERR_TARGET_UNRESOLVED', errors: [{ path: '/service' }] },
    })
    expect(await fleet.desired('ghost')).toBeUndefined()
    await refusingInstance(redis.url, 'cart')
    const refused = await c.api('POST', '/shaping', fleetShaping('cart'))
    expect(refused).toMatchObject({
      status: 502,
      body: {
        code: 'FL_ERR_SIDECAR_REJECTED',
        sidecar: { instance: 'fake-1', code: 'FL_ERR_RULES_INVALID', errors: [{ message: '/rules/0 too spicy' }] },
      },
    })
    expect((await fleet.desired('cart'))!.rules).toEqual([])
    expect((await c.api('GET', '/shaping')).body.shaping).toEqual([])
  })

  it('Redis down: API calls are 503 FL_ERR_REDIS, and each outage is logged once per connection', async () => {
    const redis = await redisServer()
    const { log, lines } = capturedLogger()
    const store = new RedisStore(redis.url, { log })
    const fleet = later(new FleetBus(redis.url, { log }), (f) => f.close())
    const c = await controller({ store, fleet, logger: log })
    expect((await c.api('POST', '/halt', { reason: 'probe' })).status).toBe(200)
    const outageLogs = () => lines.filter((l) => l.code === 'FL_ERR_REDIS' && l.level === 50).map((l) => l.component)
    await redis.kill()
    for (let i = 0; i < 3; i++) {
      expect(await c.api('GET', '/halt')).toMatchObject({ status: 503, body: { code: 'FL_ERR_REDIS' } })
      expect(await c.api('GET', '/sidecars')).toMatchObject({ status: 503, body: { code: 'FL_ERR_REDIS' } })
    }
    await expect(fleet.instances('cart')).rejects.toMatchObject({ code: 'FL_ERR_REDIS' })
    expect(outageLogs().sort()).toEqual(['fleet-bus', 'store'])
    await redis.start()
    await expect.poll(async () => (await c.api('GET', '/halt')).status, { timeout: 10_000 }).toBe(200)
    await expect
      .poll(() => lines.filter((l) => l.msg === 'redis connection restored').length, { timeout: 10_000 })
      .toBe(2)
    await redis.kill()
    expect((await c.api('GET', '/halt')).status).toBe(503)
    expect(outageLogs().filter((x) => x === 'store')).toHaveLength(2)
  })
})

// ── item 15: unreadable records ──────────────────────────────────────────────
describe('unreadable records (item 15)', () => {
  it('a corrupt journal is reported to crash recovery and the API, logged once with its file, and left in place', async () => {
    const dataDir = tmp('faultline-corrupt-')
    const runDir = path.join(dataDir, 'runs', 'broken-run')
    mkdirSync(runDir, { recursive: true })
    const journalFile = path.join(runDir, 'journal.json')
    const torn = '{"runId": "broken-run", "status": "runn'
    writeFileSync(journalFile, torn)
    mkdirSync(path.join(dataDir, 'experiments'))
    writeFileSync(path.join(dataDir, 'experiments', 'bad.json'), 'not json')
    const { log, lines } = capturedLogger()
    const c = await controller({ dataDir, logger: log })
    const recovery = lines.find((l) => l.msg?.startsWith('crash recovery cannot read this run journal'))
    expect(recovery).toMatchObject({ code: 'FL_ERR_STORE_CORRUPT', record: journalFile, runId: 'broken-run' })
    const runs = (await c.api('GET', '/runs')).body
    expect(runs.unreadable).toEqual([
      { id: 'broken-run', record: journalFile, code: 'FL_ERR_STORE_CORRUPT', error: expect.any(String) },
    ])
    expect(await c.api('GET', '/runs/broken-run')).toMatchObject({
      status: 503,
      body: { code: 'FL_ERR_STORE_CORRUPT', record: journalFile },
    })
    expect((await c.api('GET', '/experiments')).body.unreadable).toMatchObject([
      { id: 'bad', code: 'FL_ERR_STORE_CORRUPT' },
    ])
    await c.api('GET', '/runs')
    const storeLogs = lines.filter((l) => l.component === 'store' && l.record === journalFile)
    expect(storeLogs).toHaveLength(1)
    expect(readFileSync(journalFile, 'utf8')).toBe(torn)
    expect(existsSync(path.join(dataDir, 'experiments', 'bad.json'))).toBe(true)
  })
})

describe('a data directory that cannot be written', () => {
  it('is 503 FL_ERR_STORE_UNAVAILABLE naming the file, not a 500, and changes nothing', async () => {
    const dataDir = tmp('faultline-unwritable-')
    // Root ignores file modes, so make the experiments "directory" a plain file instead.
    writeFileSync(path.join(dataDir, 'experiments'), 'not a directory')
    const c = await controller({ dataDir })
    const w = await sidecarWorld()
    const r = await c.api('PUT', '/experiments/probe', experimentDoc(w.adminUrl, w.proxyUrl))
    expect(r.status).toBe(503)
    expect(r.body).toMatchObject({
      code: 'FL_ERR_STORE_UNAVAILABLE',
      record: path.join(dataDir, 'experiments', 'probe.json'),
    })
    expect(readFileSync(path.join(dataDir, 'experiments'), 'utf8')).toBe('not a directory')
  })
})
