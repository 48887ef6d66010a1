/**
 * The `http` and `process` providers: as method/rollback steps (a call whose output is
 * journalled) and as hypothesis checks judged by their tolerance. What each provider returns is
 * what chaostoolkit-lib returns: http `{status, headers, body}`, process `{status, stdout, stderr}`.
 */
import type { CheckSpec, StepSpec } from '../../experiments/schema.ts'
import { isPlainObject } from '../../schema.ts'
import { at, dur, type Notes } from './notes.ts'

type Obj = Record<string, unknown>
const HTTP_DEFAULT_TIMEOUT_MS = 30_000
const PROCESS_DEFAULT_TIMEOUT_MS = 600_000

/** Seconds (number, or a [connect, read] pair) to ms; an absent timeout gets faultline's bound, noted. */
function timeoutMs(provider: Obj, path: string, fallback: number, notes: Notes): number {
  const t = provider.timeout
  if (t === undefined || t === null) {
    notes.approx(
      at(path, 'timeout'),
      `none given: faultline bounds the call at ${fallback / 1000} s (Chaos Toolkit waits without limit)`,
    )
    return fallback
  }
  if (typeof t === 'number' && t > 0) return Math.round(t * 1000)
  if (Array.isArray(t) && t.length === 2 && t.every((x) => typeof x === 'number' && x > 0)) {
    notes.approx(at(path, 'timeout'), 'a [connect, read] pair: faultline bounds the whole call by their sum')
    return Math.round(((t[0] as number) + (t[1] as number)) * 1000)
  }
  notes.refuse(at(path, 'timeout'), 'must be a number of seconds or a [connect, read] pair')
  return fallback
}

const headerValue = (headers: Record<string, string>, name: string) =>
  Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1]

/** The request an http provider makes: GET arguments are the query string; others the body (JSON or form). */
export function httpRequest(
  provider: Obj,
  path: string,
  notes: Notes,
): { url: string; method: string; headers?: Record<string, string>; body?: string; timeout: number } | undefined {
  if (typeof provider.url !== 'string' || !/^https?:\/\//.test(provider.url))
    return notes.refuse(at(path, 'url'), 'must be an http(s) URL')
  let url = provider.url
  const method = typeof provider.method === 'string' ? provider.method.toUpperCase() : 'GET'
  const headers: Record<string, string> = {}
  if (provider.headers !== undefined) {
    if (!isPlainObject(provider.headers)) return notes.refuse(at(path, 'headers'), 'must be an object')
    for (const [k, v] of Object.entries(provider.headers)) headers[k] = String(v)
  }
  if (provider.verify_tls === false)
    notes.refuse(at(path, 'verify_tls'), 'is false: faultline always verifies TLS certificates')
  let body: string | undefined
  const args = provider.arguments
  if (args !== undefined && args !== null && !(isPlainObject(args) && !Object.keys(args).length)) {
    if (method === 'GET') {
      if (!isPlainObject(args)) return notes.refuse(at(path, 'arguments'), 'of a GET must be an object (query string)')
      const u = new URL(url)
      for (const [k, v] of Object.entries(args)) u.searchParams.append(k, String(v))
      url = u.toString()
    } else if (headerValue(headers, 'content-type')?.includes('json')) body = JSON.stringify(args)
    else if (typeof args === 'string') body = args
    else if (isPlainObject(args)) {
      body = new URLSearchParams(Object.entries(args).map(([k, v]): [string, string] => [k, String(v)])).toString()
      if (!headerValue(headers, 'content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded'
    } else return notes.refuse(at(path, 'arguments'), 'must be an object or a string')
  }
  const timeout = dur(timeoutMs(provider, path, HTTP_DEFAULT_TIMEOUT_MS, notes))
  return {
    url,
    method,
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(body !== undefined ? { body } : {}),
    timeout,
  }
}

/**
 * A process provider's argv. `path` is looked up on PATH and never substituted; a string
 * `arguments` runs through the shell; an object gives `key value` pairs; empty ones are dropped.
 */
export function processArgv(provider: Obj, rawPath: unknown, path: string, notes: Notes): string[] | undefined {
  if (typeof rawPath !== 'string' || !rawPath) return notes.refuse(at(path, 'path'), 'must name a program')
  const program = rawPath.startsWith('~/') ? `${process.env.HOME ?? '~'}${rawPath.slice(1)}` : rawPath
  const args = provider.arguments
  if (typeof args === 'string') return ['/bin/sh', '-c', `${program} ${args}`]
  const list = isPlainObject(args) ? Object.entries(args).flat() : (args ?? [])
  if (!Array.isArray(list)) return notes.refuse(at(path, 'arguments'), 'must be a list, an object or a string')
  return [program, ...list.filter((a) => a !== null && a !== undefined && a !== '').map((a) => String(a))]
}

/** An http or process provider as a method or rollback step. */
export function callStep(provider: Obj, rawPath: unknown, path: string, notes: Notes): StepSpec | undefined {
  if (provider.type === 'http') {
    const req = httpRequest(provider, path, notes)
    if (!req) return undefined
    const expected = provider.expected_status
    if (expected !== undefined && (typeof expected !== 'number' || !Number.isInteger(expected)))
      return notes.refuse(at(path, 'expected_status'), 'must be an HTTP status code')
    return {
      http: { ...req, ...(typeof expected === 'number' ? { status: [expected] } : {}) },
      continueOnFailure: true,
    }
  }
  const command = processArgv(provider, rawPath, path, notes)
  if (!command) return undefined
  return {
    run: { command, timeout: dur(timeoutMs(provider, path, PROCESS_DEFAULT_TIMEOUT_MS, notes)) },
    continueOnFailure: true,
  }
}

// ── tolerances ──────────────────────────────────────────────────────────────

const ANY_STATUS = ['100-599']
const ANY_EXIT = '0-255'

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)

/** Simple JSONPath only (`$.a.b[0]['c']`): filters, wildcards and recursion have no faultline equivalent. */
const SIMPLE_JSONPATH = /^\$((\.[A-Za-z_$][\w$-]*)|(\[\d+\])|(\['[^']*'\]))*$/

type HttpCheck = NonNullable<CheckSpec['http']>
type CommandCheck = NonNullable<CheckSpec['command']>

/**
 * An http probe with its tolerance, as an http check. With a status in the output, an int is
 * that status and a list is membership; `range` on `status` is a status range; `regex` and
 * `jsonpath` read the body (`target: body`, or a `$.body...` path) and accept any status.
 */
export function httpProbeCheck(
  provider: Obj,
  tolerance: unknown,
  path: string,
  tpath: string,
  notes: Notes,
): HttpCheck | undefined {
  const req = httpRequest(provider, path, notes)
  if (!req) return undefined
  const base: HttpCheck = { ...req }
  if (typeof tolerance === 'boolean' || typeof tolerance === 'string')
    return notes.refuse(
      tpath,
      `is a ${typeof tolerance}: Chaos Toolkit compares it with the whole {status, headers, body} output, which can never equal it`,
    )
  if (isInt(tolerance)) return { ...base, status: [statusCode(tolerance, tpath, notes)] }
  if (Array.isArray(tolerance)) {
    if (!tolerance.length || !tolerance.every(isInt)) return notes.refuse(tpath, 'must list HTTP status codes')
    return { ...base, status: tolerance.map((s) => statusCode(s, tpath, notes)) }
  }
  if (!isPlainObject(tolerance)) return notes.refuse(tpath, 'is not a tolerance Chaos Toolkit knows')
  const target = tolerance.target
  switch (tolerance.type) {
    case 'regex': {
      if (target !== 'body')
        return notes.refuse(
          at(tpath, 'target'),
          `is ${JSON.stringify(target)}: an http probe's regex reads the body (target: body)`,
        )
      if (typeof tolerance.pattern !== 'string') return notes.refuse(at(tpath, 'pattern'), 'must be a string')
      notes.approx(at(tpath, 'pattern'), "matched with faultline's linear-time (RE2-style) regex, not Python's re")
      return { ...base, status: ANY_STATUS, bodyRegex: tolerance.pattern }
    }
    case 'jsonpath':
      return jsonPathCheck(base, tolerance, tpath, notes)
    case 'range': {
      const r = tolerance.range
      if (target !== 'status')
        return notes.refuse(
          at(tpath, 'target'),
          `is ${JSON.stringify(target)}: faultline ranges an http probe's status only (target: status)`,
        )
      if (!Array.isArray(r) || r.length !== 2 || !r.every(isInt))
        return notes.refuse(at(tpath, 'range'), 'must be [low, high] status codes')
      return { ...base, status: [`${statusCode(r[0], tpath, notes)}-${statusCode(r[1], tpath, notes)}`] }
    }
    default:
      return refuseToleranceType(tolerance.type, tpath, notes)
  }
}

/** A tolerance type neither probe kind maps; a `probe` tolerance needs Python, which faultline lacks. */
function refuseToleranceType(type: unknown, tpath: string, notes: Notes): undefined {
  if (type === 'probe')
    return notes.refuse(
      at(tpath, 'type'),
      'is probe: a tolerance probe is handed the output as Python data; faultline has no Python runtime to call it with',
    )
  return notes.refuse(at(tpath, 'type'), `is ${JSON.stringify(type)}: not a tolerance type faultline maps`)
}

function statusCode(n: number, tpath: string, notes: Notes): number {
  if (n < 100 || n > 599) notes.refuse(tpath, `${n} is not an HTTP status code`)
  return n
}

function jsonPathCheck(base: HttpCheck, t: Obj, tpath: string, notes: Notes): HttpCheck | undefined {
  if (typeof t.path !== 'string') return notes.refuse(at(tpath, 'path'), 'must be a JSONPath')
  let jsonPath = t.path
  if (t.target === undefined) {
    // Without a target the path reads the whole output: only `$.body...` is the response body.
    if (!/^\$\.body(\.|\[|$)/.test(jsonPath))
      return notes.refuse(at(tpath, 'path'), 'without target: body, faultline reads paths under $.body only')
    jsonPath = `$${jsonPath.slice('$.body'.length)}`
  } else if (t.target !== 'body')
    return notes.refuse(at(tpath, 'target'), `is ${JSON.stringify(t.target)}: an http probe's jsonpath reads the body`)
  if (!SIMPLE_JSONPATH.test(jsonPath))
    return notes.refuse(
      at(tpath, 'path'),
      'uses filters, wildcards or recursion: faultline evaluates plain paths ($.a.b[0]) only',
    )
  const check: NonNullable<HttpCheck['jsonPath']> = { path: jsonPath }
  // chaostoolkit-lib: the matches must equal [expect] (or expect itself when it is a list);
  // otherwise their number must equal count; otherwise there must be one. A plain path matches 0 or 1.
  if ('expect' in t) {
    const want = Array.isArray(t.expect) ? t.expect : [t.expect]
    if (want.length > 1)
      return notes.refuse(at(tpath, 'expect'), 'lists several matches: a plain path matches one value at most')
    if (want.length === 0) check.exists = false
    else check.equals = want[0]
  } else if (t.count !== undefined) {
    if (t.count !== 0 && t.count !== 1)
      return notes.refuse(at(tpath, 'count'), 'a plain path matches 0 or 1 value: count must be 0 or 1')
    check.exists = t.count === 1
  } else check.exists = true
  return { ...base, status: ANY_STATUS, jsonPath: check }
}

/**
 * A process probe with its tolerance, as a command check. With a status (the exit code) in the
 * output, an int is that exit code and a list is membership; `range` on `status` is a range of
 * exit codes; `regex` reads stdout (or stdout+stderr for `stderr`, noted).
 */
export function processProbeCheck(
  provider: Obj,
  rawPath: unknown,
  tolerance: unknown,
  path: string,
  tpath: string,
  notes: Notes,
): CommandCheck | undefined {
  const run = processArgv(provider, rawPath, path, notes)
  if (!run) return undefined
  const base: CommandCheck = { run, timeout: dur(timeoutMs(provider, path, PROCESS_DEFAULT_TIMEOUT_MS, notes)) }
  const exitCode = (n: unknown) =>
    isInt(n) && n >= 0 && n <= 255 ? n : notes.refuse(tpath, `${String(n)} is not an exit code`)
  if (typeof tolerance === 'boolean' || typeof tolerance === 'string')
    return notes.refuse(
      tpath,
      `is a ${typeof tolerance}: Chaos Toolkit compares it with the whole {status, stdout, stderr} output, which can never equal it`,
    )
  if (isInt(tolerance)) return { ...base, exitCode: exitCode(tolerance) }
  if (Array.isArray(tolerance)) {
    const codes = tolerance.map(exitCode)
    if (!codes.length || codes.some((c) => c === undefined)) return notes.refuse(tpath, 'must list exit codes')
    return { ...base, exitCode: codes as number[] }
  }
  if (!isPlainObject(tolerance)) return notes.refuse(tpath, 'is not a tolerance Chaos Toolkit knows')
  switch (tolerance.type) {
    case 'regex': {
      if (typeof tolerance.pattern !== 'string') return notes.refuse(at(tpath, 'pattern'), 'must be a string')
      notes.approx(at(tpath, 'pattern'), "matched with faultline's linear-time (RE2-style) regex, not Python's re")
      if (tolerance.target === 'stdout') return { ...base, exitCode: ANY_EXIT, stdoutRegex: tolerance.pattern }
      if (tolerance.target === 'stderr') {
        notes.approx(at(tpath, 'target'), 'stderr: faultline matches stdout and stderr together')
        return { ...base, exitCode: ANY_EXIT, outputRegex: tolerance.pattern }
      }
      return notes.refuse(at(tpath, 'target'), 'must be stdout or stderr for a process probe')
    }
    case 'range': {
      const r = tolerance.range
      if (tolerance.target !== 'status')
        return notes.refuse(at(tpath, 'target'), "faultline ranges a process probe's exit code only (target: status)")
      if (!Array.isArray(r) || r.length !== 2 || !r.every(isInt) || r[0] > r[1])
        return notes.refuse(at(tpath, 'range'), 'must be [low, high] exit codes')
      return { ...base, exitCode: `${Math.max(0, r[0])}-${Math.min(255, r[1])}` }
    }
    case 'jsonpath':
      return notes.refuse(at(tpath, 'type'), "is jsonpath: faultline does not parse a process's output as JSON")
    default:
      return refuseToleranceType(tolerance.type, tpath, notes)
  }
}
