/**
 * Relays for what cannot go through an Exchange, one request each:
 * - Requests whose method Node's HTTP parser does not know (`BREW`, vendor extensions). A proxy
 *   must forward every token method the app may speak; Node answers those with a parse error.
 * - HTTP/1.1 Upgrade (WebSocket and others).
 * Exactly one request is forwarded, framed by its own content-length or chunked encoding
 * (http1-framing.ts), and exactly one response comes back; then the connection is closed (the
 * response says `connection: close`). Nothing after that request is ever sent to the app raw:
 * a later request on the same connection (pipelined or sent after the answer) would escape every
 * rule, the header-fault stripping and the counters, so the client has to send it again on a new
 * connection, where it takes the normal path. Only an upgrade the app accepts (`101`) joins the
 * two sockets, since from then on the connection no longer speaks HTTP.
 * Header-driven fault headers (`x-faultline-*`) are stripped from the forwarded head when header
 * faults are enabled, exactly as for proxied requests. An app that cannot be reached, or does not
 * answer within --upstream-timeout, gets the same JSON error answer as the normal path.
 * Such requests get no faults (no rule sees them); unknown methods are counted as `OTHER`.
 */
import { type IncomingMessage, METHODS, STATUS_CODES } from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { HEADER_FAULT_PREFIX } from '../src/constants.ts'
import { errors, type FaultlineError } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import type { SidecarMetrics } from '../src/metrics.ts'
import type { StatsWindow } from '../src/stats/window.ts'
import { upstreamError } from './exchange.ts'
import {
  BodyCounter,
  type BodyFraming,
  badRequest,
  FramingError,
  type Head,
  requestFraming,
  responseFraming,
  serializeHead,
  splitHead,
  statusOf,
} from './http1-framing.ts'

export interface TunnelContext {
  upstream: URL
  log: Logger
  metrics: SidecarMetrics
  stats: StatsWindow
  /** Strip `x-faultline-*` request headers (header faults are on). */
  stripFaultHeaders: boolean
  /** --upstream-timeout: the longest wait to connect to the app, and then for its response head. */
  timeoutMs: number
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** Bytes read ahead of what can be forwarded before the client is paused. */
const MAX_BUFFERED = 64 * 1024
/** After the answer, how long the client may keep sending (read and dropped) before it is cut. */
const LINGER_MS = 2000

/**
 * Sockets a relay (or a refusal) owns: Node may report a second parse error on them, which must
 * not be answered again.
 */
const taken = new WeakSet<Duplex>()

/**
 * Every method Node's parser (llhttp) reads as a method: HTTP's and RTSP's (an RTSP method on an
 * HTTP/1.1 request line fails later, at the version). Checked against Node 24 character by
 * character: the parser rejects a method exactly after its longest prefix of one of these.
 */
const PARSER_METHODS = [
  ...METHODS,
  ...['ANNOUNCE', 'DESCRIBE', 'FLUSH', 'GET_PARAMETER', 'PAUSE', 'PLAY', 'RECORD', 'REDIRECT'],
  ...['SET_PARAMETER', 'SETUP', 'TEARDOWN', 'PRI'],
]

/** How many leading characters of `s` the parser accepts as the start of a method. */
function methodPrefixLength(s: string): number {
  let n = 0
  while (n < s.length && PARSER_METHODS.some((m) => m.startsWith(s.slice(0, n + 1)))) n++
  return n
}

type Kind = 'method' | 'upgrade'
/** Called once per relay: the status answered (0 = cut, 499 = the client left), the time taken, the method. */
type Done = (status: number, ms: number, method: string) => void

function isFaultHeader(name: string): boolean {
  return name.toLowerCase().startsWith(HEADER_FAULT_PREFIX)
}

/** `fields` without the hop-by-hop connection options, and `connection: close` added. */
function closing(fields: Head['fields']): Head['fields'] {
  const hop = new Set(['connection', 'keep-alive'])
  for (const [name, value] of fields)
    if (name.toLowerCase() === 'connection') for (const t of value.split(',')) hop.add(t.trim().toLowerCase())
  return [...fields.filter(([name]) => !hop.has(name.toLowerCase())), ['connection', 'close']]
}

/**
 * One request out, one response back. States, client side: `waiting` (an earlier response on
 * this connection is still being written), `head` (collecting the request's header block),
 * `body` (forwarding its body), `sent` (later bytes are held for an upgrade, dropped otherwise).
 * Upstream side: `head` (until the final response head), `body`, then `done`.
 */
class Relay {
  readonly #client: Duplex
  readonly #ctx: TunnelContext
  readonly #kind: Kind
  readonly #startedAt = performance.now()
  readonly #onDone: Done
  #method = ''
  #clientState: 'waiting' | 'head' | 'body' | 'sent' = 'waiting'
  #inbox: Buffer = Buffer.alloc(0)
  #request: BodyCounter | undefined
  #conn: net.Socket | undefined
  #connected = false
  #upstreamState: 'head' | 'body' | 'done' = 'head'
  #outbox: Buffer = Buffer.alloc(0)
  #response: BodyCounter | undefined
  #responseFraming: BodyFraming | undefined
  /** Bytes already written to the client: past that point an error can only cut the connection. */
  #answered = false
  #status = 0
  #timer: NodeJS.Timeout | undefined
  #finished = false

  constructor(client: Duplex, ctx: TunnelContext, kind: Kind, onDone: Done) {
    this.#client = client
    this.#ctx = ctx
    this.#kind = kind
    this.#onDone = onDone
    taken.add(client)
    client.on('data', this.#onClientData)
    client.on('error', (err: Error) => {
      ctx.log.debug({ err: { message: err.message } }, 'tunnel client connection failed')
      this.#end(499)
    })
    client.once('close', () => this.#end(499))
    client.resume()
  }

  /** The request's head is complete (an Upgrade, parsed by Node): forward it once the app answers the connect. */
  startWith(head: Head, early: Buffer): void {
    this.#clientState = 'head'
    this.#inbox = Buffer.concat([early, this.#inbox])
    this.#framed(() => this.#begin(head))
  }

  /** The request's first bytes, head possibly incomplete (an unknown method): read on until it is. */
  startRaw(bytes: Buffer): void {
    this.#clientState = 'head'
    this.#inbox = Buffer.concat([bytes, this.#inbox])
    this.#pumpClient()
  }

  #onClientData = (chunk: Buffer): void => {
    if (this.#finished || (this.#clientState === 'sent' && this.#kind === 'method')) return // dropped
    this.#inbox = this.#inbox.length ? Buffer.concat([this.#inbox, chunk]) : chunk
    if (this.#inbox.length > MAX_BUFFERED && this.#clientState !== 'body') this.#client.pause()
    this.#pumpClient()
  }

  #pumpClient(): void {
    this.#framed(() => {
      if (this.#clientState === 'head') {
        const split = splitHead(this.#inbox)
        if (!split) return
        this.#inbox = split.rest
        this.#begin(split.head)
      } else if (this.#clientState === 'body' && this.#connected) this.#forwardBody()
    })
  }

  /** Runs `fn`; a request the relay cannot frame is answered 400. */
  #framed(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      if (!(err instanceof FramingError)) throw err
      this.#fail(badRequest(err))
    }
  }

  #begin(sent: Head): void {
    const line = /^(\S+) \S+ HTTP\/1\.[01]$/.exec(sent.startLine)
    if (!line || !TOKEN.test(line[1]!)) throw new FramingError('malformed request line')
    this.#method = line[1]!
    const kept = this.#ctx.stripFaultHeaders ? sent.fields.filter(([name]) => !isFaultHeader(name)) : sent.fields
    // An upgrade must keep its `connection: upgrade`; it is closed after a refused upgrade anyway.
    const head = { startLine: sent.startLine, fields: this.#kind === 'method' ? closing(kept) : kept }
    this.#request = new BodyCounter(requestFraming(head))
    this.#clientState = 'body'
    this.#connect(serializeHead(head))
  }

  #connect(head: Buffer): void {
    const { upstream, timeoutMs } = this.#ctx
    const conn = net.connect({ host: upstream.hostname, port: Number(upstream.port || 80) })
    this.#conn = conn
    this.#timer = setTimeout(() => this.#timedOut(), timeoutMs)
    conn.on('error', this.#onUpstreamError)
    conn.once('connect', () => {
      this.#connected = true
      conn.write(head)
      this.#framed(() => this.#forwardBody())
    })
    conn.on('data', this.#onUpstreamData)
    conn.once('end', this.#onUpstreamEnd)
  }

  #forwardBody(): void {
    const counter = this.#request!
    const n = counter.take(this.#inbox)
    if (n && !this.#conn!.write(this.#inbox.subarray(0, n))) {
      this.#client.pause()
      this.#conn!.once('drain', () => this.#client.resume())
    } else this.#client.resume()
    this.#inbox = this.#inbox.subarray(n)
    if (!counter.done) return
    this.#clientState = 'sent'
    // A later request never reaches the app; an upgrade's early protocol bytes wait for the 101.
    if (this.#kind === 'method') this.#inbox = Buffer.alloc(0)
  }

  get #upstreamDone(): boolean {
    return this.#upstreamState === 'done'
  }

  #onUpstreamData = (chunk: Buffer): void => {
    if (this.#upstreamDone) return
    this.#outbox = this.#outbox.length ? Buffer.concat([this.#outbox, chunk]) : chunk
    try {
      while (this.#outbox.length && !this.#upstreamDone) {
        if (this.#upstreamState === 'body') this.#relayResponseBody()
        else if (!this.#responseHead()) return
      }
    } catch (err) {
      if (!(err instanceof FramingError)) throw err
      this.#fail(errors.FL_ERR_UPSTREAM_BAD_RESPONSE(err.message, { cause: err }))
    }
  }

  /** Handles one response head from the outbox; false while it is incomplete. */
  #responseHead(): boolean {
    const split = splitHead(this.#outbox)
    if (!split) return false
    const raw = this.#outbox.subarray(0, this.#outbox.length - split.rest.length)
    this.#outbox = split.rest
    const status = statusOf(split.head)
    if (status === 101) {
      if (this.#kind !== 'upgrade' || this.#clientState !== 'sent')
        throw new FramingError('101 Switching Protocols to a request that asked for no upgrade')
      this.#join(raw)
      return true
    }
    if (status < 200) {
      // 100 Continue and other interim answers pass as they are; the final one follows.
      this.#write(raw)
      return true
    }
    clearTimeout(this.#timer)
    this.#status = status
    this.#responseFraming = responseFraming(split.head, status, this.#method)
    this.#response = new BodyCounter(this.#responseFraming)
    this.#write(serializeHead({ startLine: split.head.startLine, fields: closing(split.head.fields) }))
    this.#upstreamState = 'body'
    if (this.#response.done) this.#complete()
    return true
  }

  #relayResponseBody(): void {
    const counter = this.#response!
    const n = counter.take(this.#outbox)
    if (n) this.#write(this.#outbox.subarray(0, n))
    this.#outbox = this.#outbox.subarray(n)
    if (counter.done) this.#complete()
  }

  #write(bytes: Buffer): void {
    this.#answered = true
    if (!this.#client.write(bytes)) {
      this.#conn!.pause()
      this.#client.once('drain', () => this.#conn?.resume())
    }
  }

  /** The app accepted the upgrade: from here both sockets carry the new protocol unchanged. */
  #join(head: Buffer): void {
    clearTimeout(this.#timer)
    const client = this.#client
    const conn = this.#conn!
    this.#upstreamState = 'done'
    this.#status = 101
    // From here a failure can only cut the connection: it no longer carries HTTP.
    this.#answered = true
    client.off('data', this.#onClientData)
    conn.off('data', this.#onUpstreamData)
    client.write(Buffer.concat([head, this.#outbox]))
    if (this.#inbox.length) conn.write(this.#inbox)
    this.#inbox = this.#outbox = Buffer.alloc(0)
    conn.pipe(client)
    client.pipe(conn)
    client.resume()
    conn.once('close', () => client.destroy())
  }

  /** The final response is over: close both sides (the answer said `connection: close`). */
  #complete(): void {
    this.#upstreamState = 'done'
    this.#conn?.destroy()
    this.#closeClient()
    this.#end(this.#status)
  }

  #closeClient(): void {
    const client = this.#client
    client.end()
    // Keep reading (and dropping) what the client still sends, so closing does not reset the
    // connection before the client has read the answer; cut it if it does not close soon.
    client.resume()
    setTimeout(() => client.destroy(), LINGER_MS).unref()
  }

  #onUpstreamEnd = (): void => {
    if (this.#upstreamState === 'done') return
    if (this.#upstreamState === 'body' && this.#responseFraming?.kind === 'close') return this.#complete()
    this.#fail(errors.FL_ERR_UPSTREAM_BAD_RESPONSE('the app closed the connection before its answer ended'))
  }

  #onUpstreamError = (err: Error & { code?: string }): void => {
    this.#ctx.log.warn({ err: { message: err.message, code: err.code } }, 'tunnel to upstream failed')
    this.#fail(
      this.#connected
        ? upstreamError(err)
        : errors.FL_ERR_UPSTREAM_UNAVAILABLE(`${err.code ?? err.name}: ${err.message}`, { cause: err }),
    )
  }

  #timedOut(): void {
    const ms = this.#ctx.timeoutMs
    this.#ctx.log.warn({ timeoutMs: ms, connected: this.#connected }, 'tunnel to upstream timed out')
    this.#fail(
      this.#connected
        ? errors.FL_ERR_UPSTREAM_TIMEOUT(`no response head within ${ms} ms`)
        : errors.FL_ERR_UPSTREAM_UNAVAILABLE(`no connection within ${ms} ms`),
    )
  }

  /** Answers `e` as JSON if nothing was written to the client yet, else cuts the connection. */
  #fail(e: FaultlineError): void {
    if (this.#finished) return
    clearTimeout(this.#timer)
    this.#upstreamState = 'done'
    this.#conn?.destroy()
    const client = this.#client
    if (this.#answered || !client.writable) {
      client.destroy()
      return this.#end(0)
    }
    const body = JSON.stringify(e.toJSON())
    client.write(
      `HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
    this.#closeClient()
    this.#end(e.statusCode)
  }

  /** Counts the exchange once, whichever way it ended. */
  #end(status: number): void {
    if (this.#finished) return
    this.#finished = true
    clearTimeout(this.#timer)
    if (status === 499 || status === 0) this.#conn?.destroy()
    this.#onDone(status, performance.now() - this.#startedAt, this.#method)
  }
}

/**
 * For the server's 'upgrade' event: the handshake as the client sent it (minus fault headers when
 * stripping), then any early bytes once the app accepts. Upgrades are not counted.
 */
export function tunnelUpgrade(req: IncomingMessage, client: Duplex, early: Buffer, ctx: TunnelContext): void {
  const fields: Head['fields'] = []
  for (let i = 0; i < req.rawHeaders.length; i += 2) fields.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!])
  new Relay(client, ctx, 'upgrade', () => undefined).startWith(
    { startLine: `${req.method} ${req.url} HTTP/1.1`, fields },
    early,
  )
}

/**
 * For every other parse error: a 400 once the answers to the requests before it are out (never
 * in the middle of one), then close, as Node does without a listener. Later bytes are dropped.
 */
export function refuseMalformed(client: Duplex): void {
  if (taken.has(client)) return
  taken.add(client)
  client.removeAllListeners('data')
  whenIdle(client, () => {
    if (client.writable) client.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
    else client.destroy()
  })
}

/** Runs `fn` once no response is being written on `socket` (pipelined requests before this one). */
function whenIdle(socket: Duplex, fn: () => void): void {
  // Node's HTTP server keeps the response it is writing on the socket as `_httpMessage` (not a
  // documented API, stable since Node 0.x); on its 'finish' Node assigns the next queued one
  // before this listener runs, so one check per finish walks the whole queue.
  const busy = (socket as { _httpMessage?: NodeJS.EventEmitter | null })._httpMessage
  if (busy) busy.once('finish', () => whenIdle(socket, fn))
  else fn()
}

/**
 * For the server's 'clientError' event: relays a request with a method Node's parser does not
 * know; returns false (the caller answers 400 as usual) for every other parse error. A socket
 * already relayed is left to its relay (Node may report its end as one more parse error).
 */
export function tunnelUnknownMethod(
  // (Node passes the request's raw bytes as rawPacket, typed loosely.)
  err: Error & { code?: string; rawPacket?: unknown; bytesParsed?: number },
  client: Duplex,
  ctx: TunnelContext,
): boolean {
  if (taken.has(client)) return true
  const packet = err.rawPacket
  if (err.code !== 'HPE_INVALID_METHOD' || !Buffer.isBuffer(packet) || client.destroyed) return false
  // The failed request starts at the line the parser was reading when it gave up, if the parser
  // reading from there would have failed exactly where it did. Otherwise its first bytes came in
  // an earlier read (a method split across reads) or follow a body on that line: they cannot be
  // recovered here, so it is refused (400, then close) rather than forwarded mangled. (A split
  // whose tail alone fails at the same byte cannot be told apart; clients write a request line
  // in one piece in practice.)
  const failedAt = err.bytesParsed ?? 0
  const start = failedAt > 0 ? packet.lastIndexOf(0x0a, failedAt - 1) + 1 : 0
  if (methodPrefixLength(packet.toString('latin1', start, failedAt + 1)) !== failedAt - start) return false
  // The method so far (it may go on in the next read): token characters, then a space or more.
  const soFar = packet.toString('latin1', start, Math.min(packet.length, failedAt + 1))
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+ ?$/.test(soFar)) return false
  // Node's HTTP server stops parsing this socket once its parser has failed; from here the relay
  // reads it (and checks the whole request line once it has it).
  client.removeAllListeners('data')
  const relay = new Relay(client, ctx, 'method', (status, ms, method) => {
    ctx.metrics.observeRequest(method || 'OTHER', status, 'none', ms / 1000)
    ctx.stats.record(ms * 1000, false, status === 0 || status >= 500)
  })
  const bytes = packet.subarray(start)
  whenIdle(client, () => relay.startRaw(bytes))
  return true
}
