import {
  encodeGrpcMessage,
  GRPC_STATUS_NAMES,
  HTTP2_CODE_NAMES,
  type Http2CodeName,
  http2Code,
  httpToGrpcStatus,
  parseGrpcStatus,
} from '../grpc.ts'
import { boolean, choice, type Infer, number, object, oneOfTypes, string } from '../schema.ts'
import { headerMap, headerPairs, statusCode } from './shared.ts'
import type { FaultKind, FaultOps } from './types.ts'

const grpcStatus = oneOfTypes<number | string>(
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
  'gRPC status: a code 0-16 or its name, e.g. 14 or "UNAVAILABLE"',
)

const schema = object(
  {
    mode: choice(
      ['status', 'reset', 'close', 'goaway'],
      'status (default): local reply; reset: TCP RST (HTTP/1.1) or RST_STREAM (HTTP/2); close: close without reply; goaway: GOAWAY on the HTTP/2 connection',
    ),
    status: statusCode,
    body: string({ maxLength: 1_048_576 }),
    headers: headerMap,
    raw: boolean('gRPC call with status: send this real HTTP status instead of the mapped grpc-status'),
    grpcStatus,
    grpcMessage: string({ maxLength: 8192, description: 'grpc-message (percent-encoded on the wire)' }),
    grpcStatusDetailsBin: string({
      pattern: /^[A-Za-z0-9+/]*={0,2}$/,
      maxLength: 65_536,
      patternMessage: 'must be base64 (a serialized google.rpc.Status)',
      description: 'grpc-status-details-bin, base64',
    }),
    http2Code: choice(HTTP2_CODE_NAMES, 'RFC 9113 error code of the RST_STREAM or GOAWAY'),
    after: choice(['headers'], 'reset only: forward, and reset once the upstream response headers are out'),
  },
  {
    description:
      'end the exchange: a local reply (HTTP status or gRPC status), a reset (TCP RST / RST_STREAM), a GOAWAY, or a close without response',
    refine(v, path, issues) {
      const mode = v.mode ?? 'status'
      const no = (f: string, why: string) => issues.push({ path: `${path}/${f}`, message: why })
      if (mode === 'status') {
        if (v.status === undefined && v.grpcStatus === undefined)
          no('status', 'is required (or grpcStatus, or set mode to "reset", "close" or "goaway")')
        if (v.status !== undefined && v.grpcStatus !== undefined) no('grpcStatus', 'cannot be combined with status')
        if (v.raw !== undefined && v.status === undefined) no('raw', 'needs status (the HTTP status to send)')
        for (const f of ['http2Code', 'after'] as const)
          if (v[f] !== undefined) no(f, 'applies to mode "reset" or "goaway" only')
      } else {
        for (const f of [
          'status',
          'body',
          'headers',
          'raw',
          'grpcStatus',
          'grpcMessage',
          'grpcStatusDetailsBin',
        ] as const)
          if (v[f] !== undefined) no(f, `has no effect with mode "${mode}"`)
        if (mode === 'close' && v.http2Code !== undefined) no('http2Code', 'has no effect with mode "close"')
        if (mode !== 'reset' && v.after !== undefined) no('after', 'applies to mode "reset" only')
      }
    },
  },
)

type CompiledAbort =
  | {
      mode: 'status'
      status: number | undefined
      raw: boolean
      grpcStatus: number | undefined
      grpcMessage: string | undefined
      detailsBin: string | undefined
      headers: Record<string, string>
      /** The rule's own headers, without the default content-type: metadata of a gRPC answer. */
      metadata: Record<string, string>
      body: Buffer
    }
  | { mode: 'reset'; code: number; afterHeaders: boolean }
  | { mode: 'goaway'; code: number }
  | { mode: 'close' }

const DEFAULT_BODY = 'fault injected by faultline\n'
const DEFAULT_GRPC_MESSAGE = 'fault injected by faultline'

export const abort: FaultKind<Infer<typeof schema>, CompiledAbort> = {
  kind: 'abort',
  phases: ['request', 'response'],
  description: schema.json.description as string,
  schema,
  compile(spec, phase, path, issues) {
    const mode = spec.mode ?? 'status'
    if (mode === 'close') return { mode }
    if (mode === 'reset') {
      if (spec.after !== undefined && phase === 'response')
        issues.push({ path: `${path}/after`, message: 'a response-phase reset already comes after the headers' })
      return {
        mode,
        code: http2Code((spec.http2Code ?? 'INTERNAL_ERROR') as Http2CodeName),
        afterHeaders: spec.after === 'headers',
      }
    }
    if (mode === 'goaway') return { mode, code: http2Code((spec.http2Code ?? 'NO_ERROR') as Http2CodeName) }
    const metadata = Object.fromEntries(headerPairs(spec.headers))
    delete metadata['content-type']
    const headers = Object.fromEntries(headerPairs(spec.headers))
    headers['content-type'] ??= 'text/plain; charset=utf-8'
    return {
      mode,
      status: spec.status,
      raw: spec.raw ?? false,
      grpcStatus: spec.grpcStatus === undefined ? undefined : parseGrpcStatus(spec.grpcStatus),
      grpcMessage: spec.grpcMessage,
      detailsBin: spec.grpcStatusDetailsBin?.replace(/=+$/, ''),
      headers,
      metadata,
      body: Buffer.from(spec.body ?? DEFAULT_BODY),
    }
  },
  apply(c, ops) {
    if (c.mode === 'status') respondStatus(c, ops)
    else if (c.mode === 'reset') {
      if (ops.resetStream) ops.resetStream(c.code, c.afterHeaders)
      else ops.reset()
    } else if (c.mode === 'goaway') {
      // HTTP/1.1 has no GOAWAY: the nearest thing is closing the connection.
      if (ops.goaway) ops.goaway(c.code)
      else ops.close()
    } else ops.close()
  },
}

function respondStatus(c: Extract<CompiledAbort, { mode: 'status' }>, ops: FaultOps): void {
  if (c.grpcStatus !== undefined) {
    const message = c.grpcMessage ?? DEFAULT_GRPC_MESSAGE
    if (ops.respondGrpc) ops.respondGrpc(c.grpcStatus, message, c.detailsBin, c.metadata)
    else {
      // HTTP/1.1 carries no gRPC: answer as Envoy does, a 200 with the status in the headers.
      const h: Record<string, string> = {
        ...c.metadata,
        'content-type': 'application/grpc',
        'grpc-status': String(c.grpcStatus),
        'grpc-message': encodeGrpcMessage(message),
      }
      if (c.detailsBin) h['grpc-status-details-bin'] = c.detailsBin
      ops.respond(200, h, Buffer.alloc(0))
    }
    return
  }
  const status = c.status!
  if (ops.grpc && ops.respondGrpc && !c.raw) {
    // A gRPC client needs a grpc-status: the HTTP status is mapped as Envoy and the spec do.
    ops.respondGrpc(
      httpToGrpcStatus(status),
      c.grpcMessage ?? c.body.toString('utf8').trimEnd(),
      c.detailsBin,
      c.metadata,
    )
    return
  }
  ops.respond(status, c.headers, c.body)
}
