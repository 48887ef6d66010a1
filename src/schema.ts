/**
 * A small validation DSL. One declaration gives both the checker (which collects every issue
 * with its JSON pointer, and rejects unknown fields so a typo never silently disables a fault)
 * and the JSON Schema published for editors and docs.
 */

import { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.ts'
import type { FieldIssue } from './errors.ts'

export type JsonSchema = Record<string, unknown>

export interface Schema<T> {
  readonly json: JsonSchema
  /** Returns the checked value, or undefined after pushing at least one issue. */
  check(value: unknown, path: string, issues: FieldIssue[]): T | undefined
}

export type Infer<S> = S extends Schema<infer T> ? T : never

export function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`
}

function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v
}

function describe(json: JsonSchema, description?: string): JsonSchema {
  return description ? { ...json, description } : json
}

export function string(
  opts: {
    pattern?: RegExp
    minLength?: number
    maxLength?: number
    enum?: readonly string[]
    description?: string
    /** Said instead of "must match <pattern>" when the pattern fails. */
    patternMessage?: string
    /** A further check: returns the problem, or undefined when the value is fine. */
    refine?: (v: string) => string | undefined
  } = {},
): Schema<string> {
  const json: JsonSchema = { type: 'string' }
  if (opts.pattern) json.pattern = opts.pattern.source
  if (opts.minLength !== undefined) json.minLength = opts.minLength
  if (opts.maxLength !== undefined) json.maxLength = opts.maxLength
  if (opts.enum) json.enum = [...opts.enum]
  return {
    json: describe(json, opts.description),
    check(v, path, issues) {
      if (typeof v !== 'string') return void issues.push({ path, message: `must be a string, got ${typeName(v)}` })
      if (opts.enum && !opts.enum.includes(v))
        return void issues.push({
          path,
          message: `must be one of ${opts.enum.map((e) => `"${e}"`).join(', ')}`,
        })
      if (opts.minLength !== undefined && v.length < opts.minLength)
        return void issues.push({ path, message: `must be at least ${opts.minLength} characters` })
      if (opts.maxLength !== undefined && v.length > opts.maxLength)
        return void issues.push({ path, message: `must be at most ${opts.maxLength} characters` })
      if (opts.pattern && !opts.pattern.test(v))
        return void issues.push({ path, message: opts.patternMessage ?? `must match ${opts.pattern.source}` })
      const problem = opts.refine?.(v)
      if (problem !== undefined) return void issues.push({ path, message: problem })
      return v
    },
  }
}

/** One of a fixed set of strings, typed as their union. */
export function choice<const E extends string>(values: readonly E[], description?: string): Schema<E> {
  return string({ enum: values, description }) as Schema<E>
}

export function number(
  opts: { min?: number; max?: number; integer?: boolean; description?: string } = {},
): Schema<number> {
  const json: JsonSchema = { type: opts.integer ? 'integer' : 'number' }
  if (opts.min !== undefined) json.minimum = opts.min
  if (opts.max !== undefined) json.maximum = opts.max
  return {
    json: describe(json, opts.description),
    check(v, path, issues) {
      if (typeof v !== 'number' || !Number.isFinite(v))
        return void issues.push({ path, message: `must be a number, got ${typeName(v)}` })
      if (opts.integer && !Number.isInteger(v)) return void issues.push({ path, message: 'must be an integer' })
      if (opts.min !== undefined && v < opts.min) return void issues.push({ path, message: `must be >= ${opts.min}` })
      if (opts.max !== undefined && v > opts.max) return void issues.push({ path, message: `must be <= ${opts.max}` })
      return v
    },
  }
}

export function boolean(description?: string): Schema<boolean> {
  return {
    json: describe({ type: 'boolean' }, description),
    check(v, path, issues) {
      if (typeof v !== 'boolean')
        return void issues.push({ path, message: `must be true or false, got ${typeName(v)}` })
      return v
    },
  }
}

/** A duration string such as "250ms" or "1m30s", checked to milliseconds. */
export function duration(opts: { min?: number; max?: number; description?: string } = {}): Schema<number> {
  return {
    json: describe({ type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$' }, opts.description),
    check(v, path, issues) {
      const ms = typeof v === 'string' ? parseDuration(v) : undefined
      if (ms === undefined)
        return void issues.push({
          path,
          message: 'must be a duration with units, such as "500ms", "30s" or "1m30s"',
        })
      if (opts.min !== undefined && ms < opts.min)
        return void issues.push({ path, message: `must be at least ${opts.min}ms` })
      const max = Math.min(opts.max ?? MAX_DURATION_MS, MAX_DURATION_MS)
      if (ms > max) return void issues.push({ path, message: `must be at most ${formatDuration(max)}` })
      return ms
    },
  }
}

export function array<T>(
  item: Schema<T>,
  opts: { minItems?: number; maxItems?: number; description?: string } = {},
): Schema<T[]> {
  const json: JsonSchema = { type: 'array', items: item.json }
  if (opts.minItems !== undefined) json.minItems = opts.minItems
  if (opts.maxItems !== undefined) json.maxItems = opts.maxItems
  return {
    json: describe(json, opts.description),
    check(v, path, issues) {
      if (!Array.isArray(v)) return void issues.push({ path, message: `must be an array, got ${typeName(v)}` })
      if (opts.minItems !== undefined && v.length < opts.minItems)
        return void issues.push({ path, message: `must have at least ${opts.minItems} item(s)` })
      if (opts.maxItems !== undefined && v.length > opts.maxItems)
        return void issues.push({ path, message: `must have at most ${opts.maxItems} items` })
      const before = issues.length
      const out = v.map((x, i) => item.check(x, pointer(path, i), issues))
      return issues.length === before ? (out as T[]) : undefined
    },
  }
}

/** A map from free-form keys to values of one schema (headers, query). */
export function record<T>(
  value: Schema<T>,
  opts: { key?: RegExp | ((k: string) => string | undefined); description?: string } = {},
): Schema<Record<string, T>> {
  const key = opts.key
  const keyProblem =
    key instanceof RegExp ? (k: string) => (key.test(k) ? undefined : `name must match ${key.source}`) : key
  return {
    json: describe({ type: 'object', additionalProperties: value.json }, opts.description),
    check(v, path, issues) {
      if (!isPlainObject(v)) return void issues.push({ path, message: `must be an object, got ${typeName(v)}` })
      const before = issues.length
      const out: Record<string, T> = {}
      for (const [k, x] of Object.entries(v)) {
        const problem = keyProblem?.(k)
        if (problem !== undefined) issues.push({ path: pointer(path, k), message: problem })
        const checked = value.check(x, pointer(path, k), issues)
        if (checked !== undefined) out[k] = checked
      }
      return issues.length === before ? out : undefined
    },
  }
}

export interface Field<T> {
  schema: Schema<T>
  required: boolean
}

export function required<T>(schema: Schema<T>): Field<T> {
  return { schema, required: true }
}

type Shape = Record<string, Schema<unknown> | Field<unknown>>
type FieldType<F> = F extends Field<infer T> ? T : F extends Schema<infer T> ? T : never
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends Field<unknown> ? K : never }[keyof S]
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: FieldType<S[K]> } & {
  [K in OptionalKeys<S>]?: FieldType<S[K]>
}

function asField(f: Schema<unknown> | Field<unknown>): Field<unknown> {
  return 'schema' in f && 'required' in f ? f : { schema: f as Schema<unknown>, required: false }
}

/** An object with known fields only: an unknown field is an error, with a suggestion. */
export function object<S extends Shape>(
  shape: S,
  opts: { description?: string; refine?: (v: ObjectOf<S>, path: string, issues: FieldIssue[]) => void } = {},
): Schema<ObjectOf<S>> {
  const fields = Object.entries(shape).map(([k, f]) => [k, asField(f)] as const)
  const properties: JsonSchema = {}
  for (const [k, f] of fields) properties[k] = f.schema.json
  const requiredKeys = fields.filter(([, f]) => f.required).map(([k]) => k)
  const json: JsonSchema = { type: 'object', properties, additionalProperties: false }
  if (requiredKeys.length) json.required = requiredKeys
  const known = new Set(fields.map(([k]) => k))
  return {
    json: describe(json, opts.description),
    check(v, path, issues) {
      if (!isPlainObject(v)) return void issues.push({ path, message: `must be an object, got ${typeName(v)}` })
      const before = issues.length
      for (const k of Object.keys(v)) {
        if (known.has(k)) continue
        const hint = closest(k, known)
        issues.push({
          path: pointer(path, k),
          message: `unknown field "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        })
      }
      const out: Record<string, unknown> = {}
      for (const [k, f] of fields) {
        const x = v[k]
        if (x === undefined) {
          if (f.required) issues.push({ path: pointer(path, k), message: 'is required' })
          continue
        }
        const checked = f.schema.check(x, pointer(path, k), issues)
        if (checked !== undefined) out[k] = checked
      }
      if (issues.length !== before) return undefined
      opts.refine?.(out as ObjectOf<S>, path, issues)
      return issues.length === before ? (out as ObjectOf<S>) : undefined
    },
  }
}

/** The first schema whose JSON type fits the value decides (number vs string, string vs object). */
export function oneOfTypes<T>(choices: Schema<T>[], description?: string): Schema<T> {
  return {
    json: describe({ oneOf: choices.map((c) => c.json) }, description),
    check(v, path, issues) {
      const t = typeName(v) === 'number' ? ['number', 'integer'] : [typeName(v)]
      const pick = choices.find((c) => t.includes(c.json.type as string))
      if (!pick) {
        const types = choices.map((c) => c.json.type).join(' or ')
        return void issues.push({ path, message: `must be ${types}, got ${typeName(v)}` })
      }
      return pick.check(v, path, issues)
    },
  }
}

/** Any JSON value, unchecked (a merge patch document, an expected value). */
export function anyJson(description?: string): Schema<unknown> {
  return { json: description ? { description } : {}, check: (v) => v }
}

/** A schema defined later (recursive structures such as nested step groups). */
export function lazy<T>(get: () => Schema<T>, json: JsonSchema = {}): Schema<T> {
  return {
    json,
    check: (v, path, issues) => get().check(v, path, issues),
  }
}

/** Exactly one of `keys` must be present on the checked object. */
export function exactlyOne(
  v: object,
  keys: readonly string[],
  path: string,
  issues: FieldIssue[],
  what: string,
): string | undefined {
  const given = keys.filter((k) => (v as Record<string, unknown>)[k] !== undefined)
  if (given.length !== 1) {
    issues.push({
      path,
      message:
        given.length === 0
          ? `must have one ${what}: ${keys.map((k) => `"${k}"`).join(', ')}`
          : `must have only one ${what}, got ${given.map((k) => `"${k}"`).join(' and ')}`,
    })
    return undefined
  }
  return given[0]
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) {
      bestDistance = d
      best = c
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]!
}

// ── published documents ──────────────────────────────────────────────────────

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema'

/** The definition a `definition()` reference stands for, keyed by the reference's own json object. */
const DEFINITIONS = new WeakMap<object, { name: string; target: () => JsonSchema }>()

/**
 * A schema published once, under `$defs/<name>` of whichever document uses it, and referenced
 * with `$ref` everywhere it appears: recursive structures (steps inside steps) and parts several
 * documents share (the sidecar rule). The document builders below collect what is referenced, so
 * a reference can never dangle. `check` replaces the target's check (a rule inside an experiment
 * is checked later, by the sidecar's own compiler); `description` sits beside the `$ref`.
 */
export function definition<T>(
  name: string,
  target: () => Schema<T>,
  opts: { check?: Schema<T>['check']; description?: string } = {},
): Schema<T> {
  const json: JsonSchema = { $ref: `#/$defs/${name}` }
  if (opts.description) json.description = opts.description
  DEFINITIONS.set(json, { name, target: () => target().json })
  return { json, check: opts.check ?? ((v, path, issues) => target().check(v, path, issues)) }
}

/**
 * Every definition `json` references, directly or through other definitions, by name. Two
 * different schemas under one name are a programming error, thrown at once.
 */
export function definitionsOf(json: unknown): Record<string, JsonSchema> {
  const defs: Record<string, JsonSchema> = {}
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk)
    if (!v || typeof v !== 'object') return
    const d = DEFINITIONS.get(v)
    if (d) {
      const target = d.target()
      const seen = defs[d.name]
      if (seen === undefined) {
        defs[d.name] = target
        walk(target)
      } else if (seen !== target) throw new Error(`schema: two different definitions named "${d.name}"`)
    }
    Object.values(v).forEach(walk)
  }
  walk(json)
  return defs
}

/** Every `$ref` in `doc` that does not resolve inside `doc` (only local `#/...` references exist here). */
export function danglingRefs(doc: unknown): string[] {
  const out: string[] = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk)
    if (!v || typeof v !== 'object') return
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') {
        if (resolvePointer(doc, x) === undefined) out.push(x)
      } else walk(x)
    }
  }
  walk(doc)
  return out
}

/** The value a local reference (`#/a/b~1c`) points at in `doc`, or undefined. */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (ref === '#') return doc
  if (!ref.startsWith('#/')) return undefined
  return ref
    .slice(2)
    .split('/')
    .map((t) => decodeURIComponent(t).replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), doc)
}

/** Throws when a generated document has a `$ref` that resolves nowhere (it is a bug, not input). */
export function assertRefsResolve(doc: unknown, what: string): void {
  const dangling = danglingRefs(doc)
  if (dangling.length) throw new Error(`${what}: $ref resolves nowhere: ${[...new Set(dangling)].join(', ')}`)
}

/**
 * `root` as a standalone JSON Schema (draft 2020-12): its definitions under `$defs`, every
 * reference checked to resolve. What `faultline schema` prints and editors load.
 */
export function jsonSchemaDocument(root: Schema<unknown>, meta: { title: string; description?: string }): JsonSchema {
  const defs = definitionsOf(root.json)
  const doc: JsonSchema = { $schema: JSON_SCHEMA_DIALECT, ...meta, ...root.json }
  if (Object.keys(defs).length) doc.$defs = defs
  assertRefsResolve(doc, meta.title)
  return doc
}
