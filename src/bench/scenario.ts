/**
 * Bench scenarios: a name plus faultline rules (the sidecar's own rule schema). The short spec
 * form covers the common cases on a command line:
 *
 *   SCENARIO := [NAME "="] FAULT ("+" FAULT)*
 *   FAULT    := ACTION [":" PERCENT "%"] ["@" PATH]
 *   ACTION   := STATUS                       503            reply with this status (abort)
 *             | "delay:" DURATION ["~" DURATION]   delay:50ms~10ms  hold the request (± jitter)
 *             | "reset" | "close"            a TCP reset / a close without a response
 *             | "throttle:" N ("b"|"kb"|"mb") "/s"  throttle:64kb/s  response body bandwidth
 *
 * e.g. `503:10%`, `delay:50ms`, `reset:1%`, `slow-api=delay:200ms:25%@/api/**`. Pure: parsing and
 * validation only; the bench adds each rule's ttl and source when it applies them.
 */
import { parseDuration } from '../duration.ts'
import type { FieldIssue } from '../errors.ts'
import { compileRuleSet } from '../rules/compile.ts'
import { isPlainObject, pointer } from '../schema.ts'

export interface Scenario {
  name: string
  /** Rules exactly as the sidecar takes them, without ttl/expiresAt/source (the bench sets those). */
  rules: Record<string, unknown>[]
  /** The short spec it came from, when it came from one. */
  spec?: string
}

/** The name of the unfaulted scenario every round starts with. */
export const BASELINE = 'baseline'

export const SCENARIO_NAME = /^[A-Za-z0-9][A-Za-z0-9._:%~@/*+-]{0,127}$/

const STATUS = /^[1-5]\d\d$/
const PERCENT = /^(\d+(?:\.\d+)?)%$/
const RATE = /^(\d+(?:\.\d+)?)(b|kb|mb)\/s$/i
const BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 }

/** A rule id from a scenario name and position: the id grammar allows [A-Za-z0-9._-] only. */
function ruleId(name: string, i: number): string {
  const slug = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'scenario'
  return `bench-${slug.slice(0, 48)}-${i}`
}

/** One FAULT of the grammar as a rule, or the problem with it (naming the part that is wrong). */
function parseFault(text: string): { rule: Record<string, unknown> } | { problem: string } {
  const [head, path, ...extra] = text.split('@')
  if (extra.length) return { problem: `"${text}" has more than one "@PATH"` }
  if (path !== undefined && !path.startsWith('/'))
    return { problem: `path "${path}" must start with "/" (e.g. @/api/**)` }
  const parts = head!.split(':')
  let percentText: string | undefined
  if (parts.length > 1 && parts.at(-1)!.endsWith('%')) percentText = parts.pop()
  const [action, arg, ...rest] = parts
  const rule: Record<string, unknown> = {}
  if (action === undefined || action === '')
    return { problem: `"${text}" has no fault (expected STATUS, delay:D, reset, close or throttle:N kb/s)` }
  if (rest.length) return { problem: `"${text}" has too many ":" parts (expected ACTION[:ARG][:PERCENT%])` }
  if (STATUS.test(action)) {
    if (arg !== undefined) return { problem: `percent "${arg}" must end with "%" (e.g. ${action}:10%)` }
    const status = Number(action)
    if (status < 100 || status > 599) return { problem: `status ${action} is not an HTTP status (100-599)` }
    rule.abort = { status }
  } else if (action === 'delay') {
    if (arg === undefined) return { problem: 'delay needs a duration (e.g. delay:50ms)' }
    const [base, jitter, ...more] = arg.split('~')
    const ms = parseDuration(base!)
    if (ms === undefined || more.length)
      return { problem: `delay "${arg}" must be a duration with units, e.g. 50ms or 50ms~10ms` }
    const delay: Record<string, unknown> = { ms }
    if (jitter !== undefined) {
      const j = parseDuration(jitter)
      if (j === undefined) return { problem: `delay jitter "${jitter}" must be a duration with units, e.g. 10ms` }
      delay.jitterMs = j
    }
    rule.delay = delay
  } else if (action === 'reset' || action === 'close') {
    if (arg !== undefined) return { problem: `percent "${arg}" must end with "%" (e.g. ${action}:1%)` }
    rule.abort = { mode: action }
  } else if (action === 'throttle') {
    const m = arg === undefined ? null : RATE.exec(arg)
    if (!m) return { problem: `throttle "${arg ?? ''}" must be a rate such as 64kb/s, 1mb/s or 500b/s` }
    rule.phase = 'response'
    rule.throttle = { bytesPerSecond: Math.max(1, Math.round(Number(m[1]) * BYTES[m[2]!.toLowerCase()]!)) }
  } else
    return {
      problem: `unknown fault "${action}" (expected an HTTP status such as 503, delay:D, reset, close or throttle:N kb/s)`,
    }
  if (percentText !== undefined) {
    const percent = Number(PERCENT.exec(percentText)?.[1])
    if (!(percent > 0 && percent <= 100))
      return { problem: `percent "${percentText}" must be above 0% and at most 100%` }
    rule.percent = percent
  }
  if (path !== undefined) rule.match = { path }
  return { rule }
}

/**
 * Parses a short spec (see the grammar above). `path` is where it came from (`--scenario[0]`,
 * `/scenarios/2`), so a problem names the field.
 */
export function parseScenarioSpec(text: string, path: string, issues: FieldIssue[]): Scenario | undefined {
  const spec = text.trim()
  const eq = spec.indexOf('=')
  const name = eq > 0 ? spec.slice(0, eq) : spec
  const body = eq > 0 ? spec.slice(eq + 1) : spec
  const before = issues.length
  if (body === '') issues.push({ path, message: 'is empty (expected e.g. 503:10%, delay:50ms or reset:1%)' })
  else if (!SCENARIO_NAME.test(name) || name === BASELINE)
    issues.push({
      path,
      message:
        name === BASELINE
          ? `"${BASELINE}" is the unfaulted scenario's name; name this one differently (NAME=SPEC)`
          : `name "${name}" must be letters, digits and . _ - (at most 128 characters)`,
    })
  const rules: Record<string, unknown>[] = []
  for (const [i, part] of body.split('+').entries()) {
    if (body === '') break
    const r = parseFault(part.trim())
    if ('problem' in r) issues.push({ path, message: `${JSON.stringify(spec)}: ${r.problem}` })
    else rules.push({ id: ruleId(name, i), ...r.rule })
  }
  if (issues.length !== before) return undefined
  // The sidecar's own compiler has the last word (a delay longer than it allows, say).
  for (const issue of compileIssues(rules))
    issues.push({ path, message: `${JSON.stringify(spec)}: ${issue.path} ${issue.message}` })
  if (issues.length !== before) return undefined
  return { name, rules, spec }
}

/** What the sidecar's rule compiler would refuse in `rules`, paths relative to the list. */
function compileIssues(rules: unknown[]): FieldIssue[] {
  const checked = compileRuleSet({ rules: JSON.parse(JSON.stringify(rules)) }, { now: 0, generation: 0 })
  return checked.ok ? [] : checked.issues.map((i) => ({ ...i, path: i.path.replace(/^\/rules/, '') }))
}

/** Fields the bench owns on every rule: a user's value would fight its expiry and revert. */
const OWNED = ['ttl', 'expiresAt', 'source'] as const

/**
 * Checks a scenario given as an object (`{ name, rules }` or `{ name, spec }`) or a bare spec
 * string; rules are validated by the sidecar's own rule compiler, each problem with its path.
 */
export function checkScenario(raw: unknown, path: string, issues: FieldIssue[]): Scenario | undefined {
  if (typeof raw === 'string') return parseScenarioSpec(raw, path, issues)
  if (!isPlainObject(raw))
    return void issues.push({
      path,
      message: 'must be a spec string (e.g. "503:10%") or { name, rules } / { name, spec }',
    })
  const before = issues.length
  for (const k of Object.keys(raw))
    if (!['name', 'rules', 'spec'].includes(k))
      issues.push({ path: pointer(path, k), message: `unknown field "${k}" (a scenario has name, rules or spec)` })
  const name = raw.name
  if (typeof name !== 'string' || !SCENARIO_NAME.test(name) || name === BASELINE)
    issues.push({
      path: pointer(path, 'name'),
      message:
        name === BASELINE
          ? `"${BASELINE}" is the unfaulted scenario's name`
          : 'is required: letters, digits and . _ - (at most 128 characters)',
    })
  if ((raw.rules === undefined) === (raw.spec === undefined))
    issues.push({ path, message: 'must have exactly one of "rules" or "spec"' })
  if (issues.length !== before) return undefined
  if (raw.spec !== undefined) {
    if (typeof raw.spec !== 'string')
      return void issues.push({ path: pointer(path, 'spec'), message: 'must be a string' })
    const parsed = parseScenarioSpec(`${name as string}=${raw.spec}`, pointer(path, 'spec'), issues)
    return parsed && { ...parsed, spec: raw.spec }
  }
  const rules = raw.rules
  if (!Array.isArray(rules) || rules.length === 0)
    return void issues.push({ path: pointer(path, 'rules'), message: 'must be a non-empty array of rules' })
  rules.forEach((r, i) => {
    for (const f of OWNED)
      if (isPlainObject(r) && r[f] !== undefined)
        issues.push({
          path: pointer(pointer(pointer(path, 'rules'), i), f),
          message: 'is set by the bench (every fault expires and is removed after its round)',
        })
  })
  for (const issue of compileIssues(rules)) issues.push({ ...issue, path: pointer(path, 'rules') + issue.path })
  if (issues.length !== before) return undefined
  return { name: name as string, rules: rules as Record<string, unknown>[] }
}

/** Scenario names must be unique: results, rule ids and the report are keyed by them. */
export function checkUnique(list: { scenario: Scenario; path: string }[], issues: FieldIssue[]): void {
  const names = new Map<string, string>()
  for (const { scenario, path } of list) {
    const prev = names.get(scenario.name)
    if (prev) issues.push({ path, message: `scenario "${scenario.name}" is already defined at ${prev}` })
    else names.set(scenario.name, path)
  }
}
