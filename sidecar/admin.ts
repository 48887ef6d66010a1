/**
 * The admin API (DESIGN §4): rules, kill switch, statistics, metrics, health, and its own OpenAPI
 * description. The routes are the operation table of admin-routes.ts, each with its handler here.
 */
import http from 'node:http'
import net from 'node:net'
import type { MetricsRegistry } from '../src/metrics-registry.ts'
import { parseDuration } from '../src/duration.ts'
import { bearerMatches } from '../src/auth.ts'
import { errors, httpErrorOf } from '../src/errors.ts'
import { parseJsonBody } from '../src/json-body.ts'
import { ruleSetJsonSchema } from '../src/rules/schema.ts'
import type { StatsWindow } from '../src/stats/window.ts'
import { ADMIN_OPERATIONS, type AdminOperationId, colonPath, MUTATING } from './admin-routes.ts'
import { type HttpListener, httpListener } from './listener.ts'
import type { RuleStore } from './rule-store.ts'

export interface AdminDeps {
  store: RuleStore
  stats: StatsWindow
  registry: MetricsRegistry
  upstream: URL
  token: string | undefined
  /**
   * With no token: refuse every change (401) rather than take it from anyone. An injected sidecar
   * whose namespace lacks the token Secret starts like this (fail-open for traffic, closed for
   * changes); reads, health and /metrics stay open as they are with a token.
   */
  tokenRequired?: boolean
  /** Readiness also needs the rules file or fleet state (when there is one) to have loaded. */
  rulesLoaded: () => boolean
  /** Fleet mode status (connection, subscription, staleness), shown by /readyz and /stats. */
  fleet?: () => Record<string, unknown>
}

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

/** The refusal of a change when --admin-token-required is set and no token was given. */
export const ADMIN_TOKEN_MISSING = () =>
  errors.FL_ERR_UNAUTHORIZED(
    'this sidecar requires an admin token (--admin-token-required) and started without one (FAULTLINE_ADMIN_TOKEN empty): it refuses every change',
    { details: { reason: 'admin-token-missing' } },
  )

/** Larger bodies are refused (413) before they are read whole. */
const BODY_LIMIT = 16 * 1024 * 1024

/** What a route handler gets: the parsed pieces of one admin request. */
interface AdminRequest {
  method: string
  params: Record<string, string>
  query: URLSearchParams
  body: unknown
  headers: http.IncomingHttpHeaders
}

/** A handler's answer: a JSON body, or raw text with its content type, and a status. */
type Answer = { status?: number; json: unknown } | { status?: number; text: string; type: string }
type Handler = (r: AdminRequest) => Answer | Promise<Answer>

/** Reads a JSON body (empty is none), refusing more than BODY_LIMIT bytes. */
function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > BODY_LIMIT) {
        // Answer 413 and close: the rest is read and dropped (destroying the socket here would
        // cut the answer too), and the connection ends with the answer (shouldKeepAlive).
        req.removeAllListeners('data')
        req.resume()
        chunks.length = 0
        const message = `body is larger than ${BODY_LIMIT} bytes`
        reject(
          Object.assign(errors.FL_ERR_BAD_REQUEST(message, { issues: [{ path: '', message }] }), { statusCode: 413 }),
        )
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      const type = req.headers['content-type'] ?? ''
      const text = Buffer.concat(chunks).toString('utf8')
      if (text.trim() !== '' && !/^application\/(.+\+)?json\b/i.test(type)) {
        const message = `content-type must be application/json, got "${type || 'none'}"`
        reject(
          Object.assign(errors.FL_ERR_BAD_REQUEST(message, { issues: [{ path: '', message }] }), { statusCode: 415 }),
        )
        return
      }
      try {
        resolve(parseJsonBody(text))
      } catch (err) {
        reject(err)
      }
    })
    req.on('error', reject)
  })
}

/**
 * A route table small enough to read at a glance: method + path pattern (`:name` segments)
 * to handler. Anything else is a 404 with the project's error body.
 */
class Routes {
  readonly #routes: { method: string; parts: string[]; handler: Handler }[] = []

  add(method: string, pattern: string, handler: Handler): void {
    this.#routes.push({ method, parts: pattern.split('/'), handler })
  }

  find(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    const parts = path.split('/')
    for (const r of this.#routes) {
      if (r.method !== method || r.parts.length !== parts.length) continue
      const params: Record<string, string> = {}
      const ok = r.parts.every((p, i) => {
        if (p.startsWith(':')) return (params[p.slice(1)] = decodeURIComponent(parts[i]!)) !== ''
        return p === parts[i]
      })
      if (ok) return { handler: r.handler, params }
    }
    return undefined
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

export function buildAdminApp(deps: AdminDeps): HttpListener {
  const { store, stats } = deps
  const routes = new Routes()
  const json = (value: unknown, status = 200): Answer => ({ status, json: value })

  const handlers: { [Id in AdminOperationId]: Handler } = {
    listRules: () => json({ generation: store.generation, rules: store.list() }),
    replaceRules: (r) => json({ generation: store.replace(r.body) }),
    // One rule, or { rules: [...] } to add several atomically (a rule has no "rules" field).
    addRules: (r) => {
      const body = r.body as { rules?: unknown } | null | undefined
      const generation = Array.isArray(body?.rules) ? store.addMany(body.rules) : store.add(body)
      return json({ generation }, 201)
    },
    deleteRule: (r) => json({ generation: store.remove(r.params.id!) }),
    deleteRulesBySource: (r) => {
      const source = r.query.get('source')
      if (!source)
        throw errors.FL_ERR_BAD_REQUEST('DELETE /rules needs ?source=S (use POST /reset to remove every rule)', {
          issues: [{ path: '/source', message: 'is required' }],
        })
      return json(store.removeBySource(source))
    },
    reset: () => json({ generation: store.reset() }),
    getRuleSchema: () => json(ruleSetJsonSchema()),
    getStats: (r) => {
      const text = r.query.get('window') ?? '30s'
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
      const format = r.query.get('format') ?? undefined
      if (format !== undefined && format !== 'hdr' && format !== 'json')
        throw errors.FL_ERR_BAD_REQUEST('format must be json or hdr', {
          issues: [{ path: '/format', message: 'must be "json" or "hdr"' }],
        })
      const body = format === 'hdr' ? stats.encoded(ms) : stats.query(ms)
      // A stale fleet follower's figures are real, but the rules behind them may be out of date.
      return json({ generation: store.generation, ...body, ...(deps.fleet ? { fleet: deps.fleet() } : {}) })
    },
    getMetrics: async () => ({ text: await deps.registry.metrics(), type: deps.registry.contentType }),
    getHealth: () => json({ status: 'ok' }),
    getReadiness: async () => {
      const upstream = await probeUpstream(deps.upstream)
      const rules = deps.rulesLoaded()
      const ready = upstream && rules
      return json(
        {
          ready,
          upstream,
          rulesLoaded: rules,
          generation: store.generation,
          ...(deps.fleet ? { fleet: deps.fleet() } : {}),
        },
        ready ? 200 : 503,
      )
    },
    // Imported on first use: most injected sidecars are never asked for it.
    getOpenApi: async () => json((await import('./admin-openapi.ts')).adminOpenApiDocument()),
  }
  // Every route comes from the operation table the OpenAPI document is generated from.
  for (const [id, op] of Object.entries(ADMIN_OPERATIONS))
    routes.add(op.method.toUpperCase(), colonPath(op.path), handlers[id as AdminOperationId])

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const url = new URL(req.url ?? '/', 'http://admin')
    if (MUTATING.has(method)) {
      if (deps.token) {
        if (!bearerMatches(req.headers.authorization, deps.token)) throw errors.FL_ERR_UNAUTHORIZED()
      } else if (deps.tokenRequired) throw ADMIN_TOKEN_MISSING()
    }
    const route = routes.find(method, url.pathname)
    if (!route) throw errors.FL_ERR_NOT_FOUND(`${method} ${url.pathname}`)
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req)
    const answer = await route.handler({
      method,
      params: route.params,
      query: url.searchParams,
      body,
      headers: req.headers,
    })
    if ('json' in answer)
      send(res, answer.status ?? 200, 'application/json; charset=utf-8', JSON.stringify(answer.json))
    else send(res, answer.status ?? 200, answer.type, answer.text)
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const { statusCode, body } = httpErrorOf(err)
      if (res.headersSent) res.destroy()
      else {
        if (statusCode === 413) res.shouldKeepAlive = false
        send(res, statusCode, 'application/json; charset=utf-8', JSON.stringify(body))
      }
    })
  })
  return httpListener(server)
}
