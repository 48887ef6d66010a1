/**
 * The rule contract (DESIGN §3) as one schema. The fault fields come from the registry, so a
 * new fault kind appears here, in the published JSON Schema and in the docs without edits.
 */
import { faultKinds } from '../faults/index.ts'
import { TOKEN } from '../faults/shared.ts'
import type { Schema } from '../schema.ts'
import {
  array,
  boolean,
  choice,
  definition,
  duration,
  jsonSchemaDocument,
  number,
  object,
  oneOfTypes,
  record,
  required,
  string,
} from '../schema.ts'

export const RULE_ID = /^[A-Za-z0-9._-]{1,64}$/
export const MAX_RULES = 10_000

const headerMatcher = object(
  {
    name: required(string({ pattern: TOKEN, maxLength: 256 })),
    exact: string({ maxLength: 8192 }),
    regex: string({ maxLength: 1024, description: 'linear-time (RE2-style) regex' }),
    present: boolean(),
    absent: boolean(),
  },
  {
    refine(v, path, issues) {
      const given = (['exact', 'regex', 'present', 'absent'] as const).filter((k) => v[k] !== undefined)
      if (given.length !== 1)
        issues.push({ path, message: 'must have exactly one of "exact", "regex", "present", "absent"' })
      for (const k of ['present', 'absent'] as const)
        if (v[k] === false) issues.push({ path: `${path}/${k}`, message: 'must be true (use the other one)' })
    },
  },
)

const STATUS_RANGE = /^([1-5]\d\d)-([1-5]\d\d)$/
const statusMatcher = oneOfTypes<number | string>([
  number({ integer: true, min: 100, max: 599 }) as Schema<number | string>,
  string({ pattern: STATUS_RANGE, description: 'range "500-599"' }) as Schema<number | string>,
])

export const matchSchema = object({
  methods: array(string({ pattern: TOKEN, maxLength: 32 }), { minItems: 1 }),
  path: string({
    pattern: /^\//,
    maxLength: 2048,
    description: 'glob over the whole path: * one segment, ** any depth',
  }),
  pathRegex: string({ maxLength: 1024, description: 'linear-time (RE2-style) regex over the path' }),
  headers: array(headerMatcher),
  query: record(string({ maxLength: 8192 })),
  status: array(statusMatcher, { minItems: 1, description: 'response phase only' }),
  responseHeaders: array(headerMatcher, { description: 'response phase only' }),
})

function ruleShape() {
  const faults: Record<string, Schema<unknown>> = {}
  for (const k of faultKinds()) faults[k.kind] = k.schema
  return {
    id: required(string({ pattern: RULE_ID, description: 'unique, [A-Za-z0-9._-]{1,64}' })),
    source: string({ maxLength: 256, description: 'owner tag (experiment or run id); delete by source' }),
    phase: choice(['request', 'response'], 'request (default) | response'),
    match: matchSchema,
    percent: number({ min: 0, max: 100, description: '0..100, parts-per-million resolution; default 100' }),
    sticky: string({ pattern: TOKEN, maxLength: 256, description: 'hash this header instead of rolling' }),
    ttl: duration({ min: 1, description: 'the sidecar removes the rule after this long' }),
    expiresAt: string({
      maxLength: 64,
      description: 'ISO-8601 instant after which the sidecar removes the rule',
    }),
    maxActive: number({ integer: true, min: 1, description: 'cap on concurrent requests held by this rule' }),
    ...faults,
  }
}

let cached: ReturnType<typeof build> | undefined
function build() {
  const rule = object(ruleShape())
  const ruleSetOf = (item: Schema<unknown>) => object({ rules: required(array(item, { maxItems: MAX_RULES })) })
  return {
    rule,
    /** The rule inline: the standalone document `faultline schema` prints and GET /schema serves. */
    ruleSet: ruleSetOf(rule),
    /** The rule as a reference to the `Rule` definition: for documents that also publish Rule alone. */
    ruleSetByReference: ruleSetOf(definition('Rule', () => rule)),
  }
}

/** The schema of one rule and of a rule set, built once from the registry. */
export function ruleSchemas() {
  cached ??= build()
  return cached
}

/**
 * A sidecar rule inside another document (an experiment step, a shaping request), published as
 * a reference to the `Rule` definition. It passes anything here: the owner checks its rules in
 * full with the sidecar's own compiler (compileRuleSet), which reports better paths.
 */
export function ruleReference(description?: string): Schema<Record<string, unknown>> {
  return definition('Rule', () => ruleSchemas().rule as Schema<unknown> as Schema<Record<string, unknown>>, {
    check: (v) => v as Record<string, unknown>,
    description,
  })
}

/** JSON Schema (draft 2020-12) for `{ rules: Rule[] }`. */
export function ruleSetJsonSchema(): Record<string, unknown> {
  return jsonSchemaDocument(ruleSchemas().ruleSet, { title: 'faultline rule set' })
}
