/** Status and verdict as separate chips (a run can complete and fail its hypothesis). */
import { html } from './html.ts'

export function StatusChip({ status }: { status: string }) {
  return html`<span class=${`chip status-${status}`} title="status: how the run ended">${status}</span>`
}

export function VerdictChip({ verdict }: { verdict?: string }) {
  return html`<span class=${`chip verdict-${verdict ?? 'pending'}`} title="verdict: what the run showed">
    ${verdict ?? 'pending'}
  </span>`
}
