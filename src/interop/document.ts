/**
 * A validated experiment back as a document someone can read and run again: durations, which
 * validation turned into milliseconds, written with units again ("1500ms"). Which fields are
 * durations comes from the published JSON Schema, so a new duration field needs no change here.
 */
import { experimentJsonSchema, type ExperimentDoc } from '../experiments/schema.ts'
import { isPlainObject } from '../schema.ts'

type JsonSchema = Record<string, unknown>

const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$'

function deref(s: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = s.$ref
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return s
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((o, k) => (isPlainObject(o) ? o[k] : undefined), root)
  return isPlainObject(target) ? deref(target, root) : s
}

function convert(v: unknown, schema: unknown, root: JsonSchema): unknown {
  if (!isPlainObject(schema)) return v
  const s = deref(schema, root)
  if (s.pattern === DURATION_PATTERN && typeof v === 'number') return exactDuration(v)
  if (Array.isArray(s.oneOf)) {
    // The choice whose type fits the value (oneOfTypes picks by JSON type too).
    const type = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v
    const pick = (s.oneOf as unknown[]).find((c) => {
      const t = isPlainObject(c) ? deref(c, root).type : undefined
      return (
        t === type ||
        (t === 'integer' && type === 'number') ||
        (t === 'string' && type === 'number' && isDuration(c, root))
      )
    })
    return pick ? convert(v, pick, root) : v
  }
  if (Array.isArray(v)) return v.map((x) => convert(x, s.items, root))
  if (isPlainObject(v)) {
    const props = isPlainObject(s.properties) ? s.properties : {}
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, convert(x, k in props ? props[k] : s.additionalProperties, root)]),
    )
  }
  return v
}

/** Exact, in the largest unit that divides it: 30000 -> "30s", 1500 -> "1500ms". */
function exactDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

const isDuration = (c: unknown, root: JsonSchema) => isPlainObject(c) && deref(c, root).pattern === DURATION_PATTERN

export function experimentDocument(x: ExperimentDoc): Record<string, unknown> {
  const schema = experimentJsonSchema() as JsonSchema
  return convert(JSON.parse(JSON.stringify(x)), schema, schema) as Record<string, unknown>
}
