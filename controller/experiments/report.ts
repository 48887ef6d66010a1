/**
 * Reports a person reads: a self-contained HTML page (no scripts, no external assets; the chart
 * is inline SVG) and a Markdown summary, both from the journal alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fmt, type PhaseResult } from '../../src/experiments/judge.ts'
import type { FaultRecord, Journal, SeriesPoint } from './journal.ts'

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

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

const hasRecovery = (j: Journal) => Object.values(j.checks).some((c) => c.phases.some((p) => p.phase === 'after'))

/** Consecutive points that have a `key` figure. */
function runs(points: SeriesPoint[], key: 'p50' | 'p95' | 'p99'): SeriesPoint[][] {
  const out: SeriesPoint[][] = [[]]
  for (const p of points) {
    if (p[key] === null) out.push([])
    else out.at(-1)!.push(p)
  }
  return out.filter((r) => r.length > 0)
}

/** One inline SVG chart of p50/p95/p99 for a target, with fault windows shaded. */
export function latencyChart(j: Journal, target: string, points: SeriesPoint[]): string {
  const W = 760
  const H = 220
  const pad = { l: 48, r: 12, t: 12, b: 28 }
  const end = j.endedAt ?? points.at(-1)?.t ?? j.startedAt + 1000
  const span = Math.max(1000, end - j.startedAt)
  const maxY = Math.max(1, ...points.map((p) => p.p99 ?? 0)) * 1.1
  const x = (t: number) => pad.l + ((t - j.startedAt) / span) * (W - pad.l - pad.r)
  const y = (v: number) => H - pad.b - (v / maxY) * (H - pad.t - pad.b)
  // Seconds without requests have no latency: the line breaks there instead of dropping to 0.
  const line = (key: 'p50' | 'p95' | 'p99', color: string) =>
    runs(points, key)
      .map(
        (run) =>
          `<polyline class="series ${key}" fill="none" stroke="${color}" stroke-width="${key === 'p95' ? 2 : 1}" points="${run
            .map((p) => `${x(p.t).toFixed(1)},${y(p[key]!).toFixed(1)}`)
            .join(' ')}"/>`,
      )
      .join('')
  const shaded = j.faults
    .filter((f) => f.appliedAt !== undefined && (f.kind !== 'sidecar' || f.target === target))
    .map((f) => {
      const x0 = x(f.appliedAt!)
      const x1 = Math.max(x0 + 2, x(f.revertedAt ?? end))
      return `<rect class="fault-window" x="${x0.toFixed(1)}" y="${pad.t}" width="${(x1 - x0).toFixed(1)}" height="${H - pad.t - pad.b}" fill="#f59e0b" fill-opacity="0.18"><title>${esc(f.step)}</title></rect><text x="${(x0 + 3).toFixed(1)}" y="${pad.t + 11}" font-size="10" fill="#92400e">${esc(f.step)}</text>`
    })
    .join('')
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const v = maxY * f
      return `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/><text x="${pad.l - 6}" y="${(y(v) + 3).toFixed(1)}" font-size="10" text-anchor="end" fill="#6b7280">${fmt(v)}</text>`
    })
    .join('')
  const xticks = Array.from({ length: 6 }, (_, i) => {
    const t = j.startedAt + (span * i) / 5
    return `<text x="${x(t).toFixed(1)}" y="${H - 8}" font-size="10" text-anchor="middle" fill="#6b7280">${((t - j.startedAt) / 1000).toFixed(0)}s</text>`
  }).join('')
  return `<svg class="chart" data-target="${esc(target)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="latency of ${esc(target)} over time">
${ticks}${shaded}${line('p50', '#60a5fa')}${line('p95', '#1d4ed8')}${line('p99', '#7c3aed')}${xticks}
<text x="${pad.l}" y="${pad.t - 2}" font-size="10" fill="#374151">ms</text></svg>
<p class="legend"><span style="color:#60a5fa">p50</span> · <span style="color:#1d4ed8">p95</span> · <span style="color:#7c3aed">p99</span> · <span style="background:#fde68a">fault applied</span></p>`
}

function loadSummary(load: NonNullable<Journal['load']>): string {
  if ('error' in load) return `${esc(load.url)}: the load could not run (${esc(load.error)}).`
  return `${esc(load.url)}: ${load.requests} requests, ${fmt(load.rps)} req/s, ${load.errors} errors, ${load.non2xx} non-2xx, p50 ${load.p50} ms, p99 ${load.p99} ms (client side).`
}

export function renderHtml(j: Journal): string {
  const x = j.experiment
  const verdictClass = j.verdict ?? 'inconclusive'
  const checks = Object.entries(j.checks)
    .map(
      ([name, c]) =>
        `<tr class="check ${esc(c.result ?? '')}"><td>${esc(name)}${c.guardrail ? ' <small>(guardrail)</small>' : ''}</td><td>${esc(c.kind)}</td><td class="result">${esc(c.result ?? 'not run')}</td><td>${c.phases
          .map((p) => {
            const text = phaseSummary(p)
            const colon = text.indexOf(':')
            return `<b>${p.phase}</b>${esc(text.slice(colon))}`
          })
          .join('<br>')}</td><td>${c.samples.length}</td></tr>`,
    )
    .join('\n')
  const faults = j.faults
    .map(
      (f) =>
        `<tr class="fault"><td>${esc(f.id)}</td><td>${esc(f.step)}</td><td>${esc(f.kind)}</td><td>${esc(f.target)}</td><td>${secs(j, f.intentAt)}</td><td>${secs(j, f.appliedAt)}</td><td>${secs(j, f.revertedAt)}</td><td>${esc(faultEvidence(f))}</td></tr>`,
    )
    .join('\n')
  const charts = Object.entries(j.series)
    .map(([t, pts]) => `<h3>${esc(t)}: latency (ms)</h3>${latencyChart(j, t, pts)}`)
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
</style></head><body>
<h1>${esc(x.metadata.name)}</h1>
<p>${esc(x.spec.hypothesis.title)}</p>
<p><span class="verdict ${esc(verdictClass)}" id="verdict">${esc(j.verdict ?? 'inconclusive')}</span> &nbsp; status <b id="status">${esc(j.status)}</b>${j.reason ? ` &nbsp; ${esc(j.reason)}` : ''}${j.dryRun ? ' &nbsp; <b>dry run</b>' : ''}</p>
<p>Run <code>${esc(j.runId)}</code>, ${new Date(j.startedAt).toISOString()}, ${(((j.endedAt ?? j.startedAt) - j.startedAt) / 1000).toFixed(1)} s. Experiment sha256 <code>${esc(j.experimentHash.slice(0, 16))}</code>.</p>
<h2>Latency over time</h2>
${charts || '<p>No sidecar statistics were collected.</p>'}
<h2>Checks</h2>
<table id="checks"><tr><th>check</th><th>kind</th><th>result</th><th>phases</th><th>samples</th></tr>
${checks}
</table>
${hasRecovery(j) ? `<p class="note" id="recovery-method">${esc(RECOVERY_NOTE)}</p>` : ''}
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
    '| check | kind | result | phases |',
    '|---|---|---|---|',
    ...Object.entries(j.checks).map(
      ([n, c]) =>
        `| ${n}${c.guardrail ? ' (guardrail)' : ''} | ${c.kind} | ${c.result ?? 'not run'} | ${c.phases.map((p) => phaseSummary(p).replaceAll('|', '/')).join('<br>')} |`,
    ),
    '',
    ...(hasRecovery(j) ? [RECOVERY_NOTE, ''] : []),
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
