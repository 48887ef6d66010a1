/**
 * Reports a person reads: a self-contained HTML page (no scripts, no external assets; the charts
 * are inline SVG: latency, error rate and throughput per target, with fault windows, the
 * recovery phase and each check's bound) and a Markdown summary, both from the journal alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fmt, type PhaseResult } from '../../src/experiments/judge.ts'
import type { Tolerance } from '../../src/experiments/judge.ts'
import { type Band, type BoundLine, esc, type Mark, timeChart } from './charts.ts'
import {
  baselineText,
  boundText,
  type ChartKind,
  chartOf,
  checkSpecs,
  measuredText,
  resolvedBounds,
} from './check-figures.ts'
import type { FaultRecord, Journal, SeriesPoint } from './journal.ts'

const secs = (j: Journal, t: number | undefined) => (t === undefined ? '' : `${((t - j.startedAt) / 1000).toFixed(1)}s`)

function injectedSummary(f: FaultRecord): string {
  if (!f.evidence) return ''
  const totals: Record<string, { matched: number; injected: number }> = {}
  for (const perRule of Object.values(f.evidence))
    for (const [id, c] of Object.entries(perRule)) {
      const t = (totals[id] ??= { matched: 0, injected: 0 })
      t.matched += c.matched
      t.injected += c.injected
    }
  return Object.entries(totals)
    .map(([id, c]) => `${id}: ${c.injected} injected / ${c.matched} matched`)
    .join('; ')
}

function faultEvidence(f: FaultRecord): string {
  if (f.kind === 'kill')
    return f.recoveryMs == null ? 'did not recover in time' : `ready again after ${f.recoveryMs} ms`
  if (f.kind === 'sidecar') {
    const acks = Object.entries(f.acknowledged ?? {})
      .map(([u, g]) => `${u} gen ${g}`)
      .join(', ')
    const missing = Object.values(f.evidenceUnavailable ?? {}).map((e) => `${e.message} [${e.code}]`)
    return (
      [acks && `acknowledged: ${acks}`, injectedSummary(f), ...missing].filter(Boolean).join('; ') ||
      (f.error ?? 'not applied')
    )
  }
  return f.error ?? ''
}

/** How a phase ended, with the recovery time and the data it rests on for an after phase. */
export function phaseSummary(p: PhaseResult): string {
  const base = `${p.phase}: ${p.result} (${p.reason}`
  if (p.recoveredAfterMs === undefined || !p.recoveryWindow) return `${base})`
  const { from, to } = p.recoveryWindow
  // A point-in-time check (HTTP, command, PromQL) judged one request or run, not a span.
  if (from === to) return `${base}, after ${p.recoveredAfterMs} ms: the first passing sample after the revert)`
  const start = from - p.recoveredAfterMs
  const rel = (t: number) => `${((t - start) / 1000).toFixed(1)} s`
  return `${base}, after ${p.recoveredAfterMs} ms: passed on data from ${rel(from)} to ${rel(to)} after the revert)`
}

/** Shown under the check table of every report that has a recovery (after) phase. */
export const RECOVERY_NOTE =
  'Recovery is measured from the moment every fault was reverted, on requests completed after it only: ' +
  'a sidecar check reads whole statistics seconds that began after the revert (or after its last failing sample), ' +
  'and the recovery time is where the first passing data begins (1 s resolution, plus the check interval); ' +
  'an HTTP or command check times the first passing request or run. See docs/experiments.md.'

/** Shown under the check table when a check was judged statistically. */
export const STATISTICS_NOTE =
  'Percentile and error-rate bounds are judged on every request of the phase as shares of requests ' +
  '("p95 <= 150 ms" holds when at most 5% are slower), with exact Clopper-Pearson bounds at the hypothesis confidence, ' +
  'Holm across its clauses and the error rate spent over the planned looks; a check without enough requests is ' +
  'inconclusive, with the number needed. See docs/experiments.md.'

const hasStatistics = (j: Journal) => Object.values(j.checks).some((c) => c.phases.some((p) => p.statistics))

const hasRecovery = (j: Journal) => Object.values(j.checks).some((c) => c.phases.some((p) => p.phase === 'after'))

const DEFAULT_RECOVER_WITHIN_MS = 30_000

/**
 * The recovery phase on the time axis: from the revert to the moment the last check recovered,
 * or, when one did not, to its `recoverWithin` deadline (or the run's end, if sooner).
 */
export function recoveryBand(j: Journal): Band | undefined {
  const revertAt = j.timeline.find((e) => e.type === 'phase' && e.detail === 'after')?.at
  if (revertAt === undefined) return undefined
  const specs = checkSpecs(j)
  const ends: { at: number; recovered: boolean }[] = []
  for (const [name, rec] of Object.entries(j.checks))
    for (const p of rec.phases.filter((x) => x.phase === 'after')) {
      if (p.recoveredAfterMs !== undefined) ends.push({ at: revertAt + p.recoveredAfterMs, recovered: true })
      else {
        const deadline = revertAt + (specs.get(name)?.recoverWithin ?? DEFAULT_RECOVER_WITHIN_MS)
        ends.push({ at: Math.min(deadline, j.endedAt ?? deadline), recovered: false })
      }
    }
  if (ends.length === 0) return undefined
  const to = Math.max(...ends.map((e) => e.at))
  const all = ends.every((e) => e.recovered)
  const label = all ? `recovery ${fmt((to - revertAt) / 1000)} s` : 'not recovered'
  const title = all
    ? `from the revert to the start of the data every recovery check first passed on (${to - revertAt} ms)`
    : 'from the revert to the recoverWithin deadline of a check that did not recover'
  return { cls: 'recovery-window', from: revertAt, to, color: all ? '#10b981' : '#ef4444', label, title }
}

/** Fault windows of a target: sidecar faults on it, and every other kind (they touch the whole system). */
function faultBands(j: Journal, target: string, end: number): Band[] {
  return j.faults
    .filter((f) => f.appliedAt !== undefined && (f.kind !== 'sidecar' || f.target === target))
    .map((f) => ({
      cls: 'fault-window',
      from: f.appliedAt!,
      to: f.revertedAt ?? end,
      color: '#f59e0b',
      label: f.step,
    }))
}

/** The bounds and measured samples of this target's checks that belong on `chart`. */
function checkOverlays(
  j: Journal,
  target: string,
  chart: ChartKind,
  scale: number,
): { bounds: BoundLine[]; marks: Mark[] } {
  const bounds: BoundLine[] = []
  const marks: Mark[] = []
  for (const [name, spec] of checkSpecs(j)) {
    if (spec.sidecar?.target !== target || chartOf(spec) !== chart) continue
    const rec = j.checks[name]
    const tol = spec.tolerance as Tolerance
    const stat = spec.sidecar.stat
    if (tol.max !== undefined) bounds.push({ kind: 'max', value: tol.max * scale, label: `${name}: ${stat} max` })
    if (tol.min !== undefined) bounds.push({ kind: 'min', value: tol.min * scale, label: `${name}: ${stat} min` })
    const rel = tol.relative
    if (rel && rec) {
      const points = rec.samples
        .filter((s) => s.baseline !== undefined)
        .map((s) => ({ x: s.from ?? s.at, y: resolvedBounds({ relative: rel }, s.baseline).max! * scale }))
      bounds.push({ kind: 'max', points, label: `${name}: ${stat} vs ${rel.to}` })
    }
    for (const s of rec?.samples ?? [])
      if (s.value !== undefined && (s.outcome === 'pass' || s.outcome === 'fail'))
        marks.push({
          x: s.at,
          y: s.value * scale,
          outcome: s.outcome,
          title: `${name} ${s.phase}: ${s.outcome} ${s.detail ?? ''}`,
        })
  }
  return { bounds, marks }
}

function chartFrame(j: Journal, target: string, points: SeriesPoint[]) {
  const end = j.endedAt ?? points.at(-1)?.t ?? j.startedAt + 1000
  const recovery = recoveryBand(j)
  return { start: j.startedAt, end, bands: [...faultBands(j, target, end), ...(recovery ? [recovery] : [])] }
}

/** One inline SVG chart of p50/p95/p99 for a target, with fault windows, recovery and bounds. */
export function latencyChart(j: Journal, target: string, points: SeriesPoint[]): string {
  const series = (key: 'p50' | 'p95' | 'p99', color: string, width: number) => ({
    key,
    color,
    width,
    points: points.map((p) => ({ x: p.t, y: p[key] })),
  })
  return timeChart({
    cls: 'latency',
    target,
    ariaLabel: `latency of ${target} over time`,
    unit: 'ms',
    ...chartFrame(j, target, points),
    // Seconds without requests have no latency: the line breaks there instead of dropping to 0.
    series: [series('p50', '#60a5fa', 1), series('p95', '#1d4ed8', 2), series('p99', '#7c3aed', 1)],
    ...checkOverlays(j, target, 'latency', 1),
  })
}

/** Error rate (%) per second for a target; no requests is a gap, not 0%. */
export function errorRateChart(j: Journal, target: string, points: SeriesPoint[]): string {
  return timeChart({
    cls: 'error-rate',
    target,
    ariaLabel: `error rate of ${target} over time`,
    unit: '% errors',
    width: 372,
    height: 200,
    ...chartFrame(j, target, points),
    series: [
      {
        key: 'errorRate',
        color: '#b91c1c',
        width: 1.5,
        points: points.map((p) => ({ x: p.t, y: p.errorRate === null ? null : p.errorRate * 100 })),
      },
    ],
    ...checkOverlays(j, target, 'errorRate', 100),
  })
}

/** Requests per second for a target (a real 0 when none came). */
export function throughputChart(j: Journal, target: string, points: SeriesPoint[]): string {
  return timeChart({
    cls: 'throughput',
    target,
    ariaLabel: `throughput of ${target} over time`,
    unit: 'req/s',
    width: 372,
    height: 200,
    ...chartFrame(j, target, points),
    series: [{ key: 'rps', color: '#0f766e', width: 1.5, points: points.map((p) => ({ x: p.t, y: p.rps })) }],
    ...checkOverlays(j, target, 'throughput', 1),
  })
}

const LEGEND =
  '<p class="legend"><span style="color:#60a5fa">p50</span> · <span style="color:#1d4ed8">p95</span> · <span style="color:#7c3aed">p99</span> · <span style="color:#b91c1c">error rate</span> · <span style="color:#0f766e">throughput</span> · <span style="color:#dc2626">- - check bound</span> · <span style="color:#15803d">●</span>/<span style="color:#b91c1c">●</span> check sample pass/fail · <span style="background:#fde68a">fault applied</span> · <span style="background:#a7f3d0">recovery</span> (<span style="background:#fecaca">not recovered</span>: to the recoverWithin deadline)</p>'

function targetCharts(j: Journal, target: string, pts: SeriesPoint[]): string {
  return `<section class="target-charts" data-target="${esc(target)}"><h3>${esc(target)}</h3>
<div class="chart-main">${latencyChart(j, target, pts)}</div>
<div class="chart-row">${errorRateChart(j, target, pts)}${throughputChart(j, target, pts)}</div></section>`
}

function loadSummary(load: NonNullable<Journal['load']>): string {
  if ('error' in load) return `${esc(load.url)}: the load could not run (${esc(load.error)}).`
  return `${esc(load.url)}: ${load.requests} requests, ${fmt(load.rps)} req/s, ${load.errors} errors, ${load.non2xx} non-2xx, p50 ${load.p50} ms, p99 ${load.p99} ms (client side).`
}

export function renderHtml(j: Journal): string {
  const x = j.experiment
  const verdictClass = j.verdict ?? 'inconclusive'
  const specs = checkSpecs(j)
  const checks = Object.entries(j.checks)
    .map(([name, c]) => {
      const spec = specs.get(name)
      const phases = c.phases
        .map((p) => {
          const text = phaseSummary(p)
          const colon = text.indexOf(':')
          return `<b>${p.phase}</b>${esc(text.slice(colon))}`
        })
        .join('<br>')
      return `<tr class="check ${esc(c.result ?? '')}"><td>${esc(name)}${c.guardrail ? ' <small>(guardrail)</small>' : ''}</td><td>${esc(c.kind)}${spec?.sidecar ? ` <small>${esc(spec.sidecar.target)} ${esc(spec.sidecar.stat)}</small>` : ''}</td><td class="result">${esc(c.result ?? 'not run')}</td><td class="measured">${esc(measuredText(spec, c))}</td><td class="bound">${esc(boundText(spec, c.samples))}</td><td class="baseline">${esc(baselineText(spec, c.samples))}</td><td>${c.samples.length}</td></tr>
<tr class="phases"><td></td><td colspan="6">${phases}</td></tr>`
    })
    .join('\n')
  const faults = j.faults
    .map(
      (f) =>
        `<tr class="fault"><td>${esc(f.id)}</td><td>${esc(f.step)}</td><td>${esc(f.kind)}</td><td>${esc(f.target)}</td><td>${secs(j, f.intentAt)}</td><td>${secs(j, f.appliedAt)}</td><td>${secs(j, f.revertedAt)}</td><td>${esc(faultEvidence(f))}</td></tr>`,
    )
    .join('\n')
  const charts = Object.entries(j.series)
    .map(([t, pts]) => targetCharts(j, t, pts))
    .join('\n')
  const timeline = j.timeline
    .map(
      (e) =>
        `<li><code>${secs(j, e.at)}</code> <b>${esc(e.type)}</b> ${e.step ? `[${esc(e.step)}] ` : ''}${esc(e.detail)}</li>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(x.metadata.name)}: ${esc(j.verdict)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:1000px;margin:24px auto;padding:0 16px;color:#111827}
.verdict{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:700;font-size:18px;color:#fff}
.verdict.pass{background:#15803d}.verdict.fail{background:#b91c1c}.verdict.inconclusive{background:#6b7280}
table{border-collapse:collapse;width:100%;margin:8px 0 20px}td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
tr.fail td.result{color:#b91c1c;font-weight:700}tr.pass td.result{color:#15803d}
.legend{font-size:12px;color:#374151}ul.timeline{font-size:12px}
.chart-row{display:flex;gap:16px;flex-wrap:wrap}svg.chart{max-width:100%;height:auto}
td.measured,td.bound,td.baseline{font-variant-numeric:tabular-nums}
tr.phases td{border-top:none;font-size:12px;color:#374151}tr.check td{border-bottom:none}
</style></head><body>
<h1>${esc(x.metadata.name)}</h1>
<p>${esc(x.spec.hypothesis.title)}</p>
<p><span class="verdict ${esc(verdictClass)}" id="verdict">${esc(j.verdict ?? 'inconclusive')}</span> &nbsp; status <b id="status">${esc(j.status)}</b>${j.reason ? ` &nbsp; ${esc(j.reason)}` : ''}${j.dryRun ? ' &nbsp; <b>dry run</b>' : ''}</p>
<p>Run <code>${esc(j.runId)}</code>, ${new Date(j.startedAt).toISOString()}, ${(((j.endedAt ?? j.startedAt) - j.startedAt) / 1000).toFixed(1)} s. Experiment sha256 <code>${esc(j.experimentHash.slice(0, 16))}</code>.</p>
<h2>Latency, errors and throughput over time</h2>
${charts ? charts + LEGEND : '<p>No sidecar statistics were collected.</p>'}
<h2>Checks</h2>
<table id="checks"><tr><th>check</th><th>kind</th><th>result</th><th>measured</th><th>bound</th><th>baseline</th><th>samples</th></tr>
${checks}
</table>
${hasRecovery(j) ? `<p class="note" id="recovery-method">${esc(RECOVERY_NOTE)}</p>` : ''}
${hasStatistics(j) ? `<p class="note" id="statistics-method">${esc(STATISTICS_NOTE)}</p>` : ''}
<h2>Faults and evidence</h2>
<table id="faults"><tr><th>id</th><th>step</th><th>kind</th><th>target</th><th>intent</th><th>applied</th><th>reverted</th><th>evidence</th></tr>
${faults || '<tr><td colspan="8">none</td></tr>'}
</table>
${j.load ? `<h2>Load</h2><p>${loadSummary(j.load)}</p>` : ''}
<h2>Timeline</h2>
<ul class="timeline">${timeline}</ul>
</body></html>
`
}

export function renderMarkdown(j: Journal): string {
  const specs = checkSpecs(j)
  const lines = [
    `# ${j.experiment.metadata.name}: ${(j.verdict ?? 'inconclusive').toUpperCase()}`,
    '',
    `${j.experiment.spec.hypothesis.title}`,
    '',
    `- status: **${j.status}**, verdict: **${j.verdict}**${j.reason ? ` (${j.reason})` : ''}${j.dryRun ? ', dry run' : ''}`,
    `- run \`${j.runId}\`, ${new Date(j.startedAt).toISOString()}, ${(((j.endedAt ?? j.startedAt) - j.startedAt) / 1000).toFixed(1)} s`,
    '',
    '## Checks',
    '',
    '| check | kind | result | measured | bound | baseline | phases |',
    '|---|---|---|---|---|---|---|',
    ...Object.entries(j.checks).map(([n, c]) => {
      const spec = specs.get(n)
      const cell = (text: string) => text.replaceAll('|', '/')
      return `| ${n}${c.guardrail ? ' (guardrail)' : ''} | ${c.kind} | ${c.result ?? 'not run'} | ${cell(measuredText(spec, c))} | ${cell(boundText(spec, c.samples))} | ${cell(baselineText(spec, c.samples))} | ${c.phases.map((p) => cell(phaseSummary(p))).join('<br>')} |`
    }),
    '',
    ...(hasRecovery(j) ? [RECOVERY_NOTE, ''] : []),
    ...(hasStatistics(j) ? [STATISTICS_NOTE, ''] : []),
    '## Faults',
    '',
    '| id | step | kind | target | applied | reverted | evidence |',
    '|---|---|---|---|---|---|---|',
    ...j.faults.map(
      (f) =>
        `| ${f.id} | ${f.step} | ${f.kind} | ${f.target} | ${secs(j, f.appliedAt)} | ${secs(j, f.revertedAt)} | ${faultEvidence(f).replaceAll('|', '/')} |`,
    ),
    '',
  ]
  return lines.join('\n')
}

export function writeReports(dir: string, j: Journal): { html: string; markdown: string } {
  const html = path.join(dir, 'report.html')
  const markdown = path.join(dir, 'report.md')
  mkdirSync(dir, { recursive: true })
  writeFileSync(html, renderHtml(j))
  writeFileSync(markdown, renderMarkdown(j))
  return { html, markdown }
}
