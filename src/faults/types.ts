/**
 * A fault kind is a stateless module: a schema for its spec, a compile step that checks the
 * spec against the rule's phase and precomputes what it can, and `apply`, which acts on the
 * exchange only through `FaultOps`. The sidecar implements FaultOps over real sockets; tests can
 * implement it with a recorder. Probability, matching, phase, ttl and ownership belong to the
 * rule, not the fault.
 */
import type { FieldIssue } from '../errors.ts'
import type { Schema } from '../schema.ts'

export type Phase = 'request' | 'response'

/** Receives a parsed JSON body and returns the new one; throwing leaves the body unchanged. */
export type JsonTransform = (body: unknown) => unknown

export interface TargetRewrite {
  path?: string
  method?: string
  query?: Record<string, string>
}

/** What a fault may do to one exchange. Methods that do not fit the phase are never called. */
export interface FaultOps {
  readonly phase: Phase
  /** Injected random source: [0, 1). */
  random(): number
  /** Holds the exchange; resolves false if the client went away meanwhile (nothing more is done). */
  wait(ms: number): Promise<boolean>
  /** Ends the exchange with a local reply; in the response phase the upstream reply is discarded. */
  respond(status: number, headers: Readonly<Record<string, string>>, body: Buffer): void
  /** Ends the exchange with a TCP reset. */
  reset(): void
  /** Ends the exchange by closing the connection without a response. */
  close(): void
  setStatus(status: number): void
  setHeader(name: string, value: string): void
  appendHeader(name: string, value: string): void
  setBody(body: Buffer): void
  /** Buffers (size-capped) and rewrites a JSON body; non-JSON or oversized bodies pass unchanged. */
  transformJson(fn: JsonTransform): void
  setTarget(rewrite: TargetRewrite): void
  appendQuery(name: string, value: string): void
  throttle(bytesPerSecond: number): void
  /**
   * Present on HTTP/2 exchanges only (the HTTP/1.1 exchange has none of the members below, and
   * faults fall back to what HTTP/1.1 can do). `grpc` is true for a gRPC call.
   */
  readonly grpc?: boolean
  /**
   * Ends a gRPC call with a trailers-only response (one HEADERS frame with END_STREAM); `headers`
   * are extra metadata in it (e.g. `grpc-retry-pushback-ms`).
   */
  respondGrpc?(
    status: number,
    message: string | undefined,
    detailsBin: string | undefined,
    headers?: Readonly<Record<string, string>>,
  ): void
  /** RST_STREAM with this RFC 9113 code, now or once the upstream's response headers are out. */
  resetStream?(code: number, afterHeaders: boolean): void
  /** GOAWAY with this code on the client's connection; this stream is then cancelled. */
  goaway?(code: number): void
  /** Response phase: sets a trailer (gRPC status rewrites). */
  setTrailer?(name: string, value: string): void
}

export interface FaultKind<Spec = unknown, Compiled = unknown> {
  /** The rule field name, e.g. "delay". */
  readonly kind: string
  readonly phases: readonly Phase[]
  readonly description: string
  readonly schema: Schema<Spec>
  /** Phase-specific checks and precomputation; pushes issues (with paths under `path`) on error. */
  compile(spec: Spec, phase: Phase, path: string, issues: FieldIssue[]): Compiled | undefined
  // biome-ignore lint/suspicious/noConfusingVoidType: a synchronous fault returns nothing; an async one a promise to await.
  apply(compiled: Compiled, ops: FaultOps): void | Promise<unknown>
}

/** Pushes an issue for each field of `spec` that the phase does not allow. */
export function phaseOnly(
  spec: object,
  fields: readonly string[],
  allowed: Phase,
  phase: Phase,
  path: string,
  issues: FieldIssue[],
  hint = '',
): void {
  if (phase === allowed) return
  for (const f of fields)
    if ((spec as Record<string, unknown>)[f] !== undefined)
      issues.push({ path: `${path}/${f}`, message: `applies to the ${allowed} phase only${hint}` })
}
