/** Schedules: cron, next firing, last firing and its verdict, Trigger now, Suspend / Resume. */
import { useContext, useState } from 'preact/hooks'
import { api, describeError } from './api.ts'
import { VerdictChip } from './chips.ts'
import { SharedContext } from './context.ts'
import { clock } from './format.ts'
import { html } from './html.ts'
import type { RunSummary } from './types.ts'
import { useApi } from './use-api.ts'

interface ScheduleView {
  name: string
  experiment: string
  cron: string
  timezone: string
  suspended?: boolean
  nextRun?: string
  history: { at: number; outcome: string; runId?: string; reason?: string }[]
  [more: string]: unknown
}

export function SchedulesPage() {
  const shared = useContext(SharedContext)
  const list = useApi<{ schedules: ScheduleView[] }>('/schedules', [shared.runsVersion])
  const runs = useApi<{ runs: RunSummary[] }>('/runs', [shared.runsVersion])
  const [note, setNote] = useState<string | undefined>()
  const verdictOf = (runId?: string) => runs.data?.runs.find((r) => r.runId === runId)?.verdict
  const trigger = async (name: string) => {
    try {
      const e = await api<{ outcome: string; runId?: string; reason?: string }>(
        'POST',
        `/schedules/${encodeURIComponent(name)}/trigger`,
      )
      setNote(e.outcome === 'started' ? `${name}: started ${e.runId}` : `${name}: skipped: ${e.reason}`)
      list.reload()
    } catch (err) {
      setNote(describeError(err))
    }
  }
  const suspend = async (s: ScheduleView, suspended: boolean) => {
    // PUT takes the schedule as written: the view's nextRun and history are not part of it.
    const { nextRun: _n, history: _h, ...body } = s
    try {
      await api('PUT', `/schedules/${encodeURIComponent(s.name)}`, { body: { ...body, suspended } })
      list.reload()
    } catch (err) {
      setNote(describeError(err))
    }
  }
  return html`<h1>Schedules</h1>
    ${list.error && html`<p class="error">${list.error}</p>`} ${note && html`<p role="status">${note}</p>`}
    <table class="schedules">
      <thead>
        <tr>
          <th scope="col">schedule</th>
          <th scope="col">experiment</th>
          <th scope="col">cron</th>
          <th scope="col">next firing</th>
          <th scope="col">last firing</th>
          <th scope="col">last verdict</th>
          <th scope="col">actions</th>
        </tr>
      </thead>
      <tbody>
        ${(list.data?.schedules ?? []).map((s) => {
          const last = s.history[0]
          const lastRun = s.history.find((h) => h.runId)
          return html`<tr data-schedule=${s.name}>
            <th scope="row">${s.name}</th>
            <td><a href=${`#/experiments/${encodeURIComponent(s.experiment)}`}>${s.experiment}</a></td>
            <td><code>${s.cron}</code> ${s.timezone}</td>
            <td>${s.suspended ? 'suspended' : s.nextRun ? clock(new Date(s.nextRun).getTime()) : '—'}</td>
            <td>${last ? `${clock(last.at)}: ${last.outcome}${last.reason ? ` (${last.reason})` : ''}` : '—'}</td>
            <td>
              ${lastRun ? html`<a href=${`#/runs/${encodeURIComponent(lastRun.runId!)}`}><${VerdictChip} verdict=${verdictOf(lastRun.runId)} /></a>` : '—'}
            </td>
            <td>
              <button
                type="button"
                onClick=${() => trigger(s.name)}
                disabled=${shared.halt.halted}
                title=${shared.halt.halted ? 'halted: lift the halt to run' : undefined}
              >
                Trigger now
              </button>
              <button type="button" onClick=${() => suspend(s, !s.suspended)}>
                ${s.suspended ? 'Resume' : 'Suspend'}
              </button>
            </td>
          </tr>`
        })}
      </tbody>
    </table>
    ${list.data && !list.data.schedules.length && html`<p class="muted">No schedules.</p>`}`
}
