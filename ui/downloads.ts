/**
 * Reports and journals need the token, which a plain link cannot send (and the token must never
 * be in a URL): they are fetched with the Authorization header and saved from a blob.
 */
import { apiUrl, authHeaders, describeError } from './api.ts'
import { html } from './html.ts'
import { useState } from 'preact/hooks'

async function download(path: string, filename: string): Promise<void> {
  const res = await fetch(apiUrl(path), { headers: authHeaders(), cache: 'no-store' })
  if (!res.ok) throw new Error(`${path} answered ${res.status}`)
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export function Downloads({ runId }: { runId: string }) {
  const [error, setError] = useState<string | undefined>()
  const id = encodeURIComponent(runId)
  const item = (path: string, file: string, label: string) =>
    html`<button
      type="button"
      class="link"
      onClick=${() => download(path, file).catch((e) => setError(describeError(e)))}
    >
      ${label}
    </button>`
  return html`<span class="downloads">
    ${item(`/runs/${id}/report`, `${runId}.html`, 'HTML report')}
    ${item(`/runs/${id}/report.md`, `${runId}.md`, 'Markdown')}
    ${item(`/runs/${id}`, `${runId}.journal.json`, 'Journal (JSON)')}
    ${error && html`<span class="error">${error}</span>`}
  </span>`
}
