/** Runs: filter by experiment, status, verdict and date; each experiment's last runs as a strip. */
import { useContext, useState } from 'preact/hooks'
import { StatusChip, VerdictChip } from './chips.ts'
import { SharedContext } from './context.ts'
import { clock, duration } from './format.ts'
import { html } from './html.ts'
import type { RunSummary } from './types.ts'
import { useApi } from './use-api.ts'

const value = (e: Event) => (e.target as HTMLInputElement).value

export function RunsPage() {
  const shared = useContext(SharedContext)
  const list = useApi<{ runs: RunSummary[] }>('/runs', [shared.runsVersion])
  const [f, setF] = useState({ experiment: '', status: '', verdict: '', since: '' })
  const runs = list.data?.runs ?? []
  const since = f.since ? new Date(f.since).getTime() : 0
  const shown = runs.filter(
    (r) =>
      (!f.experiment || r.experiment.includes(f.experiment)) &&
      (!f.status || r.status === f.status) &&
      (!f.verdict || (r.verdict ?? 'pending') === f.verdict) &&
      (!since || (r.startedAt ?? 0) >= since),
  )
  const byExperiment = new Map<string, RunSummary[]>()
  for (const r of runs) byExperiment.set(r.experiment, [...(byExperiment.get(r.experiment) ?? []), r])
  const select = (key: keyof typeof f, label: string, options: string[]) =>
    html`<label
      >${label}
      <select value=${f[key]} onChange=${(e: Event) => setF({ ...f, [key]: value(e) })}>
        <option value="">any</option>
        ${options.map((o) => html`<option value=${o}>${o}</option>`)}
      </select></label
    >`
  return html`<h1>Runs</h1>
    ${list.error && html`<p class="error">${list.error}</p>`}
    <section aria-labelledby="strips-h">
      <h2 id="strips-h">Last runs by experiment</h2>
      <ul class="strips">
        ${[...byExperiment].map(
          ([name, rs]) =>
            html`<li>
              <span class="strip-name">${name}</span> ${rs
                .slice(0, 10)
                .reverse()
                .map(
                  (r) =>
                    html`<a
                      class=${`cell verdict-${r.verdict ?? 'pending'}`}
                      href=${`#/runs/${encodeURIComponent(r.runId)}`}
                      title=${`${r.runId}: ${r.status}, ${r.verdict ?? 'pending'}`}
                      aria-label=${`${r.runId}: ${r.status}, ${r.verdict ?? 'pending'}`}
                    ></a>`,
                )}
            </li>`,
        )}
      </ul>
    </section>
    <form class="filters" aria-label="filter runs" onSubmit=${(e: Event) => e.preventDefault()}>
      <label
        >Experiment <input value=${f.experiment} onInput=${(e: Event) => setF({ ...f, experiment: value(e) })}
      /></label>
      ${select('status', 'Status', ['running', 'completed', 'aborted', 'errored'])}
      ${select('verdict', 'Verdict', ['pass', 'fail', 'inconclusive', 'pending'])}
      <label
        >Since <input type="date" value=${f.since} onInput=${(e: Event) => setF({ ...f, since: value(e) })}
      /></label>
    </form>
    <table class="runs">
      <caption>
        ${shown.length} of ${runs.length} runs
      </caption>
      <thead>
        <tr>
          <th scope="col">experiment</th>
          <th scope="col">run</th>
          <th scope="col">status</th>
          <th scope="col">verdict</th>
          <th scope="col">started</th>
          <th scope="col">took</th>
          <th scope="col">reason</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (r) =>
            html`<tr>
              <td>${r.experiment}</td>
              <th scope="row"><a href=${`#/runs/${encodeURIComponent(r.runId)}`}>${r.runId}</a></th>
              <td><${StatusChip} status=${r.status} /></td>
              <td><${VerdictChip} verdict=${r.verdict} /></td>
              <td>${clock(r.startedAt)}</td>
              <td>${r.endedAt && r.startedAt ? duration(r.endedAt - r.startedAt) : '—'}</td>
              <td class="reason">${r.reason ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>`
}
