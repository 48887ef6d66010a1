/**
 * HTTPChaos (api/v1alpha1/httpchaos_types.go) as one faultline sidecar rule. Chaos Mesh runs a
 * transparent proxy (chaos-tproxy) in the pod through its node agent; faultline's sidecar in the
 * pod is that proxy here, so every field has a rule equivalent except the port and TLS.
 */
import { isPlainObject, pointer } from '../../schema.ts'
import { parseDuration } from '../../duration.ts'
import type { Notes, Obj } from '../kube/notes.ts'

/** Chaos Mesh matches `path` with wildcards (`*` any run of characters, `?` one): as an anchored regex. */
export function wildcardToRegex(path: string): string {
  const body = [...path]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : /[.+^${}()|[\]\\/]/.test(ch) ? `\\${ch}` : ch))
    .join('')
  return `^${body}$`
}

function headerMatches(map: Record<string, string>): { name: string; exact: string }[] {
  return Object.entries(map).map(([name, exact]) => ({ name, exact }))
}

function pairs(v: unknown, path: string, notes: Notes): string[][] | undefined {
  if (!Array.isArray(v) || !v.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string')))
    return notes.refuse(path, 'must be a list of [name, value] pairs')
  return v as string[][]
}

const HTTP_FIELDS = [
  'selector',
  'mode',
  'value',
  'target',
  'port',
  'path',
  'method',
  'code',
  'request_headers',
  'response_headers',
  'abort',
  'delay',
  'replace',
  'patch',
  'tls',
  'duration',
  'remoteCluster',
]

/** The rule (without ttl/source: the runner sets them) for an HTTPChaos spec at `path`. */
export function httpChaosRule(spec: Obj, path: string, notes: Notes, id: string): Obj | undefined {
  notes.only(spec, path, HTTP_FIELDS, 'HTTPChaos')
  const target = notes.string(spec, 'target', path)
  if (target !== 'Request' && target !== 'Response')
    return notes.refuse(pointer(path, 'target'), 'is required: Request or Response')
  const phase = target === 'Request' ? 'request' : 'response'
  const rule: Obj = { id, phase }
  const match: Obj = {}
  if (spec.port !== undefined)
    notes.approx(
      pointer(path, 'port'),
      `the rule applies to the traffic through each pod's faultline sidecar, which fronts the app port it was injected for; port ${String(spec.port)} is not matched separately`,
    )
  const p = notes.string(spec, 'path', path)
  if (p !== undefined && p !== '*') match.pathRegex = wildcardToRegex(p)
  const method = notes.string(spec, 'method', path)
  if (method !== undefined) match.methods = [method.toUpperCase()]
  if (spec.code !== undefined) {
    if (phase !== 'response') notes.refuse(pointer(path, 'code'), 'matches a response status: needs target Response')
    else match.status = [Number(spec.code)]
  }
  const reqHeaders = notes.stringMap(spec, 'request_headers', path)
  if (reqHeaders && Object.keys(reqHeaders).length) match.headers = headerMatches(reqHeaders)
  const resHeaders = notes.stringMap(spec, 'response_headers', path)
  if (resHeaders && Object.keys(resHeaders).length) {
    if (phase !== 'response') notes.refuse(pointer(path, 'response_headers'), 'needs target Response')
    else match.responseHeaders = headerMatches(resHeaders)
  }
  if (Object.keys(match).length) rule.match = match
  if (spec.tls !== undefined)
    notes.refuse(
      pointer(path, 'tls'),
      "faultline's sidecar faults plain HTTP; it does not terminate TLS with the app's certificate",
    )
  if (spec.remoteCluster !== undefined)
    notes.refuse(pointer(path, 'remoteCluster'), 'faultline acts on the cluster of its kubeconfig only')

  let actions = 0
  const abort = spec.abort === true
  if (spec.abort !== undefined && typeof spec.abort !== 'boolean')
    notes.refuse(pointer(path, 'abort'), 'must be true or false')
  // chaos-tproxy applies abort first and returns (handler/http/action.rs): with abort, the other
  // actions never run, so they are noted, not carried over.
  const skipped = (key: string) =>
    notes.approx(
      pointer(path, key),
      'no effect: Chaos Mesh aborts before it would apply it, and so does faultline here',
    )
  if (abort) {
    // The proxy drops the connection without an answer.
    rule.abort = { mode: 'close' }
    actions++
  }
  const delay = notes.string(spec, 'delay', path)
  if (delay !== undefined) {
    const ms = parseDuration(delay)
    if (ms === undefined) notes.refuse(pointer(path, 'delay'), 'must be a duration such as "10s" or "500ms"')
    else if (abort) skipped('delay')
    else rule.delay = { ms }
    actions++
  }
  const replace = notes.object(spec, 'replace', path)
  if (replace) {
    const r = replaceAction(replace, pointer(path, 'replace'), phase, notes)
    if (abort) skipped('replace')
    else rule.replace = r
    actions++
  }
  const patch = notes.object(spec, 'patch', path)
  if (patch) {
    const r = patchAction(patch, pointer(path, 'patch'), phase, notes)
    if (abort) skipped('patch')
    else rule.patch = r
    actions++
  }
  if (actions === 0) notes.refuse(path, 'has no action: give abort, delay, replace or patch')
  return rule
}

function replaceAction(r: Obj, path: string, phase: 'request' | 'response', notes: Notes): Obj {
  notes.only(r, path, ['headers', 'body', 'path', 'method', 'queries', 'code'], 'an HTTPChaos replace')
  const out: Obj = {}
  const headers = notes.stringMap(r, 'headers', path)
  if (headers && Object.keys(headers).length) out.headers = headers
  const body = notes.string(r, 'body', path)
  if (body !== undefined) {
    // The field is a []byte in Chaos Mesh, so the YAML holds it base64-encoded.
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0)
      notes.refuse(pointer(path, 'body'), 'must be base64 (Chaos Mesh reads this field as bytes)')
    else out.bodyBase64 = body
  }
  const requestOnly = (key: string, to: string, value: unknown) => {
    if (value === undefined) return
    if (phase !== 'request') notes.refuse(pointer(path, key), 'rewrites the request: needs target Request')
    else out[to] = value
  }
  requestOnly('path', 'path', notes.string(r, 'path', path))
  requestOnly('method', 'method', notes.string(r, 'method', path)?.toUpperCase())
  const queries = notes.stringMap(r, 'queries', path)
  requestOnly('queries', 'query', queries && Object.keys(queries).length ? queries : undefined)
  if (r.code !== undefined) {
    if (phase !== 'response') notes.refuse(pointer(path, 'code'), 'replaces the response status: needs target Response')
    else out.status = Number(r.code)
  }
  return out
}

function patchAction(r: Obj, path: string, phase: 'request' | 'response', notes: Notes): Obj {
  notes.only(r, path, ['headers', 'body', 'queries'], 'an HTTPChaos patch')
  const out: Obj = {}
  if (r.headers !== undefined) out.headers = pairs(r.headers, pointer(path, 'headers'), notes)
  if (r.queries !== undefined) {
    if (phase !== 'request')
      notes.refuse(pointer(path, 'queries'), 'appends to the request query: needs target Request')
    else out.query = pairs(r.queries, pointer(path, 'queries'), notes)
  }
  const body = notes.object(r, 'body', path)
  if (body) {
    const bpath = pointer(path, 'body')
    notes.only(body, bpath, ['type', 'value'], 'an HTTPChaos patch body')
    if (body.type !== 'JSON') notes.refuse(pointer(bpath, 'type'), 'only JSON (a merge patch) is defined')
    else {
      try {
        const parsed: unknown = JSON.parse(String(body.value))
        if (!isPlainObject(parsed)) notes.refuse(pointer(bpath, 'value'), 'must be a JSON object (a merge patch)')
        else out.json = { merge: parsed }
      } catch (err) {
        notes.refuse(pointer(bpath, 'value'), `is not JSON: ${(err as Error).message}`)
      }
    }
  }
  return out
}
