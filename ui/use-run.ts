/**
 * A run, live: its journal (GET /runs/:id) kept current by GET /runs/:id/events, polled when
 * the stream cannot be read. Renders are batched (a replay is hundreds of events at once).
 */
import { useEffect, useState } from 'preact/hooks'
import { api, describeError } from './api.ts'
import { applyRunEvent } from './run-state.ts'
import { follow, type StreamState } from './stream.ts'
import type { Journal } from './types.ts'

export interface LiveRun {
  journal?: Journal
  /** Bumped on every change (the journal is updated in place). */
  version: number
  stream: StreamState
  error?: string
}

export function useRun(runId: string): LiveRun {
  const [state, setState] = useState<LiveRun>({ version: 0, stream: 'connecting' })
  useEffect(() => {
    let journal: Journal | undefined
    let stop: (() => void) | undefined
    let pending: ReturnType<typeof setTimeout> | undefined
    let gone = false
    let stream: StreamState = 'connecting'
    const render = () => {
      pending = undefined
      if (!gone) setState((s) => ({ journal, version: s.version + 1, stream, error: undefined }))
    }
    const soon = () => (pending ??= setTimeout(render, 50))
    api<Journal>('GET', `/runs/${encodeURIComponent(runId)}`)
      .then((j) => {
        if (gone) return
        journal = j
        render()
        stop = follow(`/runs/${encodeURIComponent(runId)}/events`, {
          onEvent(type, data) {
            if (journal && applyRunEvent(journal, type, data as Record<string, unknown>)) soon()
          },
          onState(s) {
            stream = s
            soon()
          },
          async poll() {
            journal = await api<Journal>('GET', `/runs/${encodeURIComponent(runId)}`)
            soon()
          },
          onPollError: (err) => setState((s) => ({ ...s, error: describeError(err) })),
        })
      })
      .catch((err) => !gone && setState((s) => ({ ...s, error: describeError(err) })))
    return () => {
      gone = true
      stop?.()
      if (pending) clearTimeout(pending)
    }
  }, [runId])
  return state
}
