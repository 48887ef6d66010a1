/**
 * What the Chaos Mesh and Litmus translations share: a ledger of refusals and approximations by
 * source path, a guard that refuses every field a translator does not handle (so nothing is
 * dropped silently), and the last step that validates the faultline/v1 document.
 */
import { errors, type FieldIssue } from '../../errors.ts'
import { validateExperiment } from '../../experiments/schema.ts'
import { isPlainObject, pointer } from '../../schema.ts'
import type { InteropNote, InteropSchedule, Translation } from '../types.ts'

export type Obj = Record<string, unknown>

/** Metadata the API server sets: meaningless for a run, noted so nothing is dropped unsaid. */
export const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'finalizers',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'ownerReferences',
]

export class Notes {
  readonly refusals: FieldIssue[] = []
  readonly approximations: InteropNote[] = []
  /** `${NAME}` placeholders no --var filled, by source path. */
  readonly unresolved: FieldIssue[] = []

  refuse(path: string, message: string): undefined {
    this.refusals.push({ path, message })
    return undefined
  }

  approx(path: string, message: string): void {
    this.approximations.push({ path, message })
  }

  /** Notes each field of `meta` (at `mpath`) that the API server set, as ignored. */
  serverMetadata(meta: Obj, mpath: string): void {
    for (const k of SERVER_METADATA)
      if (meta[k] !== undefined) this.approx(pointer(mpath, k), 'ignored: set by the API server')
  }

  /**
   * Refuses every key of `obj` that is not in `known`: an unknown field is an error with its
   * path, never ignored. `known` lists only fields the caller reads or notes.
   */
  only(obj: Obj, path: string, known: readonly string[], what: string): void {
    for (const key of Object.keys(obj))
      if (!known.includes(key))
        this.refuse(
          pointer(path, key),
          `is not a field of ${what} that faultline knows (it reads: ${known.join(', ')})`,
        )
  }

  /** The object at `obj[key]`, or undefined (refused when present but not an object). */
  object(obj: Obj, key: string, path: string): Obj | undefined {
    const v = obj[key]
    if (v === undefined || v === null) return undefined
    if (!isPlainObject(v)) return this.refuse(pointer(path, key), 'must be an object')
    return v
  }

  /** The list at `obj[key]`, or undefined (refused when present but not a list). */
  list(obj: Obj, key: string, path: string): unknown[] | undefined {
    const v = obj[key]
    if (v === undefined || v === null) return undefined
    if (!Array.isArray(v)) return this.refuse(pointer(path, key), 'must be a list')
    return v
  }

  /** The string at `obj[key]`; numbers and booleans are read as their text (YAML often types them). */
  string(obj: Obj, key: string, path: string): string | undefined {
    const v = obj[key]
    if (v === undefined || v === null) return undefined
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'boolean') return String(v)
    return this.refuse(pointer(path, key), 'must be a string')
  }

  /** A map of strings (labels, annotations, headers). */
  stringMap(obj: Obj, key: string, path: string): Record<string, string> | undefined {
    const o = this.object(obj, key, path)
    if (!o) return undefined
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v)
      else this.refuse(pointer(pointer(path, key), k), 'must be a string')
    }
    return out
  }
}

/** A source document's kind and apiVersion, when it is an object that has them. */
export function kindOf(doc: unknown): { apiVersion: string; kind: string } | undefined {
  if (!isPlainObject(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') return undefined
  return { apiVersion: doc.apiVersion, kind: doc.kind }
}

/**
 * Throws FL_ERR_EXPERIMENT_INVALID when anything was refused; otherwise validates the faultline
 * document (a translator bug surfaces here, as a refusal, never as a run of something else).
 */
export function finish(format: string, file: string, doc: Obj, notes: Notes, schedule?: InteropSchedule): Translation {
  if (notes.refusals.length)
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${file}: ${notes.refusals.length} field(s) faultline cannot run`, {
      issues: notes.refusals,
      details: { format, issues: notes.refusals },
    })
  const result = validateExperiment(doc)
  if (!result.ok && notes.unresolved.length)
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${file}: ${notes.unresolved.length} variable(s) not set`, {
      issues: notes.unresolved,
      details: { format, issues: notes.unresolved },
    })
  if (!result.ok)
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${file}: the translated experiment is not valid faultline/v1`, {
      issues: result.issues.map((i) => ({ path: i.path, message: `(translated) ${i.message}` })),
      details: { format, issues: result.issues, translated: doc },
    })
  return {
    format,
    experiment: result.experiment,
    approximations: notes.approximations,
    ...(schedule ? { schedule } : {}),
  }
}

/** A Kubernetes object name as a faultline name (lower-case letters, digits, "-", at most 63). */
export function faultlineName(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return cleaned || 'experiment'
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/**
 * Chaos Mesh and Litmus have no variables of their own; `--var NAME=value` fills `${NAME}` in
 * their string values, as in faultline documents. Only names given with --var are replaced:
 * anything else (a shell `${HOME}` in a cmdProbe) stays as written, and is named in the error
 * if the translated document is then invalid (a `${URL}` where a URL belongs).
 */
export function substituteVars(doc: unknown, vars: Record<string, string>, notes: Notes, path = ''): unknown {
  if (typeof doc === 'string')
    return doc.replace(VAR, (whole, name: string) => {
      if (Object.hasOwn(vars, name)) return vars[name]!
      notes.unresolved.push({ path, message: `uses \${${name}}, which is not set (pass --var ${name}=...)` })
      return whole
    })
  if (Array.isArray(doc)) return doc.map((x, i) => substituteVars(x, vars, notes, pointer(path, i)))
  if (isPlainObject(doc))
    return Object.fromEntries(
      Object.entries(doc).map(([k, v]) => [k, substituteVars(v, vars, notes, pointer(path, k))]),
    )
  return doc
}
