/**
 * Chaos Toolkit's configuration, secrets and `${name}` substitution, as chaostoolkit-lib does
 * them: Python's `string.Template.safe_substitute` (`${name}` and `$name`, `$$` for `$`, an
 * unknown name left as written), a string that is exactly one reference keeps the value's type,
 * configuration wins over secrets, and `--var` sets configuration.
 */
import { isPlainObject } from '../../schema.ts'
import type { TranslateContext } from '../types.ts'
import { at, type Notes } from './notes.ts'

export type Values = Record<string, unknown>

const REF = /\$(?:\$|\{([_a-z][_a-z0-9]*)\}|([_a-z][_a-z0-9]*))/gi
const WHOLE = /^\$(?:\{([_a-z][_a-z0-9]*)\}|([_a-z][_a-z0-9]*))$/i

function envValue(
  spec: Record<string, unknown>,
  path: string,
  ctx: TranslateContext,
  notes: Notes,
): { ok: true; value: unknown } | { ok: false } {
  const key = spec.key
  if (typeof key !== 'string' || !key) {
    notes.refuse(at(path, 'key'), 'must name an environment variable')
    return { ok: false }
  }
  const raw = ctx.env[key]
  if (raw === undefined) {
    if ('default' in spec) return { ok: true, value: spec.default }
    notes.refuse(path, `reads $${key}, which is not set and has no default (Chaos Toolkit refuses to run too)`)
    return { ok: false }
  }
  const type = spec.env_var_type ?? 'str'
  switch (type) {
    case 'str':
      return { ok: true, value: raw }
    case 'int':
    case 'float': {
      const n = Number(raw)
      if (Number.isNaN(n) || (type === 'int' && !Number.isInteger(n))) {
        notes.refuse(path, `$${key} is ${JSON.stringify(raw)}, not ${type === 'int' ? 'an integer' : 'a number'}`)
        return { ok: false }
      }
      return { ok: true, value: n }
    }
    case 'bool':
      return { ok: true, value: !['false', '0', 'no', 'off', ''].includes(raw.toLowerCase()) }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(raw) as unknown }
      } catch {
        notes.refuse(path, `$${key} is not JSON`)
        return { ok: false }
      }
    default:
      notes.refuse(at(path, 'env_var_type'), `is ${JSON.stringify(type)}; faultline knows str, int, float, bool, json`)
      return { ok: false }
  }
}

/** One configuration or secret value: a literal, or `{type: env, key, default?, env_var_type?}`. */
function resolveValue(v: unknown, path: string, ctx: TranslateContext, notes: Notes): { ok: boolean; value?: unknown } {
  if (!isPlainObject(v) || typeof v.type !== 'string') return { ok: true, value: v }
  if (v.type === 'env') return envValue(v, path, ctx, notes)
  notes.refuse(
    at(path, 'type'),
    `is ${JSON.stringify(v.type)}: faultline reads literal values and {type: env} (no ${v.type} client)`,
  )
  return { ok: false }
}

/** Configuration, then `--var` over it (as `chaos run --var` does). */
export function configurationOf(doc: Record<string, unknown>, ctx: TranslateContext, notes: Notes): Values {
  const out: Values = {}
  const conf = doc.configuration
  if (conf !== undefined && !isPlainObject(conf)) notes.refuse('/configuration', 'must be an object')
  if (isPlainObject(conf))
    for (const [k, v] of Object.entries(conf)) {
      if (k in ctx.vars) continue
      const r = resolveValue(v, at('/configuration', k), ctx, notes)
      if (r.ok) out[k] = r.value
    }
  return { ...out, ...ctx.vars }
}

/** Every secret scope merged (chaostoolkit-lib substitutes with all of them). */
export function secretsOf(doc: Record<string, unknown>, ctx: TranslateContext, notes: Notes): Values {
  const out: Values = {}
  const secrets = doc.secrets
  if (secrets === undefined) return out
  if (!isPlainObject(secrets)) return notes.refuse('/secrets', 'must be an object of scopes') ?? out
  for (const [scope, entries] of Object.entries(secrets)) {
    if (!isPlainObject(entries)) {
      notes.refuse(at('/secrets', scope), 'must be an object of names to values')
      continue
    }
    for (const [k, v] of Object.entries(entries)) {
      const r = resolveValue(v, at('/secrets', scope, k), ctx, notes)
      if (r.ok) out[k] = r.value
    }
  }
  return out
}

/** `${name}` substitution in every string of `v`, as safe_substitute does it. */
export function substituteValues(v: unknown, values: Values): unknown {
  if (typeof v === 'string') {
    const whole = WHOLE.exec(v)
    const name = whole?.[1] ?? whole?.[2]
    if (name !== undefined && name in values) return values[name]
    return v.replace(REF, (m, braced?: string, bare?: string) => {
      if (m === '$$') return '$'
      const n = braced ?? bare!
      return n in values ? String(values[n]) : m
    })
  }
  if (Array.isArray(v)) return v.map((x) => substituteValues(x, values))
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substituteValues(x, values)]))
  return v
}
