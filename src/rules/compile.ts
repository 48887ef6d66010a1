/**
 * Validation and compilation of a rule set into an immutable snapshot. Runs once per change,
 * never per request: everything the hot path needs (method sets, path matchers, ppm, lower-cased
 * header names, compiled fault actions) is precomputed here.
 */

import { parseDuration } from '../duration.ts'
import type { FieldIssue } from '../errors.ts'
import { faultKinds, getFault } from '../faults/index.ts'
import type { FaultKind, Phase } from '../faults/types.ts'
import { compileGlob } from '../glob.ts'
import { fnv1a, PPM, percentToPpm } from '../random.ts'
import { compileLinearRegex } from '../regex.ts'
import { jsonDepthIssue } from '../json-body.ts'
import { isPlainObject, pointer } from '../schema.ts'
import { MAX_RULES, matchSchema, ruleSchemas } from './schema.ts'
import { buildSegmentIndex, globFirstSegment, regexFirstSegment, type SegmentIndex } from './segment-index.ts'

/** A rule as accepted and stored: the submitted JSON with `ttl` resolved to `expiresAt`. */
export type StoredRule = Record<string, unknown> & { id: string; source?: string; expiresAt?: string }

export type HeaderValue = string | string[] | undefined
export type HeaderBag = Record<string, HeaderValue>

/** What the matcher needs to know about a request. */
export interface RequestView {
  method: string
  path: string
  /** Everything after "?", or "" */
  query: string
  headers: HeaderBag
}

export interface CompiledAction {
  readonly fault: FaultKind
  readonly compiled: unknown
}

export interface CompiledRule {
  readonly id: string
  readonly source: string | undefined
  readonly phase: Phase
  /** Sampling threshold in parts per million; PPM means always. */
  readonly ppm: number
  readonly sticky: string | undefined
  readonly stickySeed: number
  /** Epoch ms; Infinity when the rule does not expire. */
  readonly expiresAt: number
  readonly maxActive: number
  /** The exact path this rule names, if any: only such a rule may fault a health path. */
  readonly exactPath: string | undefined
  /** Position in the rule set: matching rules apply in this order. */
  readonly order: number
  /** The first path segment every matching request has, when the match fixes it (indexing). */
  readonly firstSegment: string | undefined
  /** A header (lower case) every matching request carries, when the match requires one (indexing). */
  readonly requiredHeader: string | undefined
  readonly matchRequest: (req: RequestView) => boolean
  readonly matchResponse: ((status: number, headers: HeaderBag) => boolean) | undefined
  readonly actions: readonly CompiledAction[]
  /**
   * Requests currently held by this rule's faults (maxActive). Owned by the rule store and keyed
   * by rule id, so the count survives recompiles: requests in flight on an older generation
   * release the same counter the new generation checks.
   */
  readonly live: LiveCount
}

/** The one mutable piece of a rule's runtime state; never part of a snapshot. */
export interface LiveCount {
  active: number
}

export interface CompileOptions {
  now: number
  generation: number
  /** The live counter for a rule id; by default every compile starts from zero (validation only). */
  liveCount?: (id: string) => LiveCount
}

export interface RuleSnapshot {
  readonly generation: number
  readonly rules: readonly CompiledRule[]
  readonly stored: readonly StoredRule[]
  readonly requestRules: SegmentIndex
  readonly responseRules: SegmentIndex
  /** Earliest expiresAt, Infinity when none: when the store must prune next. */
  readonly nextExpiry: number
}

export type CompileResult = { ok: true; snapshot: RuleSnapshot } | { ok: false; issues: FieldIssue[] }

export function emptySnapshot(generation = 0): RuleSnapshot {
  return snapshotOf([], [], generation)
}

/**
 * Checks `input` (`{ rules: [...] }`) completely, collecting every issue with its JSON pointer,
 * and compiles it. Nothing is returned but issues unless the whole set is valid.
 */
export function compileRuleSet(input: unknown, opts: CompileOptions): CompileResult {
  const issues: FieldIssue[] = []
  const { rule: ruleSchema } = ruleSchemas()
  if (!isPlainObject(input))
    return { ok: false, issues: [{ path: '', message: 'must be an object { "rules": [...] }' }] }
  // Before anything recursive (schema checks, merge patches, serialising stored rules) sees it.
  const tooDeep = jsonDepthIssue(input)
  if (tooDeep) return { ok: false, issues: [tooDeep] }
  const liveCount = opts.liveCount ?? (() => ({ active: 0 }))
  for (const k of Object.keys(input))
    if (k !== 'rules') issues.push({ path: pointer('', k), message: `unknown field "${k}"` })
  const raw = input.rules
  if (!Array.isArray(raw)) {
    issues.push({ path: '/rules', message: raw === undefined ? 'is required' : 'must be an array' })
    return { ok: false, issues }
  }
  if (raw.length > MAX_RULES) issues.push({ path: '/rules', message: `must have at most ${MAX_RULES} rules` })
  const seen = new Map<string, number>()
  const rules: CompiledRule[] = []
  const stored: StoredRule[] = []
  raw.forEach((r: unknown, i) => {
    const path = pointer('/rules', i)
    const before = issues.length
    ruleSchema.check(r, path, issues)
    if (!isPlainObject(r)) return
    if (typeof r.id === 'string') {
      const first = seen.get(r.id)
      if (first !== undefined)
        issues.push({ path: `${path}/id`, message: `duplicates the id of /rules/${first} ("${r.id}")` })
      else seen.set(r.id, i)
    }
    if (issues.length !== before) {
      // The shape is wrong somewhere; still report what the matchers alone would reject.
      const matchIssues: FieldIssue[] = []
      const match = matchSchema.check(r.match ?? {}, `${path}/match`, matchIssues) as MatchSpec | undefined
      if (match) {
        compileRequestMatcher(match, `${path}/match`, issues)
        compileResponseMatcher(match, `${path}/match`, issues)
      }
      return
    }
    const compiled = compileRule(r, i, path, opts.now, issues, liveCount)
    if (compiled) {
      rules.push(compiled.rule)
      stored.push(compiled.stored)
    }
  })
  if (issues.length) return { ok: false, issues }
  return { ok: true, snapshot: snapshotOf(rules, stored, opts.generation) }
}

/** A new snapshot holding a subset of an existing one's rules (deletes, expiry): no recompilation. */
export function retainRules(snap: RuleSnapshot, keep: (r: CompiledRule) => boolean, generation: number): RuleSnapshot {
  const rules: CompiledRule[] = []
  const stored: StoredRule[] = []
  snap.rules.forEach((r, i) => {
    if (keep(r)) {
      rules.push(r)
      stored.push(snap.stored[i]!)
    }
  })
  return snapshotOf(rules, stored, generation)
}

function snapshotOf(rules: CompiledRule[], stored: StoredRule[], generation: number): RuleSnapshot {
  return Object.freeze({
    generation,
    rules: Object.freeze(rules),
    stored: Object.freeze(stored),
    requestRules: buildSegmentIndex(rules.filter((r) => r.phase === 'request')),
    responseRules: buildSegmentIndex(rules.filter((r) => r.phase === 'response')),
    nextExpiry: rules.reduce((min, r) => Math.min(min, r.expiresAt), Infinity),
  })
}

interface MatchSpec {
  methods?: string[]
  path?: string
  pathRegex?: string
  headers?: HeaderMatchSpec[]
  query?: Record<string, string>
  status?: (number | string)[]
  responseHeaders?: HeaderMatchSpec[]
}
interface HeaderMatchSpec {
  name: string
  exact?: string
  regex?: string
  present?: boolean
  absent?: boolean
}

function compileRule(
  r: Record<string, unknown>,
  order: number,
  path: string,
  now: number,
  issues: FieldIssue[],
  liveCount: (id: string) => LiveCount,
): { rule: CompiledRule; stored: StoredRule } | undefined {
  const before = issues.length
  const phase = (r.phase as Phase | undefined) ?? 'request'
  const match = (r.match ?? {}) as MatchSpec

  const actions: CompiledAction[] = []
  for (const key of Object.keys(r)) {
    const fault = getFault(key)
    // A field set to undefined (from code, never from JSON) is absent.
    if (!fault || r[key] === undefined) continue
    if (!fault.phases.includes(phase)) {
      issues.push({
        path: `${path}/${key}`,
        message: `applies to the ${fault.phases.join(' or ')} phase only`,
      })
      continue
    }
    const compiled = fault.compile(r[key], phase, `${path}/${key}`, issues)
    if (compiled !== undefined) actions.push({ fault, compiled })
  }
  if (actions.length === 0 && issues.length === before)
    issues.push({ path, message: `must have at least one fault action (one of the fault fields)` })
  // Actions run in registry order, whatever order the JSON had.
  const kinds = faultKinds()
  actions.sort((a, b) => kinds.indexOf(a.fault) - kinds.indexOf(b.fault))

  if (phase === 'request')
    for (const f of ['status', 'responseHeaders'] as const)
      if (match[f] !== undefined)
        issues.push({ path: `${path}/match/${f}`, message: 'applies to the response phase only' })

  if (r.ttl !== undefined && r.expiresAt !== undefined)
    issues.push({ path: `${path}/expiresAt`, message: 'cannot be combined with ttl' })
  let expiresAt = Infinity
  if (typeof r.ttl === 'string') expiresAt = now + (parseDuration(r.ttl) ?? 0)
  if (typeof r.expiresAt === 'string') {
    const t = Date.parse(r.expiresAt)
    if (!/^\d{4}-\d\d-\d\dT/.test(r.expiresAt) || Number.isNaN(t))
      issues.push({
        path: `${path}/expiresAt`,
        message: 'must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z',
      })
    else if (t <= now) issues.push({ path: `${path}/expiresAt`, message: 'is in the past' })
    else expiresAt = t
  }

  const matchRequest = compileRequestMatcher(match, `${path}/match`, issues)
  const matchResponse = compileResponseMatcher(match, `${path}/match`, issues)
  if (issues.length !== before) return undefined

  const id = r.id as string
  const storedRule: StoredRule = { ...(r as StoredRule) }
  if (expiresAt !== Infinity) {
    delete storedRule.ttl
    storedRule.expiresAt = new Date(expiresAt).toISOString()
  }
  const sticky = typeof r.sticky === 'string' ? r.sticky.toLowerCase() : undefined
  const rule: CompiledRule = Object.freeze({
    id,
    source: r.source as string | undefined,
    phase,
    ppm: r.percent === undefined ? PPM : percentToPpm(r.percent as number),
    sticky,
    stickySeed: fnv1a(id),
    expiresAt,
    maxActive: (r.maxActive as number | undefined) ?? Infinity,
    exactPath: match.path && !match.path.includes('*') ? match.path : undefined,
    order,
    firstSegment:
      (match.path === undefined ? undefined : globFirstSegment(match.path)) ??
      (match.pathRegex === undefined ? undefined : regexFirstSegment(match.pathRegex)),
    // present, exact and regex conditions all fail on a missing header; absent does not.
    requiredHeader: match.headers?.find((h) => !h.absent)?.name.toLowerCase(),
    matchRequest,
    matchResponse,
    actions: Object.freeze(actions),
    live: liveCount(id),
  })
  return { rule, stored: storedRule }
}

type Predicate = (req: RequestView) => boolean

function all(preds: Predicate[]): Predicate {
  if (preds.length === 0) return () => true
  if (preds.length === 1) return preds[0]!
  return (req) => {
    for (let i = 0; i < preds.length; i++) if (!preds[i]!(req)) return false
    return true
  }
}

function compileRequestMatcher(m: MatchSpec, path: string, issues: FieldIssue[]): Predicate {
  const preds: Predicate[] = []
  if (m.methods) {
    const methods = new Set(m.methods.map((x) => x.toUpperCase()))
    preds.push((req) => methods.has(req.method))
  }
  if (m.path !== undefined) {
    try {
      const glob = compileGlob(m.path)
      preds.push((req) => glob(req.path))
    } catch (err) {
      issues.push({ path: `${path}/path`, message: (err as Error).message })
    }
  }
  if (m.pathRegex !== undefined) {
    const c = compileLinearRegex(m.pathRegex)
    if (c.ok) preds.push((req) => c.regex.test(req.path))
    else issues.push({ path: `${path}/pathRegex`, message: c.message })
  }
  m.headers?.forEach((h, i) => {
    const p = compileHeaderMatcher(h, pointer(`${path}/headers`, i), issues)
    if (p) preds.push((req) => p(req.headers))
  })
  if (m.query) {
    const wanted = Object.entries(m.query)
    // Query strings are parsed only for requests that got this far.
    preds.push((req) => {
      if (req.query === '') return false
      const q = new URLSearchParams(req.query)
      return wanted.every(([k, v]) => q.getAll(k).includes(v))
    })
  }
  return all(preds)
}

function compileResponseMatcher(
  m: MatchSpec,
  path: string,
  issues: FieldIssue[],
): ((status: number, headers: HeaderBag) => boolean) | undefined {
  if (!m.status && !m.responseHeaders) return undefined
  let statusOk: (s: number) => boolean = () => true
  if (m.status) {
    const singles = new Set<number>()
    const ranges: [number, number][] = []
    m.status.forEach((s, i) => {
      if (typeof s === 'number') singles.add(s)
      else {
        const [lo, hi] = s.split('-').map(Number) as [number, number]
        if (lo > hi) issues.push({ path: pointer(`${path}/status`, i), message: 'range must go from low to high' })
        ranges.push([lo, hi])
      }
    })
    statusOk = (s) => singles.has(s) || ranges.some(([lo, hi]) => s >= lo && s <= hi)
  }
  const headerPreds: ((h: HeaderBag) => boolean)[] = []
  m.responseHeaders?.forEach((h, i) => {
    const p = compileHeaderMatcher(h, pointer(`${path}/responseHeaders`, i), issues)
    if (p) headerPreds.push(p)
  })
  return (status, headers) => statusOk(status) && headerPreds.every((p) => p(headers))
}

function headerText(v: HeaderValue): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

function compileHeaderMatcher(
  h: HeaderMatchSpec,
  path: string,
  issues: FieldIssue[],
): ((headers: HeaderBag) => boolean) | undefined {
  const name = h.name.toLowerCase()
  if (h.present) return (headers) => headers[name] !== undefined
  if (h.absent) return (headers) => headers[name] === undefined
  if (h.exact !== undefined) {
    const exact = h.exact
    return (headers) => headerText(headers[name]) === exact
  }
  const c = compileLinearRegex(h.regex ?? '')
  if (!c.ok) return void issues.push({ path: `${path}/regex`, message: c.message })
  return (headers) => {
    const v = headerText(headers[name])
    return v !== undefined && c.regex.test(v)
  }
}
