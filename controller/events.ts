/**
 * Server-sent events for the dashboard: `GET /runs/:id/events` (one run: its journal as events)
 * and `GET /events` (the controller: runs started and ended, halt set and lifted, a target's
 * sidecars no longer answering). A run's event id is its place in the run's event sequence,
 * derived from the journal (events-journal.ts), so `Last-Event-ID` resumes with no gap and a
 * first connection replays the run so far. Written over the raw response (fastify's reply is
 * hijacked): a heartbeat comment keeps proxies from closing an idle stream, the stream closes
 * when the client goes or the run's `end` was sent, and the number of open streams is capped.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import type { ExperimentDoc } from '../src/experiments/schema.ts'
import { journalEvents, type JournalCursor, newCursor, type RunEvent } from './events-journal.ts'
import type { Journal } from './experiments/journal.ts'
import type { RunObserver } from './runs.ts'
import type { Store } from './store/types.ts'

export const HEARTBEAT_MS = 15_000
export const MAX_SUBSCRIBERS = 64
/** A running target whose last series point is older than this is reported down (points come every second). */
const SIDECAR_SILENT_MS = 3_500
/** Finished runs kept in memory (their streams answer from here); older ones are derived from the store. */
const KEEP_FINISHED = 20
/** Controller events kept for a reconnect's Last-Event-ID. */
const GLOBAL_BUFFER = 1000

export interface EventHubOptions {
  store: Store
  log: Logger
  /** The live journal of a run this controller runs (RunManager.liveJournals). */
  liveJournal: (runId: string) => Journal | undefined
  heartbeatMs?: number
  /** How often live journals are turned into events. */
  scanMs?: number
  /** How often the halt switch is read while someone listens to /events (another controller may set it). */
  haltPollMs?: number
  maxSubscribers?: number
}

interface Sequenced {
  id: number
  type: string
  data: unknown
}

type Listener = (e: Sequenced) => void

interface RunChannel {
  journal: Journal
  cursor: JournalCursor
  events: Sequenced[]
  final: boolean
  /** Another controller runs it (Redis store): re-read from the store while someone listens. */
  remote: boolean
  readAt: number
  listeners: Set<Listener>
  down: Set<string>
}

const frame = (e: Sequenced) => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`

export class EventHub implements RunObserver {
  readonly #opts: EventHubOptions
  readonly #log: Logger
  readonly #runs = new Map<string, RunChannel>()
  readonly #finished: string[] = []
  readonly #global: Sequenced[] = []
  #globalSeq = 0
  readonly #globalListeners = new Set<Listener>()
  readonly #open = new Set<ServerResponse>()
  #halt: string | undefined
  #haltReadAt = 0
  readonly #timer: NodeJS.Timeout

  constructor(opts: EventHubOptions) {
    this.#opts = opts
    this.#log = opts.log.child({ component: 'events' })
    this.#timer = setInterval(() => void this.#scan(), opts.scanMs ?? 250).unref()
  }

  get subscribers(): number {
    return this.#open.size
  }

  // ── RunObserver: the run manager says when runs start and end ───────────────
  started(experiment: ExperimentDoc, runId: string): void {
    const journal = this.#opts.liveJournal(runId)
    const early = this.#runs.get(runId)
    if (journal && early) {
      // A reader came before this notice and was given the stored journal: its channel goes live.
      early.journal = journal
      early.remote = false
    } else if (journal) this.#runs.set(runId, this.#channel(journal, false))
    this.#publish('run-started', { runId, experiment: experiment.metadata.name, startedAt: journal?.startedAt })
  }

  finished(journal: Journal): void {
    const ch = this.#runs.get(journal.runId)
    if (ch) {
      ch.journal = journal
      this.#advance(ch, true)
      this.#finished.push(journal.runId)
      while (this.#finished.length > KEEP_FINISHED) this.#runs.delete(this.#finished.shift()!)
    }
    this.#publish('run-ended', {
      runId: journal.runId,
      experiment: journal.experiment.metadata.name,
      status: journal.status,
      verdict: journal.verdict,
      reason: journal.reason,
    })
  }

  /** The halt switch changed through this controller's API (another controller's is polled). */
  haltChanged(halt: { reason: string; since: number } | undefined): void {
    const key = halt ? `${halt.since}` : undefined
    if (key === this.#halt) return
    this.#halt = key
    if (halt) this.#publish('halt', { halted: true, ...halt })
    else this.#publish('halt-lifted', { halted: false })
  }

  close(): void {
    clearInterval(this.#timer)
    for (const res of this.#open) res.end()
    this.#open.clear()
  }

  // ── streams ──────────────────────────────────────────────────────────────────
  /** GET /runs/:id/events. 404 (before anything is written) for a run that does not exist. */
  async streamRun(runId: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    this.#checkCapacity()
    let ch = this.#runs.get(runId)
    let rebuilt = false
    if (!ch) {
      rebuilt = true
      const journal = (await this.#opts.store.getJournal(runId)) as Journal | undefined
      if (!journal) throw errors.FL_ERR_NOT_FOUND(`run ${runId}`)
      ch = this.#channel(journal, journal.status === 'running')
      this.#advance(ch, journal.status !== 'running')
      // A stored run nobody runs here is kept only while someone listens to it.
      if (ch.remote) this.#runs.set(runId, ch)
    }
    const channel = ch
    let after = lastEventId(request)
    const res = this.#open_(reply)
    // Ids count events in the order this controller derived them; a run derived again from the
    // store (after a restart, or evicted) may number them otherwise: the reader starts over.
    if (rebuilt && after > 0) {
      res.write(
        frame({ id: 0, type: 'reset', data: { reason: 'the run was read again from the store: replayed whole' } }),
      )
      after = -1
    }
    for (const e of channel.events) if (e.id > after) res.write(frame(e))
    if (channel.final) return void this.#end(res)
    const from = after
    const listener: Listener = (e) => {
      if (e.id <= from) return
      res.write(frame(e))
      if (e.type === 'end') this.#end(res)
    }
    channel.listeners.add(listener)
    this.#onClose(request, res, () => {
      channel.listeners.delete(listener)
      if (channel.remote && channel.listeners.size === 0) this.#runs.delete(runId)
    })
  }

  /** GET /events: from now on, or from Last-Event-ID (a `reset` event if that is no longer kept). */
  streamAll(request: FastifyRequest, reply: FastifyReply): void {
    this.#checkCapacity()
    const after = lastEventId(request)
    const res = this.#open_(reply)
    if (after >= 0) {
      const first = this.#global[0]?.id ?? this.#globalSeq + 1
      // Ids from before this controller started, or beyond what is kept: the reader must refetch.
      if (after > this.#globalSeq || after < first - 1)
        res.write(frame({ id: this.#globalSeq, type: 'reset', data: { reason: 'events since that id are not kept' } }))
      else for (const e of this.#global) if (e.id > after) res.write(frame(e))
    }
    const listener: Listener = (e) => res.write(frame(e))
    this.#globalListeners.add(listener)
    this.#onClose(request, res, () => this.#globalListeners.delete(listener))
  }

  #checkCapacity(): void {
    const max = this.#opts.maxSubscribers ?? MAX_SUBSCRIBERS
    if (this.#open.size >= max)
      throw errors.FL_ERR_TOO_MANY_STREAMS(`${max} event streams are open already`, {
        issues: [{ path: '', message: `at most ${max} event streams at once; close one or poll GET /runs/{id}` }],
      })
  }

  #open_(reply: FastifyReply): ServerResponse {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    })
    // A comment first, so the client knows the stream is open even before the first event.
    res.write(': connected\n\n')
    this.#open.add(res)
    return res
  }

  #onClose(request: FastifyRequest, res: ServerResponse, cleanup: () => void): void {
    const heartbeat = setInterval(() => res.write(': ping\n\n'), this.#opts.heartbeatMs ?? HEARTBEAT_MS)
    const done = () => {
      clearInterval(heartbeat)
      this.#open.delete(res)
      cleanup()
    }
    request.raw.on('close', done)
    res.on('close', done)
    res.on('error', (err) => this.#log.debug({ err }, 'event stream write failed (client gone)'))
  }

  #end(res: ServerResponse): void {
    this.#open.delete(res)
    res.end()
  }

  // ── sources ──────────────────────────────────────────────────────────────────
  #channel(journal: Journal, remote: boolean): RunChannel {
    return {
      journal,
      cursor: newCursor(),
      events: [],
      final: false,
      remote,
      readAt: Date.now(),
      listeners: new Set(),
      down: new Set(),
    }
  }

  #advance(ch: RunChannel, final: boolean): void {
    if (ch.final) return
    for (const e of journalEvents(ch.journal, ch.cursor, final)) {
      const s: Sequenced = { id: ch.events.length + 1, type: e.type, data: e.data }
      ch.events.push(s)
      for (const l of ch.listeners) l(s)
    }
    ch.final = final
  }

  #publish(type: string, data: unknown): void {
    const e: Sequenced = { id: ++this.#globalSeq, type, data }
    this.#global.push(e)
    if (this.#global.length > GLOBAL_BUFFER) this.#global.shift()
    for (const l of this.#globalListeners) l(e)
  }

  async #scan(): Promise<void> {
    const now = Date.now()
    for (const [runId, ch] of this.#runs) {
      if (ch.final) continue
      if (ch.remote) {
        if (now - ch.readAt < 1000) continue
        ch.readAt = now
        try {
          const j = (await this.#opts.store.getJournal(runId)) as Journal | undefined
          if (j) ch.journal = j
        } catch (err) {
          this.#log.warn({ err, runId }, 'cannot read the journal of a run another controller runs')
          continue
        }
        this.#advance(ch, ch.journal.status !== 'running')
        continue
      }
      this.#advance(ch, false)
      this.#sidecarsDown(runId, ch, now)
    }
    await this.#pollHalt(now)
  }

  /** A target with sidecars whose series stopped: reported once per outage, and when it is back. */
  #sidecarsDown(runId: string, ch: RunChannel, now: number): void {
    for (const [target, points] of Object.entries(ch.journal.series)) {
      const last = points.at(-1)
      if (!last) continue
      const sidecars = ch.journal.targets[target]?.sidecars.map((s) => s.adminUrl) ?? []
      const silent = now - last.t > SIDECAR_SILENT_MS
      if (silent && !ch.down.has(target)) {
        ch.down.add(target)
        this.#publish('sidecar-down', { runId, target, sidecars, lastSampleAt: last.t })
      } else if (!silent && ch.down.delete(target)) this.#publish('sidecar-up', { runId, target, sidecars })
    }
  }

  async #pollHalt(now: number): Promise<void> {
    if (this.#globalListeners.size === 0 || now - this.#haltReadAt < (this.#opts.haltPollMs ?? 1000)) return
    this.#haltReadAt = now
    try {
      this.haltChanged(await this.#opts.store.getHalt())
    } catch (err) {
      this.#log.warn({ err }, 'cannot read the halt switch for the event stream')
    }
  }
}

/** The reader's last event id (header, as EventSource and our fetch reader send it); -1 for none. */
function lastEventId(request: FastifyRequest): number {
  const raw = request.headers['last-event-id']
  const text = Array.isArray(raw) ? raw[0] : raw
  if (text === undefined || text === '') return -1
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0)
    throw errors.FL_ERR_BAD_REQUEST('Last-Event-ID is not an event id', {
      issues: [{ path: '/headers/last-event-id', message: 'must be a whole number from an earlier event' }],
    })
  return n
}

export type { RunEvent }
