/**
 * The Grafana dashboard against real data: a real Prometheus (test/helpers/prometheus.ts)
 * scrapes a real sidecar and a real controller while traffic flows, a schedule fires a run that
 * injects faults (a 503 abort and a delay) and recovers, a second firing is skipped, and the
 * controller is halted and released. Then every panel query and every annotation query of
 * charts/faultline/dashboards/faultline.json, with Grafana's variables filled in as Grafana
 * would, is run as a range query over that time: each must return a series with a real value.
 * Both services' /metrics also pass `promtool check metrics` (its lint included).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type ControllerWorld, startController, waitForRun } from '../helpers/controller.ts'
import { type Prometheus, startPrometheus } from '../helpers/prometheus.ts'
import { startWorld, type World } from '../helpers/world.ts'

type Obj = Record<string, any>

const DASHBOARD: Obj = JSON.parse(
  readFileSync(path.join(import.meta.dirname, '../../charts/faultline/dashboards/faultline.json'), 'utf8'),
)

/** Grafana's variables as the dashboard opens: every namespace, service and experiment ("All" is `.*`). */
function fill(expr: string, rangeSeconds: number): string {
  return expr
    .replaceAll('$__rate_interval', '4s')
    .replaceAll('$__range', `${rangeSeconds}s`)
    .replaceAll('$__interval', '1s')
    .replaceAll(/\$(namespace|service|experiment)\b/g, '.*')
}

/** Every query the dashboard runs: panel targets and annotations, named for the failure message. */
function dashboardQueries(): { where: string; expr: string; labels: string[] }[] {
  /** Labels a legend or an annotation's title, text and tags name: each series must carry them. */
  const named = (...formats: (string | undefined)[]) =>
    formats.flatMap((f) => [...(f ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!))
  const panels = DASHBOARD.panels.flatMap((p: Obj) =>
    (p.targets ?? []).map((t: Obj) => ({
      where: `panel "${p.title}" ${t.refId}`,
      expr: t.expr as string,
      labels: named(t.legendFormat),
    })),
  )
  const annotations = DASHBOARD.annotations.list
    .filter((a: Obj) => a.target?.expr || a.expr)
    .map((a: Obj) => {
      // Grafana 9+ reads target.expr; older ones read expr: both must be the same query.
      expect(a.expr, `annotation "${a.name}"`).toBe(a.target.expr)
      const tags = (a.tagKeys as string).split(',').filter(Boolean)
      return {
        where: `annotation "${a.name}"`,
        expr: a.target.expr as string,
        labels: [...named(a.titleFormat, a.textFormat), ...tags],
      }
    })
  return [...panels, ...annotations]
}

/** Labels the PodMonitor's Kubernetes discovery adds to every series; this test's Prometheus scrapes static targets. */
const KUBERNETES_TARGET_LABELS = new Set(['namespace', 'pod'])

interface RangeResult {
  metric: Record<string, string>
  values: [number, string][]
}

async function queryRange(prom: Prometheus, expr: string, start: number, end: number): Promise<RangeResult[]> {
  const url = new URL('/api/v1/query_range', prom.url)
  url.search = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: '1' }).toString()
  const res = await fetch(url)
  const body = (await res.json()) as { status: string; error?: string; data: { result: RangeResult[] } }
  if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error}`)
  return body.data.result
}

async function instant(prom: Prometheus, expr: string): Promise<number | undefined> {
  const url = new URL('/api/v1/query', prom.url)
  url.search = new URLSearchParams({ query: expr }).toString()
  const body = (await (await fetch(url)).json()) as { data: { result: { value: [number, string] }[] } }
  const v = body.data.result[0]?.value[1]
  return v === undefined ? undefined : Number(v)
}

function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    )
    child.stdin!.end(text)
  })
}

let world: World
let controller: ControllerWorld
let prom: Prometheus
let startedAt: number
let endedAt: number

const fast = { window: '2s', interval: '250ms', minSamples: 5 }

/**
 * Traffic, a scheduled run with faults and recovery, a skipped firing, a halt: once, for every
 * test of this file (each awaits it, so any of them can run alone). expect.poll needs a test.
 */
let scenario: Promise<void> | undefined
const happened = () => (scenario ??= drive())

async function drive(): Promise<void> {
  world = await startWorld({ service: 'shop' })
  controller = await startController()
  prom = await startPrometheus([new URL(world.adminUrl).host, new URL(controller.url).host])
  startedAt = Date.now() / 1000
  const api = controller.api
  const doc = {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name: 'dash' },
    spec: {
      targets: { app: { sidecars: [world.adminUrl] } },
      load: { url: `${world.proxyUrl}/echo/x`, rate: 100, connections: 4 },
      hypothesis: {
        title: 'the error rate stays under 20% while half the requests are refused',
        checks: [{ name: 'errors', sidecar: { target: 'app', stat: 'errorRate' }, tolerance: { max: 0.2 }, ...fast }],
      },
      method: [
        {
          name: 'flaky',
          sidecarFault: {
            target: 'app',
            duration: '3s',
            rules: [
              { id: 'refuse-half', percent: 50, abort: { status: 503 } },
              { id: 'slow', delay: { ms: 20 } },
            ],
          },
        },
      ],
    },
  }
  expect((await api('POST', '/experiments', doc)).status).toBe(201)
  expect((await api('POST', '/schedules', { name: 'nightly', experiment: 'dash', cron: '0 3 * * *' })).status).toBe(201)
  // Armed: its counters exist at 0. Scraped so before it fires, or increase() could not see the first firing.
  await expect
    .poll(() => instant(prom, 'count(faultline_schedule_skips_total{schedule="nightly"})'), {
      timeout: 10_000,
      interval: 250,
    })
    .toBe(7)
  const fired = await api('POST', '/schedules/nightly/trigger', {})
  expect(fired.body).toMatchObject({ outcome: 'started' })
  const again = await api('POST', '/schedules/nightly/trigger', {})
  expect(again.body).toMatchObject({ outcome: 'skipped' })
  const run = await waitForRun(controller, fired.body.runId, 60_000)
  expect(run).toMatchObject({ status: 'completed', verdict: 'fail' })
  expect(run.checks.errors.phases.find((p: Obj) => p.phase === 'after').recoveredAfterMs).toBeGreaterThanOrEqual(0)

  await api('POST', '/halt', { reason: 'dashboard test' })
  expect((await api('POST', '/schedules/nightly/trigger', {})).body).toMatchObject({ outcome: 'skipped' })
  await expect.poll(() => instant(prom, 'max(faultline_halted)'), { timeout: 10_000, interval: 250 }).toBe(1)
  await api('DELETE', '/halt')
  // The ended run, the skips and the lifted halt scraped.
  await expect
    .poll(() => instant(prom, 'sum(faultline_runs_total{verdict="fail"})'), { timeout: 10_000, interval: 250 })
    .toBe(1)
  await expect.poll(() => instant(prom, 'max(faultline_halted)'), { timeout: 10_000, interval: 250 }).toBe(0)
  endedAt = Date.now() / 1000
}

afterAll(async () => {
  await prom?.close()
  await controller?.close()
  await world?.close()
})

describe('the Grafana dashboard on real data', () => {
  it('runs every panel and annotation query, and each returns a series with a value', async () => {
    await happened()
    const queries = dashboardQueries()
    expect(queries.length).toBeGreaterThanOrEqual(40)
    const range = Math.ceil(endedAt - startedAt) + 5
    const empty: string[] = []
    const unlabelled: string[] = []
    for (const q of queries) {
      const result = await queryRange(prom, fill(q.expr, range), Math.floor(startedAt) - 5, Math.ceil(endedAt) + 1)
      const values = result.flatMap((r) => r.values.map(([, v]) => Number(v)))
      if (!values.some(Number.isFinite)) empty.push(`${q.where}: ${q.expr}`)
      for (const r of result)
        for (const label of q.labels)
          if (!(label in r.metric) && !KUBERNETES_TARGET_LABELS.has(label))
            unlabelled.push(`${q.where}: {{${label}}} not in ${JSON.stringify(r.metric)}`)
    }
    expect(empty, 'queries that returned no data').toEqual([])
    expect([...new Set(unlabelled)], 'legends and annotation texts naming labels the series lack').toEqual([])
  }, 120_000)

  it('splits latency and errors by fault, and shades the fault windows of both rules', async () => {
    await happened()
    const range = Math.ceil(endedAt - startedAt) + 5
    const at = async (expr: string) =>
      queryRange(prom, fill(expr, range), Math.floor(startedAt) - 5, Math.ceil(endedAt) + 1)
    const panel = (title: string) => DASHBOARD.panels.find((p: Obj) => p.title === title)
    const errors = await at(panel('Error rate by service and fault').targets[0].expr)
    const byFault = Object.fromEntries(
      errors.map((r) => [r.metric.fault, Math.max(...r.values.map(([, v]) => Number(v)).filter(Number.isFinite))]),
    )
    // The delay comes last in the rule list, so a refused request is labelled abort, the others delay.
    expect(byFault.abort).toBe(1)
    expect(byFault.delay).toBe(0)
    expect(byFault.none).toBe(0)
    const faults = DASHBOARD.annotations.list.find((a: Obj) => a.name === 'Faults (sidecar rules)')
    const windows = await at(faults.expr)
    expect(windows.map((r) => `${r.metric.rule}:${r.metric.kind}`).sort()).toEqual(['refuse-half:abort', 'slow:delay'])
    const runs = DASHBOARD.annotations.list.find((a: Obj) => a.name === 'Experiment runs')
    expect((await at(runs.expr)).map((r) => r.metric.experiment)).toEqual(['dash'])
    const skips = await at(panel('Schedule firings and skips').targets[1].expr)
    expect(skips.map((r) => r.metric.reason).sort()).toEqual(['concurrency_forbid', 'halted'])
  }, 120_000)

  it('lays the panels out on the 24-column grid without overlaps, each with a data source and a unique id', () => {
    const boxes = DASHBOARD.panels.map((p: Obj) => ({ title: p.title as string, ...p.gridPos }))
    for (const b of boxes) expect(b.x + b.w, b.title).toBeLessThanOrEqual(24)
    const overlaps = boxes.flatMap((a: Obj, i: number) =>
      boxes
        .slice(i + 1)
        .filter((b: Obj) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
        .map((b: Obj) => `${a.title} / ${b.title}`),
    )
    expect(overlaps).toEqual([])
    const ids = DASHBOARD.panels.map((p: Obj) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const p of DASHBOARD.panels.filter((p: Obj) => p.type !== 'row'))
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' })
  })

  it('serves metrics promtool accepts, lint included, from both services', async () => {
    await happened()
    for (const url of [`${world.adminUrl}/metrics`, `${controller.url}/metrics`]) {
      const text = await (await fetch(url)).text()
      expect(text).toMatch(/^faultline_build_info\{version="[^"]+",node_version="v\d+[^"]*",component="\w+"\} 1$/m)
      expect(text).toContain('process_cpu_seconds_total')
      const r = await promtool(text)
      expect(r.output).toBe('')
      expect(r.code).toBe(0)
    }
  }, 120_000)
})
