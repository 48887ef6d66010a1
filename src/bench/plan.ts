/**
 * A bench plan from what the user gave: flags, an optional bench document (`--file`) and the
 * `--scenario` values (specs, or scenario files already read). Flags win over the document.
 * Pure: every problem is collected with the field it is in (`--rate`, `/load/duration`,
 * `scenarios.yaml:/scenarios/1/rules/0/delay/ms`), and nothing runs unless there are none.
 */
import { parseDuration } from '../duration.ts'
import type { FieldIssue } from '../errors.ts'
import { isPlainObject, pointer } from '../schema.ts'
import { checkScenario, checkUnique, parseScenarioSpec, type Scenario } from './scenario.ts'

export interface BenchLoad {
  /** Where load goes: through the sidecar's proxy port. */
  url: string
  /** Requests per second across all connections; undefined: as fast as the connections go. */
  rate?: number
  connections: number
  durationMs: number
  warmupMs: number
  method: string
  headers: Record<string, string>
  body?: string
}

export interface BenchPlan {
  /** The sidecar's admin URL. */
  sidecar: string
  rounds: number
  load: BenchLoad
  scenarios: Scenario[]
  /** Output directory named by the document (`--out` wins). */
  out?: string
}

export const BENCH_DEFAULTS = { connections: 10, durationMs: 10_000, warmupMs: 2_000, rounds: 3, method: 'GET' }

/** The longest a round may run: rules carry a ttl of the round plus a margin, and a bench is bounded. */
const MAX_ROUND_MS = 3_600_000

export interface BenchFlags {
  target?: string
  sidecar?: string
  rate?: string
  connections?: string
  duration?: string
  warmup?: string
  rounds?: string
  method?: string
  header?: string[]
  body?: string
}

export type ScenarioInput = { spec: string } | { file: string; value: unknown }

export interface BenchInputs {
  flags: BenchFlags
  /** The parsed bench document and where it came from. */
  doc?: { source: string; value: unknown }
  /** `--scenario` values in order. */
  scenarios: ScenarioInput[]
}

const URL_RE = /^https?:\/\/[^\s/]+(\/\S*)?$/
const METHOD = /^[A-Z]+$/
const DOC_FIELDS = ['apiVersion', 'kind', 'target', 'sidecar', 'rounds', 'load', 'scenarios', 'out']
const LOAD_FIELDS = ['rate', 'connections', 'duration', 'warmup', 'method', 'headers', 'body']

/** A value from a flag (a string) or the document (a number or string), with its field name. */
type Given = { path: string; value: unknown } | undefined

function given(
  flag: string | undefined,
  flagName: string,
  doc: Record<string, unknown>,
  docPath: string,
  key: string,
): Given {
  if (flag !== undefined) return { path: flagName, value: flag }
  return doc[key] === undefined ? undefined : { path: pointer(docPath, key), value: doc[key] }
}

function num(g: Given, issues: FieldIssue[], o: { min: number; max: number; integer?: boolean }): number | undefined {
  if (!g) return undefined
  const n = typeof g.value === 'string' && g.value.trim() !== '' ? Number(g.value) : g.value
  if (typeof n !== 'number' || !Number.isFinite(n) || (o.integer && !Number.isInteger(n)) || n < o.min || n > o.max) {
    issues.push({
      path: g.path,
      message: `must be ${o.integer ? 'an integer' : 'a number'} from ${o.min} to ${o.max}, got ${JSON.stringify(g.value)}`,
    })
    return undefined
  }
  return n
}

function dur(g: Given, issues: FieldIssue[], min: number): number | undefined {
  if (!g) return undefined
  const ms = typeof g.value === 'string' ? parseDuration(g.value) : undefined
  if (ms === undefined || ms < min || ms > MAX_ROUND_MS) {
    issues.push({
      path: g.path,
      message: `must be a duration with units such as "500ms", "10s" or "1m" (${min === 0 ? '0s' : `${min}ms`} .. 1h), got ${JSON.stringify(g.value)}`,
    })
    return undefined
  }
  return ms
}

function str(g: Given, issues: FieldIssue[], re: RegExp, what: string): string | undefined {
  if (!g) return undefined
  if (typeof g.value !== 'string' || !re.test(g.value)) {
    issues.push({ path: g.path, message: `must be ${what}, got ${JSON.stringify(g.value)}` })
    return undefined
  }
  return g.value
}

/** `--header "name: value"` flags, or the document's `load.headers` map. */
function headersOf(
  flags: string[] | undefined,
  doc: unknown,
  docPath: string,
  issues: FieldIssue[],
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of flags ?? []) {
    const i = h.indexOf(':')
    if (i < 1) issues.push({ path: '--header', message: `"${h}" must be "name: value"` })
    else out[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim()
  }
  if (flags?.length || doc === undefined) return out
  if (!isPlainObject(doc) || Object.values(doc).some((v) => typeof v !== 'string'))
    issues.push({ path: docPath, message: 'must be a map of header names to string values' })
  else Object.assign(out, doc)
  return out
}

function unknownFields(v: Record<string, unknown>, known: string[], path: string, issues: FieldIssue[]): void {
  for (const k of Object.keys(v))
    if (!known.includes(k))
      issues.push({ path: pointer(path, k), message: `unknown field "${k}" (known: ${known.join(', ')})` })
}

/** The scenarios of a document or scenario file: a list, or `{ scenarios: [...] }`. */
function scenarioList(value: unknown, prefix: string, issues: FieldIssue[]): { scenario: Scenario; path: string }[] {
  const list = Array.isArray(value) ? value : isPlainObject(value) ? value.scenarios : undefined
  const base = Array.isArray(value) ? '' : '/scenarios'
  if (!Array.isArray(list) || list.length === 0) {
    issues.push({ path: `${prefix}${base}`, message: 'must be a non-empty list of scenarios' })
    return []
  }
  const out: { scenario: Scenario; path: string }[] = []
  list.forEach((raw, i) => {
    const path = `${prefix}${base}/${i}`
    const s = checkScenario(raw, path, issues)
    if (s) out.push({ scenario: s, path })
  })
  return out
}

/** Builds the plan, or every problem with its field. */
export function buildPlan(inputs: BenchInputs): { ok: true; plan: BenchPlan } | { ok: false; issues: FieldIssue[] } {
  const issues: FieldIssue[] = []
  const { flags } = inputs
  const docPrefix = inputs.doc ? `${inputs.doc.source}:` : ''
  let doc: Record<string, unknown> = {}
  if (inputs.doc) {
    if (!isPlainObject(inputs.doc.value)) issues.push({ path: docPrefix, message: 'must be a bench document (a map)' })
    else {
      doc = inputs.doc.value
      unknownFields(doc, DOC_FIELDS, docPrefix, issues)
      if (doc.apiVersion !== undefined && doc.apiVersion !== 'faultline/v1')
        issues.push({ path: `${docPrefix}/apiVersion`, message: 'must be "faultline/v1"' })
      if (doc.kind !== undefined && doc.kind !== 'Bench')
        issues.push({ path: `${docPrefix}/kind`, message: 'must be "Bench"' })
    }
  }
  let load: Record<string, unknown> = {}
  if (doc.load !== undefined) {
    if (!isPlainObject(doc.load)) issues.push({ path: `${docPrefix}/load`, message: 'must be a map' })
    else {
      load = doc.load
      unknownFields(load, LOAD_FIELDS, `${docPrefix}/load`, issues)
    }
  }
  const lp = `${docPrefix}/load`
  const url = str(given(flags.target, '--target', doc, docPrefix, 'target'), issues, URL_RE, 'an http(s) URL')
  const sidecar = str(given(flags.sidecar, '--sidecar', doc, docPrefix, 'sidecar'), issues, URL_RE, 'an http(s) URL')
  if (!flags.target && doc.target === undefined)
    issues.push({ path: '--target', message: 'is required: the URL load is sent to, through the sidecar proxy' })
  if (!flags.sidecar && doc.sidecar === undefined)
    issues.push({ path: '--sidecar', message: "is required: the sidecar's admin URL (where the rules go)" })
  const rate = num(given(flags.rate, '--rate', load, lp, 'rate'), issues, { min: 1, max: 1_000_000 })
  const connections = num(given(flags.connections, '--connections', load, lp, 'connections'), issues, {
    min: 1,
    max: 10_000,
    integer: true,
  })
  const durationMs = dur(given(flags.duration, '--duration', load, lp, 'duration'), issues, 100)
  const warmupMs = dur(given(flags.warmup, '--warmup', load, lp, 'warmup'), issues, 0)
  const rounds = num(given(flags.rounds, '--rounds', doc, docPrefix, 'rounds'), issues, {
    min: 1,
    max: 1000,
    integer: true,
  })
  const method = str(given(flags.method, '--method', load, lp, 'method'), issues, METHOD, 'an upper-case HTTP method')
  const headers = headersOf(flags.header, load.headers, `${lp}/headers`, issues)
  const body = flags.body ?? (load.body === undefined ? undefined : String(load.body))
  if (doc.out !== undefined && typeof doc.out !== 'string')
    issues.push({ path: `${docPrefix}/out`, message: 'must be a directory path' })

  const scenarios: { scenario: Scenario; path: string }[] = []
  if (doc.scenarios !== undefined) scenarios.push(...scenarioList({ scenarios: doc.scenarios }, docPrefix, issues))
  inputs.scenarios.forEach((s, i) => {
    if ('spec' in s) {
      const path = `--scenario[${i}]`
      const parsed = parseScenarioSpec(s.spec, path, issues)
      if (parsed) scenarios.push({ scenario: parsed, path })
    } else scenarios.push(...scenarioList(s.value, `${s.file}:`, issues))
  })
  if (scenarios.length === 0 && issues.length === 0)
    issues.push({ path: '--scenario', message: 'is required: at least one fault scenario (e.g. --scenario "503:10%")' })
  checkUnique(scenarios, issues)

  if (issues.length) return { ok: false, issues }
  return {
    ok: true,
    plan: {
      sidecar: sidecar!.replace(/\/$/, ''),
      rounds: rounds ?? BENCH_DEFAULTS.rounds,
      load: {
        url: url!,
        ...(rate !== undefined ? { rate } : {}),
        connections: connections ?? BENCH_DEFAULTS.connections,
        durationMs: durationMs ?? BENCH_DEFAULTS.durationMs,
        warmupMs: warmupMs ?? BENCH_DEFAULTS.warmupMs,
        method: method ?? BENCH_DEFAULTS.method,
        headers,
        ...(body !== undefined ? { body } : {}),
      },
      scenarios: scenarios.map((s) => s.scenario),
      ...(typeof doc.out === 'string' ? { out: doc.out } : {}),
    },
  }
}
