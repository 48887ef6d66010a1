/**
 * HALT on every page: one click opens a confirmation whose confirm button has focus (Enter
 * confirms), then POST /halt, and the dialog says what was aborted and reverted. While halted,
 * a banner on every page says so, since when and why, with "Lift halt". None of it depends on
 * the event stream: plain API calls, their answers shown.
 */
import { useContext, useEffect, useRef, useState } from 'preact/hooks'
import { api, describeError } from './api.ts'
import { SharedContext } from './context.ts'
import { clock } from './format.ts'
import { html } from './html.ts'

interface Halted {
  halted: boolean
  reason: string
  aborted: string[]
  reverted: string[]
}

/** "Aborted 2 run(s): a, b." as one string (template text split over lines loses its spaces). */
const listed = (verb: string, ids: string[], what: string) =>
  `${verb} ${ids.length} ${what}${ids.length ? `: ${ids.join(', ')}` : ''}.`

export function HaltButton() {
  const shared = useContext(SharedContext)
  const [open, setOpen] = useState(false)
  const [reason, setReason] = useState('halted from the dashboard')
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<Halted | undefined>()
  const [error, setError] = useState<string | undefined>()
  const confirmRef = useRef<HTMLButtonElement>(null)
  const openerRef = useRef<HTMLButtonElement>(null)

  useEffect(() => {
    if (open && !result) confirmRef.current?.focus()
  }, [open, result])

  const close = () => {
    setOpen(false)
    setResult(undefined)
    setError(undefined)
    openerRef.current?.focus()
  }
  const confirm = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      setResult(await api<Halted>('POST', '/halt', { body: { reason } }))
      await shared.refreshHalt()
    } catch (err) {
      setError(describeError(err))
    } finally {
      setBusy(false)
    }
  }
  /** Escape closes; Tab stays inside the dialog (it is modal). */
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') return close()
    if (e.key !== 'Tab') return
    const dialog = (e.currentTarget as HTMLElement).querySelector('.dialog')!
    const focusable = [...dialog.querySelectorAll<HTMLElement>('button:not([disabled]), input')]
    const first = focusable[0]
    const last = focusable.at(-1)
    const wrapTo = e.shiftKey
      ? document.activeElement === first
        ? last
        : undefined
      : document.activeElement === last
        ? first
        : undefined
    if (!wrapTo) return
    e.preventDefault()
    wrapTo.focus()
  }

  return html`<button ref=${openerRef} type="button" class="halt-button" onClick=${() => setOpen(true)}>HALT</button> ${
      open &&
      html`<div class="dialog-backdrop" onKeyDown=${onKey}>
        <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="halt-title">
          <h2 id="halt-title">Halt everything?</h2>
          ${
            result
              ? html`<div class="halt-result" role="status">
                  <p>Halted. New runs and shaping are refused until the halt is lifted.</p>
                  <p class="aborted">${listed('Aborted', result.aborted, 'run(s)')}</p>
                  <p class="reverted">${listed('Reverted', result.reverted, 'shaping entr(y/ies)')}</p>
                  <button type="button" onClick=${close} autofocus>Close</button>
                </div>`
              : html`<form onSubmit=${confirm}>
                  <p>
                    Every running run is aborted and its faults reverted; all traffic shaping is reverted; new runs are
                    refused.
                  </p>
                  <label for="halt-reason">Reason</label>
                  <input
                    id="halt-reason"
                    value=${reason}
                    onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)}
                  />
                  ${error && html`<p class="error" role="alert">${error}</p>`}
                  <div class="dialog-actions">
                    <button ref=${confirmRef} type="submit" class="danger" disabled=${busy}>
                      ${busy ? 'Halting…' : 'Halt now'}
                    </button>
                    <button type="button" onClick=${close}>Cancel</button>
                  </div>
                </form>`
          }
        </div>
      </div>`
    }`
}

export function HaltBanner() {
  const shared = useContext(SharedContext)
  const [error, setError] = useState<string | undefined>()
  const [asking, setAsking] = useState(false)
  if (!shared.halt.halted) return null
  const lift = async () => {
    setError(undefined)
    try {
      await api('DELETE', '/halt')
      setAsking(false)
      await shared.refreshHalt()
    } catch (err) {
      setError(describeError(err))
    }
  }
  return html`<div class="halt-banner" role="alert">
    <strong>Halted</strong> since ${clock(shared.halt.since)}: <span class="halt-reason">${shared.halt.reason}</span>.
    New runs and shaping are refused.
    ${
      asking
        ? html`<span
            >Lift the halt and allow runs again?
            <button type="button" onClick=${lift}>Yes, lift halt</button>
            <button type="button" onClick=${() => setAsking(false)}>No</button></span
          >`
        : html`<button type="button" onClick=${() => setAsking(true)}>Lift halt</button>`
    }
    ${error && html`<span class="error">${error}</span>`}
  </div>`
}
