/**
 * Overview: the halt state, a card per active run with a live p95 and error-rate sparkline
 * against the checks' thresholds (and Abort), recent runs, the next schedule firings, and the
 * sidecars' health.
 */
import { useContext, useState } from 'preact/hooks'
import { api, describeError } from './api.ts'
import { chartsOf, ChartView } from './chart.ts'
import { StatusChip, VerdictChip } from './chips.ts'
import { SharedContext } from './context.ts'
import { clock, duration } from './format.ts'
import { html } from './html.ts'
import { useNow } from './page-run.ts'
import type { RunSummary } from './types.ts'
import { useApi } from './use-api.ts'
import { useRun } from './use-run.ts'

interface RunList {
  active: { runId: string; experiment: string; schedule?: string }[]
  runs: RunSummary[]
}

/** Sparklines: the fault windows stay shaded, without their labels (no room). */
const sparks = (c: ReturnType<typeof chartsOf>) => {
  for (const chart of Object.values(c)) chart.bands = chart.bands?.map((b) => ({ ...b, label: '' }))
  return c
}

function ActiveRunCard({ runId }: { runId: string }) {
  const live = useRun(runId)
  const now = useNow(true)
  const [note, setNote] = useState<string | undefined>()
  const j = live.journal
  const abort = async () => {
    try {
      const r = await api<{ status: string }>('POST', `/runs/${encodeURIComponent(runId)}/abort`)
      setNote(`aborted (${r.status})`)
    } catch (err) {
      setNote(describeError(err))
    }
  }
  const target = j ? Object.keys(j.series)[0] : undefined
  const charts =
    j && target
      ? sparks(chartsOf(j, target, { end: Math.max(now, j.startedAt + 1000), width: 280, height: 90 }))
      : undefined
  const points = j && target ? j.series[target]!.filter(Boolean).length : 0
  const phase = j?.timeline.filter((e) => e && e.type === 'phase').at(-1)?.detail ?? 'setup'
  return html`<li class="card active-run" data-run=${runId}>
    <h3><a href=${`#/runs/${encodeURIComponent(runId)}`}>${j?.experiment.metadata.name ?? runId}</a></h3>
    <p class="chips">
      ${j && html`<${StatusChip} status=${j.status} /> <${VerdictChip} verdict=${j.verdict} />`}
      <span>${j ? `${phase} · ${duration(now - j.startedAt)}` : phase}</span>
    </p>
    ${
      charts
        ? html`<div class="sparklines">
            <${ChartView}
              chart=${{ ...charts.latency, series: charts.latency.series.filter((s) => s.key === 'p95'), cls: 'spark latency' }}
              points=${points}
            />
            <${ChartView}
              chart=${{ ...charts.errorRate, width: 280, height: 90, cls: 'spark error-rate' }}
              points=${points}
            />
          </div>`
        : html`<p class="muted">No samples yet.</p>`
    }
    ${j?.status === 'running' && html`<button type="button" class="danger" onClick=${abort}>Abort</button>`}
    ${note && html`<p role="status">${note}</p>`}
  </li>`
}

interface ScheduleView {
  name: string
  experiment: string
  cron: string
  suspended?: boolean
  nextRun?: number | string | null
}

interface SidecarView {
  adminUrl: string
  reachable: boolean
  generation?: number
  rules?: number
  error?: { code: string; error: string }
}

export function OverviewPage() {
  const shared = useContext(SharedContext)
  const runs = useApi<RunList>('/runs', [shared.runsVersion])
  const schedules = useApi<{ schedules: ScheduleView[] }>('/schedules', [shared.runsVersion])
  const sidecars = useApi<{ sidecars: SidecarView[] }>('/sidecars', [], 10_000)
  const next = (schedules.data?.schedules ?? [])
    .filter((s) => s.nextRun && !s.suspended)
    .sort((a, b) => new Date(a.nextRun!).getTime() - new Date(b.nextRun!).getTime())
    .slice(0, 5)
  return html`<h1>Overview</h1>
    <section aria-label="halt state" class="card halt-state">
      ${
        shared.halt.halted
          ? html`<p><strong>Halted</strong>: ${shared.halt.reason}</p>`
          : html`<p>Not halted: runs and shaping are allowed.</p>`
      }
    </section>
    <section aria-labelledby="active-h">
      <h2 id="active-h">Active runs</h2>
      ${runs.error && html`<p class="error">${runs.error}</p>`}
      ${runs.data && !runs.data.active.length && html`<p class="muted">No run in progress.</p>`}
      <ul class="cards">
        ${runs.data?.active.map((r) => html`<${ActiveRunCard} runId=${r.runId} key=${r.runId} />`)}
      </ul>
    </section>
    <div class="columns">
      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Recent runs</h2>
        <table class="recent">
          <thead>
            <tr>
              <th scope="col">run</th>
              <th scope="col">status</th>
              <th scope="col">verdict</th>
              <th scope="col">started</th>
            </tr>
          </thead>
          <tbody>
            ${(runs.data?.runs ?? []).slice(0, 10).map(
              (r) =>
                html`<tr>
                  <th scope="row"><a href=${`#/runs/${encodeURIComponent(r.runId)}`}>${r.experiment}</a></th>
                  <td><${StatusChip} status=${r.status} /></td>
                  <td><${VerdictChip} verdict=${r.verdict} /></td>
                  <td>${clock(r.startedAt)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="next-h">
        <h2 id="next-h">Next schedule firings</h2>
        ${
          next.length
            ? html`<ul>
                ${next.map((s) => html`<li><a href="#/schedules">${s.name}</a> (${s.experiment}): ${clock(new Date(s.nextRun!).getTime())}</li>`)}
              </ul>`
            : html`<p class="muted">None scheduled.</p>`
        }
        <h2>Sidecars</h2>
        ${sidecars.error && html`<p class="error">${sidecars.error}</p>`}
        <ul class="sidecar-health">
          ${(sidecars.data?.sidecars ?? []).map(
            (s) =>
              html`<li class=${s.reachable && !s.error ? 'ok' : 'down'}>
                ${`${s.adminUrl}: ${s.reachable && !s.error ? `reachable, generation ${s.generation}, ${s.rules} rule(s)` : `not usable: ${s.error?.code ?? 'unreachable'}`}`}
              </li>`,
          )}
        </ul>
        ${sidecars.data && !sidecars.data.sidecars.length && html`<p class="muted">No sidecars known.</p>`}
      </section>
    </div>`
}
