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
import { errors, httpErrorOf } from '../src/errors.ts'
import { substitute } from '../src/experiments/document.ts'
import { type ExperimentDoc, validateExperiment } from '../src/experiments/schema.ts'
import { createLogger, type Logger } from '../src/log.ts'
import { renderHtml, renderMarkdown } from './experiments/report.ts'
import { openApiDocument } from './api/openapi.ts'
import type { FleetBus } from './bus/fleet.ts'
import { RunManager } from './runs.ts'
import { Scheduler } from './scheduler.ts'
import { ShapingManager } from './shaping.ts'
import { SidecarClient } from './sidecar-client.ts'
import { FileStore } from './store/files.ts'
import type { Store, StoredExperiment } from './store/types.ts'

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

const OPEN_PATHS = new Set(['/healthz', '/openapi.json'])

/**
 * Experiments stored by the API are concrete: ${VARS} resolve from the controller's environment
 * (or a run request's vars). Returns the document as written, for storage, and the checked form.
 */
function checkExperiment(
  body: unknown,
  vars: Record<string, string | undefined> = process.env,
): { raw: StoredExperiment; experiment: ExperimentDoc } {
  const issues: { path: string; message: string }[] = []
  const raw = substitute(body, vars, issues) as StoredExperiment
  const r = validateExperiment(raw)
  if (!r.ok) issues.push(...r.issues)
  if (issues.length || !r.ok) throw errors.FL_ERR_EXPERIMENT_INVALID(`${issues.length} problem(s)`, { issues })
  return { raw, experiment: r.experiment }
}

export function buildController(opts: ControllerOptions): Controller {
  const log = opts.logger ?? createLogger({ name: 'faultline-controller' })
  const store = opts.store ?? new FileStore(opts.dataDir)
  const runs = new RunManager({ store, dataDir: opts.dataDir, log, ttlMarginMs: opts.ttlMarginMs, fleet: opts.fleet })
  const shaping = new ShapingManager({ store, log, fleet: opts.fleet })
  const scheduler = new Scheduler({ store, runs, log })
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 })

  for (const type of ['application/yaml', 'application/x-yaml', 'text/yaml'])
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseYaml(body as string))
      } catch (err) {
        done(errors.FL_ERR_BAD_REQUEST(`body is not YAML: ${(err as Error).message}`, { cause: err }), undefined)
      }
    })

  app.addHook('onRequest', async (request) => {
    if (
      opts.token &&
      !OPEN_PATHS.has(request.url.split('?')[0]!) &&
      !bearerMatches(request.headers.authorization, opts.token)
    )
      throw errors.FL_ERR_UNAUTHORIZED()
  })
  app.setErrorHandler((err, _request, reply) => {
    const { statusCode, body } = httpErrorOf(err)
    if (statusCode >= 500) log.error({ err }, 'request failed')
    return reply.code(statusCode).send(body)
  })

  app.get('/healthz', async () => ({ status: 'ok', store: store.kind }))
  app.get('/openapi.json', async () => openApiDocument())

  // ── experiments ──────────────────────────────────────────────────────────────
  app.get('/experiments', async () => ({
    experiments: (await store.listExperiments()).map((raw) => {
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
  }))
  app.post('/experiments/validate', async (request) => {
    const { experiment } = checkExperiment(request.body)
    return { valid: true, name: experiment.metadata.name }
  })
  app.post('/experiments', async (request, reply) => {
    const { raw, experiment } = checkExperiment(request.body)
    const name = experiment.metadata.name
    if (await store.getExperiment(name))
      throw errors.FL_ERR_CONFLICT(`experiment ${name}`, {
        issues: [{ path: '/metadata/name', message: 'exists already (PUT to replace)' }],
      })
    await store.putExperiment(raw)
    return reply.code(201).send({ name })
  })
  app.put<{ Params: { name: string } }>('/experiments/:name', async (request) => {
    const { raw, experiment } = checkExperiment(request.body)
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
  app.post<{ Body: { experiment?: string; document?: unknown; vars?: Record<string, string>; dryRun?: boolean } }>(
    '/runs',
    async (request, reply) => {
      const body = request.body ?? {}
      let x: ExperimentDoc
      if (typeof body.experiment === 'string') {
        const stored = await store.getExperiment(body.experiment)
        if (!stored)
          throw errors.FL_ERR_NOT_FOUND(`experiment ${body.experiment}`, {
            issues: [{ path: '/experiment', message: 'no such stored experiment' }],
          })
        x = checkExperiment(stored).experiment
      } else if (body.document !== undefined)
        x = checkExperiment(body.document, { ...process.env, ...body.vars }).experiment
      else
        throw errors.FL_ERR_BAD_REQUEST('give "experiment" (a stored name) or "document"', {
          issues: [{ path: '', message: 'needs "experiment" or "document"' }],
        })
      const { runId } = await runs.start(x, { dryRun: body.dryRun === true })
      return reply.code(202).send({ runId, status: 'running' })
    },
  )
  app.get('/runs', async () => ({ active: runs.active(), runs: await store.listRuns() }))
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
    for (const raw of await store.listExperiments()) {
      const r = validateExperiment(raw)
      if (!r.ok) continue
      for (const t of Object.values(r.experiment.spec.targets))
        for (const u of t.sidecars ?? []) note(u, `experiment:${raw.metadata.name}`, t.adminToken)
    }
    for (const s of await shaping.active()) for (const u of s.sidecars) note(u, `shaping:${s.id}`, s.adminToken)
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
        } catch {
          return { adminUrl: url, reachable: false, usedBy: [...e.usedBy] }
        }
      }),
    )
    return { sidecars }
  })

  // ── halt ─────────────────────────────────────────────────────────────────────
  app.get('/halt', async () => {
    const h = await store.getHalt()
    return h ? { halted: true, ...h } : { halted: false }
  })
  app.post<{ Body: { reason?: string } | undefined }>('/halt', async (request) => {
    const reason = request.body?.reason ?? 'halted by an operator'
    // Refuse new work first, then stop what is running.
    await store.setHalt({ reason, since: Date.now() })
    const [aborted, reverted] = await Promise.all([runs.abortAll(), shaping.revertAll()])
    log.warn({ reason, aborted, reverted }, 'HALT: every run aborted and reverted, new runs refused')
    return { halted: true, reason, aborted, reverted }
  })
  app.delete('/halt', async () => {
    await store.setHalt(undefined)
    log.warn('halt lifted')
    return { halted: false }
  })

  // ── traffic shaping ──────────────────────────────────────────────────────────
  app.post('/shaping', async (request, reply) => reply.code(201).send(await shaping.apply(request.body)))
  app.get('/shaping', async () => ({ shaping: await shaping.active() }))
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
    const s = await scheduler.validate(request.body)
    if (await store.getSchedule(s.name))
      throw errors.FL_ERR_CONFLICT(`schedule ${s.name}`, {
        issues: [{ path: '/name', message: 'exists already (PUT to replace)' }],
      })
    await scheduler.put(s)
    return reply.code(201).send(await scheduleView(s.name))
  })
  app.put<{ Params: { name: string } }>('/schedules/:name', async (request) => {
    const s = await scheduler.validate(request.body)
    if (s.name !== request.params.name)
      throw errors.FL_ERR_BAD_REQUEST('name mismatch', {
        issues: [{ path: '/name', message: `must be "${request.params.name}" (the URL)` }],
      })
    await scheduler.put(s)
    return scheduleView(s.name)
  })
  app.get('/schedules', async () => ({
    schedules: await Promise.all((await store.listSchedules()).map((s) => scheduleView(s.name))),
  }))
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
      if (recovered.length) log.warn({ recovered }, 'recovered runs left running by a previous controller')
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
