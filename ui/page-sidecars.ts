/** Sidecars: reachable or not, generation, rules, who uses them; traffic shaping with revert. */
import { useState } from 'preact/hooks'
import { api, describeError } from './api.ts'
import { clock, duration, figure, percent } from './format.ts'
import { html } from './html.ts'
import { useApi } from './use-api.ts'

interface SidecarView {
  adminUrl: string
  reachable: boolean
  generation?: number
  rules?: number
  usedBy: string[]
  activeRules?: { id: string; source?: string; expiresAt?: number }[]
  stats?: { windowSeconds: number; count?: number; p95?: number | null; errorRate?: number | null; error?: string }
  error?: { code: string; error: string }
}

/** Time left before a rule's ttl ends on the sidecar. */
const left = (expiresAt: number | undefined, now: number) =>
  expiresAt === undefined ? 'no ttl' : duration(expiresAt - now)

const statsText = (s: SidecarView['stats']) =>
  !s
    ? '—'
    : s.error
      ? `figures unreadable: ${s.error}`
      : `p95 ${figure(s.p95)} ms, errors ${percent(s.errorRate)}, ${s.count ?? 0} requests in ${s.windowSeconds}s`

interface Shaping {
  id: string
  name?: string
  sidecars: string[]
  service?: string
  rules: { id?: string; ttl?: number; [k: string]: unknown }[]
  source: string
  createdAt: number
  expiresAt: number
}

export function SidecarsPage() {
  const sidecars = useApi<{ sidecars: SidecarView[] }>('/sidecars', [], 5000)
  const shaping = useApi<{ shaping: Shaping[] }>('/shaping', [], 5000)
  const [note, setNote] = useState<string | undefined>()
  const revert = async (id: string) => {
    try {
      await api('DELETE', `/shaping/${encodeURIComponent(id)}`)
      setNote(`Reverted ${id}.`)
      shaping.reload()
    } catch (err) {
      setNote(describeError(err))
    }
  }
  const now = Date.now()
  return html`<h1>Sidecars</h1>
    ${sidecars.error && html`<p class="error">${sidecars.error}</p>`}
    <table class="sidecars">
      <thead>
        <tr>
          <th scope="col">admin URL</th>
          <th scope="col">state</th>
          <th scope="col">generation</th>
          <th scope="col">rules (owner, TTL left)</th>
          <th scope="col">last seconds</th>
          <th scope="col">used by</th>
        </tr>
      </thead>
      <tbody>
        ${(sidecars.data?.sidecars ?? []).map(
          (s) =>
            html`<tr class=${s.reachable && !s.error ? 'ok' : 'down'}>
              <th scope="row">${s.adminUrl}</th>
              <td>
                ${s.reachable && !s.error ? 'reachable' : s.reachable ? `refused: ${s.error?.code}` : `unreachable (${s.error?.code ?? ''})`}
              </td>
              <td>${s.generation ?? '—'}</td>
              <td>
                ${
                  s.activeRules?.length
                    ? html`<ul class="rules">
                        ${s.activeRules.map(
                          (r) =>
                            html`<li data-rule=${r.id}>
                              ${`${r.id} (${r.source ?? 'no source'}, ${left(r.expiresAt, now)})`}
                            </li>`,
                        )}
                      </ul>`
                    : (s.rules ?? '—')
                }
              </td>
              <td class="stats">${statsText(s.stats)}</td>
              <td>${s.usedBy.join(', ')}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h2>Traffic shaping</h2>
    ${note && html`<p role="status">${note}</p>`} ${shaping.error && html`<p class="error">${shaping.error}</p>`}
    <table class="shaping">
      <thead>
        <tr>
          <th scope="col">shaping</th>
          <th scope="col">on</th>
          <th scope="col">rules (owner: source)</th>
          <th scope="col">applied</th>
          <th scope="col">TTL left</th>
          <th scope="col">revert</th>
        </tr>
      </thead>
      <tbody>
        ${(shaping.data?.shaping ?? []).map(
          (s) =>
            html`<tr data-shaping=${s.id}>
              <th scope="row">${s.name ?? s.id}</th>
              <td>${s.service ? `service ${s.service}` : s.sidecars.join(', ')}</td>
              <td>${s.rules.map((r) => r.id).join(', ')} <small>(${s.source})</small></td>
              <td>${clock(s.createdAt)}</td>
              <td>${duration(s.expiresAt - now)}</td>
              <td><button type="button" onClick=${() => revert(s.id)}>Revert ${s.name ?? s.id}</button></td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${shaping.data && !shaping.data.shaping.length && html`<p class="muted">No traffic shaping active.</p>`}`
}
