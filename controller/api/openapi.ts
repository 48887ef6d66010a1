/**
 * The controller's OpenAPI 3.1 description, served at GET /openapi.json. Generated from the
 * operation table (routes.ts) that also registers the routes, the body declarations (bodies.ts)
 * the API checks requests with, and the response schemas (responses.ts), so the description
 * cannot drift from what the handlers accept and answer.
 */
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../../src/names.ts'
import { buildOpenApi, errorResponse, type OperationSpec, type ResponseSpec } from '../../src/openapi.ts'
import type { JsonSchema } from '../../src/schema.ts'
import { BODIES } from './bodies.ts'
import { type Operation, OPERATIONS, paramsOf, TAGS, YAML_TYPES } from './routes.ts'

const NAME_PARAM: JsonSchema = { type: 'string', pattern: NAME_PATTERN.source, maxLength: NAME_MAX_LENGTH }

/** What each error status means, for every operation that can answer it. */
const ERRORS = {
  400: 'The request is at fault (FL_ERR_BAD_REQUEST, FL_ERR_NAME_INVALID for a name in the URL, FL_ERR_EXPERIMENT_INVALID for an experiment body); `errors` lists every problem with its path',
  401: 'FL_ERR_UNAUTHORIZED: missing or wrong bearer token',
  404: 'FL_ERR_NOT_FOUND: no such stored record',
  409: 'FL_ERR_CONFLICT (the name exists already) or FL_ERR_HALTED (no new runs or shaping while halted)',
  413: 'FL_ERR_BAD_REQUEST: the body is larger than 8 MiB',
  415: 'FL_ERR_BAD_REQUEST: the body is not in a media type this operation accepts',
  422: 'FL_ERR_TARGET_UNRESOLVED: a fleet service has no live sidecars; nothing was written',
  502: 'FL_ERR_SIDECAR_UNREACHABLE or FL_ERR_SIDECAR_REJECTED: a sidecar did not answer, or refused (`sidecar` has its answer); what was applied is removed again',
  '5XX':
    'FL_ERR_REDIS or FL_ERR_STORE_CORRUPT / FL_ERR_STORE_UNAVAILABLE (503: Redis or the store is at fault); FL_ERR_TOO_MANY_STREAMS (503: the cap of open event streams); FL_ERR_INTERNAL (500) is a bug',
} as const

function responsesOf(op: Operation): Record<string, ResponseSpec> {
  const ok: ResponseSpec =
    'json' in op.answer
      ? { description: op.summary, json: op.answer.json.json }
      : { description: op.answer.description, text: { mediaType: op.answer.text } }
  const statuses: (keyof typeof ERRORS)[] = []
  if (op.body || paramsOf(op.path).length) statuses.push(400)
  if (!op.open) statuses.push(401)
  statuses.push(...(op.errors ?? []))
  if (op.body) statuses.push(413, 415)
  statuses.push('5XX')
  return {
    [String(op.ok ?? 200)]: ok,
    ...Object.fromEntries(statuses.sort().map((s) => [String(s), errorResponse(ERRORS[s])])),
  }
}

function operationSpec(operationId: string, op: Operation): OperationSpec {
  const schema = { $ref: `#/$defs/${op.body}` }
  return {
    operationId,
    method: op.method,
    path: op.path,
    summary: op.summary,
    tag: op.tag,
    pathParams: Object.fromEntries(paramsOf(op.path).map((p) => [p, NAME_PARAM])),
    ...(op.body
      ? {
          body: {
            schema,
            required: !op.optionalBody,
            mediaTypes: ['application/json', ...(op.yaml ? YAML_TYPES : [])],
          },
        }
      : {}),
    responses: responsesOf(op),
    open: op.open,
  }
}

let cached: JsonSchema | undefined

export function openApiDocument(): JsonSchema {
  cached ??= buildOpenApi({
    title: 'faultline controller',
    description:
      'Stores experiments, starts and aborts runs, keeps journals and reports, runs schedules, applies traffic shaping, and halts everything. Errors are `{ code, error, errors: [{ path, message }] }` (docs/errors.md).',
    version: '1',
    bearer: { description: 'the --token / FAULTLINE_TOKEN the controller was started with' },
    tags: TAGS,
    operations: Object.entries(OPERATIONS).map(([id, op]) => operationSpec(id, op)),
    schemas: Object.fromEntries(Object.entries(BODIES).map(([name, body]) => [name, body.json])),
  })
  return cached
}
