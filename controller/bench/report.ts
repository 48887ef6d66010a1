/**
 * A bench's outputs: `result.json` (everything measured, per round, and the summary), a
 * self-contained `report.html` (inline SVG bar charts with the spread across rounds, no
 * scripts or external assets) and the summary table printed at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { BenchPlan } from '../../src/bench/plan.ts'
import { BASELINE } from '../../src/bench/scenario.ts'
import { type RoundFigures, type ScenarioSummary, type Spread, summarize } from '../../src/bench/summary.ts'
import { FAULTLINE_VERSION } from '../../src/metrics.ts'
import { type Band, barChart, esc, type LinePoint, timeChart } from '../experiments/charts.ts'
import type { BenchRun } from './rounds.ts'

export interface BenchResult {
  faultline: string
  id: string
  status: BenchRun['status']
  startedAt: string
  endedAt: string
  target: string
  sidecar: string
  rounds: number
  load: Omit<BenchPlan['load'], 'url' | 'headers'> & { headers: string[] }
  scenarios: { name: string; spec?: string; rules: Record<string, unknown>[] }[]
  /** Per round and scenario, in the order they ran. */
  results: BenchRun['results']
  summary: ScenarioSummary[]
  notes: string[]
}

export function benchResult(plan: BenchPlan, run: BenchRun): BenchResult {
  const { url, headers, ...load } = plan.load
  const names = [BASELINE, ...plan.scenarios.map((s) => s.name)]
  return {
    faultline: FAULTLINE_VERSION,
    id: run.id,
    status: run.status,
    startedAt: new Date(run.startedAt).toISOString(),
    endedAt: new Date(run.endedAt).toISOString(),
    target: url,
    sidecar: plan.sidecar,
    rounds: plan.rounds,
    // Header names only: values are often credentials.
    load: { ...load, headers: Object.keys(headers) },
    scenarios: plan.scenarios.map((s) => ({ name: s.name, ...(s.spec ? { spec: s.spec } : {}), rules: s.rules })),
    results: run.results,
    summary: summarize(run.results, names, BASELINE),
    notes: run.notes,
  }
}

/** A figure rounded to `digits` decimals, without trailing zeros: 0.73, 105, 50.25. */
const num = (v: number | null, digits = 1) => (v === null ? '-' : String(Number(v.toFixed(digits))))
const signed = (v: number | null, digits = 1) => {
  if (v === null) return '-'
  const r = Number(v.toFixed(digits))
  return `${r > 0 ? '+' : r < 0 ? '-' : '±'}${String(Math.abs(r))}`
}

/** "+50.2 [49.8 .. 50.9]": the median change and its spread across rounds. */
function changeCell(s: Spread, unit: string, rounds: number, digits = 1): string {
  if (s.median === null) return ''
  const spread = rounds > 1 && s.min !== null ? ` [${signed(s.min, digits)} .. ${signed(s.max, digits)}]` : ''
  return `${signed(s.median, digits)}${unit}${spread}`
}

/** Each column: a figure (median across rounds) and its change against the baseline. */
const COLUMNS: {
  title: string
  value: (s: ScenarioSummary) => string
  change: (s: ScenarioSummary) => string
}[] = [
  {
    title: 'req/s',
    value: (s) => num(s.figures.throughput.median),
    change: (s) => (s.change ? changeCell(s.change.throughputPct, '%', s.rounds) : ''),
  },
  ...(['p50', 'p95', 'p99'] as const).map((p) => ({
    title: `${p} ms`,
    value: (s: ScenarioSummary) => num(s.figures[p].median, 2),
    change: (s: ScenarioSummary) => (s.change ? changeCell(s.change[`${p}Ms`], ' ms', s.rounds, 2) : ''),
  })),
  {
    title: 'errors',
    value: (s) => (s.figures.errorRate.median === null ? '-' : `${num(s.figures.errorRate.median * 100, 2)}%`),
    change: (s) => (s.change ? changeCell(s.change.errorRatePp, ' pp', s.rounds) : ''),
  },
]

/** The summary table for a terminal: one row per scenario, each cell `value (change [spread])`. */
export function summaryTable(result: BenchResult): string {
  const rows = [
    ['scenario', ...COLUMNS.map((c) => c.title)],
    ...result.summary.map((s) => [
      s.name,
      ...COLUMNS.map((c) => {
        const change = c.change(s)
        return change ? `${c.value(s)} (${change})` : c.value(s)
      }),
    ]),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  const notes = [
    `medians of ${result.rounds} round(s); (change against the baseline of the same round [spread across rounds]);`,
    'latency over every response (client side); errors: 5xx or no response; pp: percentage points',
  ]
  return [line(rows[0]!), ...rows.slice(1).map(line), '', ...notes].join('\n') + '\n'
}

const COLORS = {
  baseline: '#6b7280',
  throughput: '#0f766e',
  p50: '#60a5fa',
  p95: '#1d4ed8',
  p99: '#7c3aed',
  errorRate: '#b91c1c',
}

function charts(result: BenchResult): string {
  const bar = (s: ScenarioSummary, key: 'throughput' | 'p50' | 'p95' | 'p99' | 'errorRate', scale = 1) => {
    const f = s.figures[key]
    const x = (v: number | null) => (v === null ? null : v * scale)
    return {
      key,
      color: s.name === BASELINE && (key === 'throughput' || key === 'errorRate') ? COLORS.baseline : COLORS[key],
      value: x(f.median),
      ...(f.min !== null && f.max !== null ? { lo: x(f.min)!, hi: x(f.max)! } : {}),
      rounds: f.rounds.filter((v): v is number => v !== null).map((v) => v * scale),
    }
  }
  const groups = (keys: ('throughput' | 'p50' | 'p95' | 'p99' | 'errorRate')[], scale = 1) =>
    result.summary.map((s) => ({ label: s.name, bars: keys.map((k) => bar(s, k, scale)) }))
  return `<div class="chart-row">
<figure><figcaption>Latency (ms): p50, p95, p99</figcaption>${barChart({ cls: 'latency', ariaLabel: 'latency per scenario', unit: 'ms', groups: groups(['p50', 'p95', 'p99']), width: 940 })}</figure>
</div><div class="chart-row">
<figure><figcaption>Throughput (req/s)</figcaption>${barChart({ cls: 'throughput', ariaLabel: 'throughput per scenario', unit: 'req/s', groups: groups(['throughput']), width: 460 })}</figure>
<figure><figcaption>Error rate (%)</figcaption>${barChart({ cls: 'error-rate', ariaLabel: 'error rate per scenario', unit: '%', groups: groups(['errorRate'], 100), width: 460 })}</figure>
</div>`
}

/**
 * Per second over the whole bench, each faulted round shaded with its scenario: shows the
 * interleaving, and drift or warm-up effects a summary would hide. Lines break between rounds.
 */
function overTime(result: BenchResult): string {
  const rounds = result.results.filter((r) => r.figures.series?.length)
  if (rounds.length === 0) return ''
  const start = Math.min(...rounds.map((r) => r.startedAt))
  const end = Math.max(...rounds.map((r) => r.startedAt + r.figures.elapsedMs))
  const line = (f: (p: NonNullable<RoundFigures['series']>[number]) => number | null): LinePoint[] =>
    rounds.flatMap((r) => [...r.figures.series!.map((p) => ({ x: p.t, y: f(p) })), { x: r.startedAt, y: null }])
  const bands: Band[] = rounds
    .filter((r) => r.scenario !== BASELINE)
    .map((r) => ({
      cls: 'scenario-window',
      from: r.startedAt,
      to: r.startedAt + r.figures.elapsedMs,
      color: '#f59e0b',
      label: r.scenario,
      title: `round ${r.round}: ${r.scenario}`,
      labelInside: true,
    }))
  const frame = { target: 'bench', start, end, bands, width: 940, height: 200 }
  return `<figure><figcaption>Latency per second (ms): p50, p95; faulted rounds shaded</figcaption>${timeChart({
    ...frame,
    cls: 'latency-over-time',
    ariaLabel: 'latency per second over the bench',
    unit: 'ms',
    series: [
      { key: 'p50', color: COLORS.p50, points: line((p) => p.p50) },
      { key: 'p95', color: COLORS.p95, width: 1.5, points: line((p) => p.p95) },
    ],
  })}</figure>
<figure><figcaption>Error rate per second (%)</figcaption>${timeChart({
    ...frame,
    cls: 'error-rate-over-time',
    ariaLabel: 'error rate per second over the bench',
    unit: '%',
    series: [
      { key: 'errorRate', color: COLORS.errorRate, width: 1.5, points: line((p) => (p.errors / p.requests) * 100) },
    ],
  })}</figure>`
}

function roundsTable(result: BenchResult): string {
  const rows = result.results
    .map((r) => {
      const f = r.figures
      const injected = r.injected
        ? Object.entries(r.injected)
            .map(([id, c]) => `${id}: ${c.injected}/${c.matched}`)
            .join(', ')
        : r.scenario === BASELINE
          ? ''
          : 'not read'
      return `<tr class="round"><td>${r.round}</td><td>${esc(r.scenario)}</td><td>${f.requests}</td><td>${num(f.throughput)}</td><td>${num(f.p50, 2)}</td><td>${num(f.p95, 2)}</td><td>${num(f.p99, 2)}</td><td>${f.errorRate === null ? '-' : `${num(f.errorRate * 100, 2)}%`}</td><td>${esc(injected)}</td></tr>`
    })
    .join('\n')
  return `<table id="rounds"><tr><th>round</th><th>scenario</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors</th><th>injected / matched (sidecar)</th></tr>
${rows}</table>`
}

export function renderBenchHtml(result: BenchResult): string {
  const summaryRows = result.summary
    .map(
      (s) =>
        `<tr class="scenario" data-scenario="${esc(s.name)}"><td>${esc(s.name)}</td>${COLUMNS.map((c) => `<td>${esc(c.value(s))}${c.change(s) ? `<br><small class="change">${esc(c.change(s))}</small>` : ''}</td>`).join('')}<td>${s.requests}</td></tr>`,
    )
    .join('\n')
  const scenarios = result.scenarios
    .map(
      (s) =>
        `<li><b>${esc(s.name)}</b>${s.spec ? ` <code>${esc(s.spec)}</code>` : ''}: <code>${esc(JSON.stringify(s.rules))}</code></li>`,
    )
    .join('\n')
  const l = result.load
  const loadText = `${l.rate ? `${num(l.rate)} req/s` : 'as fast as possible'} over ${l.connections} connection(s), ${num(l.durationMs / 1000, 3)} s per round, ${num(l.warmupMs / 1000, 3)} s warm-up, ${esc(l.method)}`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline bench ${esc(result.id)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:1000px;margin:24px auto;padding:0 16px;color:#111827}
table{border-collapse:collapse;width:100%;margin:8px 0 20px}td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top;font-variant-numeric:tabular-nums}
small.change{color:#374151}.chart-row{display:flex;gap:16px;flex-wrap:wrap}figure{margin:0}figcaption{font-weight:600;font-size:13px}
svg.chart{max-width:100%;height:auto}.status{font-weight:700}.note{color:#92400e}
</style></head><body>
<h1>faultline bench</h1>
<p><b>${esc(result.target)}</b> through the sidecar <code>${esc(result.sidecar)}</code>: ${result.rounds} interleaved round(s) of ${loadText}.</p>
<p>Status <span class="status" id="status">${esc(result.status)}</span>, ${esc(result.startedAt)} to ${esc(result.endedAt)}, id <code>${esc(result.id)}</code>.</p>
${result.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('\n')}
<h2>Summary</h2>
<table id="summary"><tr><th>scenario</th>${COLUMNS.map((c) => `<th>${esc(c.title)}</th>`).join('')}<th>requests</th></tr>
${summaryRows}
</table>
<p><small>Medians across rounds. Under each figure: the change against the baseline of the same round, median [lowest .. highest across rounds]; throughput in %, latency in ms, errors in percentage points. Latency is client side over every response; an error is a 5xx answer or a request without one (reset, closed, timed out). Bars show the median, the whisker the spread, the dots each round.</small></p>
<h2>Charts</h2>
${charts(result)}
<h2>Over time</h2>
${overTime(result) || '<p>No per-second figures were recorded.</p>'}
<h2>Scenarios</h2>
<ul>${scenarios}</ul>
<h2>Rounds</h2>
${roundsTable(result)}
</body></html>
`
}

/** Writes result.json and report.html into `dir`; returns their paths. */
export function writeBenchOutputs(dir: string, result: BenchResult): { json: string; html: string } {
  mkdirSync(dir, { recursive: true })
  const json = path.join(dir, 'result.json')
  const html = path.join(dir, 'report.html')
  writeFileSync(json, JSON.stringify(result, null, 2) + '\n')
  writeFileSync(html, renderBenchHtml(result))
  return { json, html }
}
