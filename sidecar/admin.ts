/** The admin API (DESIGN §4): rules, kill switch, statistics, metrics, health. */
import net from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { parseDuration } from '../src/duration.ts'
import { bearerMatches } from '../src/auth.ts'
import { errors, httpErrorOf } from '../src/errors.ts'
import { jsonBodyParser } from '../src/json-body.ts'
import { ruleSetJsonSchema } from '../src/rules/schema.ts'
import type { StatsWindow } from '../src/stats/window.ts'
import type { RuleStore } from './rule-store.ts'

export interface AdminDeps {
  store: RuleStore
  stats: StatsWindow
  registry: Registry
  upstream: URL
  token: string | undefined
  /** Readiness also needs the rules file or fleet state (when there is one) to have loaded. */
  rulesLoaded: () => boolean
  /** Fleet mode status (connection, subscription, staleness), shown by /readyz and /stats. */
  fleet?: () => Record<string, unknown>
}

const MUTATING = new Set(['PUT', 'POST', 'DELETE', 'PATCH'])

/** Resolves true when a TCP connection to the upstream opens within the timeout. */
export function probeUpstream(upstream: URL, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: upstream.hostname, port: Number(upstream.port || 80) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

export function buildAdminApp(deps: AdminDeps): FastifyInstance {
  const { store, stats } = deps
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 })
  // Empty bodies are "no body" and nesting is capped (src/json-body.ts).
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser)

  app.addHook('onRequest', async (request) => {
    if (deps.token && MUTATING.has(request.method) && !bearerMatches(request.headers.authorization, deps.token))
      throw errors.FL_ERR_UNAUTHORIZED()
  })

  app.setErrorHandler((err, _request, reply) => {
    const { statusCode, body } = httpErrorOf(err)
    return reply.code(statusCode).send(body)
  })

  app.get('/rules', async () => ({ generation: store.generation, rules: store.list() }))
  app.put('/rules', async (request) => ({ generation: store.replace(request.body) }))
  // One rule, or { rules: [...] } to add several atomically (a rule has no "rules" field).
  app.post('/rules', async (request, reply) => {
    const body = request.body as { rules?: unknown } | null
    const generation = Array.isArray(body?.rules) ? store.addMany(body.rules) : store.add(body)
    return reply.code(201).send({ generation })
  })
  app.delete<{ Params: { id: string } }>('/rules/:id', async (request) => ({
    generation: store.remove(request.params.id),
  }))
  app.delete<{ Querystring: { source?: string } }>('/rules', async (request) => {
    const source = request.query.source
    if (!source)
      throw errors.FL_ERR_BAD_REQUEST('DELETE /rules needs ?source=S (use POST /reset to remove every rule)', {
        issues: [{ path: '/source', message: 'is required' }],
      })
    return store.removeBySource(source)
  })
  app.post('/reset', async () => ({ generation: store.reset() }))
  app.get('/schema', async () => ruleSetJsonSchema())

  app.get<{ Querystring: { window?: string; format?: string } }>('/stats', async (request) => {
    const text = request.query.window ?? '30s'
    const ms = parseDuration(text)
    const max = stats.retentionSeconds * 1000
    if (ms === undefined || ms < 1000 || ms > max)
      throw errors.FL_ERR_BAD_REQUEST(`window must be a duration from 1s to ${stats.retentionSeconds}s`, {
        issues: [
          {
            path: '/window',
            message: `must be a duration from 1s to ${stats.retentionSeconds}s, got "${text}"`,
          },
        ],
      })
    const format = request.query.format
    if (format !== undefined && format !== 'hdr' && format !== 'json')
      throw errors.FL_ERR_BAD_REQUEST('format must be json or hdr', {
        issues: [{ path: '/format', message: 'must be "json" or "hdr"' }],
      })
    const body = format === 'hdr' ? stats.encoded(ms) : stats.query(ms)
    // A stale fleet follower's figures are real, but the rules behind them may be out of date.
    return { generation: store.generation, ...body, ...(deps.fleet ? { fleet: deps.fleet() } : {}) }
  })

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.registry.contentType)
    return deps.registry.metrics()
  })
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const upstream = await probeUpstream(deps.upstream)
    const rules = deps.rulesLoaded()
    const ready = upstream && rules
    return reply.code(ready ? 200 : 503).send({
      ready,
      upstream,
      rulesLoaded: rules,
      generation: store.generation,
      ...(deps.fleet ? { fleet: deps.fleet() } : {}),
    })
  })
  return app
}
