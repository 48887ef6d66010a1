/**
 * Litmus probes (chaos-operator ProbeAttributes; litmus-go pkg/probe) as faultline checks.
 *
 *   httpProbe  -> http check       (criteria ==, != and oneOf on the response code)
 *   cmdProbe   -> command check    (numeric comparators: outputNumber + tolerance; strings: stdoutRegex)
 *   promProbe  -> promql check     (comparators as tolerances; < and > stay strict: exclusiveMax/Min)
 *   k8sProbe   -> kubernetes check (pods present)
 *
 * Modes are phases: SOT [before], EOT [after], Edge [before, after], Continuous [before, during,
 * after], OnChaos [during]. A try of `attempt` attempts passes on its first passing attempt, so
 * `attempt` is failureThreshold (consecutive failures); `stopOnFailure` adds the same check as
 * a guardrail, which aborts the run as Litmus stops the engine.
 */
import { parseDuration, formatDuration } from '../../duration.ts'
import { compileLinearRegex } from '../../regex.ts'
import { isPlainObject, pointer } from '../../schema.ts'
import { faultlineName, type Notes, type Obj } from '../kube/notes.ts'

export interface ProbeOutput {
  checks: Obj[]
  guardrails: Obj[]
  /** Targets a k8sProbe needs (the pods it counts). */
  targets: Record<string, Obj>
}

const PHASES_BY_MODE: Record<string, string[]> = {
  SOT: ['before'],
  EOT: ['after'],
  Edge: ['before', 'after'],
  Continuous: ['before', 'during', 'after'],
  OnChaos: ['during'],
}

const PROBE_FIELDS = [
  'name',
  'type',
  'mode',
  'runProperties',
  'data',
  'httpProbe/inputs',
  'cmdProbe/inputs',
  'promProbe/inputs',
  'k8sProbe/inputs',
  'sloProbe/inputs',
]

/** Litmus times: integers are seconds (Litmus 1.x/2.x), strings Go durations (3.x: "5s"). */
function litmusDuration(v: unknown, path: string, notes: Notes): number | undefined {
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v === 'number' && v >= 0) return v * 1000
  if (typeof v === 'string') {
    const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : parseDuration(v)
    if (ms !== undefined) return ms
  }
  return notes.refuse(path, 'must be a duration ("5s") or a whole number of seconds')
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** Litmus list values: "[200,201]" or "200,201". */
function listValue(text: string): string[] {
  return text
    .replace(/^\s*\[|\]\s*$/g, '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/**
 * A numeric comparator as a tolerance. Strict comparators stay strict (`<` is exclusiveMax),
 * `!=` is noneOf, `between` is inclusive at both ends, as litmus-go's comparator is.
 */
export function numericTolerance(criteria: string, value: string, path: string, notes: Notes): Obj | undefined {
  const num = (s: string) => {
    const n = Number(s)
    return s.trim() === '' || Number.isNaN(n) ? notes.refuse(pointer(path, 'value'), `"${s}" is not a number`) : n
  }
  switch (criteria) {
    case '==': {
      const n = num(value)
      return n === undefined ? undefined : { min: n, max: n }
    }
    case '!=': {
      const n = num(value)
      return n === undefined ? undefined : { noneOf: [n] }
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const n = num(value)
      if (n === undefined) return undefined
      return { '<': { exclusiveMax: n }, '<=': { max: n }, '>': { exclusiveMin: n }, '>=': { min: n } }[criteria]
    }
    case 'oneOf': {
      const values = listValue(value).map(num)
      if (!values.length) return notes.refuse(pointer(path, 'value'), 'oneOf needs a list such as "[1,2]"')
      return values.every((v) => v !== undefined) ? { oneOf: values } : undefined
    }
    case 'between': {
      const values = listValue(value).map(num)
      if (values.length !== 2) return notes.refuse(pointer(path, 'value'), 'between needs two bounds such as "[1,5]"')
      return values.every((v) => v !== undefined) ? { min: values[0], max: values[1] } : undefined
    }
    default:
      return notes.refuse(pointer(path, 'criteria'), 'must be one of ==, !=, <, <=, >, >=, oneOf, between')
  }
}

/** A comparator object: numeric types as a tolerance, string types as a stdout regex. */
function comparator(
  c: Obj,
  path: string,
  notes: Notes,
  allowStrings: boolean,
): { tolerance?: Obj; regex?: string } | undefined {
  notes.only(c, path, ['type', 'criteria', 'value'], 'a probe comparator')
  const type = notes.string(c, 'type', path) ?? 'int'
  const criteria = notes.string(c, 'criteria', path) ?? ''
  const value = notes.string(c, 'value', path) ?? ''
  if (type === 'int' || type === 'float') {
    const tolerance = numericTolerance(criteria, value, path, notes)
    return tolerance ? { tolerance } : undefined
  }
  if (type !== 'string') return notes.refuse(pointer(path, 'type'), 'must be int, float or string')
  if (!allowStrings) return notes.refuse(pointer(path, 'type'), 'a Prometheus value is a number: use int or float')
  // litmus-go trims the command's output before comparing it.
  const whole = (body: string) => `^\\s*(${body})\\s*$`
  switch (criteria) {
    case 'equal':
      return { regex: whole(escapeRegex(value)) }
    case 'contains':
      return { regex: escapeRegex(value) }
    case 'oneOf':
      return { regex: whole(listValue(value).map(escapeRegex).join('|')) }
    case 'matches': {
      const re = compileLinearRegex(value)
      if (!re.ok) return notes.refuse(pointer(path, 'value'), `is not a linear-time regex: ${re.message}`)
      return { regex: value }
    }
    case 'notEqual':
    case 'notMatches':
      return notes.refuse(
        pointer(path, 'criteria'),
        `${criteria}: faultline's linear-time regexes cannot express "does not match"`,
      )
    default:
      return notes.refuse(
        pointer(path, 'criteria'),
        'must be one of equal, notEqual, contains, matches, notMatches, oneOf',
      )
  }
}

/** HTTP response codes as faultline status specs: `==` one code, `!=` every other, `oneOf` a list. */
function statusFor(criteria: string, code: string, path: string, notes: Notes): (number | string)[] | undefined {
  const codes = listValue(code).map(Number)
  if (!codes.length || codes.some((c) => !Number.isInteger(c) || c < 100 || c > 599))
    return notes.refuse(pointer(path, 'responseCode'), 'must be an HTTP status code (100-599)')
  if (criteria === '==' && codes.length === 1) return codes
  if (criteria === 'oneOf') return codes
  if (criteria === '!=' && codes.length === 1) {
    const c = codes[0]!
    const out: (number | string)[] = []
    if (c > 100) out.push(c - 1 === 100 ? 100 : `100-${c - 1}`)
    if (c < 599) out.push(c + 1 === 599 ? 599 : `${c + 1}-599`)
    return out
  }
  return notes.refuse(pointer(path, 'criteria'), 'must be ==, != (one code) or oneOf')
}

function httpProbe(inputs: Obj, path: string, notes: Notes, timeoutMs: number | undefined): Obj | undefined {
  notes.only(inputs, path, ['url', 'method', 'insecureSkipVerify', 'responseTimeout'], 'httpProbe inputs')
  const url = notes.string(inputs, 'url', path)
  if (!url) return notes.refuse(pointer(path, 'url'), 'is required')
  const http: Obj = { url }
  const responseTimeout = inputs.responseTimeout === undefined ? undefined : Number(inputs.responseTimeout)
  if (responseTimeout !== undefined) http.timeout = formatDuration(responseTimeout)
  else if (timeoutMs !== undefined) http.timeout = formatDuration(timeoutMs)
  if (inputs.insecureSkipVerify === true)
    notes.approx(pointer(path, 'insecureSkipVerify'), "not honoured: faultline's http check verifies certificates")
  const method = notes.object(inputs, 'method', path)
  const mpath = pointer(path, 'method')
  if (!method) return notes.refuse(mpath, 'is required (get or post)')
  notes.only(method, mpath, ['get', 'post'], 'an httpProbe method')
  const get = notes.object(method, 'get', mpath)
  const post = notes.object(method, 'post', mpath)
  const m = get ?? post
  const which = get ? 'get' : 'post'
  if (!m || (get && post)) return notes.refuse(mpath, 'must have exactly one of get and post')
  const wpath = pointer(mpath, which)
  notes.only(
    m,
    wpath,
    which === 'get' ? ['criteria', 'responseCode'] : ['criteria', 'responseCode', 'contentType', 'body', 'bodyPath'],
    `an httpProbe ${which}`,
  )
  if (which === 'post') {
    http.method = 'POST'
    const contentType = notes.string(m, 'contentType', wpath)
    if (contentType) http.headers = { 'content-type': contentType }
    const body = notes.string(m, 'body', wpath)
    if (body !== undefined) http.body = body
    if (m.bodyPath !== undefined)
      notes.refuse(pointer(wpath, 'bodyPath'), 'a file inside the experiment pod: give the body inline')
  }
  const status = statusFor(
    notes.string(m, 'criteria', wpath) ?? '==',
    notes.string(m, 'responseCode', wpath) ?? '',
    wpath,
    notes,
  )
  if (status) http.status = status
  return { http }
}

function cmdProbe(inputs: Obj, path: string, notes: Notes, timeoutMs: number | undefined): Obj | undefined {
  notes.only(inputs, path, ['command', 'comparator', 'source'], 'cmdProbe inputs')
  if (inputs.source !== undefined)
    notes.refuse(
      pointer(path, 'source'),
      'runs the command in a new pod from that image: faultline runs commands where it runs (give an inline command)',
    )
  const command = notes.string(inputs, 'command', path)
  if (!command) return notes.refuse(pointer(path, 'command'), 'is required')
  const c = notes.object(inputs, 'comparator', path)
  if (!c) return notes.refuse(pointer(path, 'comparator'), 'is required')
  const compared = comparator(c, pointer(path, 'comparator'), notes, true)
  if (!compared) return undefined
  const spec: Obj = {
    run: ['sh', '-c', command],
    ...(timeoutMs !== undefined ? { timeout: formatDuration(timeoutMs) } : {}),
  }
  if (compared.tolerance) return { command: { ...spec, outputNumber: true }, tolerance: compared.tolerance }
  return { command: { ...spec, stdoutRegex: compared.regex } }
}

function promProbe(inputs: Obj, path: string, notes: Notes): Obj | undefined {
  notes.only(inputs, path, ['endpoint', 'query', 'queryPath', 'comparator'], 'promProbe inputs')
  const url = notes.string(inputs, 'endpoint', path)
  const query = notes.string(inputs, 'query', path)
  if (inputs.queryPath !== undefined)
    notes.refuse(pointer(path, 'queryPath'), 'a file inside the experiment pod: give the query inline')
  if (!url) notes.refuse(pointer(path, 'endpoint'), 'is required')
  if (!query) notes.refuse(pointer(path, 'query'), 'is required')
  const c = notes.object(inputs, 'comparator', path)
  if (!c) return notes.refuse(pointer(path, 'comparator'), 'is required')
  const compared = comparator(c, pointer(path, 'comparator'), notes, false)
  if (!url || !query || !compared?.tolerance) return undefined
  return { promql: { url, query }, tolerance: compared.tolerance }
}

function k8sProbe(inputs: Obj, path: string, notes: Notes, name: string, out: ProbeOutput): Obj | undefined {
  notes.only(
    inputs,
    path,
    ['group', 'version', 'resource', 'resourceNames', 'namespace', 'fieldSelector', 'labelSelector', 'operation'],
    'k8sProbe inputs',
  )
  const group = notes.string(inputs, 'group', path) ?? ''
  const version = notes.string(inputs, 'version', path) ?? 'v1'
  const resource = notes.string(inputs, 'resource', path)
  const operation = notes.string(inputs, 'operation', path)
  if (group !== '' || version !== 'v1' || resource !== 'pods')
    return notes.refuse(
      pointer(path, 'resource'),
      `${group || 'core'}/${version} ${resource}: faultline's kubernetes checks count pods (resource: pods, group "", version v1)`,
    )
  if (operation === 'create' || operation === 'delete')
    return notes.refuse(pointer(path, 'operation'), `${operation} changes the cluster: faultline's checks only read it`)
  if (operation === 'absent')
    return notes.refuse(
      pointer(path, 'operation'),
      'absent: faultline counts no pods as "no data", never as 0, so an absent probe could never pass',
    )
  if (operation !== 'present')
    return notes.refuse(pointer(path, 'operation'), 'must be present, absent, create or delete')
  if (inputs.resourceNames !== undefined)
    notes.refuse(
      pointer(path, 'resourceNames'),
      'faultline counts pods by selector: use labelSelector or fieldSelector',
    )
  const namespace = notes.string(inputs, 'namespace', path)
  if (!namespace) return notes.refuse(pointer(path, 'namespace'), 'is required')
  const target = `probe-${name}`.slice(0, 63).replace(/-+$/, '')
  const labelSelector = notes.string(inputs, 'labelSelector', path)
  const fieldSelector = notes.string(inputs, 'fieldSelector', path)
  out.targets[target] = {
    kubernetes: {
      namespaces: [namespace],
      mode: 'all',
      ...(labelSelector ? { labelSelector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
    },
  }
  return { kubernetes: { target, stat: 'pods' }, tolerance: { min: 1 } }
}

/** Every probe of one experiment, at `path` (the `probe` list). */
export function probesToChecks(probes: unknown[], path: string, notes: Notes): ProbeOutput {
  const out: ProbeOutput = { checks: [], guardrails: [], targets: {} }
  probes.forEach((p, i) => {
    const ppath = pointer(path, i)
    if (!isPlainObject(p)) return void notes.refuse(ppath, 'must be a probe object')
    notes.only(p, ppath, PROBE_FIELDS, 'a Litmus probe')
    const rawName = notes.string(p, 'name', ppath)
    if (!rawName) return void notes.refuse(pointer(ppath, 'name'), 'is required')
    const name = faultlineName(rawName)
    if (name !== rawName) notes.approx(pointer(ppath, 'name'), `"${rawName}" becomes "${name}"`)
    const mode = notes.string(p, 'mode', ppath) ?? ''
    const phases = PHASES_BY_MODE[mode]
    if (!phases) return void notes.refuse(pointer(ppath, 'mode'), 'must be SOT, EOT, Edge, Continuous or OnChaos')
    if (p.data !== undefined)
      notes.refuse(pointer(ppath, 'data'), 'the manifest a k8sProbe creates: faultline probes only read the cluster')
    const timing = runProperties(p, ppath, mode, notes)
    const type = notes.string(p, 'type', ppath)
    const inputsKey = `${type}/inputs`
    const inputs = isPlainObject(p[inputsKey]) ? (p[inputsKey] as Obj) : undefined
    const ipath = pointer(ppath, inputsKey)
    for (const key of Object.keys(p))
      if (key.endsWith('/inputs') && key !== inputsKey)
        notes.refuse(pointer(ppath, key), `does not belong to a ${type}`)
    if (type === 'sloProbe')
      return void notes.refuse(
        pointer(ppath, 'type'),
        "sloProbe runs on Harness's platform; litmus-go has no such probe either",
      )
    if (!inputs) return void notes.refuse(ipath, 'is required')
    let kind: Obj | undefined
    if (type === 'httpProbe') kind = httpProbe(inputs, ipath, notes, timing.timeoutMs)
    else if (type === 'cmdProbe') kind = cmdProbe(inputs, ipath, notes, timing.timeoutMs)
    else if (type === 'promProbe') kind = promProbe(inputs, ipath, notes)
    else if (type === 'k8sProbe') kind = k8sProbe(inputs, ipath, notes, name, out)
    else return void notes.refuse(pointer(ppath, 'type'), 'must be httpProbe, cmdProbe, promProbe or k8sProbe')
    if (!kind) return
    const unusedTimeout: Record<string, string | undefined> = {
      promProbe: 'faultline bounds each PromQL query at 5 s',
      k8sProbe: "faultline's kubernetes checks read the pods without a timeout of their own",
      httpProbe: inputs.responseTimeout !== undefined ? 'the request is bounded by responseTimeout' : undefined,
    }
    const why = unusedTimeout[type]
    if (timing.timeoutMs !== undefined && why)
      notes.approx(pointer(pointer(ppath, 'runProperties'), 'probeTimeout'), why)
    const check: Obj = { name, phases, ...timing.fields, ...kind }
    out.checks.push(check)
    if (timing.stopOnFailure) {
      if (phases.includes('during'))
        out.guardrails.push({ ...check, name: `${name}-stop`.slice(0, 63), phases: ['during'] })
      else
        notes.approx(
          pointer(pointer(ppath, 'runProperties'), 'stopOnFailure'),
          `no effect in mode ${mode}: only Continuous and OnChaos probes run while the chaos does`,
        )
    }
  })
  return out
}

/** runProperties as check timing fields. */
function runProperties(
  p: Obj,
  ppath: string,
  mode: string,
  notes: Notes,
): { fields: Obj; timeoutMs?: number; stopOnFailure: boolean } {
  const rp = notes.object(p, 'runProperties', ppath) ?? {}
  const path = pointer(ppath, 'runProperties')
  notes.only(
    rp,
    path,
    [
      'probeTimeout',
      'interval',
      'retry',
      'attempt',
      'probePollingInterval',
      'initialDelaySeconds',
      'initialDelay',
      'stopOnFailure',
      'evaluationTimeout',
      'verbosity',
    ],
    'probe runProperties',
  )
  const timeoutMs = litmusDuration(rp.probeTimeout, pointer(path, 'probeTimeout'), notes)
  const intervalMs = litmusDuration(rp.interval, pointer(path, 'interval'), notes)
  const pollingMs = litmusDuration(rp.probePollingInterval, pointer(path, 'probePollingInterval'), notes)
  const attempts = Number(rp.attempt ?? rp.retry ?? 1)
  if (!Number.isInteger(attempts) || attempts < 1)
    notes.refuse(pointer(path, rp.attempt !== undefined ? 'attempt' : 'retry'), 'must be a whole number above 0')
  const fields: Obj = { failureThreshold: Math.max(1, attempts || 1) }
  const looping = mode === 'Continuous' || mode === 'OnChaos'
  // Continuous and OnChaos probes try every probePollingInterval; a try retries every interval.
  const between = looping ? (pollingMs ?? intervalMs) : intervalMs
  if (between !== undefined) fields.interval = formatDuration(Math.max(100, between))
  if (looping && pollingMs !== undefined && intervalMs !== undefined && pollingMs !== intervalMs)
    notes.approx(
      pointer(path, 'interval'),
      `faultline samples at one pace: every probePollingInterval (${formatDuration(pollingMs)}), also between the attempts of a try`,
    )
  // After the chaos a try passes at its first passing attempt: recovery within `attempt` intervals.
  if (mode === 'EOT' || mode === 'Edge' || mode === 'Continuous')
    fields.recoverWithin = formatDuration(Math.max(1, attempts * (between ?? 2000)))
  for (const key of ['initialDelaySeconds', 'initialDelay'])
    if (rp[key] !== undefined && rp[key] !== 0 && rp[key] !== '0s' && rp[key] !== '')
      notes.approx(pointer(path, key), 'faultline samples from the start of each phase, without an initial delay')
  for (const key of ['evaluationTimeout', 'verbosity'])
    if (rp[key] !== undefined)
      notes.approx(pointer(path, key), 'ignored: it configures how litmus-go evaluates and logs probes')
  if (mode === 'SOT' || mode === 'Edge' || mode === 'Continuous')
    notes.approx(
      pointer(ppath, 'mode'),
      `${mode}: a probe that fails before the chaos stops the run before any fault, as in Litmus, but faultline's verdict is then inconclusive (the hypothesis was not tested), not Fail`,
    )
  const stop = rp.stopOnFailure === true || rp.stopOnFailure === 'true'
  return { fields, ...(timeoutMs !== undefined ? { timeoutMs } : {}), stopOnFailure: stop }
}
