/**
 * The sidecar admin API's OpenAPI 3.1 description, served at the admin `GET /openapi.json`.
 * Generated from the admin operation table (admin-routes.ts) that admin.ts registers its routes
 * from, with the rule schema the rule compiler checks against, so it cannot drift from either.
 * Loaded on the first request for it only: an injected sidecar that is never asked pays nothing.
 */
import { buildOpenApi, errorResponse, type OperationSpec, type ResponseSpec } from '../src/openapi.ts'
import { ruleSchemas } from '../src/rules/schema.ts'
import type { JsonSchema } from '../src/schema.ts'
import { ADMIN_OPERATIONS, type AdminOperation, MUTATING, RULE_ID_PARAM } from './admin-routes.ts'

const ERRORS = {
  400: 'The request is at fault: FL_ERR_RULES_INVALID (every problem with its path, nothing changed) or FL_ERR_BAD_REQUEST (a query parameter, or a body that is not JSON)',
  401: 'FL_ERR_UNAUTHORIZED: missing or wrong bearer token (needed to change anything when the sidecar has --admin-token; with --admin-token-required and no token, every change is refused)',
  404: 'FL_ERR_RULE_NOT_FOUND: no rule with this id',
  409: 'FL_ERR_RULE_DUPLICATE: a rule with this id exists already; nothing was added',
  413: 'FL_ERR_BAD_REQUEST: the body is larger than 16 MiB',
  415: 'FL_ERR_BAD_REQUEST: the body is not application/json',
  '5XX': 'FL_ERR_INTERNAL (500): a bug in faultline',
} as const

function responsesOf(op: AdminOperation): Record<string, ResponseSpec> {
  const ok: ResponseSpec =
    'json' in op.answer
      ? { description: op.summary, json: op.answer.json }
      : { description: op.answer.description, text: { mediaType: op.answer.text } }
  const statuses: (keyof typeof ERRORS)[] = []
  if (op.body || op.query || op.path.includes('{')) statuses.push(400)
  if (MUTATING.has(op.method.toUpperCase())) statuses.push(401)
  statuses.push(...(op.errors ?? []))
  if (op.body) statuses.push(413, 415)
  statuses.push('5XX')
  const also = Object.entries(op.alsoAnswers ?? {}).map(([status, description]) => [status, { ...ok, description }])
  return {
    [String(op.ok ?? 200)]: ok,
    ...Object.fromEntries(also),
    ...Object.fromEntries(statuses.sort().map((s) => [String(s), errorResponse(ERRORS[s])])),
  }
}

function operationSpec(operationId: string, op: AdminOperation): OperationSpec {
  const refs: JsonSchema[] = (op.body ?? []).map((name) => ({ $ref: `#/$defs/${name}` }))
  return {
    operationId,
    method: op.method,
    path: op.path,
    summary: op.summary,
    ...(op.path.includes('{') ? { pathParams: { id: RULE_ID_PARAM } } : {}),
    ...(op.query ? { query: [...op.query] } : {}),
    ...(op.body
      ? {
          body: {
            schema: refs.length === 1 ? refs[0]! : { oneOf: refs },
            required: true,
            mediaTypes: ['application/json'],
          },
        }
      : {}),
    responses: responsesOf(op),
    open: !MUTATING.has(op.method.toUpperCase()),
  }
}

let cached: JsonSchema | undefined

export function adminOpenApiDocument(): JsonSchema {
  cached ??= buildOpenApi({
    title: 'faultline sidecar admin API',
    description:
      'Rules, the kill switch, statistics, metrics and health of one faultline sidecar. Reading needs no token; changing needs the bearer token when the sidecar was started with one. Errors are `{ code, error, errors: [{ path, message }] }` (docs/errors.md).',
    version: '1',
    bearer: { description: 'the --admin-token the sidecar was started with (changes only)' },
    operations: Object.entries(ADMIN_OPERATIONS).map(([id, op]) => operationSpec(id, op)),
    schemas: { RuleSet: ruleSchemas().ruleSetByReference.json },
  })
  return cached
}
