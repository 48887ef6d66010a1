import { encodeGrpcMessage, GRPC_STATUS_NAMES, parseGrpcStatus } from '../grpc.ts'
import { type Infer, number, object, oneOfTypes, string } from '../schema.ts'
import { headerMap, headerPairs, ORIGIN_PATH, queryMap, statusCode, TOKEN } from './shared.ts'
import { type FaultKind, phaseOnly, type TargetRewrite } from './types.ts'

const schema = object(
  {
    status: statusCode,
    headers: headerMap,
    body: string({ maxLength: 10_485_760 }),
    bodyBase64: string({ pattern: /^[A-Za-z0-9+/]*={0,2}$/, maxLength: 14_000_000 }),
    path: string({
      pattern: ORIGIN_PATH,
      maxLength: 8192,
      patternMessage:
        'must be a path starting with "/" in URL path characters; percent-encode anything else (e.g. %C3%A9 for é)',
      description: 'request phase: forward to this path',
    }),
    method: string({
      pattern: TOKEN,
      maxLength: 32,
      // CONNECT asks the upstream for a tunnel, which a forwarded request cannot become.
      refine: (m) => (m.toUpperCase() === 'CONNECT' ? 'CONNECT cannot be forwarded (it opens a tunnel)' : undefined),
      description: 'request phase: forward with this method',
    }),
    query: queryMap,
    grpcStatus: oneOfTypes<number | string>(
      [
        number({ integer: true, min: 0, max: 16 }),
        string({
          maxLength: 32,
          refine: (v) =>
            parseGrpcStatus(v) === undefined
              ? `must be a gRPC status code 0-16 or its name (${GRPC_STATUS_NAMES.join(', ')})`
              : undefined,
        }),
      ],
      'response phase, gRPC: rewrite grpc-status in the trailers (a "late" status, never retried by clients)',
    ),
    grpcMessage: string({ maxLength: 8192, description: 'response phase, gRPC: rewrite grpc-message in the trailers' }),
  },
  {
    description:
      'replace parts of the request (path, method, query, headers, body) or of the response (status, headers, body)',
    refine(v, path, issues) {
      if (Object.keys(v).length === 0) issues.push({ path, message: 'must replace at least one thing' })
      if (v.body !== undefined && v.bodyBase64 !== undefined)
        issues.push({ path: `${path}/bodyBase64`, message: 'cannot be combined with body' })
    },
  },
)

interface CompiledReplace {
  status?: number
  headers: [string, string][]
  body?: Buffer
  target?: TargetRewrite
  trailers: [string, string][]
}

export const replace: FaultKind<Infer<typeof schema>, CompiledReplace> = {
  kind: 'replace',
  phases: ['request', 'response'],
  description: schema.json.description as string,
  schema,
  compile(spec, phase, path, issues) {
    phaseOnly(spec, ['path', 'method', 'query'], 'request', phase, path, issues)
    phaseOnly(spec, ['status'], 'response', phase, path, issues, '; use abort to answer without forwarding')
    phaseOnly(
      spec,
      ['grpcStatus', 'grpcMessage'],
      'response',
      phase,
      path,
      issues,
      '; use abort.grpcStatus to answer without forwarding',
    )
    const trailers: [string, string][] = []
    if (spec.grpcStatus !== undefined) trailers.push(['grpc-status', String(parseGrpcStatus(spec.grpcStatus))])
    if (spec.grpcMessage !== undefined) trailers.push(['grpc-message', encodeGrpcMessage(spec.grpcMessage)])
    const hasTarget = spec.path !== undefined || spec.method !== undefined || spec.query !== undefined
    return {
      status: spec.status,
      headers: headerPairs(spec.headers),
      body:
        spec.body !== undefined
          ? Buffer.from(spec.body)
          : spec.bodyBase64 !== undefined
            ? Buffer.from(spec.bodyBase64, 'base64')
            : undefined,
      target: hasTarget ? { path: spec.path, method: spec.method?.toUpperCase(), query: spec.query } : undefined,
      trailers,
    }
  },
  apply(c, ops) {
    if (c.target) ops.setTarget(c.target)
    if (c.status !== undefined) ops.setStatus(c.status)
    for (const [k, v] of c.headers) ops.setHeader(k, v)
    if (c.body) ops.setBody(c.body)
    // Trailers exist on HTTP/2 only; an HTTP/1.1 response has no gRPC status to rewrite.
    if (ops.setTrailer) for (const [k, v] of c.trailers) ops.setTrailer(k, v)
  },
}
