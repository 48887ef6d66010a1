/**
 * The dashboard's shell: the token (asked once, checked with GET /halt), the header with the
 * navigation and HALT on every page, the halt banner, the controller's event stream, and the
 * hash router (`#/`, `#/runs`, `#/runs/<id>`, `#/experiments`, `#/experiments/<name>`,
 * `#/schedules`, `#/sidecars`): hash routes and relative URLs, so the dashboard works under any
 * path prefix.
 */
import { useCallback, useEffect, useState } from 'preact/hooks'
import { api, ApiError, describeError, forgetToken, saveToken, whenUnauthorized } from './api.ts'
import { type Shared, SharedContext } from './context.ts'
import { clock } from './format.ts'
import { HaltBanner, HaltButton } from './halt.ts'
import { html } from './html.ts'
import { ExperimentPage, ExperimentsPage } from './page-experiments.ts'
import { OverviewPage } from './page-overview.ts'
import { RunPage } from './page-run.ts'
import { RunsPage } from './page-runs.ts'
import { SchedulesPage } from './page-schedules.ts'
import { SidecarsPage } from './page-sidecars.ts'
import { follow, type StreamState } from './stream.ts'
import type { HaltState } from './types.ts'

/** A running target whose sidecars stopped answering (GET /events `sidecar-down`). */
interface SidecarNotice {
  runId: string
  target: string
  sidecars: string[]
  lastSampleAt: number
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash
}

function Login({ onDone, problem }: { onDone: () => void; problem?: string }) {
  const [token, setToken] = useState('')
  const [remember, setRemember] = useState(false)
  const [error, setError] = useState(problem)
  const submit = async (e: Event) => {
    e.preventDefault()
    try {
      await api('GET', '/halt', { token })
      saveToken(token, remember)
      onDone()
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not accepted.' : describeError(err))
    }
  }
  return html`<main class="login">
    <h1>faultline</h1>
    <form onSubmit=${submit}>
      <label for="token">Controller token</label>
      <input
        id="token"
        type="password"
        autocomplete="current-password"
        value=${token}
        required
        onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)}
      />
      <label class="check"
        ><input
          type="checkbox"
          checked=${remember}
          onChange=${(e: Event) => setRemember((e.target as HTMLInputElement).checked)}
        />
        Remember on this device</label
      >
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit">Sign in</button>
      <p class="hint">
        The token stays in this browser tab (or this device, if remembered) and goes only in the Authorization header of
        API calls.
      </p>
    </form>
  </main>`
}

function Page({ hash }: { hash: string }) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  if (parts[0] === 'runs' && parts[1]) return html`<${RunPage} runId=${parts[1]} key=${parts[1]} />`
  if (parts[0] === 'runs') return html`<${RunsPage} />`
  if (parts[0] === 'experiments' && parts[1]) return html`<${ExperimentPage} name=${parts[1]} key=${parts[1]} />`
  if (parts[0] === 'experiments') return html`<${ExperimentsPage} />`
  if (parts[0] === 'schedules') return html`<${SchedulesPage} />`
  if (parts[0] === 'sidecars') return html`<${SidecarsPage} />`
  return html`<${OverviewPage} />`
}

const NAV = [
  ['#/', 'Overview'],
  ['#/runs', 'Runs'],
  ['#/experiments', 'Experiments'],
  ['#/schedules', 'Schedules'],
  ['#/sidecars', 'Sidecars'],
] as const

export function App() {
  const hash = useHash()
  const [auth, setAuth] = useState<'checking' | 'in' | 'out'>('checking')
  const [problem, setProblem] = useState<string | undefined>()
  const [halt, setHalt] = useState<HaltState>({ halted: false })
  const [runsVersion, setRunsVersion] = useState(0)
  const [stream, setStream] = useState<StreamState>('connecting')
  const [down, setDown] = useState<Map<string, SidecarNotice>>(new Map())

  const refreshHalt = useCallback(async () => setHalt(await api<HaltState>('GET', '/halt')), [])

  // A token that stops working (rotated) brings the sign-in back.
  useEffect(() => whenUnauthorized(() => setAuth('out')), [])
  useEffect(() => {
    if (auth !== 'checking') return
    api<HaltState>('GET', '/halt')
      .then((h) => (setHalt(h), setAuth('in')))
      .catch((err) => {
        if (!(err instanceof ApiError && err.status === 401)) setProblem(describeError(err))
        setAuth('out')
      })
  }, [auth])
  useEffect(() => {
    if (auth !== 'in') return
    return follow('/events', {
      onEvent(type, data) {
        if (type === 'halt' || type === 'halt-lifted') setHalt(data as HaltState)
        if (type === 'run-started' || type === 'run-ended' || type === 'reset') setRunsVersion((v) => v + 1)
        const d = data as SidecarNotice
        const key = `${d.runId} ${d.target}`
        if (type === 'sidecar-down') setDown((m) => new Map(m).set(key, d))
        if (type === 'sidecar-up')
          setDown((m) => {
            const next = new Map(m)
            next.delete(key)
            return next
          })
        if (type === 'run-ended') setDown((m) => new Map([...m].filter(([, v]) => v.runId !== d.runId)))
      },
      onState: setStream,
      poll: async () => {
        await refreshHalt()
        setRunsVersion((v) => v + 1)
      },
    })
  }, [auth])

  if (auth === 'checking') return html`<p class="boot">Connecting to the controller…</p>`
  if (auth === 'out') return html`<${Login} problem=${problem} onDone=${() => setAuth('checking')} />`

  const shared: Shared = { halt, refreshHalt, runsVersion, stream }
  const route = '#/' + hash.replace(/^#\/?/, '').split('/')[0]
  return html`<${SharedContext.Provider} value=${shared}>
    <header class="top">
      <a class="brand" href="#/">faultline</a>
      <nav aria-label="Main">
        ${NAV.map(
          ([href, label]) =>
            html`<a
              href=${href}
              aria-current=${route === href || (href === '#/' && route === '#/') ? 'page' : undefined}
              >${label}</a
            >`,
        )}
      </nav>
      <span class="spacer"></span>
      ${stream === 'polling' && html`<span class="stream-note" role="status">Live updates unavailable: polling every 2 s</span>`}
      <button type="button" class="quiet" onClick=${() => (forgetToken(), setAuth('out'))}>Sign out</button>
      <${HaltButton} />
    </header>
    <${HaltBanner} />
    ${[...down.values()].map(
      (d) =>
        html`<p class="sidecar-down" role="alert">
          ${`Sidecars of ${d.target} (run ${d.runId}) not answering since ${clock(d.lastSampleAt)}: ${d.sidecars.join(', ')}`}
          <a href=${`#/runs/${encodeURIComponent(d.runId)}`}>open the run</a>
        </p>`,
    )}
    <main id="main"><${Page} hash=${hash} /></main>
  </${SharedContext.Provider}>`
}
