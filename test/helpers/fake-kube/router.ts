/**
 * HTTP routing with the API server's paths:
 *   /version, /healthz, /livez, /readyz, /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>,
 *   /openapi/v3 and its group-version documents (see openapi.ts; /openapi/v2 is a 404),
 *   /api/v1/<plural>[/<name>[/<sub>]]                       cluster-scoped, or all namespaces (GET)
 *   /api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]       namespaced
 *   /apis/<g>/<v>/… the same for groups.
 * GET lists (Table when asked), gets and watches; POST creates (and evicts); PUT replaces; PATCH
 * patches; DELETE deletes one object or a collection. Query parameters: labelSelector,
 * fieldSelector, watch, resourceVersion, timeoutSeconds, allowWatchBookmarks,
 * sendInitialEvents, dryRun=All, gracePeriodSeconds, propagationPolicy, includeObject; limit and
 * continue are accepted and ignored (every list is one page). Errors are Status bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Api, DeleteOptions } from './api.ts'
import { KubeError, badRequest, internalError, methodNotAllowed, pathNotFound, unauthorized } from './errors.ts'
import { openapiV3Index, openapiV3Path } from './openapi.ts'
import {
  type ResourceDef,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersionOf,
  apiVersions,
  findResource,
} from './resources.ts'
import type { KubeObject } from './store.ts'
import { toTable, wantsTable } from './table.ts'
import type { Watches } from './watch.ts'

export interface RequestRecord {
  method: string
  path: string
  query: Record<string, string>
  contentType: string | undefined
  accept: string | undefined
  body: unknown
  status: number
}

export interface InjectedFailure {
  method?: string
  /** Substring of, or pattern for, the request path. */
  path?: string | RegExp
  /** How many requests fail (default 1). */
  times?: number
  code: number
  reason?: string
  message?: string
}

export interface RouterOptions {
  token: string | undefined
  bookmarkIntervalMs: number
  serverAddress: () => string
  version: Record<string, string>
  requests: RequestRecord[]
  failures: InjectedFailure[]
}

interface Route {
  resource: ResourceDef
  namespace: string | undefined
  name: string | undefined
  sub: string | undefined
}

function parseResourcePath(segments: string[]): Route | undefined {
  let group: string
  let version: string
  let rest: string[]
  if (segments[0] === 'api' && segments.length >= 3) {
    group = ''
    version = segments[1]!
    rest = segments.slice(2)
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1]!
    version = segments[2]!
    rest = segments.slice(3)
  } else {
    return undefined
  }
  let namespace: string | undefined
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const r = findResource(group, version, rest[2]!)
    if (r?.namespaced) {
      namespace = rest[1]
      rest = rest.slice(2)
    }
  }
  if (rest.length > 3) return undefined
  const resource = findResource(group, version, rest[0]!)
  if (!resource) return undefined
  const name = rest[1]
  const sub = rest[2]
  if (!resource.namespaced && namespace !== undefined) return undefined
  if (resource.namespaced && name !== undefined && namespace === undefined) return undefined
  if (sub !== undefined && !resource.subresources.some((s) => s.name === sub)) return undefined
  return { resource, namespace, name, sub }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text)
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded as JSON: ${(err as Error).message}`)
  }
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name)
  if (v === null || v === '') return undefined
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid ${name}: ${v}`)
  return Number(v)
}

function stripTypeMeta(o: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = o
  return rest as KubeObject
}

export function createRouter(
  api: Api,
  watches: Watches,
  opts: RouterOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const send = (
    res: ServerResponse,
    record: RequestRecord,
    code: number,
    body: unknown,
    contentType = 'application/json',
  ) => {
    record.status = code
    if (res.writableEnded || res.destroyed) return
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) })
    res.end(text)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse, record: RequestRecord): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake')
    const q = url.searchParams
    const method = req.method ?? 'GET'
    const text = await readBody(req)
    const bodyType = (req.headers['content-type'] ?? '').split(';')[0]!.trim()
    if (text !== '' && (bodyType === 'application/vnd.kubernetes.protobuf' || bodyType === 'application/cbor')) {
      // Typed Go clients (kubectl create deployment, for one) may send protobuf; the fake speaks JSON only.
      throw new KubeError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json (got ${bodyType})`,
      )
    }
    const body = parseJson(text)
    record.body = body

    if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) throw unauthorized()
    const failure = opts.failures.find(
      (f) =>
        (!f.method || f.method.toUpperCase() === method) &&
        (!f.path || (typeof f.path === 'string' ? url.pathname.includes(f.path) : f.path.test(url.pathname))),
    )
    if (failure) {
      failure.times = (failure.times ?? 1) - 1
      if (failure.times <= 0) opts.failures.splice(opts.failures.indexOf(failure), 1)
      throw new KubeError(failure.code, failure.reason ?? 'InternalError', failure.message ?? 'injected failure')
    }

    const path = url.pathname.replace(/\/+$/, '') || '/'
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent)
    if (method === 'GET') {
      switch (path) {
        case '/version':
          return send(res, record, 200, opts.version)
        case '/healthz':
        case '/livez':
        case '/readyz':
          return send(res, record, 200, 'ok', 'text/plain; charset=utf-8')
        case '/api':
          return send(res, record, 200, apiVersions(opts.serverAddress()))
        case '/apis':
          return send(res, record, 200, apiGroupList())
        case '/openapi/v3':
          return send(res, record, 200, openapiV3Index())
      }
      if (segments[0] === 'openapi' && segments[1] === 'v3' && segments.length > 2) {
        const doc = openapiV3Path(segments.slice(2).join('/'))
        if (doc) return send(res, record, 200, doc)
        throw pathNotFound()
      }
      if (segments[0] === 'apis' && segments.length === 2) {
        const g = apiGroup(segments[1]!)
        if (g) return send(res, record, 200, g)
        throw pathNotFound()
      }
      if ((segments[0] === 'api' && segments.length === 2) || (segments[0] === 'apis' && segments.length === 3)) {
        const list =
          segments[0] === 'api' ? apiResourceList('', segments[1]!) : apiResourceList(segments[1]!, segments[2]!)
        if (list) return send(res, record, 200, list)
        throw pathNotFound()
      }
    }

    const route = parseResourcePath(segments)
    if (!route) throw pathNotFound()
    const { resource: r, namespace, name, sub } = route
    const dryRun =
      q.getAll('dryRun').includes('All') ||
      (Array.isArray((body as DeleteOptions)?.dryRun) && (body as DeleteOptions).dryRun!.includes('All'))
    const contentType = req.headers['content-type'] ?? ''
    const table = wantsTable(req.headers.accept)

    if (name === undefined) {
      switch (method) {
        case 'GET': {
          const isWatch = q.get('watch') === '1' || q.get('watch') === 'true'
          if (isWatch) {
            record.status = 200
            watches.serve(req, res, {
              resource: r,
              namespace,
              match: api.matcher(r, q.get('labelSelector'), q.get('fieldSelector')),
              resourceVersion: q.get('resourceVersion'),
              timeoutSeconds: intParam(q, 'timeoutSeconds'),
              allowBookmarks: q.get('allowWatchBookmarks') === 'true',
              sendInitialEvents: q.get('sendInitialEvents') === 'true',
              bookmarkIntervalMs: opts.bookmarkIntervalMs,
              table: table ? { includeObject: q.get('includeObject') } : false,
            })
            return
          }
          const { items, resourceVersion } = api.list(r, namespace, q.get('labelSelector'), q.get('fieldSelector'))
          if (table) return send(res, record, 200, toTable(r, items, resourceVersion, q.get('includeObject')))
          return send(res, record, 200, {
            kind: r.listKind,
            apiVersion: apiVersionOf(r),
            metadata: { resourceVersion },
            items: items.map(stripTypeMeta),
          })
        }
        case 'POST':
          if (r.namespaced && namespace === undefined) throw methodNotAllowed()
          return send(res, record, 201, api.create(r, namespace, body as KubeObject, dryRun))
        case 'DELETE': {
          if (r.namespaced && namespace === undefined) throw methodNotAllowed()
          if (!r.verbs.includes('deletecollection')) throw methodNotAllowed()
          const options = deleteOptions(body, q)
          return send(
            res,
            record,
            200,
            api.deleteCollection(r, namespace, q.get('labelSelector'), q.get('fieldSelector'), options, dryRun),
          )
        }
        default:
          throw methodNotAllowed()
      }
    }

    const ns = namespace
    switch (sub) {
      case undefined:
      case 'status': {
        const status = sub === 'status' ? 'status' : undefined
        switch (method) {
          case 'GET': {
            const o = api.get(r, ns, name)
            if (table)
              return send(res, record, 200, toTable(r, [o], o.metadata.resourceVersion!, q.get('includeObject')))
            return send(res, record, 200, o)
          }
          case 'PUT':
            return send(res, record, 200, api.replace(r, ns, name, body as KubeObject, status, dryRun))
          case 'PATCH':
            return send(res, record, 200, api.patch(r, ns, name, contentType, body, status, dryRun))
          case 'DELETE': {
            if (status) throw methodNotAllowed()
            const out = api.delete(r, ns, name, deleteOptions(body, q), dryRun)
            return send(res, record, out.code, out.body)
          }
          default:
            throw methodNotAllowed()
        }
      }
      case 'eviction':
        if (method !== 'POST') throw methodNotAllowed()
        return send(res, record, 201, api.evict(ns!, name, body as KubeObject, dryRun))
      case 'scale':
        switch (method) {
          case 'GET':
            return send(res, record, 200, api.scale(r, ns!, name))
          case 'PUT':
            return send(res, record, 200, api.replaceScale(r, ns!, name, body as KubeObject, dryRun))
          case 'PATCH':
            return send(res, record, 200, api.patchScale(r, ns!, name, contentType, body, dryRun))
          default:
            throw methodNotAllowed()
        }
      case 'ephemeralcontainers':
        switch (method) {
          case 'GET':
            return send(res, record, 200, api.get(r, ns, name))
          case 'PUT':
            return send(res, record, 200, api.updateEphemeral(ns!, name, body as KubeObject, dryRun))
          case 'PATCH':
            return send(res, record, 200, api.patchEphemeral(ns!, name, contentType, body, dryRun))
          default:
            throw methodNotAllowed()
        }
      default:
        throw pathNotFound()
    }
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      body: undefined,
      status: 0,
    }
    opts.requests.push(record)
    handle(req, res, record).catch((err: unknown) => {
      const e =
        err instanceof KubeError ? err : internalError(err instanceof Error ? (err.stack ?? err.message) : String(err))
      send(res, record, e.code, e.toStatus())
    })
  }
}

function deleteOptions(body: unknown, q: URLSearchParams): DeleteOptions {
  if (body && typeof body === 'object') return body as DeleteOptions
  const options: DeleteOptions = {}
  const grace = intParam(q, 'gracePeriodSeconds')
  if (grace !== undefined) options.gracePeriodSeconds = grace
  const policy = q.get('propagationPolicy')
  if (policy) options.propagationPolicy = policy
  return options
}
