/**
 * The three patch types the API server accepts for built-in resources:
 * - `application/json-patch+json`: RFC 6902, every operation (add, remove, replace, move, copy,
 *   test), `-` to append, `~0`/`~1` escapes; a failing operation (a `test` included) fails the
 *   whole patch, which the server answers with 422.
 * - `application/merge-patch+json`: RFC 7386 (null deletes, objects merge, everything else,
 *   lists included, replaces).
 * - `application/strategic-merge-patch+json`: merge patch plus the per-field list strategies of
 *   the Go types (`patchStrategy:"merge"` + `patchMergeKey`) and the directives `$patch`
 *   (replace, delete, merge), `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
 *   `$setElementOrder/<field>`.
 *
 * Approximation (strategic merge): the real server reads the strategy from the Go struct of the
 * exact type; here it is looked up by field name (with the container/service context for
 * `ports`), from the core/v1, apps/v1 and meta/v1 tags: containers, initContainers,
 * ephemeralContainers, volumes, imagePullSecrets, resourceClaims, schedulingGates, env (name);
 * volumeMounts (mountPath); volumeDevices (devicePath); hostAliases, podIPs, hostIPs (ip);
 * topologySpreadConstraints (topologyKey); ownerReferences (uid); conditions and node addresses
 * (type); container ports (containerPort); service ports (port); finalizers and podCIDRs merge as
 * sets of strings. Every other list is atomic (replaced whole) — node `spec.taints` and pod
 * `tolerations` included, exactly as in the Go types (they carry no patch strategy).
 */
import { KubeError, badRequest, unprocessable } from './errors.ts'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type JsonObject = { [k: string]: Json }

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (isObject(v)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k])]),
    )
  }
  return v
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 JSON Patch

export interface JsonPatchOp {
  op: string
  path: string
  from?: string
  value?: unknown
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw unprocessable(`invalid JSON pointer "${pointer}"`)
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function arrayIndex(token: string, length: number, forAdd: boolean, op: string, path: string): number {
  if (forAdd && token === '-') return length
  if (!/^(0|[1-9]\d*)$/.test(token))
    throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}"`)
  const i = Number(token)
  if (i > length || (!forAdd && i === length)) {
    throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}": index out of range`)
  }
  return i
}

/** The container that holds the last token of a path, or a 422 when the path does not exist. */
function parentOf(doc: Json, tokens: string[], op: string, path: string): Json {
  let cur: Json = doc
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false, op, path)]!
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t]!
    else throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}"`)
  }
  if (!Array.isArray(cur) && !isObject(cur)) {
    throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}"`)
  }
  return cur
}

function getAt(doc: Json, path: string, op: string): Json | undefined {
  const tokens = parsePointer(path)
  if (tokens.length === 0) return doc
  const parent = parentOf(doc, tokens, op, path)
  const last = tokens.at(-1)!
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false, op, path)]
  return Object.hasOwn(parent as JsonObject, last) ? (parent as JsonObject)[last] : undefined
}

function addAt(doc: Json, path: string, value: Json, op = 'add'): Json {
  const tokens = parsePointer(path)
  if (tokens.length === 0) return value
  const parent = parentOf(doc, tokens, op, path)
  const last = tokens.at(-1)!
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, op, path), 0, value)
  else (parent as JsonObject)[last] = value
  return doc
}

function removeAt(doc: Json, path: string, op = 'remove'): Json {
  const tokens = parsePointer(path)
  if (tokens.length === 0) throw unprocessable(`${op} operation does not apply: cannot remove the whole document`)
  const parent = parentOf(doc, tokens, op, path)
  const last = tokens.at(-1)!
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(last, parent.length, false, op, path), 1)
  } else {
    if (!Object.hasOwn(parent as JsonObject, last)) {
      throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}"`)
    }
    delete (parent as JsonObject)[last]
  }
  return doc
}

export function applyJsonPatch<T>(target: T, ops: unknown): T {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
  let doc = structuredClone(target) as Json
  for (const raw of ops as JsonPatchOp[]) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest(`invalid JSON patch operation: ${JSON.stringify(raw)}`)
    }
    const { op, path } = raw
    const value = structuredClone(raw.value) as Json
    switch (op) {
      case 'add':
        if (!('value' in raw)) throw unprocessable(`add operation does not apply: missing value`)
        doc = addAt(doc, path, value)
        break
      case 'remove':
        doc = removeAt(doc, path)
        break
      case 'replace': {
        if (!('value' in raw)) throw unprocessable(`replace operation does not apply: missing value`)
        if (getAt(doc, path, 'replace') === undefined) {
          throw unprocessable(`replace operation does not apply: doc is missing key: ${path}`)
        }
        if (parsePointer(path).length === 0) {
          doc = value
        } else {
          doc = removeAt(doc, path, 'replace')
          doc = addAt(doc, path, value, 'replace')
        }
        break
      }
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') throw badRequest(`${op} operation needs "from"`)
        const v = getAt(doc, raw.from, op)
        if (v === undefined)
          throw unprocessable(`${op} operation does not apply: doc is missing from path: "${raw.from}"`)
        if (op === 'move') doc = removeAt(doc, raw.from, op)
        doc = addAt(doc, path, structuredClone(v), op)
        break
      }
      case 'test': {
        const actual = getAt(doc, path, 'test')
        const ok = actual === undefined ? value === null || value === undefined : deepEqual(actual, value)
        if (!ok) throw unprocessable(`testing value ${path} failed: test failed`)
        break
      }
      default:
        throw badRequest(`Unexpected kind: ${op}`)
    }
  }
  return doc as T
}

// ---------------------------------------------------------------------------------------------
// RFC 7386 JSON Merge Patch

export function applyMergePatch<T>(target: T, patch: unknown): T {
  return merge(structuredClone(target) as Json, patch as Json) as T
}

function merge(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch)
  const out: JsonObject = isObject(target) ? target : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = merge(out[k] ?? null, v)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch

const containerLists = new Set(['containers', 'initContainers', 'ephemeralContainers'])

const mergeKeys: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  resourceClaims: 'name',
  schedulingGates: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  hostAliases: 'ip',
  podIPs: 'ip',
  hostIPs: 'ip',
  topologySpreadConstraints: 'topologyKey',
  ownerReferences: 'uid',
  conditions: 'type',
  addresses: 'type',
}

const primitiveMergeLists = new Set(['finalizers', 'podCIDRs'])

/** The merge key of a list field, 'primitive' for a merged list of strings, undefined for atomic. */
function listStrategy(path: string[], field: string): string | 'primitive' | undefined {
  if (primitiveMergeLists.has(field)) return 'primitive'
  if (field === 'ports') {
    if (path.some((p) => containerLists.has(p))) return 'containerPort'
    // A Service's spec.ports; ports lists elsewhere (NetworkPolicy rules) sit inside atomic lists.
    return path.length === 1 && path[0] === 'spec' ? 'port' : undefined
  }
  return mergeKeys[field]
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v))
    return v.filter((e) => !(isObject(e) && e.$patch !== undefined && Object.keys(e).length === 1)).map(stripDirectives)
  if (!isObject(v)) return v
  const out: JsonObject = {}
  for (const [k, x] of Object.entries(v)) {
    if (
      k === '$patch' ||
      k === '$retainKeys' ||
      k.startsWith('$setElementOrder/') ||
      k.startsWith('$deleteFromPrimitiveList/')
    )
      continue
    out[k] = stripDirectives(x)
  }
  return out
}

export function applyStrategicMergePatch<T>(target: T, patch: unknown): T {
  if (!isObject(patch)) throw badRequest('strategic merge patch must be a JSON object')
  const out = smp(structuredClone(target) as Json, patch, [])
  if (out === undefined) throw unprocessable('strategic merge patch deleted the whole object')
  return out as T
}

function smp(original: Json | undefined, patch: JsonObject, path: string[]): Json | undefined {
  const directive = patch.$patch
  if (directive === 'delete') return undefined
  if (directive === 'replace') return stripDirectives(patch)
  if (directive !== undefined && directive !== 'merge') {
    throw badRequest(`Unknown patch type: ${String(directive)}`)
  }
  const result: JsonObject = isObject(original) ? original : {}
  const orders: [string, Json[]][] = []
  const deletions: [string, Json[]][] = []
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue
    if (key.startsWith('$setElementOrder/')) {
      if (!Array.isArray(value)) throw badRequest('invalid $setElementOrder: not a list')
      orders.push([key.slice('$setElementOrder/'.length), value])
      continue
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      if (!Array.isArray(value)) throw badRequest('invalid $deleteFromPrimitiveList: not a list')
      deletions.push([key.slice('$deleteFromPrimitiveList/'.length), value])
      continue
    }
    if (value === null) {
      delete result[key]
    } else if (Array.isArray(value)) {
      const strategy = listStrategy(path, key)
      const current = Array.isArray(result[key]) ? (result[key] as Json[]) : []
      if (strategy === undefined) result[key] = stripDirectives(value)
      else if (strategy === 'primitive')
        result[key] = [...current, ...value.filter((v) => !current.some((c) => deepEqual(c, v)))]
      else result[key] = mergeList(current, value, strategy, [...path, key])
    } else if (isObject(value)) {
      const merged = smp(result[key], value, [...path, key])
      if (merged === undefined) delete result[key]
      else result[key] = merged
    } else {
      result[key] = value
    }
  }
  for (const [field, values] of deletions) {
    if (Array.isArray(result[field])) {
      result[field] = (result[field] as Json[]).filter((v) => !values.some((d) => deepEqual(d, v)))
    }
  }
  for (const [field, order] of orders) {
    const list = result[field]
    if (!Array.isArray(list)) continue
    const strategy = listStrategy(path, field)
    const keyOf = (e: Json): Json => (strategy && strategy !== 'primitive' && isObject(e) ? (e[strategy] ?? null) : e)
    const rank = (e: Json): number => {
      const k = keyOf(e)
      const i = order.findIndex((o) => deepEqual(keyOf(o), k))
      return i === -1 ? order.length : i
    }
    result[field] = list
      .map((e, i) => ({ e, i }))
      .sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i)
      .map((x) => x.e)
  }
  const retain = patch.$retainKeys
  if (Array.isArray(retain)) {
    for (const k of Object.keys(result)) if (!retain.includes(k)) delete result[k]
  }
  return result
}

function mergeList(current: Json[], patch: Json[], mergeKey: string, path: string[]): Json[] {
  if (patch.some((e) => isObject(e) && e.$patch === 'replace')) {
    return patch.filter((e) => !(isObject(e) && e.$patch === 'replace')).map(stripDirectives)
  }
  const result = [...current]
  for (const item of patch) {
    if (!isObject(item)) throw badRequest(`strategic merge patch: list ${path.at(-1)} needs objects with "${mergeKey}"`)
    if (!Object.hasOwn(item, mergeKey)) {
      throw new KubeError(
        400,
        'BadRequest',
        `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`,
      )
    }
    const i = result.findIndex((e) => isObject(e) && deepEqual(e[mergeKey], item[mergeKey]))
    if (item.$patch === 'delete') {
      if (i !== -1) result.splice(i, 1)
      continue
    }
    if (i === -1) result.push(stripDirectives(item))
    else result[i] = smp(result[i], item, path) ?? result[i]!
  }
  return result
}
