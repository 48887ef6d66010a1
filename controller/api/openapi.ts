/**
 * The controller's OpenAPI 3.1 description, served at GET /openapi.json. Generated from the
 * operation table (routes.ts) and the body declarations (bodies.ts) the API checks requests
 * with, so the description cannot drift from what the handlers accept.
 */
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../../src/names.ts'
import { ruleSetJsonSchema } from '../../src/rules/schema.ts'
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

/** Where a `#/$defs/<name>` reference of an embedded schema lives in this document. */
const DEFS: Record<string, string> = { rule: '#/components/schemas/RuleSet/properties/rules/items' }

/**
 * A copy of `schema` whose `#/$defs/...` references point into this document: a $ref resolves
 * against the document root, and here that is the OpenAPI document, not the embedded schema.
 */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase)
  if (!schema || typeof schema !== 'object') return schema
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => {
      if (k !== '$ref' || typeof v !== 'string' || !v.startsWith('#/$defs/')) return [k, rebase(v)]
      const target = DEFS[v.slice('#/$defs/'.length)]
      if (!target) throw new Error(`openapi: no home for ${v}; add it to DEFS`)
      return [k, target]
    }),
  )
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
  const { $schema: _r, ...ruleSet } = ruleSetJsonSchema()
  return {
    openapi: '3.1.0',
    info: { title: 'faultline controller', version: '1' },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...Object.fromEntries(Object.entries(BODIES).map(([name, body]) => [name, rebase(body.json)])),
        RuleSet: ruleSet,
        Error: ERROR,
      },
    },
  }
}
