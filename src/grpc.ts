/**
 * gRPC facts the sidecar and the rule compiler share: status codes and their names, the
 * HTTP -> gRPC status table Envoy and the gRPC spec use, the label names go-grpc-prometheus
 * exports, `grpc-message` percent-encoding and the RFC 9113 error code names. Pure data.
 */

/** Canonical names, index = code (grpc/grpc doc/statuscodes.md). */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const

/** The names go-grpc-prometheus puts in its `grpc_code` label (codes.Code.String()). */
const PROMETHEUS_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const

/** The `grpc_code` label of a status; any code outside 0-16 is `Unknown` (what a client sees). */
export function grpcCodeLabel(code: number): string {
  return PROMETHEUS_NAMES[code] ?? 'Unknown'
}

/** Statuses a server (or the network) causes: the default of `--grpc-error-codes`. */
export const DEFAULT_GRPC_ERROR_CODES: readonly number[] = [2, 4, 12, 13, 14, 15]

/** A code 0-16 or its name (any case, `UNAVAILABLE` or `unavailable`), else undefined. */
export function parseGrpcStatus(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 16 ? value : undefined
  if (/^\d{1,2}$/.test(value)) return parseGrpcStatus(Number(value))
  const i = (GRPC_STATUS_NAMES as readonly string[]).indexOf(value.toUpperCase())
  return i < 0 ? undefined : i
}

/** Envoy's `httpToGrpcStatus` (grpc/grpc doc/http-grpc-status-mapping.md). */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13
    case 401:
      return 16
    case 403:
      return 7
    case 404:
      return 12
    case 429:
    case 502:
    case 503:
    case 504:
      return 14
    default:
      return 2
  }
}

/**
 * `grpc-message` encoding (PROTOCOL-HTTP2.md): UTF-8, then every byte outside 0x20-0x7E and
 * `%` itself as %XX.
 */
export function encodeGrpcMessage(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte)
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** RFC 9113 §7 error code names, index = code. */
export const HTTP2_CODE_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
] as const

export type Http2CodeName = (typeof HTTP2_CODE_NAMES)[number]

export function http2Code(name: Http2CodeName): number {
  return HTTP2_CODE_NAMES.indexOf(name)
}

/** gRPC ⇔ content-type `application/grpc` or `application/grpc+*` (not grpc-web, not Connect). */
export function isGrpcContentType(contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) return false
  const rest = contentType.length === 16 ? '' : contentType[16]
  return rest === '' || rest === '+' || rest === ';'
}

/** The gRPC health service: never faulted unless a rule names its path exactly. */
export const GRPC_HEALTH_PREFIX = '/grpc.health.v1.Health/'

/**
 * `grpc-timeout` (≤8 digits + H|M|S|m|u|n) in milliseconds, or undefined when absent or
 * malformed (a malformed one is forwarded untouched and never shortens anything).
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined
  const m = /^(\d{1,8})([HMSmun])$/.exec(value)
  if (!m) return undefined
  const n = Number(m[1])
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as 'H']
  return n * unit
}
