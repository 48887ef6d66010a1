/**
 * Experiments: the list, and one experiment as YAML with its runs, Run / Dry run / Run again,
 * and an editor the API validates as you type (POST /experiments/validate), each problem shown
 * at its field path.
 */
import { useContext, useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError, describeError } from './api.ts'
import { StatusChip, VerdictChip } from './chips.ts'
import { SharedContext } from './context.ts'
import { clock } from './format.ts'
import { html } from './html.ts'
import type { ExperimentDoc, RunSummary } from './types.ts'
import { useApi } from './use-api.ts'
import { toYaml } from './yaml.ts'

interface ExperimentItem {
  name: string
  valid: boolean
  title?: string
  targets?: string[]
  steps?: number
  checks?: number
}

export function ExperimentsPage() {
  const list = useApi<{ experiments: ExperimentItem[]; unreadable: { id: string; error: string }[] }>('/experiments')
  return html`<h1>Experiments</h1>
    ${list.error && html`<p class="error">${list.error}</p>`}
    <table class="experiments">
      <thead>
        <tr>
          <th scope="col">name</th>
          <th scope="col">hypothesis</th>
          <th scope="col">targets</th>
          <th scope="col">steps</th>
          <th scope="col">checks</th>
        </tr>
      </thead>
      <tbody>
        ${(list.data?.experiments ?? []).map(
          (x) =>
            html`<tr data-experiment=${x.name}>
              <th scope="row"><a href=${`#/experiments/${encodeURIComponent(x.name)}`}>${x.name}</a></th>
              <td>${x.valid ? x.title : html`<span class="error">no longer valid</span>`}</td>
              <td>${(x.targets ?? []).join(', ')}</td>
              <td>${x.steps ?? ''}</td>
              <td>${x.checks ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${list.data?.unreadable.map((u) => html`<p class="error">Unreadable record ${u.id}: ${u.error}</p>`)}`
}

type Problem = { path: string; message: string }

function Editor({ name, initial, onSaved }: { name: string; initial: string; onSaved: () => void }) {
  const [text, setText] = useState(initial)
  const [problems, setProblems] = useState<Problem[]>([])
  const [state, setState] = useState<'valid' | 'invalid' | 'checking' | 'unchanged'>('unchanged')
  const [note, setNote] = useState<string | undefined>()
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const seq = useRef(0)
  useEffect(() => () => clearTimeout(timer.current), [])
  const validate = (yaml: string) => {
    const mine = ++seq.current
    setState('checking')
    api('POST', '/experiments/validate', { body: yaml, contentType: 'application/yaml' })
      .then(() => mine === seq.current && (setProblems([]), setState('valid')))
      .catch((err) => {
        if (mine !== seq.current) return
        setState('invalid')
        setProblems(
          err instanceof ApiError
            ? (err.body.errors ?? [{ path: '', message: err.body.error }])
            : [{ path: '', message: describeError(err) }],
        )
      })
  }
  const onInput = (e: Event) => {
    const v = (e.target as HTMLTextAreaElement).value
    setText(v)
    setNote(undefined)
    clearTimeout(timer.current)
    timer.current = setTimeout(() => validate(v), 300)
  }
  const save = async () => {
    try {
      await api('PUT', `/experiments/${encodeURIComponent(name)}`, { body: text, contentType: 'application/yaml' })
      setNote('Saved.')
      onSaved()
    } catch (err) {
      setNote(describeError(err))
      if (err instanceof ApiError && err.body.errors) setProblems(err.body.errors)
    }
  }
  return html`<section class="editor" aria-labelledby="editor-h">
    <h2 id="editor-h">Edit</h2>
    <label for="yaml">The experiment (YAML), checked by the controller as you type</label>
    <textarea
      id="yaml"
      spellcheck="false"
      rows="24"
      value=${text}
      onInput=${onInput}
      aria-invalid=${state === 'invalid'}
      aria-describedby="problems"
    ></textarea>
    <div id="problems" aria-live="polite" class=${`validation ${state}`}>
      ${state === 'checking' && 'Checking…'} ${state === 'valid' && 'Valid.'}
      ${
        state === 'invalid' &&
        html`<ul class="problems">
          ${problems.map(
            (p) =>
              html`<li data-path=${p.path}>
                <code class="path">${p.path || '(document)'}</code> <span class="message">${p.message}</span>
              </li>`,
          )}
        </ul>`
      }
    </div>
    <button type="button" onClick=${save} disabled=${state === 'invalid' || state === 'checking'}>Save</button>
    ${note && html`<p role="status">${note}</p>`}
  </section>`
}

export function ExperimentPage({ name }: { name: string }) {
  const shared = useContext(SharedContext)
  const doc = useApi<ExperimentDoc>(`/experiments/${encodeURIComponent(name)}`)
  const runs = useApi<{ runs: RunSummary[] }>('/runs', [shared.runsVersion])
  const [note, setNote] = useState<string | undefined>()
  const [editing, setEditing] = useState(false)
  const mine = (runs.data?.runs ?? []).filter((r) => r.experiment === name)
  const start = async (dryRun: boolean) => {
    try {
      const r = await api<{ runId: string }>('POST', '/runs', {
        body: { experiment: name, ...(dryRun ? { dryRun } : {}) },
      })
      location.hash = `#/runs/${encodeURIComponent(r.runId)}`
    } catch (err) {
      setNote(describeError(err))
    }
  }
  if (doc.error && !doc.data) return html`<p class="error" role="alert">${doc.error}</p>`
  if (!doc.data) return html`<p>Loading ${name}…</p>`
  const x = doc.data
  const halted = shared.halt.halted
  const why = halted ? 'halted: lift the halt to run' : undefined
  return html`<article class="experiment" data-experiment=${name}>
    <h1>${x.metadata.name}</h1>
    ${x.spec.description && html`<p class="description">${x.spec.description}</p>`}
    <p class="title">${x.spec.hypothesis?.title}</p>
    <div class="actions">
      <button type="button" onClick=${() => start(false)} disabled=${halted} title=${why}>
        ${mine.length ? 'Run again' : 'Run'}
      </button>
      <button type="button" onClick=${() => start(true)} disabled=${halted} title=${why}>Dry run</button>
      <button type="button" onClick=${() => setEditing(!editing)} aria-expanded=${editing}>
        ${editing ? 'Close editor' : 'Edit'}
      </button>
    </div>
    ${note && html`<p class="error" role="alert">${note}</p>`}
    ${
      editing
        ? html`<${Editor} name=${name} initial=${toYaml(x)} onSaved=${doc.reload} />`
        : html`<section aria-labelledby="doc-h">
            <h2 id="doc-h">Document</h2>
            <pre class="yaml">${toYaml(x)}</pre>
          </section>`
    }
    <section aria-labelledby="xruns-h">
      <h2 id="xruns-h">Runs</h2>
      ${!mine.length && html`<p class="muted">Not run yet.</p>`}
      <ul class="run-list">
        ${mine.slice(0, 20).map(
          (r) =>
            html`<li>
              <a href=${`#/runs/${encodeURIComponent(r.runId)}`}>${clock(r.startedAt)}</a>
              <${StatusChip} status=${r.status} /> <${VerdictChip} verdict=${r.verdict} />
              <span class="reason">${r.reason ?? ''}</span>
            </li>`,
        )}
      </ul>
    </section>
  </article>`
}
