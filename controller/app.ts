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
import { errors, httpErrorOf, isFaultlineError } from '../src/errors.ts'
import { assertJsonDepth, parseJsonBody } from '../src/json-body.ts'
import { createLogger, type Logger } from '../src/log.ts'
import { assertName } from '../src/names.ts'
import { BODIES } from './api/bodies.ts'
import { controllerHandlers } from './api/handlers.ts'
import { registerOperations } from './api/register.ts'
import { operationOf, paramsOf, YAML_TYPES } from './api/routes.ts'
import type { Cluster } from './drivers/kubernetes/cluster.ts'
import type { FleetBus } from './bus/fleet.ts'
import { EventHub } from './events.ts'
import { createControllerMetrics } from './metrics.ts'
import { RunManager } from './runs.ts'
import { Scheduler } from './scheduler.ts'
import { ShapingManager } from './shaping.ts'
import { FileStore } from './store/files.ts'
import type { Store } from './store/types.ts'

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
  /** Event streams: heartbeat interval (default 15 s) and cap on open streams (default 64). */
  events?: { heartbeatMs?: number; maxSubscribers?: number }
}

export interface Controller {
  app: FastifyInstance
  store: Store
  runs: RunManager
  shaping: ShapingManager
  scheduler: Scheduler
  events: EventHub
  /** Crash recovery, shaping resume, schedules, then listen; resolves to the base URL. */
  start(): Promise<string>
  close(): Promise<void>
}

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
  const metrics = createControllerMetrics({ store, runs, scheduler, log })
  const events = new EventHub({
    store,
    log,
    liveJournal: (runId) => runs.liveJournals().find((j) => j.runId === runId),
    ...opts.events,
  })
  runs.observe(events)
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
    for (const p of paramsOf(found.op.path))
      if (!(found.op.emptyParamIsIndex && params[p] === '')) assertName(params[p], `/params/${p}`, `parameter ${p}`)
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

  // Every route comes from the operation table, which the OpenAPI document is generated from.
  registerOperations(
    app,
    controllerHandlers({
      store,
      runs,
      shaping,
      scheduler,
      fleet: opts.fleet,
      log: apiLog,
      metricsText: metrics.text,
      events,
    }),
  )

  let closing: Promise<void> | undefined
  return {
    app,
    store,
    runs,
    shaping,
    scheduler,
    events,
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
        events.close()
        await app.close()
        await store.close()
        await opts.fleet?.close()
      })()
      return closing
    },
  }
}
