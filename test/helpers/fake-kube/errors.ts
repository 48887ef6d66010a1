/**
 * API errors as the API server writes them: a `Status` body (kind Status, apiVersion v1, status
 * Failure, message, reason, details, code) with the matching HTTP status. Messages follow
 * k8s.io/apimachinery/pkg/api/errors so clients that match on them see the same text.
 */

export interface StatusCause {
  reason?: string
  message?: string
  field?: string
}

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  uid?: string
  causes?: StatusCause[]
  retryAfterSeconds?: number
}

export class KubeError extends Error {
  readonly code: number
  readonly reason: string
  readonly details: StatusDetails | undefined

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message)
    this.code = code
    this.reason = reason
    this.details = details
  }

  /** The Status body a real API server sends with this error. */
  toStatus(): Record<string, unknown> {
    const body: Record<string, unknown> = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
    }
    if (this.details) body.details = this.details
    body.code = this.code
    return body
  }
}

/** Group/resource as error details and messages name it: `pods`, `deployments.apps`. */
function qualified(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource
}

function details(group: string, resource: string, name: string): StatusDetails {
  const d: StatusDetails = { name, kind: resource }
  if (group) d.group = group
  return d
}

export function notFound(group: string, resource: string, name: string): KubeError {
  return new KubeError(
    404,
    'NotFound',
    `${qualified(group, resource)} "${name}" not found`,
    details(group, resource, name),
  )
}

export function alreadyExists(group: string, resource: string, name: string): KubeError {
  return new KubeError(
    409,
    'AlreadyExists',
    `${qualified(group, resource)} "${name}" already exists`,
    details(group, resource, name),
  )
}

export function conflict(group: string, resource: string, name: string, why: string): KubeError {
  return new KubeError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(group, resource)} "${name}": ${why}`,
    details(group, resource, name),
  )
}

export const modifiedMessage =
  'the object has been modified; please apply your changes to the latest version and try again'

/** 422 Invalid: `Kind "name" is invalid: field: message`, one cause per field error. */
export function invalid(group: string, kind: string, name: string, causes: StatusCause[]): KubeError {
  const text = causes.map((c) => `${c.field ?? ''}: ${c.message ?? ''}`).join(', ')
  const d: StatusDetails = { name, kind, causes }
  if (group) d.group = group
  return new KubeError(422, 'Invalid', `${kind} "${name}" is invalid: ${text}`, d)
}

/** 422 without a field (what a failing JSON patch operation gets). */
export function unprocessable(message: string): KubeError {
  return new KubeError(422, 'Invalid', message)
}

export function badRequest(message: string): KubeError {
  return new KubeError(400, 'BadRequest', message)
}

export function methodNotAllowed(): KubeError {
  return new KubeError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
}

export function unsupportedMediaType(contentType: string): KubeError {
  return new KubeError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType || 'none'})`,
  )
}

export function tooManyRequests(message: string, causes?: StatusCause[]): KubeError {
  return new KubeError(429, 'TooManyRequests', message, causes ? { causes } : undefined)
}

export function internalError(message: string): KubeError {
  return new KubeError(500, 'InternalError', `Internal error occurred: ${message}`, {
    causes: [{ message }],
  })
}

export function unauthorized(): KubeError {
  return new KubeError(401, 'Unauthorized', 'Unauthorized')
}

/** A path that names no resource: real servers answer with this Status (reason NotFound). */
export function pathNotFound(): KubeError {
  return new KubeError(404, 'NotFound', 'the server could not find the requested resource', {
    causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }],
  })
}

export function gone(message: string): KubeError {
  return new KubeError(410, 'Expired', message)
}

export function forbidden(message: string, details?: StatusDetails): KubeError {
  return new KubeError(403, 'Forbidden', message, details)
}
