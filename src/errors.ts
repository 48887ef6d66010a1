/**
 * The one error catalogue. Every error faultline raises on purpose has a stable code listed
 * here and in docs/errors.md (a test keeps the two in step). Errors keep their `cause`.
 */

export interface FieldIssue {
  /** JSON pointer to the offending field, e.g. `/rules/0/delay/ms`. */
  path: string
  message: string
}

export class FaultlineError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly issues: FieldIssue[] | undefined
  /** Structured context that crosses process boundaries with the code (e.g. a sidecar's own refusal). */
  readonly details: Record<string, unknown> | undefined

  constructor(code: string, message: string, statusCode: number, options?: ErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'FaultlineError'
    this.code = code
    this.statusCode = statusCode
    this.issues = options?.issues
    this.details = options?.details
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, error: this.message }
    if (this.issues) out.errors = this.issues
    if (this.details) Object.assign(out, this.details)
    return out
  }
}

export interface ErrorOptions {
  cause?: unknown
  issues?: FieldIssue[]
  details?: Record<string, unknown>
}

export interface ErrorFactory {
  (detail?: string, options?: ErrorOptions): FaultlineError
  readonly code: string
  readonly statusCode: number
}

function define(code: string, message: string, statusCode: number): ErrorFactory {
  const make = (detail?: string, options?: ErrorOptions) =>
    new FaultlineError(code, detail ? `${message}: ${detail}` : message, statusCode, options)
  return Object.assign(make, { code, statusCode })
}

export const errors = {
  /** Configuration */
  FL_ERR_CONFIG_INVALID: define('FL_ERR_CONFIG_INVALID', 'invalid configuration', 400),
  /** Rules */
  FL_ERR_RULES_INVALID: define('FL_ERR_RULES_INVALID', 'invalid rule set', 400),
  FL_ERR_RULES_FILE: define('FL_ERR_RULES_FILE', 'cannot load rules file', 400),
  FL_ERR_RULE_DUPLICATE: define('FL_ERR_RULE_DUPLICATE', 'a rule with this id already exists', 409),
  FL_ERR_RULE_NOT_FOUND: define('FL_ERR_RULE_NOT_FOUND', 'no rule with this id', 404),
  /** Experiments */
  FL_ERR_EXPERIMENT_INVALID: define('FL_ERR_EXPERIMENT_INVALID', 'invalid experiment', 400),
  /** Controller */
  FL_ERR_HALTED: define('FL_ERR_HALTED', 'halted: no new runs or traffic shaping until the halt is lifted', 409),
  FL_ERR_NOT_FOUND: define('FL_ERR_NOT_FOUND', 'not found', 404),
  FL_ERR_CONFLICT: define('FL_ERR_CONFLICT', 'already exists', 409),
  FL_ERR_NAME_INVALID: define('FL_ERR_NAME_INVALID', 'invalid name', 400),
  FL_ERR_TARGET_UNRESOLVED: define('FL_ERR_TARGET_UNRESOLVED', 'target could not be resolved', 422),
  FL_ERR_STORE_CORRUPT: define('FL_ERR_STORE_CORRUPT', 'stored record is unreadable', 503),
  FL_ERR_STORE_UNAVAILABLE: define('FL_ERR_STORE_UNAVAILABLE', 'cannot write to the store', 503),
  FL_ERR_TOO_MANY_STREAMS: define('FL_ERR_TOO_MANY_STREAMS', 'too many open event streams', 503),
  /** Sidecars, as seen by the controller */
  FL_ERR_SIDECAR_UNREACHABLE: define('FL_ERR_SIDECAR_UNREACHABLE', 'sidecar unreachable', 502),
  FL_ERR_SIDECAR_REJECTED: define('FL_ERR_SIDECAR_REJECTED', 'sidecar refused the request', 502),
  FL_ERR_EVIDENCE_UNAVAILABLE: define('FL_ERR_EVIDENCE_UNAVAILABLE', 'could not read fault evidence', 502),
  /** Kubernetes (the driver) */
  FL_ERR_KUBERNETES: define('FL_ERR_KUBERNETES', 'the Kubernetes API refused or failed', 502),
  FL_ERR_TARGET_PROTECTED: define('FL_ERR_TARGET_PROTECTED', 'a target guard refused the selection', 422),
  FL_ERR_TARGET_BUSY: define('FL_ERR_TARGET_BUSY', 'target is already changed by another run', 409),
  FL_ERR_CAPTURE: define('FL_ERR_CAPTURE', 'cannot install traffic capture', 503),
  /** Redis (fleet bus, fleet follower, Redis store) */
  FL_ERR_REDIS: define('FL_ERR_REDIS', 'redis connection error', 503),
  FL_ERR_FLEET_STALE: define('FL_ERR_FLEET_STALE', 'not following the fleet rules', 503),
  /** Admin API */
  FL_ERR_UNAUTHORIZED: define('FL_ERR_UNAUTHORIZED', 'missing or wrong bearer token', 401),
  FL_ERR_BAD_REQUEST: define('FL_ERR_BAD_REQUEST', 'bad request', 400),
  FL_ERR_INTERNAL: define('FL_ERR_INTERNAL', 'internal error', 500),
  /** Upstream (the app behind the sidecar) */
  FL_ERR_UPSTREAM_UNAVAILABLE: define('FL_ERR_UPSTREAM_UNAVAILABLE', 'upstream unavailable', 503),
  FL_ERR_UPSTREAM_TIMEOUT: define('FL_ERR_UPSTREAM_TIMEOUT', 'upstream timed out', 504),
  FL_ERR_UPSTREAM_BAD_RESPONSE: define('FL_ERR_UPSTREAM_BAD_RESPONSE', 'upstream connection failed', 502),
} as const

export type ErrorCode = keyof typeof errors

export function isFaultlineError(err: unknown): err is FaultlineError {
  return err instanceof FaultlineError
}

/** The code an error carries (its own, or its cause's), for journals and logs. */
export function codeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if (isFaultlineError(e)) return e.code
  return undefined
}

/** `err` with `context` in front of its message; a catalogue error keeps its code, status and details. */
export function withContext(err: unknown, context: string): Error {
  const message = `${context}: ${(err as Error)?.message ?? String(err)}`
  if (!isFaultlineError(err)) return new Error(message, { cause: err })
  return new FaultlineError(err.code, message, err.statusCode, { cause: err, issues: err.issues, details: err.details })
}

/**
 * The HTTP answer for any error thrown in a request handler: catalogue errors keep their status
 * and code; framework client errors (bad JSON, body too large) become FL_ERR_BAD_REQUEST; anything
 * else is FL_ERR_INTERNAL. One mapping for the sidecar admin API and the controller API.
 */
export function httpErrorOf(err: unknown): { statusCode: number; body: Record<string, unknown> } {
  if (err instanceof FaultlineError) return { statusCode: err.statusCode, body: err.toJSON() }
  const e = err as { statusCode?: number; message?: string }
  const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500
  const message = e.message ?? String(err)
  const wrapped =
    status < 500
      ? errors.FL_ERR_BAD_REQUEST(message, { cause: err, issues: [{ path: '', message }] })
      : errors.FL_ERR_INTERNAL(message, { cause: err })
  return { statusCode: status, body: wrapped.toJSON() }
}
