import { afterEach, describe, expect, it } from 'vitest'
import { type ControllerWorld, startController, waitForRun } from '../helpers/controller.ts'
import { startWorld, type World } from '../helpers/world.ts'

let c: ControllerWorld | undefined
let world: World | undefined
afterEach(async () => {
  await c?.close()
  await world?.close()
  c = world = undefined
})

const experimentDoc = (adminUrl: string, proxyUrl: string, name = 'api-exp', duration = '1s') => ({
  apiVersion: 'faultline/v1',
  kind: 'Experiment',
  metadata: { name },
  spec: {
    targets: { app: { sidecars: [adminUrl] } },
    hypothesis: {
      title: 'the app answers',
      checks: [{ name: 'up', http: { url: `${proxyUrl}/echo/up` }, interval: '200ms' }],
    },
    method: [
      {
        name: 'slow',
        sidecarFault: {
          target: 'app',
          duration,
          rules: [{ id: 'slow', match: { path: '/echo/**' }, delay: { ms: 5 } }],
        },
      },
    ],
  },
})

const ruleIds = async (w: World) => (await w.admin('GET', '/rules')).body.rules.map((r: { id: string }) => r.id)

describe('controller API', () => {
  it('requires the token everywhere but /healthz and /openapi.json', async () => {
    c = await startController({ token: 't0k' })
    expect((await c.api('GET', '/healthz')).status).toBe(200)
    expect((await c.api('GET', '/experiments')).status).toBe(401)
    expect((await c.api('GET', '/experiments', undefined, { authorization: 'Bearer nope' })).body.code).toBe(
      'FL_ERR_UNAUTHORIZED',
    )
    expect((await c.api('GET', '/experiments', undefined, { authorization: 'Bearer t0k' })).status).toBe(200)
    const openapi = await c.api('GET', '/openapi.json')
    expect(openapi.body.openapi).toBe('3.1.0')
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining(['/experiments', '/runs/{id}/abort', '/halt', '/shaping', '/schedules']),
    )
    expect(openapi.body.components.schemas.Experiment.properties.spec).toBeDefined()
  })

  it('stores, validates, lists, replaces and deletes experiments; 4xx with field paths', async () => {
    world = await startWorld()
    c = await startController()
    const doc = experimentDoc(world.adminUrl, world.proxyUrl)
    expect((await c.api('POST', '/experiments', doc)).status).toBe(201)
    expect((await c.api('POST', '/experiments', doc)).status).toBe(409)
    const bad = structuredClone(doc) as any
    bad.spec.method[0].sidecarFault.rules[0].delay.ms = -1
    bad.metadata.name = 'Bad'
    const rejected = await c.api('POST', '/experiments', bad)
    expect(rejected.status).toBe(400)
    expect(rejected.body.errors.map((e: { path: string }) => e.path)).toEqual([
      '/metadata/name',
      '/spec/method/0/sidecarFault/rules/0/delay/ms',
    ])
    expect((await c.api('POST', '/experiments/validate', doc)).body).toEqual({ valid: true, name: 'api-exp' })
    const yaml = `apiVersion: faultline/v1\nkind: Experiment\nmetadata: { name: from-yaml }\nspec:\n  targets: { app: { sidecars: ["${world.adminUrl}"] } }\n  hypothesis: { title: t, checks: [] }\n  method: [{ wait: 10ms }]\n`
    expect((await c.api('POST', '/experiments', yaml, { 'content-type': 'application/yaml' })).status).toBe(201)
    expect((await c.api('GET', '/experiments')).body.experiments.map((x: { name: string }) => x.name)).toEqual([
      'api-exp',
      'from-yaml',
    ])
    expect((await c.api('PUT', '/experiments/other', doc)).body.errors[0].path).toBe('/metadata/name')
    expect((await c.api('DELETE', '/experiments/from-yaml')).status).toBe(200)
    expect((await c.api('GET', '/experiments/from-yaml')).status).toBe(404)
  })

  it('runs a stored experiment, serves its journal and reports, and can abort a run (reverting it)', async () => {
    world = await startWorld()
    c = await startController()
    await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl))
    const started = await c.api('POST', '/runs', { experiment: 'api-exp' })
    expect(started.status).toBe(202)
    const journal = await waitForRun(c, started.body.runId)
    expect(journal).toMatchObject({ status: 'completed', verdict: 'pass' })
    expect((await c.api('GET', `/runs/${started.body.runId}/report`)).body).toContain(
      '<span class="verdict pass" id="verdict">',
    )
    expect((await c.api('GET', `/runs/${started.body.runId}/report.md`)).body).toContain('# api-exp: PASS')
    expect((await c.api('GET', '/runs')).body.runs[0]).toMatchObject({ runId: started.body.runId, verdict: 'pass' })

    await c.api('PUT', '/experiments/api-exp', experimentDoc(world.adminUrl, world.proxyUrl, 'api-exp', '60s'))
    const long = await c.api('POST', '/runs', { experiment: 'api-exp' })
    await expect.poll(() => ruleIds(world!)).toEqual(['slow'])
    const aborted = await c.api('POST', `/runs/${long.body.runId}/abort`)
    expect(aborted.body).toMatchObject({ status: 'aborted' })
    expect(await ruleIds(world)).toEqual([])
    expect((await c.api('POST', '/runs', { experiment: 'nope' })).status).toBe(404)
  })

  it('runs an inline document with variables', async () => {
    world = await startWorld()
    c = await startController()
    const doc = experimentDoc('${ADMIN}', world.proxyUrl, 'inline')
    const started = await c.api('POST', '/runs', { document: doc, vars: { ADMIN: world.adminUrl }, dryRun: true })
    expect(started.status).toBe(202)
    expect(await waitForRun(c, started.body.runId)).toMatchObject({ status: 'completed', dryRun: true })
    expect((await c.api('POST', '/runs', { document: doc })).body.errors[0].path).toBe(
      '/document/spec/targets/app/sidecars/0',
    )
  })

  it('lists the sidecars it knows with their generation', async () => {
    world = await startWorld()
    c = await startController()
    await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl))
    expect((await c.api('GET', '/sidecars')).body.sidecars).toEqual([
      {
        adminUrl: world.adminUrl,
        reachable: true,
        generation: 0,
        rules: 0,
        usedBy: ['experiment:api-exp'],
        activeRules: [],
        stats: { windowSeconds: 10, count: 0, p95: null, errorRate: null },
      },
    ])
  })
})

describe('halt', () => {
  it('aborts every run, reverts shaping, refuses new work until lifted', async () => {
    world = await startWorld()
    c = await startController()
    await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl, 'api-exp', '60s'))
    const run = await c.api('POST', '/runs', { experiment: 'api-exp' })
    const shaped = await c.api('POST', '/shaping', {
      name: 'ci-slow',
      sidecars: [world.adminUrl],
      duration: '5m',
      rules: [{ id: 'ci', delay: { ms: 1 } }],
    })
    expect(shaped.status).toBe(201)
    await expect.poll(async () => (await ruleIds(world!)).sort()).toEqual(['ci', 'slow'])
    const halted = await c.api('POST', '/halt', { reason: 'incident 42' })
    expect(halted.body).toMatchObject({
      halted: true,
      reason: 'incident 42',
      aborted: [run.body.runId],
      reverted: [shaped.body.id],
    })
    expect(await ruleIds(world)).toEqual([])
    expect((await c.api('GET', `/runs/${run.body.runId}`)).body.status).toBe('aborted')
    const refused = await c.api('POST', '/runs', { experiment: 'api-exp' })
    expect(refused).toMatchObject({ status: 409, body: { code: 'FL_ERR_HALTED' } })
    expect(
      (
        await c.api('POST', '/shaping', {
          sidecars: [world.adminUrl],
          duration: '5s',
          rules: [{ id: 'x', delay: { ms: 1 } }],
        })
      ).status,
    ).toBe(409)
    expect((await c.api('GET', '/halt')).body).toMatchObject({ halted: true, reason: 'incident 42' })
    await c.api('DELETE', '/halt')
    expect((await c.api('POST', '/runs', { experiment: 'api-exp' })).status).toBe(202)
  })
})

describe('traffic shaping', () => {
  it('applies rules for a duration and reverts them at expiry', async () => {
    world = await startWorld()
    c = await startController()
    const bad = await c.api('POST', '/shaping', {
      sidecars: [world.adminUrl],
      duration: '5',
      rules: [{ id: 'x', delay: { ms: -1 }, ttl: '1s' }],
    })
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(['/duration'])
    const r = await c.api('POST', '/shaping', {
      name: 'brief',
      sidecars: [world.adminUrl],
      duration: '1s',
      rules: [{ id: 'brief', abort: { status: 503 } }],
    })
    expect(r.body.acknowledged[world.adminUrl]).toBe(1)
    expect(await ruleIds(world)).toEqual(['brief'])
    expect((await c.api('GET', '/shaping')).body.shaping.map((s: { id: string }) => s.id)).toEqual([r.body.id])
    await expect.poll(() => ruleIds(world!), { timeout: 5000 }).toEqual([])
    await expect.poll(async () => (await c!.api('GET', '/shaping')).body.shaping).toEqual([])
  })
})

describe('schedules', () => {
  const schedule = (extra: object = {}) => ({
    name: 'nightly',
    experiment: 'api-exp',
    cron: '0 3 * * *',
    timezone: 'Europe/Paris',
    ...extra,
  })

  it('rejects bad schedules with paths', async () => {
    world = await startWorld()
    c = await startController()
    await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl))
    const r = await c.api(
      'POST',
      '/schedules',
      schedule({ cron: 'every day', timezone: 'Mars/Olympus', experiment: 'nope', concurrencyPolicy: 'sometimes' }),
    )
    expect(r.status).toBe(400)
    expect(r.body.errors.map((e: { path: string }) => e.path)).toEqual(['/concurrencyPolicy'])
    const r2 = await c.api(
      'POST',
      '/schedules',
      schedule({ cron: 'every day', timezone: 'Mars/Olympus', experiment: 'nope' }),
    )
    expect(r2.body.errors.map((e: { path: string }) => e.path)).toEqual(['/timezone', '/cron', '/experiment'])
  })

  it('forbid skips a firing while the previous run is running, replace aborts it; history is limited', async () => {
    world = await startWorld()
    c = await startController()
    await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl, 'api-exp', '30s'))
    const created = await c.api('POST', '/schedules', schedule({ historyLimit: 3 }))
    expect(created.status).toBe(201)
    expect(Date.parse(created.body.nextRun)).toBeGreaterThan(Date.now())
    const first = await c.api('POST', '/schedules/nightly/trigger')
    expect(first.body.outcome).toBe('started')
    const second = await c.api('POST', '/schedules/nightly/trigger')
    expect(second.body).toMatchObject({
      outcome: 'skipped',
      reason: expect.stringMatching(/still running \(concurrencyPolicy forbid\)/),
    })
    await c.api('PUT', '/schedules/nightly', schedule({ historyLimit: 3, concurrencyPolicy: 'replace' }))
    const third = await c.api('POST', '/schedules/nightly/trigger')
    expect(third.body.outcome).toBe('started')
    expect((await c.api('GET', `/runs/${first.body.runId}`)).body.status).toBe('aborted')
    await c.api('POST', `/runs/${third.body.runId}/abort`)
    await c.api('POST', '/halt', { reason: 'freeze' })
    expect((await c.api('POST', '/schedules/nightly/trigger')).body).toMatchObject({
      outcome: 'skipped',
      reason: 'halted: freeze',
    })
    const history = (await c.api('GET', '/schedules/nightly')).body.history
    expect(history.map((h: { outcome: string }) => h.outcome)).toEqual(['skipped', 'started', 'skipped'])
    expect((await c.api('GET', `/runs/${third.body.runId}`)).body.schedule).toBe('nightly')
  })

  it('skips firings outside the allowed windows, in the schedule time zone', async () => {
    world = await startWorld()
    c = await startController()
    await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl))
    const today = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Tokyo', weekday: 'short' })
      .format(new Date())
      .toLowerCase()
      .slice(0, 3)
    const other = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].find((d) => d !== today)!
    await c.api(
      'POST',
      '/schedules',
      schedule({ timezone: 'Asia/Tokyo', windows: [{ days: [other], start: '00:00', end: '23:59' }] }),
    )
    expect((await c.api('POST', '/schedules/nightly/trigger')).body).toMatchObject({
      outcome: 'skipped',
      reason: 'outside the allowed windows (Asia/Tokyo)',
    })
  })

  it('fires on its cron expression', async () => {
    world = await startWorld()
    c = await startController()
    await c.api('POST', '/experiments', experimentDoc(world.adminUrl, world.proxyUrl))
    await c.api('POST', '/schedules', schedule({ cron: '* * * * * *', timezone: 'UTC' }))
    await expect
      .poll(async () => (await c!.api('GET', '/schedules/nightly')).body.history.length, { timeout: 5000 })
      .toBeGreaterThan(0)
    await c.api('DELETE', '/schedules/nightly')
  })
})
