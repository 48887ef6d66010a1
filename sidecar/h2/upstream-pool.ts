/**
 * HTTP/2 sessions to the upstream (h2c for http://, h2 with ALPN for https://), on node:http2
 * rather than undici: RST_STREAM codes reach us unchanged (undici retries REFUSED_STREAM and
 * replays after GOAWAY, which would hide the upstream's own refusals), and it is what grpc-js
 * runs on. A session that received GOAWAY, closed or failed is dropped, so the next stream
 * opens a new one; a session at its peer's MAX_CONCURRENT_STREAMS is joined by another.
 */
import http2 from 'node:http2'
import type { Logger } from '../../src/log.ts'

export interface H2UpstreamOptions {
  /** Idle sessions are kept; a PING every this many ms keeps NATs and the upstream from dropping them. */
  pingIntervalMs?: number
  /** Verify the upstream's certificate (h2); off for self-signed test upstreams only. */
  rejectUnauthorized?: boolean
}

interface Slot {
  session: http2.ClientHttp2Session
  streams: number
}

export class H2UpstreamPool {
  readonly #origin: string
  readonly #log: Logger
  readonly #opts: H2UpstreamOptions
  #slots: Slot[] = []
  /** Every session not yet closed, draining ones (after GOAWAY) included: close() ends them all. */
  readonly #open = new Set<http2.ClientHttp2Session>()
  #closed = false

  constructor(origin: URL, log: Logger, opts: H2UpstreamOptions = {}) {
    this.#origin = origin.origin
    this.#log = log
    this.#opts = opts
  }

  /** Opens a stream upstream. Throws synchronously only if the pool is closed. */
  request(headers: http2.OutgoingHttpHeaders, options: http2.ClientSessionRequestOptions): http2.ClientHttp2Stream {
    if (this.#closed) throw new Error('upstream pool closed')
    const slot = this.#pick()
    slot.streams++
    const stream = slot.session.request(headers, options)
    stream.once('close', () => {
      slot.streams--
    })
    return stream
  }

  #pick(): Slot {
    for (const slot of this.#slots) {
      const s = slot.session
      if (s.closed || s.destroyed) continue
      const max = s.remoteSettings.maxConcurrentStreams ?? 100
      if (slot.streams < max) return slot
    }
    return this.#connect()
  }

  #connect(): Slot {
    const session = http2.connect(this.#origin, {
      rejectUnauthorized: this.#opts.rejectUnauthorized ?? true,
      // Large enough that a gRPC stream is not throttled by the sidecar's own window.
      settings: { initialWindowSize: 1 << 20 },
    })
    const slot: Slot = { session, streams: 0 }
    this.#slots.push(slot)
    this.#open.add(session)
    session.once('close', () => this.#open.delete(session))
    const drop = () => {
      this.#slots = this.#slots.filter((s) => s !== slot)
    }
    // GOAWAY: streams at or below its last id finish on this session, which then closes; new
    // streams go to a new one.
    session.once('goaway', () => {
      drop()
      if (!session.closed && !session.destroyed) session.close()
    })
    session.once('close', drop)
    session.on('error', (err: Error & { code?: string }) => {
      drop()
      this.#log.warn(
        { err: { message: err.message, code: err.code }, upstream: this.#origin },
        'upstream HTTP/2 session failed',
      )
    })
    session.on('connect', () => session.setLocalWindowSize(1 << 22))
    const interval = this.#opts.pingIntervalMs ?? 30_000
    const ping = setInterval(() => {
      if (!session.closed && !session.destroyed && !session.connecting) session.ping(() => undefined)
    }, interval)
    ping.unref()
    session.once('close', () => clearInterval(ping))
    // An idle session must not keep the process alive.
    session.unref()
    return slot
  }

  /** Closes every session: streams in flight get `graceMs` to finish, then the sessions are cut. */
  async close(graceMs = 2000): Promise<void> {
    this.#closed = true
    this.#slots = []
    await Promise.all(
      [...this.#open].map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.destroyed) return resolve()
            const cut = setTimeout(() => session.destroy(), graceMs)
            cut.unref()
            session.once('close', () => {
              clearTimeout(cut)
              resolve()
            })
            // A session already draining after a GOAWAY is closed but not yet destroyed.
            if (!session.closed) session.close()
          }),
      ),
    )
  }
}
