/**
 * AdmissionReview `admission.k8s.io/v1`: reading the API server's request and writing the
 * answer. Only what identifies the review is required here (apiVersion, kind, request.uid): a
 * review without them cannot be answered at all and is a 400, after which the API server applies
 * the webhook's failurePolicy (Ignore). Everything about the pod is the injector's business and
 * never turns into an error response (fail-open).
 */
import { errors, type FieldIssue } from '../../src/errors.ts'
import { isPlainObject } from '../../src/schema.ts'
import type { JsonPatchOp } from './patch.ts'

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1'

export interface GroupVersionKind {
  group?: string
  version?: string
  kind?: string
}

export interface AdmissionRequest {
  uid: string
  kind?: GroupVersionKind
  resource?: { group?: string; version?: string; resource?: string }
  subResource?: string
  namespace?: string
  name?: string
  operation?: string
  object?: unknown
  dryRun?: boolean
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION
  kind: 'AdmissionReview'
  response: {
    uid: string
    allowed: true
    patchType?: 'JSONPatch'
    patch?: string
    warnings?: string[]
  }
}

/** The review's request, or FL_ERR_BAD_REQUEST listing every reason it cannot be answered. */
export function readReview(body: unknown): AdmissionRequest {
  const issues: FieldIssue[] = []
  if (!isPlainObject(body)) issues.push({ path: '', message: 'must be an AdmissionReview object' })
  else {
    if (body.apiVersion !== ADMISSION_API_VERSION)
      issues.push({
        path: '/apiVersion',
        message: `must be "${ADMISSION_API_VERSION}" (admissionReviewVersions: [v1]), got ${JSON.stringify(body.apiVersion)}`,
      })
    if (body.kind !== 'AdmissionReview')
      issues.push({ path: '/kind', message: `must be "AdmissionReview", got ${JSON.stringify(body.kind)}` })
    const request = body.request
    if (!isPlainObject(request)) issues.push({ path: '/request', message: 'is required' })
    else if (typeof request.uid !== 'string' || request.uid === '')
      issues.push({ path: '/request/uid', message: 'is required (the response must echo it)' })
  }
  if (issues.length)
    throw errors.FL_ERR_BAD_REQUEST(
      `malformed AdmissionReview: ${issues.map((i) => `${i.path || '/'} ${i.message}`).join('; ')}`,
      { issues },
    )
  return (body as { request: AdmissionRequest }).request
}

/** The API server shows warnings to the client (kubectl); longer ones may be truncated. */
const MAX_WARNING = 256

/** Always allowed: an injector mutates or stays out of the way, it never refuses a pod. */
export function admissionResponse(
  uid: string,
  patch: JsonPatchOp[] | undefined,
  warnings: string[],
): AdmissionReviewResponse {
  const response: AdmissionReviewResponse['response'] = { uid, allowed: true }
  if (patch && patch.length) {
    response.patchType = 'JSONPatch'
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64')
  }
  if (warnings.length)
    response.warnings = warnings.map((w) => (w.length > MAX_WARNING ? `${w.slice(0, MAX_WARNING - 1)}…` : w))
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response }
}
