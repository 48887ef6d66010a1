/**
 * Server-sent events read with fetch (EventSource cannot send an Authorization header). Each
 * event's id is kept; a dropped stream is reopened with Last-Event-ID, so nothing is lost or
 * repeated. After three failed attempts in a row the reader falls back to polling (the caller's
 * `poll`, every 2 s) and says so through `onState`, while it keeps trying the stream every 15 s.
 */
import { apiUrl, authHeaders } from './api.ts'

export type StreamState = 'connecting' | 'live' | 'polling' | 'ended'

export interface StreamHandlers {
  onEvent(type: string, data: unknown, id: string | undefined): void
  onState?(state: StreamState): void
  /** Called in place of the stream while it cannot be read. */
  poll?(): Promise<void>
  /** A poll failed (the page says so; the next poll tries again). */
  onPollError?(err: unknown): void
}

const FAILURES_BEFORE_POLLING = 3
const RETRY_MS = [500, 1000, 2000]
const POLL_MS = 2000
const STREAM_RETRY_WHILE_POLLING_MS = 15_000

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true })
  })

/** Parses SSE text blocks; calls `emit` for each complete event. Returns what is left over. */
export function parseFrames(buffer: string, emit: (f: { id?: string; event: string; data: string }) => void): string {
  let cut: number
  while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
    const block = buffer.slice(0, cut)
    buffer = buffer.slice(buffer.slice(cut).match(/^\r?\n\r?\n/)![0].length + cut)
    let id: string | undefined
    let event = 'message'
    const data: string[] = []
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') id = value
      else if (field === 'event') event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length) emit({ id, event, data: data.join('\n') })
  }
  return buffer
}

/** Follows `path` until the returned function is called, or the stream sends `end`. */
export function follow(path: string, h: StreamHandlers): () => void {
  const stop = new AbortController()
  let lastId: string | undefined
  let ended = false
  let failures = 0
  const state = (s: StreamState) => h.onState?.(s)

  /** One connection: resolves when it closes; true if it delivered anything. */
  const connect = async (): Promise<boolean> => {
    const headers: Record<string, string> = { ...authHeaders(), accept: 'text/event-stream' }
    if (lastId !== undefined) headers['last-event-id'] = lastId
    const res = await fetch(apiUrl(path), { headers, signal: stop.signal, cache: 'no-store' })
    if (!res.ok || !res.body) throw new Error(`event stream answered ${res.status}`)
    state('live')
    failures = 0
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return true
      buffer = parseFrames(buffer + value, (f) => {
        if (f.id !== undefined) lastId = f.id
        if (f.event === 'reset') lastId = undefined
        if (f.event === 'end') ended = true
        h.onEvent(f.event, JSON.parse(f.data), f.id)
      })
    }
  }

  const pollFor = async (ms: number) => {
    const until = Date.now() + ms
    while (!stop.signal.aborted && Date.now() < until) {
      try {
        await h.poll!()
      } catch (err) {
        h.onPollError?.(err)
      }
      await sleep(POLL_MS, stop.signal)
    }
  }

  void (async () => {
    state('connecting')
    while (!stop.signal.aborted && !ended) {
      try {
        await connect()
      } catch {
        if (stop.signal.aborted) break
        failures++
      }
      if (ended || stop.signal.aborted) break
      if (failures >= FAILURES_BEFORE_POLLING && h.poll) {
        state('polling')
        await pollFor(STREAM_RETRY_WHILE_POLLING_MS)
      } else {
        state('connecting')
        await sleep(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]!, stop.signal)
      }
    }
    if (ended) state('ended')
  })()
  return () => stop.abort()
}
