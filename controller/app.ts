/**
 * buildController(opts): the long-running controller. REST API (fastify) over a store (files by
 * default), with runs, a halt switch, traffic shaping, schedules, and crash recovery at start.
 * Not listening until start(); close() stops schedules and timers and waits for nothing else
 * (running runs are aborted and reverted first).
 */
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { parse as parseYaml } from 'yaml'
import { bearerMatches } from '../src/auth.ts'
import type { HostPort } from '../src/config.ts'
import { errors, type FaultlineError, httpErrorOf, isFaultlineError } from '../src/errors.ts'
import type { ExperimentDoc } from '../src/experiments/schema.ts'
import { validateExperiment } from '../src/experiments/schema.ts'
import { assertJsonDepth, parseJsonBody } from '../src/json-body.ts'
import { createLogger, type Logger } from '../src/log.ts'
import { assertName } from '../src/names.ts'
import { renderHtml, renderMarkdown } from './experiments/report.ts'
import { BODIES, type CheckedExperiment, checkExperiment, type RunRequest } from './api/bodies.ts'
import { openApiDocument } from './api/openapi.ts'
import { operationOf, paramsOf } from './api/routes.ts'
import type { Cluster } from './drivers/kubernetes/cluster.ts'
import type { FleetBus } from './bus/fleet.ts'
import { RunManager } from './runs.ts'
import { type ScheduleBody, Scheduler } from './scheduler.ts'
import { ShapingManager, type ShapingSpec } from './shaping.ts'
import { SidecarClient } from './sidecar-client.ts'
import { FileStore } from './store/files.ts'
import type { Store, Unreadable } from './store/types.ts'

export interface ControllerOptions {
  dataDir: string
  listen?: HostPort
  token?: string
  logger?: Logger
  /** A store other than the file store (Redis). */
  store?: Store
  /** Fleet mode: rule delivery to `service` targets through Redis. */
  fleet?: FleetBus
  ttlMarginMs?: number
  /** The cluster for Kubernetes targets and for reverting a crashed run's Kubernetes faults. */
  cluster?: () => Cluster
  /** The controller's own namespace, protected like kube-system. */
  ownNamespace?: string
}

export interface Controller {
  app: FastifyInstance
  store: Store
  runs: RunManager
  shaping: ShapingManager
  scheduler: Scheduler
  /** Crash recovery, shaping resume, schedules, then listen; resolves to the base URL. */
  start(): Promise<string>
  close(): Promise<void>
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml']

/** YAML bodies get the same treatment as JSON ones: empty is no body, and a nesting cap. */
function yamlBodyParser(
  _req: unknown,
  body: string | Buffer,
  done: (err: Error | null, value?: unknown) => void,
): void {
  const text = typeof body === 'string' ? body : body.toString('utf8')
  let value: unknown
  try {
    value = text.trim() === '' ? undefined : assertJsonDepth(parseYaml(text))
  } catch (err) {
    if (isFaultlineError(err)) return done(err)
    const message = `body is not YAML: ${(err as Error).message}`
    return done(errors.FL_ERR_BAD_REQUEST(message, { cause: err, issues: [{ path: '', message }] }))
  }
  done(null, value)
}

export function buildController(opts: ControllerOptions): Controller {
  const log = opts.logger ?? createLogger({ name: 'faultline-controller' })
  const store = opts.store ?? new FileStore(opts.dataDir, { log })
  const runs = new RunManager({
    store,
    dataDir: opts.dataDir,
    log,
    ttlMarginMs: opts.ttlMarginMs,
    fleet: opts.fleet,
    cluster: opts.cluster,
    ownNamespace: opts.ownNamespace,
  })
  const shaping = new ShapingManager({ store, log, fleet: opts.fleet })
  const scheduler = new Scheduler({ store, runs, log })
  const apiLog = log.child({ component: 'api' })
  // Long parameters reach the name check (and its FL_ERR_NAME_INVALID) instead of the router's bare 414.
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024, routerOptions: { maxParamLength: 2048 } })

  // One JSON parser for both services: an empty body is no body, and nesting is capped.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    let value: unknown
    try {
      value = parseJsonBody(body as string)
    } catch (err) {
      done(err as Error)
      return
    }
    done(null, value)
  })
  for (const type of YAML_TYPES) app.addContentTypeParser(type, { parseAs: 'string' }, yamlBodyParser)

  // Every route is in the operation table (routes.ts), so none is undocumented or unchecked.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      if (method !== 'HEAD' && !operationOf(method, route.url))
        throw new Error(`${method} ${route.url} is not declared in controller/api/routes.ts`)
  })

  /** The operation a request reached (HEAD is answered by the GET route), or undefined for a 404. */
  const operation = (method: string, url: string | undefined) =>
    url === undefined ? undefined : operationOf(method === 'HEAD' ? 'GET' : method, url)

  app.addHook('onRequest', async (request) => {
    if (
      opts.token &&
      !operation(request.method, request.routeOptions.url)?.op.open &&
      !bearerMatches(request.headers.authorization, opts.token)
    )
      throw errors.FL_ERR_UNAUTHORIZED()
  })
  // Before any handler (and so before any store call): names from the URL, then the body.
  app.addHook('preValidation', async (request) => {
    const found = operation(request.method, request.routeOptions.url)
    if (!found) return
    const params = request.params as Record<string, string | undefined>
    for (const p of paramsOf(found.path)) assertName(params[p], `/params/${p}`, `parameter ${p}`)
    const { op } = found
    if (!op.body) return
    if (request.body === undefined) {
      if (op.optionalBody) return
      throw errors.FL_ERR_BAD_REQUEST('this call needs a body', {
        issues: [{ path: '', message: `needs a ${op.body} body (see /openapi.json)` }],
      })
    }
    request.body = BODIES[op.body].parse(request.body)
  })
  app.setNotFoundHandler((request, reply) => {
    const err = errors.FL_ERR_NOT_FOUND(`no route ${request.method} ${request.url.split('?')[0]} (see /openapi.json)`)
    return reply.code(err.statusCode).send(err.toJSON())
  })
  app.setErrorHandler((err, _request, reply) => {
    const { statusCode, body } = httpErrorOf(err)
    if (statusCode === 500) apiLog.error({ err }, 'request failed: a bug in faultline')
    else if (statusCode >= 500) apiLog.warn({ code: body.code, err: body.error }, 'request failed')
    return reply.code(statusCode).send(body)
  })

  app.get('/healthz', async () => ({ status: 'ok', store: store.kind }))
  app.get('/openapi.json', async () => openApiDocument())

  // ── experiments ──────────────────────────────────────────────────────────────
  app.get('/experiments', async () => {
    const { items, unreadable } = await store.listExperiments()
    return {
      experiments: items.map((raw) => {
        const r = validateExperiment(raw)
        if (!r.ok) return { name: raw.metadata.name, valid: false }
        const x = r.experiment
        return {
          name: x.metadata.name,
          valid: true,
          title: x.spec.hypothesis.title,
          targets: Object.keys(x.spec.targets),
          steps: x.spec.method.length,
          checks: x.spec.hypothesis.checks.length,
        }
      }),
      unreadable,
    }
  })
  app.post('/experiments/validate', async (request) => {
    const { experiment } = request.body as CheckedExperiment
    return { valid: true, name: experiment.metadata.name }
  })
  app.post('/experiments', async (request, reply) => {
    const { raw, experiment } = request.body as CheckedExperiment
    const name = experiment.metadata.name
    if (await store.getExperiment(name))
      throw errors.FL_ERR_CONFLICT(`experiment ${name}`, {
        issues: [{ path: '/metadata/name', message: 'exists already (PUT to replace)' }],
      })
    await store.putExperiment(raw)
    return reply.code(201).send({ name })
  })
  app.put<{ Params: { name: string } }>('/experiments/:name', async (request) => {
    const { raw, experiment } = request.body as CheckedExperiment
    if (experiment.metadata.name !== request.params.name)
      throw errors.FL_ERR_BAD_REQUEST('name mismatch', {
        issues: [{ path: '/metadata/name', message: `must be "${request.params.name}" (the URL)` }],
      })
    await store.putExperiment(raw)
    return { name: experiment.metadata.name }
  })
  app.get<{ Params: { name: string } }>('/experiments/:name', async (request) => {
    const x = await store.getExperiment(request.params.name)
    if (!x) throw errors.FL_ERR_NOT_FOUND(`experiment ${request.params.name}`)
    return x
  })
  app.delete<{ Params: { name: string } }>('/experiments/:name', async (request) => {
    if (!(await store.deleteExperiment(request.params.name)))
      throw errors.FL_ERR_NOT_FOUND(`experiment ${request.params.name}`)
    return { deleted: request.params.name }
  })

  // ── runs ─────────────────────────────────────────────────────────────────────
  app.post('/runs', async (request, reply) => {
    const body = request.body as RunRequest
    let x: ExperimentDoc
    if (body.experiment !== undefined) {
      const stored = await store.getExperiment(body.experiment)
      if (!stored)
        throw errors.FL_ERR_NOT_FOUND(`experiment ${body.experiment}`, {
          issues: [{ path: '/experiment', message: 'no such stored experiment' }],
        })
      x = checkExperiment(stored).experiment
    } else x = checkExperiment(body.document, { ...process.env, ...body.vars }, '/document').experiment
    const { runId } = await runs.start(x, { dryRun: body.dryRun === true })
    return reply.code(202).send({ runId, status: 'running' })
  })
  app.get('/runs', async () => {
    const { items, unreadable } = await store.listRuns()
    return { active: runs.active(), runs: items, unreadable }
  })
  const journalOf = async (id: string) => {
    const j = await store.getJournal(id)
    if (!j) throw errors.FL_ERR_NOT_FOUND(`run ${id}`)
    return j
  }
  app.get<{ Params: { id: string } }>('/runs/:id', async (request) => journalOf(request.params.id))
  app.get<{ Params: { id: string } }>('/runs/:id/report', async (request, reply) =>
    reply.type('text/html; charset=utf-8').send(renderHtml(await journalOf(request.params.id))),
  )
  app.get<{ Params: { id: string } }>('/runs/:id/report.md', async (request, reply) =>
    reply.type('text/markdown; charset=utf-8').send(renderMarkdown(await journalOf(request.params.id))),
  )
  app.post<{ Params: { id: string } }>('/runs/:id/abort', async (request) => {
    const r = await runs.abort(request.params.id)
    if (!r) {
      const j = await journalOf(request.params.id)
      return { runId: j.runId, status: j.status, verdict: j.verdict, note: 'was not running' }
    }
    return { runId: r.runId, status: r.status, verdict: r.verdict, reason: r.reason }
  })

  // ── sidecars ─────────────────────────────────────────────────────────────────
  app.get('/sidecars', async () => {
    const known = new Map<string, { token?: string; usedBy: Set<string> }>()
    const note = (url: string, by: string, token?: string) => {
      const e = known.get(url) ?? { token, usedBy: new Set<string>() }
      e.usedBy.add(by)
      known.set(url, e)
    }
    const experiments = await store.listExperiments()
    for (const raw of experiments.items) {
      const r = validateExperiment(raw)
      if (!r.ok) continue
      for (const t of Object.values(r.experiment.spec.targets))
        for (const u of t.sidecars ?? []) note(u, `experiment:${raw.metadata.name}`, t.adminToken)
    }
    const active = await shaping.active()
    for (const s of active.items) for (const u of s.sidecars) note(u, `shaping:${s.id}`, s.adminToken)
    for (const service of (await opts.fleet?.services()) ?? [])
      for (const i of await opts.fleet!.instances(service)) note(i.adminUrl, `service:${service}`)
    const sidecars = await Promise.all(
      [...known].map(async ([url, e]) => {
        try {
          const rules = await new SidecarClient(url, e.token).rules()
          return {
            adminUrl: url,
            reachable: true,
            generation: rules.generation,
            rules: rules.rules.length,
            usedBy: [...e.usedBy],
          }
        } catch (err) {
          // Listed, not thrown: one bad sidecar must not hide the others.
          const f = err as FaultlineError
          return {
            adminUrl: url,
            reachable: f.code !== errors.FL_ERR_SIDECAR_UNREACHABLE.code,
            usedBy: [...e.usedBy],
            error: f.toJSON?.() ?? { code: errors.FL_ERR_INTERNAL.code, error: f.message },
          }
        }
      }),
    )
    return { sidecars, unreadable: [...experiments.unreadable, ...active.unreadable] }
  })

  // ── halt ─────────────────────────────────────────────────────────────────────
  app.get('/halt', async () => {
    const h = await store.getHalt()
    return h ? { halted: true, ...h } : { halted: false }
  })
  app.post('/halt', async (request) => {
    const reason = (request.body as { reason?: string } | undefined)?.reason ?? 'halted by an operator'
    // Refuse new work first, then stop what is running.
    await store.setHalt({ reason, since: Date.now() })
    const [aborted, reverted] = await Promise.all([runs.abortAll(), shaping.revertAll()])
    apiLog.warn({ reason, aborted, reverted }, 'HALT: every run aborted and reverted, new runs refused')
    return { halted: true, reason, aborted, reverted }
  })
  app.delete('/halt', async () => {
    await store.setHalt(undefined)
    apiLog.warn('halt lifted')
    return { halted: false }
  })

  // ── traffic shaping ──────────────────────────────────────────────────────────
  app.post('/shaping', async (request, reply) => reply.code(201).send(await shaping.apply(request.body as ShapingSpec)))
  app.get('/shaping', async () => {
    const { items, unreadable } = await shaping.active()
    return { shaping: items, unreadable }
  })
  app.delete<{ Params: { id: string } }>('/shaping/:id', async (request) => {
    const r = await shaping.revert(request.params.id)
    if (!r) throw errors.FL_ERR_NOT_FOUND(`shaping ${request.params.id}`)
    return r
  })

  // ── schedules ────────────────────────────────────────────────────────────────
  const scheduleView = async (name: string) => {
    const s = await store.getSchedule(name)
    if (!s) throw errors.FL_ERR_NOT_FOUND(`schedule ${name}`)
    return { ...s, nextRun: scheduler.nextRun(name), history: await store.scheduleHistory(name) }
  }
  app.post('/schedules', async (request, reply) => {
    const s = await scheduler.validate(request.body as ScheduleBody)
    if (await store.getSchedule(s.name))
      throw errors.FL_ERR_CONFLICT(`schedule ${s.name}`, {
        issues: [{ path: '/name', message: 'exists already (PUT to replace)' }],
      })
    await scheduler.put(s)
    return reply.code(201).send(await scheduleView(s.name))
  })
  app.put<{ Params: { name: string } }>('/schedules/:name', async (request) => {
    const s = await scheduler.validate(request.body as ScheduleBody)
    if (s.name !== request.params.name)
      throw errors.FL_ERR_BAD_REQUEST('name mismatch', {
        issues: [{ path: '/name', message: `must be "${request.params.name}" (the URL)` }],
      })
    await scheduler.put(s)
    return scheduleView(s.name)
  })
  app.get('/schedules', async () => {
    const { items, unreadable } = await store.listSchedules()
    const schedules = []
    const broken: Unreadable[] = [...unreadable]
    for (const s of items) {
      try {
        schedules.push(await scheduleView(s.name))
      } catch (err) {
        // A schedule whose history cannot be read is listed as unreadable, not dropped.
        const f = err as FaultlineError
        if (f.code !== errors.FL_ERR_STORE_CORRUPT.code) throw err
        broken.push({ id: s.name, record: String(f.details?.record), code: f.code, error: f.message })
      }
    }
    return { schedules, unreadable: broken }
  })
  app.get<{ Params: { name: string } }>('/schedules/:name', async (request) => scheduleView(request.params.name))
  app.delete<{ Params: { name: string } }>('/schedules/:name', async (request) => {
    if (!(await scheduler.delete(request.params.name))) throw errors.FL_ERR_NOT_FOUND(`schedule ${request.params.name}`)
    return { deleted: request.params.name }
  })
  app.post<{ Params: { name: string } }>('/schedules/:name/trigger', async (request) =>
    scheduler.fire(request.params.name),
  )

  let closing: Promise<void> | undefined
  return {
    app,
    store,
    runs,
    shaping,
    scheduler,
    async start() {
      const recovered = await runs.recoverCrashed()
      if (recovered.length) log.warn({ recovered }, 'crash recovery: runs left running by a previous controller')
      await shaping.resume()
      await scheduler.start()
      const url = await app.listen(opts.listen ?? { host: '127.0.0.1', port: 8490 })
      log.info(
        { url, dataDir: path.resolve(opts.dataDir), store: store.kind, auth: opts.token ? 'bearer' : 'none' },
        'controller listening',
      )
      return url
    },
    close() {
      closing ??= (async () => {
        scheduler.close()
        await runs.abortAll()
        shaping.close()
        await app.close()
        await store.close()
        await opts.fleet?.close()
      })()
      return closing
    },
  }
}
