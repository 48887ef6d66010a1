/**
 * The controller's OpenAPI 3.1 description, served at GET /openapi.json. Generated from the
 * operation table (routes.ts) and the body declarations (bodies.ts) the API checks requests
 * with, so the description cannot drift from what the handlers accept.
 */
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../../src/names.ts'
import { assertRefsResolve, definitionsOf, type JsonSchema } from '../../src/schema.ts'
import { BODIES } from './bodies.ts'
import { API, paramsOf } from './routes.ts'

const ISSUES = {
  type: 'array',
  items: {
    type: 'object',
    properties: { path: { type: 'string', description: 'JSON pointer' }, message: { type: 'string' } },
  },
}

const ERROR = {
  type: 'object',
  required: ['code', 'error'],
  properties: {
    code: { type: 'string', description: 'a stable code from docs/errors.md' },
    error: { type: 'string' },
    errors: ISSUES,
    sidecar: {
      type: 'object',
      description: 'FL_ERR_SIDECAR_UNREACHABLE and FL_ERR_SIDECAR_REJECTED: the sidecar, and what it answered',
      properties: {
        url: { type: 'string' },
        instance: { type: 'string', description: 'fleet mode: the instance id' },
        status: { type: 'integer' },
        code: { type: 'string' },
        errors: ISSUES,
      },
    },
    record: { type: 'string', description: 'FL_ERR_STORE_CORRUPT: the file or Redis key' },
  },
}

/**
 * A copy of `schema` whose `#/$defs/<name>` references point at `#/components/schemas/<name>`:
 * a $ref resolves against the document root, and here that is the OpenAPI document, so every
 * definition an embedded schema uses is hoisted into the components (see withDefinitions).
 */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase)
  if (!schema || typeof schema !== 'object') return schema
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, '#/components/schemas/') : rebase(v),
    ]),
  )
}

/** `schemas` plus every definition they reference, all rebased; a name used twice is a bug. */
function withDefinitions(schemas: Record<string, JsonSchema>): Record<string, unknown> {
  const out: Record<string, JsonSchema> = { ...schemas }
  for (const json of Object.values(schemas))
    for (const [name, def] of Object.entries(definitionsOf(json))) {
      if (out[name] !== undefined && out[name] !== def) throw new Error(`openapi: two schemas named ${name}`)
      out[name] = def
    }
  return rebase(out) as Record<string, unknown>
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
})

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {}
  for (const [p, ops] of Object.entries(API)) {
    const item: Record<string, unknown> = {}
    const params = paramsOf(p).map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string', pattern: NAME_PATTERN.source, maxLength: NAME_MAX_LENGTH },
    }))
    for (const [method, op] of Object.entries(ops)) {
      const schema = { $ref: `#/components/schemas/${op.body}` }
      item[method] = {
        summary: op.summary,
        ...(params.length ? { parameters: params } : {}),
        ...(op.body
          ? {
              requestBody: {
                required: !op.optionalBody,
                content: Object.fromEntries(
                  ['application/json', ...(op.alsoAccepts ?? [])].map((type) => [type, { schema }]),
                ),
              },
            }
          : {}),
        responses: {
          [String(op.ok ?? 200)]: { description: 'OK' },
          '4XX': errorResponse('The request is at fault: code, message, and field paths'),
          '5XX': errorResponse('A sidecar, Redis or the store is at fault (502, 503); 500 is a bug'),
        },
        ...(op.open ? { security: [] } : {}),
      }
    }
    paths[p] = item
  }
  const doc = {
    openapi: '3.1.0',
    info: { title: 'faultline controller', version: '1' },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: withDefinitions({
        ...Object.fromEntries(Object.entries(BODIES).map(([name, body]) => [name, body.json])),
        Error: ERROR,
      }),
    },
  }
  assertRefsResolve(doc, 'openapi')
  return doc
}
