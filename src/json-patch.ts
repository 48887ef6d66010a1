/** RFC 7396 JSON merge patch and RFC 6902 JSON patch, on plain JSON values (no mutation of input). */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test'
  path: string
  from?: string
  value?: unknown
}

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** RFC 7396 §2: objects merge recursively, null deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = applyMergePatch(out[k], v)
  }
  return out
}

export class JsonPatchError extends Error {}

/** RFC 6901 pointer tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw new JsonPatchError(`"${pointer}" is not a JSON pointer (must start with /)`)
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v)
}

function arrayIndex(arr: unknown[], token: string, forInsert: boolean): number {
  if (forInsert && token === '-') return arr.length
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new JsonPatchError(`"${token}" is not an array index`)
  const i = Number(token)
  if (i > arr.length || (!forInsert && i === arr.length)) throw new JsonPatchError(`index ${i} is out of range`)
  return i
}

/** Applies RFC 6902 operations atomically: any failing op throws and the input is untouched. */
export function applyJsonPatch(doc: unknown, ops: readonly JsonPatchOp[]): unknown {
  let root = clone(doc)
  const get = (tokens: string[]): unknown => {
    let cur: unknown = root
    for (const t of tokens) {
      if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false)]
      else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t]
      else throw new JsonPatchError(`path /${tokens.join('/')} does not exist`)
    }
    return cur
  }
  const parentOf = (tokens: string[]): unknown => get(tokens.slice(0, -1))
  const add = (tokens: string[], value: unknown) => {
    if (tokens.length === 0) return void (root = value)
    const parent = parentOf(tokens)
    const last = tokens.at(-1)!
    if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, value)
    else if (isObject(parent)) parent[last] = value as Json
    else throw new JsonPatchError(`cannot add below a ${typeof parent}`)
  }
  const remove = (tokens: string[]): unknown => {
    if (tokens.length === 0) throw new JsonPatchError('cannot remove the whole document')
    const parent = parentOf(tokens)
    const last = tokens.at(-1)!
    if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false), 1)[0]
    if (isObject(parent) && Object.hasOwn(parent, last)) {
      const v = parent[last]
      delete parent[last]
      return v
    }
    throw new JsonPatchError(`path /${tokens.join('/')} does not exist`)
  }
  for (const op of ops) {
    const path = parsePointer(op.path)
    switch (op.op) {
      case 'add':
        add(path, clone(op.value))
        break
      case 'remove':
        remove(path)
        break
      case 'replace':
        remove(path)
        add(path, clone(op.value))
        break
      case 'move': {
        const from = parsePointer(op.from ?? '')
        if (op.path.startsWith(op.from + '/')) throw new JsonPatchError('cannot move a value into itself')
        add(path, remove(from))
        break
      }
      case 'copy':
        add(path, clone(get(parsePointer(op.from ?? ''))))
        break
      case 'test':
        if (!deepEqual(get(path), op.value)) throw new JsonPatchError(`test failed at ${op.path}`)
        break
    }
  }
  return root
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}
