/**
 * Takes one sample of a check: measures, then judges with src/experiments/judge.ts.
 * Sidecar statistics are merged exactly across every sidecar of the target (HDR histograms).
 */
import { spawn } from 'node:child_process'
import { judgeValue, type Outcome, type Phase, type Sample, type Tolerance } from '../../src/experiments/judge.ts'
import type { CheckSpec } from '../../src/experiments/schema.ts'
import { compileLinearRegex } from '../../src/regex.ts'
import { mergeEncoded } from '../../src/stats/window.ts'
import type { SidecarClient } from '../sidecar-client.ts'

const DEFAULT_WINDOW_MS = 10_000
const DEFAULT_MIN_SAMPLES = 20

export interface CheckContext {
  sidecars(target: string): SidecarClient[]
  /** The value a check measured in the before phase (for relative tolerances). */
  baseline(check: string): number | undefined
  now(): number
}

export type SampleResult = Omit<Sample, 'at' | 'phase'>

/** What one sidecar statistic is, from merged figures. */
type Merged = ReturnType<typeof mergeEncoded>
function statOf(m: Merged | Merged['cohorts']['faulted'], stat: string, windowMs: number): number {
  switch (stat) {
    case 'errorRate':
      return m.errorRate
    case 'count':
      return m.count
    case 'throughput':
      return m.count / (windowMs / 1000)
    default:
      return m.latencyMs[stat as keyof Merged['latencyMs']]
  }
}

async function sidecarSample(c: CheckSpec, ctx: CheckContext): Promise<SampleResult> {
  const spec = c.sidecar!
  const windowMs = c.window ?? DEFAULT_WINDOW_MS
  const clients = ctx.sidecars(spec.target)
  if (clients.length === 0) return { outcome: 'nodata', detail: `target ${spec.target} has no sidecars` }
  const parts = await Promise.all(clients.map((s) => s.statsEncoded(windowMs)))
  const merged = mergeEncoded(parts)
  const cohort = spec.cohort ?? 'all'
  const figures = cohort === 'all' ? merged : merged.cohorts[cohort]
  const minSamples = c.minSamples ?? DEFAULT_MIN_SAMPLES
  if (figures.count < minSamples)
    return {
      outcome: 'nodata',
      detail: `${figures.count} ${cohort} requests in ${windowMs / 1000}s, need ${minSamples}`,
    }
  const value = statOf(figures, spec.stat, windowMs)
  const tol = c.tolerance as Tolerance
  let baseline: number | undefined
  if (tol.relative?.to === 'unfaulted') {
    if (merged.cohorts.unfaulted.count < minSamples)
      return {
        outcome: 'nodata',
        value,
        detail: `${merged.cohorts.unfaulted.count} unfaulted requests, need ${minSamples}`,
      }
    baseline = statOf(merged.cohorts.unfaulted, spec.stat, windowMs)
  } else if (tol.relative?.to === 'before') baseline = ctx.baseline(c.name)
  return { ...judgeValue(value, tol, baseline), value, baseline }
}

function statusMatches(status: number, wanted: (number | string)[] | undefined): boolean {
  if (!wanted) return status >= 200 && status < 400
  return wanted.some((w) => {
    if (typeof w === 'number') return w === status
    const [lo, hi] = w.split('-').map(Number) as [number, number]
    return status >= lo && status <= hi
  })
}

/** `$.a.b[0].c` against a parsed JSON document. */
export function jsonPathGet(doc: unknown, path: string): { found: boolean; value?: unknown } {
  const tokens = [...path.slice(1).matchAll(/\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]/g)]
  let cur: unknown = doc
  for (const t of tokens) {
    const key = t[1] ?? t[3]
    if (key !== undefined) {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !(key in cur)) return { found: false }
      cur = (cur as Record<string, unknown>)[key]
    } else {
      const i = Number(t[2])
      if (!Array.isArray(cur) || i >= cur.length) return { found: false }
      cur = cur[i]
    }
  }
  return { found: true, value: cur }
}

async function httpSample(c: CheckSpec): Promise<SampleResult> {
  const spec = c.http!
  const t0 = performance.now()
  let res: Response
  let text: string
  try {
    res = await fetch(spec.url, {
      method: spec.method ?? 'GET',
      headers: spec.headers,
      body: spec.body,
      signal: AbortSignal.timeout(spec.timeout ?? 5000),
    })
    text = await res.text()
  } catch (err) {
    return { outcome: 'fail', detail: `request failed: ${(err as Error).message}` }
  }
  const ms = performance.now() - t0
  const problems: string[] = []
  if (!statusMatches(res.status, spec.status)) problems.push(`status ${res.status}`)
  if (spec.maxLatency !== undefined && ms > spec.maxLatency)
    problems.push(`took ${ms.toFixed(0)} ms > ${spec.maxLatency} ms`)
  if (spec.bodyRegex !== undefined) {
    const re = compileLinearRegex(spec.bodyRegex)
    if (re.ok && !re.regex.test(text)) problems.push(`body does not match /${spec.bodyRegex}/`)
  }
  if (spec.jsonPath) {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch {
      problems.push('body is not JSON')
    }
    if (doc !== undefined) {
      const got = jsonPathGet(doc, spec.jsonPath.path)
      if (spec.jsonPath.exists === false ? got.found : !got.found)
        problems.push(`${spec.jsonPath.path} ${got.found ? 'exists' : 'not found'}`)
      else if (spec.jsonPath.equals !== undefined && JSON.stringify(got.value) !== JSON.stringify(spec.jsonPath.equals))
        problems.push(
          `${spec.jsonPath.path} is ${JSON.stringify(got.value)}, want ${JSON.stringify(spec.jsonPath.equals)}`,
        )
    }
  }
  const outcome: Outcome = problems.length ? 'fail' : 'pass'
  return { outcome, value: ms, detail: problems.length ? problems.join('; ') : `${res.status} in ${ms.toFixed(0)} ms` }
}

async function promqlSample(c: CheckSpec, ctx: CheckContext): Promise<SampleResult> {
  const spec = c.promql!
  const url = `${spec.url.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(spec.query)}`
  let body: {
    status: string
    error?: string
    data?: { resultType: string; result: { metric: object; value: [number, string] }[] }
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
    body = (await res.json()) as typeof body
  } catch (err) {
    return { outcome: 'error', detail: `Prometheus query failed: ${(err as Error).message}` }
  }
  if (body.status !== 'success') return { outcome: 'error', detail: `Prometheus: ${body.error ?? body.status}` }
  const data = body.data!
  if (data.resultType === 'scalar') return judged(Number((data.result as unknown as [number, string])[1]))
  if (data.resultType !== 'vector')
    return { outcome: 'error', detail: `query returned a ${data.resultType}, need one series` }
  if (data.result.length !== 1)
    return {
      outcome: 'error',
      detail: `query returned ${data.result.length} series, need exactly one (aggregate it, e.g. with sum or max)`,
    }
  return judged(Number(data.result[0]!.value[1]))

  function judged(value: number): SampleResult {
    if (Number.isNaN(value)) return { outcome: 'nodata', detail: 'query returned NaN (no data in the range?)' }
    const tol = c.tolerance as Tolerance
    const baseline = tol.relative?.to === 'before' ? ctx.baseline(c.name) : undefined
    return { ...judgeValue(value, tol, baseline), value, baseline }
  }
}

function commandSample(c: CheckSpec): Promise<SampleResult> {
  const spec = c.command!
  const [cmd, ...args] = spec.run
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: spec.timeout ?? 10_000 })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (out += d))
    child.once('error', (err) => resolve({ outcome: 'error', detail: `cannot run ${cmd}: ${err.message}` }))
    child.once('close', (code, signal) => {
      if (signal) return resolve({ outcome: 'fail', detail: `killed by ${signal} (timeout?)` })
      const problems: string[] = []
      if (code !== (spec.exitCode ?? 0)) problems.push(`exit code ${code}`)
      if (spec.outputRegex !== undefined) {
        const re = compileLinearRegex(spec.outputRegex)
        if (re.ok && !re.regex.test(out)) problems.push(`output does not match /${spec.outputRegex}/`)
      }
      resolve({
        outcome: problems.length ? 'fail' : 'pass',
        value: code ?? undefined,
        detail: problems.join('; ') || `exit ${code}`,
      })
    })
  })
}

/** One sample of any check kind; never throws (a broken check is an `error` sample). */
export async function sampleCheck(c: CheckSpec, phase: Phase, ctx: CheckContext): Promise<Sample> {
  const at = ctx.now()
  try {
    const r = c.sidecar
      ? await sidecarSample(c, ctx)
      : c.http
        ? await httpSample(c)
        : c.promql
          ? await promqlSample(c, ctx)
          : await commandSample(c)
    return { at, phase, ...r }
  } catch (err) {
    return { at, phase, outcome: 'error', detail: (err as Error).message }
  }
}
