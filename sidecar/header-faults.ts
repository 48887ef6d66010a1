/**
 * Opt-in header-driven faults (Envoy's x-envoy-fault-* idea): a client asks for its own fault.
 * Off by default because any caller could use them; when on, each is capped by configuration
 * and the headers are stripped before forwarding.
 */
import { HEADER_ABORT_STATUS, HEADER_DELAY_MS, HEADER_FAULT_PREFIX, HEADER_THROTTLE_BPS } from '../src/constants.ts'
import type { FieldIssue } from '../src/errors.ts'
import { getFault } from '../src/faults/index.ts'
import type { Phase } from '../src/faults/types.ts'
import { PPM } from '../src/random.ts'
import type { CompiledAction, CompiledRule, HeaderBag } from '../src/rules/compile.ts'
import type { HeaderFaultRules } from './proxy-context.ts'

/** A gRPC status 0-16 for a trailers-only abort (Envoy's x-envoy-fault-abort-grpc-request). */
export const HEADER_ABORT_GRPC_STATUS = `${HEADER_FAULT_PREFIX}abort-grpc-status`

export interface HeaderFaultLimits {
  /** Requested delays above this are cut to it. */
  maxDelayMs: number
  /** Requested throttles below this are raised to it. */
  minBytesPerSecond: number
}

function action(kind: string, spec: unknown, phase: Phase): CompiledAction | undefined {
  const fault = getFault(kind)!
  const issues: FieldIssue[] = []
  const checked = fault.schema.check(spec, '', issues)
  const compiled = checked === undefined ? undefined : fault.compile(checked, phase, '', issues)
  return compiled === undefined || issues.length ? undefined : { fault, compiled }
}

function rule(id: string, phase: Phase, actions: CompiledAction[]): CompiledRule | undefined {
  if (actions.length === 0) return undefined
  return {
    id,
    source: 'header',
    phase,
    ppm: PPM,
    sticky: undefined,
    stickySeed: 0,
    expiresAt: Infinity,
    maxActive: Infinity,
    exactPath: undefined,
    order: -1,
    firstSegment: undefined,
    requiredHeader: undefined,
    matchRequest: () => true,
    matchResponse: undefined,
    actions,
    live: { active: 0 },
  }
}

function intHeader(headers: HeaderBag, name: string): number | undefined {
  const v = headers[name]
  if (typeof v !== 'string' || !/^\d{1,10}$/.test(v)) return undefined
  return Number(v)
}

export function headerFaultReader(limits: HeaderFaultLimits): (headers: HeaderBag) => HeaderFaultRules | undefined {
  return (headers) => {
    // Cheap pre-check: most requests carry no fault header at all.
    let any = false
    for (const k in headers)
      if (k.startsWith(HEADER_FAULT_PREFIX)) {
        any = true
        break
      }
    if (!any) return undefined
    const request: CompiledAction[] = []
    const delayMs = intHeader(headers, HEADER_DELAY_MS)
    if (delayMs !== undefined) {
      const a = action('delay', { ms: Math.min(delayMs, limits.maxDelayMs) }, 'request')
      if (a) request.push(a)
    }
    const status = intHeader(headers, HEADER_ABORT_STATUS)
    if (status !== undefined && status >= 400 && status <= 599) {
      const a = action('abort', { status }, 'request')
      if (a) request.push(a)
    }
    const grpcStatus = intHeader(headers, HEADER_ABORT_GRPC_STATUS)
    if (grpcStatus !== undefined && grpcStatus <= 16 && request.every((a) => a.fault.kind !== 'abort')) {
      const a = action('abort', { grpcStatus }, 'request')
      if (a) request.push(a)
    }
    const response: CompiledAction[] = []
    const bps = intHeader(headers, HEADER_THROTTLE_BPS)
    if (bps !== undefined) {
      const a = action('throttle', { bytesPerSecond: Math.max(bps, limits.minBytesPerSecond) }, 'response')
      if (a) response.push(a)
    }
    const out = {
      request: rule('header-request', 'request', request),
      response: rule('header-response', 'response', response),
    }
    return out.request || out.response ? out : undefined
  }
}
