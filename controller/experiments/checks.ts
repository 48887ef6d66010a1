/**
 * Takes one sample of a check: measures, then judges with src/experiments/judge.ts.
 * Sidecar statistics are merged exactly across every sidecar of the target (HDR histograms).
 * Missing data (no requests, no latency figure, no PromQL series) is "nodata", never a value of 0.
 */
import { spawn } from 'node:child_process'
import { fmt, judgeValue, type Outcome, type Phase, type Sample, type Tolerance } from '../../src/experiments/judge.ts'
import { exitCodeAccepted } from '../../src/experiments/codes.ts'
import type { CheckSpec } from '../../src/experiments/schema.ts'
import { compileLinearRegex } from '../../src/regex.ts'
import type { KubernetesTargetSpec } from '../../src/experiments/kubernetes-schema.ts'
import type { Cluster } from '../drivers/kubernetes/cluster.ts'
import { measure } from '../drivers/kubernetes/state.ts'
import type { SidecarClient } from '../sidecar-client.ts'
import { type LookPlan, statisticalSample } from './statistical-checks.ts'
import { latencyOf, type Merged, rateOf, readWindows, secondsSince, type WindowRead } from './windows.ts'

const DEFAULT_WINDOW_MS = 10_000
const DEFAULT_MIN_SAMPLES = 20

export interface CheckContext {
  sidecars(target: string): SidecarClient[]
  /** The cluster and the target's selector, for Kubernetes checks; undefined without a cluster. */
  kubernetes?(target: string | undefined): { cluster: Cluster; target: KubernetesTargetSpec | undefined } | undefined
  /** The value a check measured in the before phase (for relative tolerances). */
  baseline(check: string): number | undefined
  now(): number
}

export interface SampleOptions {
  /**
   * Judge only requests completed at or after this time (epoch ms): sidecar windows then start
   * at the first statistics second that began after it. The runner passes the phase start (the
   * method start, or the revert), so a window never mixes in data from before.
   */
  since?: number
  /** A statistically judged sidecar check: the look's plan (statistical-checks.ts). */
  statistical?: LookPlan
}

export type SampleResult = Omit<Sample, 'at' | 'phase'>

/**
 * Judges a measured value, or, for an observation (no tolerance), records it as `observed`:
 * a figure without a bound is never a pass or a fail.
 */
function judgeOrObserve(
  value: number,
  tol: Tolerance | undefined,
  baseline?: number,
): { outcome: Outcome; detail: string } {
  if (tol) return judgeValue(value, tol, baseline)
  if (typeof value !== 'number' || Number.isNaN(value)) return { outcome: 'nodata', detail: 'no value measured' }
  return { outcome: 'observed', detail: fmt(value) }
}

type Cohort = 'all' | 'faulted' | 'unfaulted'
const figuresOf = (m: Merged, cohort: Cohort) => (cohort === 'all' ? m : m.cohorts[cohort])

/**
 * Requests per second of a cohort. Over whole seconds when the window has any (the window minus
 * its current, partial bucket), since bursty load makes a partial second swing the rate; over
 * the time covered otherwise.
 */
function throughputOf(read: WindowRead, current: WindowRead | undefined, cohort: Cohort): number | undefined {
  const count = figuresOf(read.merged, cohort).count
  if (!current) return rateOf(count, read.coveredMs)
  return (count - figuresOf(current.merged, cohort).count) / (read.seconds - 1)
}

/** One sidecar statistic; undefined when there is no such figure. */
function statOf(read: WindowRead, current: WindowRead | undefined, cohort: Cohort, stat: string): number | undefined {
  const m = figuresOf(read.merged, cohort)
  switch (stat) {
    case 'errorRate':
      return m.count === 0 ? undefined : (m.errorRate ?? undefined)
    case 'count':
      return m.count
    case 'throughput':
      return throughputOf(read, current, cohort)
    default:
      return latencyOf(m, stat)
  }
}

const clockTime = (ms: number) => new Date(ms).toISOString().slice(11, 23)

async function sidecarSample(c: CheckSpec, ctx: CheckContext, opts: SampleOptions): Promise<SampleResult> {
  const spec = c.sidecar!
  const clients = ctx.sidecars(spec.target)
  if (clients.length === 0) return { outcome: 'nodata', detail: `target ${spec.target} has no sidecars` }
  let seconds = Math.max(1, Math.round((c.window ?? DEFAULT_WINDOW_MS) / 1000))
  if (opts.since !== undefined) {
    const fresh = secondsSince(opts.since, ctx.now())
    if (fresh === 0)
      return { outcome: 'nodata', detail: `no statistics second has begun since ${clockTime(opts.since)} yet` }
    seconds = Math.min(seconds, fresh)
  }
  // Throughput also reads the current bucket alone, to count whole seconds only.
  const sizes = spec.stat === 'throughput' && seconds >= 2 ? [seconds, 1] : [seconds]
  const [read, current] = (await readWindows(clients, sizes, ctx.now)) as [WindowRead, WindowRead | undefined]
  const from = read.from
  const cohort = spec.cohort ?? 'all'
  const figures = figuresOf(read.merged, cohort)
  const minSamples = c.minSamples ?? DEFAULT_MIN_SAMPLES
  const span = `${(read.coveredMs / 1000).toFixed(1)}s`
  if (figures.count < minSamples)
    return { outcome: 'nodata', from, detail: `${figures.count} ${cohort} requests in ${span}, need ${minSamples}` }
  const value = statOf(read, current, cohort, spec.stat)
  if (value === undefined) return { outcome: 'nodata', from, detail: `no ${spec.stat} figure in ${span}` }
  const tol = c.tolerance as Tolerance | undefined
  let baseline: number | undefined
  if (tol?.relative?.to === 'unfaulted') {
    const control = read.merged.cohorts.unfaulted
    if (control.count < minSamples)
      return { outcome: 'nodata', value, from, detail: `${control.count} unfaulted requests, need ${minSamples}` }
    baseline = statOf(read, current, 'unfaulted', spec.stat)
    if (baseline === undefined)
      return { outcome: 'nodata', value, from, detail: `no unfaulted ${spec.stat} figure in ${span}` }
  } else if (tol?.relative?.to === 'before') baseline = ctx.baseline(c.name)
  return { ...judgeOrObserve(value, tol, baseline), value, baseline, from }
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
    // Validation refuses a regex that cannot compile; if one gets here anyway, never pass on it.
    const re = compileLinearRegex(spec.bodyRegex)
    if (!re.ok) return { outcome: 'error', detail: `bodyRegex /${spec.bodyRegex}/ cannot be used: ${re.message}` }
    if (!re.regex.test(text)) problems.push(`body does not match /${spec.bodyRegex}/`)
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
  if (data.result.length === 0) return { outcome: 'nodata', detail: 'query returned no series (no data for it yet?)' }
  if (data.result.length !== 1)
    return {
      outcome: 'error',
      detail: `query returned ${data.result.length} series, need exactly one (aggregate it, e.g. with sum or max)`,
    }
  return judged(Number(data.result[0]!.value[1]))

  function judged(value: number): SampleResult {
    if (Number.isNaN(value)) return { outcome: 'nodata', detail: 'query returned NaN (no data in the range?)' }
    const tol = c.tolerance as Tolerance | undefined
    const baseline = tol?.relative?.to === 'before' ? ctx.baseline(c.name) : undefined
    return { ...judgeOrObserve(value, tol, baseline), value, baseline }
  }
}

/**
 * A command whose trimmed stdout is a number judged by the tolerance. Output that is not a
 * number is an error sample, never 0 (Litmus's float comparator reads a parse error as 0).
 */
function outputNumberSample(c: CheckSpec, stdout: string, problems: string[], ctx: CheckContext): SampleResult {
  const text = stdout.trim()
  const value = text === '' ? NaN : Number(text)
  if (Number.isNaN(value))
    return { outcome: 'error', detail: `output ${JSON.stringify(text.slice(0, 80))} is not a number` }
  if (problems.length) return { outcome: 'fail', value, detail: problems.join('; ') }
  const tol = c.tolerance as Tolerance
  const baseline = tol.relative?.to === 'before' ? ctx.baseline(c.name) : undefined
  return { ...judgeValue(value, tol, baseline), value, baseline }
}

function commandSample(c: CheckSpec, ctx: CheckContext): Promise<SampleResult> {
  const spec = c.command!
  const [cmd, ...args] = spec.run
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: spec.timeout ?? 10_000 })
    let out = ''
    let stdout = ''
    child.stdout!.on('data', (d) => {
      out += d
      stdout += d
    })
    child.stderr!.on('data', (d) => (out += d))
    child.once('error', (err) => resolve({ outcome: 'error', detail: `cannot run ${cmd}: ${err.message}` }))
    child.once('close', (code, signal) => {
      if (signal) return resolve({ outcome: 'fail', detail: `killed by ${signal} (timeout?)` })
      const problems: string[] = []
      if (code === null || !exitCodeAccepted(code, spec.exitCode ?? 0)) problems.push(`exit code ${code}`)
      if (spec.outputNumber) return resolve(outputNumberSample(c, stdout, problems, ctx))
      if (spec.outputRegex !== undefined) {
        // Validation refuses a regex that cannot compile; if one gets here anyway, never pass on it.
        const re = compileLinearRegex(spec.outputRegex)
        if (!re.ok)
          return resolve({
            outcome: 'error',
            detail: `outputRegex /${spec.outputRegex}/ cannot be used: ${re.message}`,
          })
        if (!re.regex.test(out)) problems.push(`output does not match /${spec.outputRegex}/`)
      }
      if (spec.stdoutRegex !== undefined) {
        const re = compileLinearRegex(spec.stdoutRegex)
        if (!re.ok)
          return resolve({
            outcome: 'error',
            detail: `stdoutRegex /${spec.stdoutRegex}/ cannot be used: ${re.message}`,
          })
        if (!re.regex.test(stdout)) problems.push(`stdout does not match /${spec.stdoutRegex}/`)
      }
      resolve({
        outcome: problems.length ? 'fail' : 'pass',
        value: code ?? undefined,
        detail: problems.join('; ') || `exit ${code}`,
      })
    })
  })
}

async function kubernetesSample(c: CheckSpec, ctx: CheckContext): Promise<SampleResult> {
  const k = ctx.kubernetes?.(c.kubernetes!.target)
  if (!k) return { outcome: 'error', detail: 'a Kubernetes check needs a cluster (--kubeconfig, or in-cluster)' }
  const m = await measure(k.cluster, c.kubernetes!, k.target)
  if ('nodata' in m) return { outcome: 'nodata', detail: m.nodata }
  const tol = c.tolerance as Tolerance | undefined
  const baseline = tol?.relative?.to === 'before' ? ctx.baseline(c.name) : undefined
  const judged = judgeOrObserve(m.value, tol, baseline)
  return { ...judged, value: m.value, baseline, detail: `${m.detail}; ${judged.detail}` }
}

/** One sample of any check kind; never throws (a broken check is an `error` sample). */
/**
 * In the before phase a bound relative to the before baseline compares the baseline with itself:
 * the sample *is* the baseline, so only the check's absolute bounds judge it (without this, the
 * gate would wait for a baseline it is there to take, and never pass).
 */
function baselineOf(c: CheckSpec): CheckSpec {
  const tol = c.tolerance as Tolerance | undefined
  if (tol?.relative?.to !== 'before') return c
  const { relative: _relative, ...absolute } = tol
  return { ...c, tolerance: absolute } as CheckSpec
}

export async function sampleCheck(
  c: CheckSpec,
  phase: Phase,
  ctx: CheckContext,
  opts: SampleOptions = {},
): Promise<Sample> {
  const at = ctx.now()
  c = phase === 'before' ? baselineOf(c) : c
  try {
    const r = c.sidecar
      ? opts.statistical
        ? await statisticalSample(c, ctx, opts.statistical)
        : await sidecarSample(c, ctx, opts)
      : c.http
        ? await httpSample(c)
        : c.promql
          ? await promqlSample(c, ctx)
          : c.kubernetes
            ? await kubernetesSample(c, ctx)
            : await commandSample(c, ctx)
    return { at, phase, ...r }
  } catch (err) {
    return { at, phase, outcome: 'error', detail: (err as Error).message }
  }
}
