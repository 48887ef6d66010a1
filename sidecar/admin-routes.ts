/**
 * The sidecar admin API's operations, declared once: admin.ts registers its route table from
 * this list (a handler per operationId, required by type), and admin-openapi.ts generates the
 * admin `GET /openapi.json` from it. Plain data and schemas: nothing here touches a socket.
 */
import { RULE_ID } from '../src/rules/schema.ts'
import {
  array,
  boolean,
  choice,
  type JsonSchema,
  number,
  object,
  record,
  required,
  type Schema,
  string,
} from '../src/schema.ts'

export type AdminMethod = 'get' | 'put' | 'post' | 'delete'

/** Methods that change state: they need the bearer token when the sidecar has one. */
export const MUTATING = new Set(['PUT', 'POST', 'DELETE', 'PATCH'])

export interface AdminOperation {
  readonly method: AdminMethod
  /** OpenAPI form, `/rules/{id}`. */
  readonly path: string
  readonly summary: string
  readonly query?: readonly { name: string; required?: boolean; description: string; schema: JsonSchema }[]
  /** The JSON body: `$defs` names of the schemas it may be (one of them). */
  readonly body?: readonly ('RuleSet' | 'Rule')[]
  readonly ok?: 200 | 201
  /** A JSON answer (schema), or text in a media type. */
  readonly answer: { json: JsonSchema } | { text: string; description: string }
  /** Other answers that are not errors (readiness: 503 with the same body). */
  readonly alsoAnswers?: Readonly<Record<number, string>>
  /** Error statuses beyond the ones every operation of its kind has (see admin-openapi.ts). */
  readonly errors?: readonly (404 | 409)[]
}

/** A plain JSON Schema, for what the DSL does not express (null, oneOf of objects). */
function raw(json: JsonSchema): Schema<unknown> {
  return { json, check: (v) => v }
}

const generation = number({ integer: true, min: 0, description: 'the rule set generation after the change' })
const Generation = object({ generation: required(generation) })

const nullable = (description?: string) => raw({ type: ['number', 'null'], ...(description ? { description } : {}) })
const latency = object(
  {
    p50: required(nullable()),
    p90: required(nullable()),
    p95: required(nullable()),
    p99: required(nullable()),
    max: required(nullable()),
  },
  { description: 'milliseconds; null when there were no requests' },
)
const cohort = object({
  count: required(number({ integer: true, min: 0 })),
  errors: required(number({ integer: true, min: 0 })),
  errorRate: required(nullable('errors / count; null when count is 0')),
  latencyMs: required(latency),
})
const ruleCounts = record(
  object({
    matched: required(number({ integer: true, min: 0 })),
    injected: required(number({ integer: true, min: 0 })),
  }),
  { description: 'per rule id: requests matched and injected in the window' },
)
const fleetStatus = object(
  {
    service: string({ description: 'the service this instance follows' }),
    instance: required(string({ description: 'this instance id, as registered in Redis' })),
    applied: object(
      { epoch: required(string()), generation: required(number({ integer: true, min: 0 })) },
      { description: 'the desired rules applied last; absent until the first' },
    ),
    connected: required(boolean()),
    subscribed: required(boolean()),
    stale: object({
      code: required(choice(['FL_ERR_FLEET_STALE'])),
      reason: required(string()),
      since: required(string({ description: 'ISO-8601' })),
      error: string(),
    }),
  },
  { description: 'fleet mode only: following the service rules in Redis, or why not' },
)

const stats = object(
  {
    generation: required(generation),
    window: required(string({ description: 'the window actually covered, e.g. "30s"' })),
    windowMs: required(number({ integer: true, min: 0 })),
    throughput: required(number({ min: 0, description: 'requests per second' })),
    count: required(number({ integer: true, min: 0 })),
    errors: required(number({ integer: true, min: 0 })),
    errorRate: required(nullable('errors / count; null when count is 0')),
    latencyMs: required(latency),
    cohorts: required(object({ faulted: required(cohort), unfaulted: required(cohort) })),
    rules: required(ruleCounts),
    fleet: fleetStatus,
  },
  { description: 'exact statistics over the window (format=json)' },
)
const statsHdr = object(
  {
    generation: required(generation),
    window: required(string()),
    windowMs: required(number({ integer: true, min: 0 })),
    histograms: required(
      object(
        { faulted: required(string()), unfaulted: required(string()) },
        { description: 'HDR histograms, compressed base64 (HdrHistogram V2), microseconds' },
      ),
    ),
    errors: required(
      object({ faulted: required(number({ integer: true })), unfaulted: required(number({ integer: true })) }),
    ),
    rules: required(ruleCounts),
    fleet: fleetStatus,
  },
  { description: 'mergeable histograms over the window (format=hdr), for exact percentiles across sidecars' },
)

const RULE_REF = { $ref: '#/$defs/Rule' }

export const ADMIN_OPERATIONS = {
  listRules: {
    method: 'get',
    path: '/rules',
    summary: 'The rules in force, and the generation',
    answer: {
      json: object({
        generation: required(generation),
        rules: required(array(raw(RULE_REF), { description: 'as stored: a ttl is shown as its expiresAt' })),
      }).json,
    },
  },
  replaceRules: {
    method: 'put',
    path: '/rules',
    summary: 'Replace every rule atomically (all or nothing: FL_ERR_RULES_INVALID lists every problem)',
    body: ['RuleSet'],
    answer: { json: Generation.json },
  },
  addRules: {
    method: 'post',
    path: '/rules',
    summary: 'Add one rule, or { rules: [...] } to add several atomically; 409 for an id in use',
    body: ['Rule', 'RuleSet'],
    ok: 201,
    answer: { json: Generation.json },
    errors: [409],
  },
  deleteRule: {
    method: 'delete',
    path: '/rules/{id}',
    summary: 'Remove one rule',
    answer: { json: Generation.json },
    errors: [404],
  },
  deleteRulesBySource: {
    method: 'delete',
    path: '/rules',
    summary: 'Remove every rule with this source tag (POST /reset removes every rule)',
    query: [{ name: 'source', required: true, description: 'the owner tag (a run id)', schema: { type: 'string' } }],
    answer: {
      json: object({
        generation: required(generation),
        removed: required(array(string(), { description: 'rule ids' })),
      }).json,
    },
  },
  reset: {
    method: 'post',
    path: '/reset',
    summary: 'Remove every rule (the kill switch)',
    answer: { json: Generation.json },
  },
  getRuleSchema: {
    method: 'get',
    path: '/schema',
    summary: 'The JSON Schema (draft 2020-12) of a rule set, as `faultline schema` prints it',
    answer: { json: { type: 'object', description: 'a JSON Schema document' } },
  },
  getStats: {
    method: 'get',
    path: '/stats',
    summary: 'Request statistics over a window: counts, error rate, exact percentiles, per cohort and per rule',
    query: [
      {
        name: 'window',
        description: 'a duration from 1s to the retention (120s by default); default 30s',
        schema: { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$' },
      },
      { name: 'format', description: 'json (default) or hdr', schema: { type: 'string', enum: ['json', 'hdr'] } },
    ],
    answer: { json: { oneOf: [stats.json, statsHdr.json] } },
  },
  getMetrics: {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    answer: { text: 'text/plain; version=0.0.4; charset=utf-8', description: 'Prometheus text format 0.0.4' },
  },
  getHealth: {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    answer: { json: object({ status: required(choice(['ok'])) }).json },
  },
  getReadiness: {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: the upstream accepts connections and the rules (file or fleet) have loaded',
    answer: {
      json: object({
        ready: required(boolean()),
        upstream: required(boolean('a TCP connection to the upstream opened within 1 s')),
        rulesLoaded: required(boolean()),
        generation: required(generation),
        fleet: fleetStatus,
      }).json,
    },
    alsoAnswers: { 503: 'Not ready (the same body says why)' },
  },
  getOpenApi: {
    method: 'get',
    path: '/openapi.json',
    summary: 'This description',
    answer: { json: { type: 'object', description: 'this document' } },
  },
} as const satisfies Record<string, AdminOperation>

export type AdminOperationId = keyof typeof ADMIN_OPERATIONS

/** The `/rules/:id` form the admin route table matches. */
export function colonPath(apiPath: string): string {
  return apiPath.replace(/\{(\w+)\}/g, ':$1')
}

/** Rule ids in a path are checked by the store; published with the rule id grammar. */
export const RULE_ID_PARAM: JsonSchema = { type: 'string', pattern: RULE_ID.source }
