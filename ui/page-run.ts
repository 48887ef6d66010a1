/**
 * A run, live: header (status, verdict, elapsed, Abort / Run again), the phase timeline with a
 * "now" cursor, per target the latency, error-rate and throughput charts with the checks'
 * thresholds and the fault windows (every request, or the faulted or unfaulted cohort), the
 * checks table, the targets and faults, the journal as a timeline, and the verdict at the end.
 */
import { useContext, useEffect, useState } from 'preact/hooks'
import { api, describeError } from './api.ts'
import { type ChartKind, chartsOf, ChartView, checkSpecs, type Cohort } from './chart.ts'
import { StatusChip, VerdictChip } from './chips.ts'
import { SharedContext } from './context.ts'
import { Downloads } from './downloads.ts'
import { clock, duration, figure } from './format.ts'
import { html } from './html.ts'
import type { CheckSpec, FaultRecord, Journal, Sample } from './types.ts'
import { useRun } from './use-run.ts'

/** SVG width for the page's charts: 760 units, or the window's width when narrower (text stays legible). */
export const chartWidth = () => Math.max(320, Math.min(760, window.innerWidth - 24))

/** The current time, every second while `running`. */
export function useNow(running: boolean): number {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    if (!running) return
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [running])
  return now
}

const PHASE_COLORS: Record<string, string> = {
  setup: '#e5e7eb',
  before: '#bfdbfe',
  during: '#fde68a',
  after: '#a7f3d0',
}

/** Phases from the journal's `phase` entries: setup until the first, each until the next, the last until the end. */
function phasesOf(j: Journal, end: number): { name: string; from: number; to: number }[] {
  const marks = j.timeline.filter((e) => e && e.type === 'phase').map((e) => ({ name: e.detail, at: e.at }))
  const out = [{ name: 'setup', from: j.startedAt, to: marks[0]?.at ?? end }]
  marks.forEach((m, i) => out.push({ name: m.name, from: m.at, to: marks[i + 1]?.at ?? end }))
  return out.filter((p) => p.to >= p.from)
}

function PhaseTimeline({ j, now, running }: { j: Journal; now: number; running: boolean }) {
  const end = running ? now : (j.endedAt ?? now)
  const span = Math.max(1000, end - j.startedAt)
  const W = chartWidth()
  const x = (t: number) => ((t - j.startedAt) / span) * W
  const phases = phasesOf(j, end)
  const current = running ? phases.at(-1)?.name : undefined
  return html`<figure class="phases">
    <svg
      viewBox=${`0 0 ${W} 34`}
      role="img"
      aria-label=${`phases: ${phases.map((p) => p.name).join(', ')}${current ? `; now in ${current}` : ''}`}
    >
      ${phases.map(
        (p) =>
          html`<g class=${`phase phase-${p.name}`}>
            <rect
              x=${x(p.from).toFixed(1)}
              y="4"
              width=${Math.max(1, x(p.to) - x(p.from)).toFixed(1)}
              height="18"
              fill=${PHASE_COLORS[p.name] ?? '#ddd'}
              stroke="#fff"
            />
            <text x=${(x(p.from) + 4).toFixed(1)} y="17" font-size="11" fill="#111827">${p.name}</text>
            <title>${p.name}: ${clock(p.from)} – ${clock(p.to)} (${duration(p.to - p.from)})</title>
          </g>`,
      )}
      ${
        running &&
        html`<g class="now-cursor"
          ><line x1=${x(now).toFixed(1)} x2=${x(now).toFixed(1)} y1="0" y2="26" stroke="#111827" stroke-width="2" />
          <text x=${Math.min(W - 30, x(now) + 3).toFixed(1)} y="33" font-size="9">now</text></g
        >`
      }
    </svg>
    <figcaption>${current ? `Now: ${current}` : 'Phases'} · ${duration(end - j.startedAt)} elapsed</figcaption>
  </figure>`
}

function TargetCharts({ j, target, end, now }: { j: Journal; target: string; end: number; now?: number }) {
  const [cohort, setCohort] = useState<Cohort>('all')
  const charts = chartsOf(j, target, { end, cohort, width: chartWidth() })
  const points = (j.series[target] ?? []).filter(Boolean).length
  const kinds: ChartKind[] = ['latency', 'errorRate', 'throughput']
  const name = `cohort-${target}`
  return html`<section class="target-charts" data-target=${target} aria-label=${`charts of ${target}`}>
    <h3>${target}</h3>
    <fieldset class="cohorts">
      <legend>Requests</legend>
      ${(['all', 'faulted', 'unfaulted'] as const).map(
        (c) =>
          html`<label
            ><input type="radio" name=${name} value=${c} checked=${cohort === c} onChange=${() => setCohort(c)} />
            ${c === 'all' ? 'every request' : c}</label
          >`,
      )}
    </fieldset>
    <div class="charts">
      ${kinds.map((k) => html`<div class=${`chart-box ${k}`}><${ChartView} chart=${charts[k]} now=${now} points=${points} /></div>`)}
    </div>
  </section>`
}

const boundOf = (spec: CheckSpec | undefined): string => {
  const t = spec?.tolerance
  if (!t) return '—'
  const pct = spec?.sidecar?.stat === 'errorRate'
  const show = (v: number) => (pct ? `${+(v * 100).toFixed(3)}%` : String(v))
  const parts: string[] = []
  if (t.max !== undefined) parts.push(`≤ ${show(t.max)}`)
  if (t.min !== undefined) parts.push(`≥ ${show(t.min)}`)
  if (t.relative) parts.push(`vs ${t.relative.to}`)
  return parts.join(', ') || JSON.stringify(t)
}

const valueOf = (spec: CheckSpec | undefined, s: Sample | undefined) =>
  s?.value === undefined
    ? '—'
    : spec?.sidecar?.stat === 'errorRate'
      ? `${(s.value * 100).toFixed(2)}%`
      : figure(s.value)

/**
 * What a statistical judgement attached (journal `statistics`): the estimate with its confidence
 * bounds and the decision so far; other fields as they come.
 */
function statisticsOf(...from: (Record<string, unknown> | undefined)[]): string {
  for (const o of from) {
    const st = o?.statistics as Record<string, unknown> | undefined
    if (!st || typeof st !== 'object') continue
    const num = (k: string) => (typeof st[k] === 'number' ? (st[k] as number) : undefined)
    const lower = num('lower')
    const upper = num('upper')
    const confidence = num('confidence')
    if (lower !== undefined && upper !== undefined) {
      const est = num('estimate')
      const level = confidence !== undefined ? ` at ${+(confidence * 100).toFixed(1)}%` : ''
      const decision = typeof st.decision === 'string' ? `${st.decision}: ` : ''
      return `${decision}${est !== undefined ? `${figure(est)} ` : ''}[${figure(lower)}, ${figure(upper)}]${level}${num('n') !== undefined ? `, n ${num('n')}` : ''}`
    }
    return Object.entries(st)
      .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
      .slice(0, 6)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? figure(v) : v}`)
      .join(', ')
  }
  return ''
}

function ChecksTable({ j }: { j: Journal }) {
  const specs = new Map(checkSpecs(j).map((c) => [c.name, c]))
  const rows = Object.entries(j.checks)
  if (!rows.length) return html`<p>No checks.</p>`
  return html`<table class="checks">
    <caption>
      Checks
    </caption>
    <thead>
      <tr>
        <th scope="col">check</th>
        <th scope="col">kind</th>
        <th scope="col">phase</th>
        <th scope="col">current</th>
        <th scope="col">bound</th>
        <th scope="col">state</th>
        <th scope="col">statistics</th>
        <th scope="col">detail</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(([name, c]) => {
        const last = c.samples.filter(Boolean).at(-1)
        const phase = c.phases.filter(Boolean).at(-1)
        const state = c.result ?? last?.outcome ?? 'waiting'
        return html`<tr class=${`check ${state}`} data-check=${name}>
          <th scope="row">${name}</th>
          <td>${c.observation ? 'observation' : c.guardrail ? 'guardrail' : 'hypothesis'} · ${c.kind}</td>
          <td>${last?.phase ?? '—'}</td>
          <td class="value">${valueOf(specs.get(name), last)}</td>
          <td class="bound">${boundOf(specs.get(name))}</td>
          <td><span class=${`chip outcome-${state}`}>${state}</span></td>
          <td>${statisticsOf(last, phase) || '—'}</td>
          <td class="detail">${phase?.reason ?? last?.detail ?? ''}</td>
        </tr>`
      })}
    </tbody>
  </table>`
}

function counts(f: FaultRecord): { matched: number; injected: number } {
  let matched = 0
  let injected = 0
  for (const rules of Object.values(f.evidence ?? {}))
    for (const r of Object.values(rules)) {
      matched += r.matched
      injected += r.injected
    }
  return { matched, injected }
}

function FaultsTable({ j, now }: { j: Journal; now: number }) {
  return html`<table class="faults">
    <caption>
      Targets and faults
    </caption>
    <thead>
      <tr>
        <th scope="col">fault</th>
        <th scope="col">target</th>
        <th scope="col">on</th>
        <th scope="col">rules</th>
        <th scope="col">matched</th>
        <th scope="col">injected</th>
        <th scope="col">applied</th>
        <th scope="col">TTL left</th>
        <th scope="col">reverted</th>
      </tr>
    </thead>
    <tbody>
      ${Object.entries(j.targets).map(
        ([name, t]) =>
          html`<tr class="target-row">
            <th scope="row">${name}</th>
            <td colspan="8">
              ${t.service ? `service ${t.service}: ` : ''}${t.sidecars.map((s) => `${s.adminUrl}${s.reachable ? '' : ' (unreachable)'}`).join(', ') || '—'}
              ${t.kubernetes ? ` · ${t.kubernetes.selected.length} of ${t.kubernetes.matched} objects selected` : ''}
            </td>
          </tr>`,
      )}
      ${j.faults.map((f) => {
        const c = counts(f)
        const ttlLeft =
          f.appliedAt !== undefined && f.ttlMs !== undefined && f.revertedAt === undefined
            ? duration(f.appliedAt + f.ttlMs - now)
            : '—'
        return html`<tr class="fault" data-fault=${f.id}>
          <th scope="row">${f.step} <small>(${f.kind})</small></th>
          <td>${f.target}</td>
          <td>${f.on.join(', ')}</td>
          <td>${(f.ruleIds ?? []).join(', ') || '—'}</td>
          <td class="matched">${f.evidence ? c.matched : '—'}</td>
          <td class="injected">${f.evidence ? c.injected : '—'}</td>
          <td>${f.appliedAt ? clock(f.appliedAt) : f.error ? 'failed' : 'pending'}</td>
          <td>${ttlLeft}</td>
          <td>
            ${f.revertedAt ? clock(f.revertedAt) : '—'}${f.error ? html` <span class="error">${f.error}</span>` : ''}
          </td>
        </tr>`
      })}
    </tbody>
  </table>`
}

function Timeline({ j }: { j: Journal }) {
  const entries = j.timeline.filter(Boolean).slice().reverse()
  return html`<section class="timeline" aria-label="journal timeline">
    <h3>Journal</h3>
    <ol>
      ${entries.map(
        (e) =>
          html`<li class=${`event ${e.type}`}>
            <time>${clock(e.at)}</time>
            <span class="type">${e.type}</span> ${e.step ? html` <span class="step">${e.step}</span>` : ''}
            <span class="detail">${e.detail}</span> ${e.code ? html` <code>${e.code}</code>` : ''}
          </li>`,
      )}
    </ol>
  </section>`
}

export function RunPage({ runId }: { runId: string }) {
  const shared = useContext(SharedContext)
  const live = useRun(runId)
  const j = live.journal
  const running = j?.status === 'running'
  const now = useNow(running)
  const [action, setAction] = useState<string | undefined>()
  if (live.error && !j) return html`<p class="error" role="alert">Cannot read run ${runId}: ${live.error}</p>`
  if (!j) return html`<p>Loading run ${runId}…</p>`
  const end = running ? Math.max(now, j.startedAt + 1000) : (j.endedAt ?? now)
  const name = j.experiment.metadata.name
  const abort = async () => {
    setAction('Aborting…')
    try {
      const r = await api<{ status: string; verdict?: string }>('POST', `/runs/${encodeURIComponent(runId)}/abort`)
      setAction(`Aborted: ${r.status}, verdict ${r.verdict ?? '—'}; its faults are reverted.`)
    } catch (err) {
      setAction(describeError(err))
    }
  }
  const again = async () => {
    try {
      const r = await api<{ runId: string }>('POST', '/runs', { body: { experiment: name } })
      location.hash = `#/runs/${encodeURIComponent(r.runId)}`
    } catch (err) {
      setAction(describeError(err))
    }
  }
  const targets = Object.keys({ ...j.targets, ...j.series })
  return html`<article class="run" data-run=${runId} data-status=${j.status}>
    <header class="run-head">
      <h1><a href=${`#/experiments/${encodeURIComponent(name)}`}>${name}</a> <small class="run-id">${runId}</small></h1>
      <p class="title">${j.experiment.spec.hypothesis?.title ?? ''}</p>
      <div class="chips">
        <${StatusChip} status=${j.status} /> <${VerdictChip} verdict=${j.verdict} />
        ${j.dryRun && html`<span class="chip">dry run</span>`}
        <span class="elapsed">${duration((running ? now : (j.endedAt ?? now)) - j.startedAt)}</span>
        ${running && html`<button type="button" class="danger" onClick=${abort}>Abort run</button>`}
        ${
          !running &&
          html`<button
            type="button"
            onClick=${again}
            disabled=${shared.halt.halted}
            title=${shared.halt.halted ? 'halted: lift the halt to run' : ''}
          >
            Run again
          </button>`
        }
      </div>
      ${action && html`<p class="action" role="status">${action}</p>`}
      ${live.stream === 'polling' && html`<p class="stream-note" role="status">Live stream unavailable: polling every 2 s.</p>`}
      ${live.error && html`<p class="error" role="alert">${live.error}</p>`}
    </header>
    ${
      !running &&
      html`<section class=${`verdict-box verdict-${j.verdict}`} aria-label="verdict">
        <h2>Verdict: <span class="verdict">${j.verdict ?? '—'}</span> <small>(${j.status})</small></h2>
        ${j.reason && html`<p class="reason">${j.reason}</p>`}
        <${Downloads} runId=${runId} />
      </section>`
    }
    <${PhaseTimeline} j=${j} now=${now} running=${running} />
    ${targets.map((t) => html`<${TargetCharts} j=${j} target=${t} end=${end} now=${running ? now : undefined} key=${t} />`)}
    <${ChecksTable} j=${j} />
    <${FaultsTable} j=${j} now=${now} />
    <${Timeline} j=${j} />
  </article>`
}
