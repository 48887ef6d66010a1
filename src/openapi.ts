/**
 * Builds an OpenAPI 3.1 document from a route table: the one generator behind the controller's
 * `/openapi.json` and the sidecar admin API's. Schemas come from the validation DSL
 * (src/schema.ts) and refer to shared parts as `#/$defs/<name>`; here every definition they use
 * is hoisted into `components.schemas` and the references rewritten to point there, and the
 * result is checked to have no reference that resolves nowhere.
 */
import { errors } from './errors.ts'
import {
  array,
  assertRefsResolve,
  definition,
  definitionsOf,
  type JsonSchema,
  object,
  required,
  string,
} from './schema.ts'

export type HttpMethod = 'get' | 'put' | 'post' | 'delete'

/** One response: a JSON body (schema), a text body (media type), or nothing. */
export interface ResponseSpec {
  description: string
  json?: JsonSchema
  text?: { mediaType: string; schema?: JsonSchema }
}

export interface OperationSpec {
  operationId: string
  method: HttpMethod
  /** OpenAPI form, `/rules/{id}`. */
  path: string
  summary: string
  description?: string
  tag?: string
  /** Path parameters, by name, with the schema each must match. */
  pathParams?: Record<string, JsonSchema>
  query?: { name: string; required?: boolean; description: string; schema: JsonSchema }[]
  body?: { schema: JsonSchema; required: boolean; mediaTypes: readonly string[]; description?: string }
  /** By status (`200`, `404`, `4XX`). */
  responses: Record<string, ResponseSpec>
  /** Needs no credentials even when the document's security applies. */
  open?: boolean
}

export interface ApiSpec {
  title: string
  description: string
  version: string
  /** The bearer-token scheme, when the API has one. */
  bearer?: { description: string }
  tags?: Record<string, string>
  operations: readonly OperationSpec[]
  /** Named schemas to publish whether or not an operation refers to them by name. */
  schemas?: Record<string, JsonSchema>
}

const issues = array(
  object({
    path: required(string({ description: 'JSON pointer into the body, or /params/<name> for a name in the URL' })),
    message: required(string()),
  }),
)

/**
 * Every error answer of both services (FaultlineError.toJSON, through httpErrorOf): the stable
 * code, the message, every problem with its path, and the details some codes carry. The code
 * list is the catalogue itself (src/errors.ts).
 */
const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['code', 'error'],
  properties: {
    code: {
      type: 'string',
      enum: Object.values(errors).map((e) => e.code),
      description: 'a stable code from docs/errors.md',
    },
    error: { type: 'string', description: 'what went wrong, for people' },
    errors: { ...issues.json, description: 'every problem, with its path' },
    sidecar: {
      type: 'object',
      description: 'FL_ERR_SIDECAR_UNREACHABLE and FL_ERR_SIDECAR_REJECTED: the sidecar, and what it answered',
      properties: {
        url: { type: 'string' },
        instance: { type: 'string', description: 'fleet mode: the instance id' },
        status: { type: 'integer' },
        code: { type: 'string' },
        errors: issues.json,
      },
    },
    record: { type: 'string', description: 'FL_ERR_STORE_CORRUPT: the file or Redis key' },
  },
  additionalProperties: { description: 'further details a code carries' },
}

/** The error body, as a reference to the `Error` definition (published in every document using it). */
export function errorBody(description?: string): JsonSchema {
  return definition('Error', () => ({ json: ERROR_SCHEMA, check: (v: unknown) => v }), { description }).json
}

/** An error answer: the project's error body. */
export function errorResponse(description: string): ResponseSpec {
  return { description, json: errorBody() }
}

function responseObject(r: ResponseSpec): JsonSchema {
  if (r.json) return { description: r.description, content: { 'application/json': { schema: r.json } } }
  if (r.text)
    return {
      description: r.description,
      // The charset is the server's business; other parameters (Prometheus' version) are the format.
      content: {
        [r.text.mediaType.replace(/;\s*charset=[^;]*/i, '')]: { schema: r.text.schema ?? { type: 'string' } },
      },
    }
  return { description: r.description }
}

function operationObject(op: OperationSpec): JsonSchema {
  const parameters = [
    ...Object.entries(op.pathParams ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
    ...(op.query ?? []).map((q) => ({
      name: q.name,
      in: 'query',
      required: q.required ?? false,
      description: q.description,
      schema: q.schema,
    })),
  ]
  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(op.tag ? { tags: [op.tag] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: op.body.required,
            ...(op.body.description ? { description: op.body.description } : {}),
            content: Object.fromEntries(op.body.mediaTypes.map((type) => [type, { schema: op.body!.schema }])),
          },
        }
      : {}),
    responses: Object.fromEntries(Object.entries(op.responses).map(([status, r]) => [status, responseObject(r)])),
    ...(op.open ? { security: [] } : {}),
  }
}

/** A copy of `v` whose `#/$defs/<name>` references point at `#/components/schemas/<name>`. */
function rebase(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rebase)
  if (!v || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      k === '$ref' && typeof x === 'string' ? x.replace(/^#\/\$defs\//, '#/components/schemas/') : rebase(x),
    ]),
  )
}

/** `named` plus every definition anything in `uses` references; one name for two schemas is a bug. */
function collectSchemas(named: Record<string, JsonSchema>, uses: unknown): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = { ...named }
  for (const [name, def] of Object.entries(definitionsOf([named, uses]))) {
    if (out[name] !== undefined && out[name] !== def) throw new Error(`openapi: two schemas named ${name}`)
    out[name] = def
  }
  return out
}

export function buildOpenApi(spec: ApiSpec): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {}
  for (const op of spec.operations) {
    const item = (paths[op.path] ??= {})
    if (item[op.method]) throw new Error(`openapi: ${op.method} ${op.path} is declared twice`)
    item[op.method] = operationObject(op)
  }
  const doc = rebase({
    openapi: '3.1.0',
    info: {
      title: spec.title,
      description: spec.description,
      version: spec.version,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    // Relative: the server is whichever one served this document.
    servers: [{ url: '/', description: 'the server that serves this document' }],
    ...(spec.tags ? { tags: Object.entries(spec.tags).map(([name, description]) => ({ name, description })) } : {}),
    ...(spec.bearer ? { security: [{ bearer: [] }] } : {}),
    paths,
    components: {
      ...(spec.bearer
        ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: spec.bearer.description } } }
        : {}),
      schemas: collectSchemas(spec.schemas ?? {}, paths),
    },
  }) as JsonSchema
  assertRefsResolve(doc, spec.title)
  return doc
}
