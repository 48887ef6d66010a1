/**
 * One HTTP/2 stream through the sidecar: the HTTP/2 sibling of `Exchange` (../exchange.ts),
 * kept apart so the HTTP/1.1 hot path carries no HTTP/2 branch. Same contract: it is the
 * FaultOps that fault kinds act through, it relays with backpressure (h2 flow control does the
 * pushing back), and all accounting happens once, when the stream closes.
 *
 *   client stream ─▶ start ─▶ [request faults] ─▶ forward ─▶ upstream stream (H2UpstreamPool)
 *   client stream ◀─ respond/pipe/trailers ◀─ [response faults] ◀─ 'response'/data/'trailers' ◀─┘
 *
 * What differs from HTTP/1.1: a fault can end one stream (RST_STREAM with any code) or the
 * connection (GOAWAY); a gRPC call is answered trailers-only; trailers pass through (and can be
 * rewritten); RST codes pass through in both directions; `grpc-timeout` bounds every hold.
 *
 * Nothing thrown here may reach the process: every entry point runs under a guard that ends
 * this stream (a 500 / INTERNAL, or RST_STREAM INTERNAL_ERROR once headers are out).
 */
import http2 from 'node:http2'
import { rewriteJsonBody } from '../../src/body-codec.ts'
import { FAULT_HEADER, HEADER_FAULT_PREFIX } from '../../src/constants.ts'
import { errors, type FaultlineError } from '../../src/errors.ts'
import type { FaultOps, JsonTransform, Phase, TargetRewrite } from '../../src/faults/types.ts'
import {
  encodeGrpcMessage,
  GRPC_HEALTH_PREFIX,
  grpcCodeLabel,
  isGrpcContentType,
  parseGrpcTimeout,
} from '../../src/grpc.ts'
import type { CompiledRule, HeaderBag, RequestView } from '../../src/rules/compile.ts'
import {
  NO_RULES,
  responseCandidates,
  type SkipReason,
  selectRequestRules,
  selectResponseRules,
} from '../../src/rules/match.ts'
import { matchPath } from '../../src/rules/request-path.ts'
import { upstreamError } from '../exchange.ts'
import { HeldRules } from '../held-rules.ts'
import type { ProxyContext } from '../proxy-context.ts'
import type { H2Upstream } from './h1-upstream.ts'

const {
  NGHTTP2_NO_ERROR,
  NGHTTP2_CANCEL,
  NGHTTP2_INTERNAL_ERROR,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_INADEQUATE_SECURITY,
} = http2.constants

/** What the HTTP/2 side needs beyond the shared ProxyContext. */
export interface H2Context {
  proxy: ProxyContext
  /** Pooled HTTP/2 sessions, or HTTP/1.1 with --upstream-protocol http1. */
  upstream: H2Upstream
  /** `:scheme` sent upstream. */
  upstreamScheme: 'http' | 'https'
  /** gRPC statuses counted as errors in /stats (--grpc-error-codes). */
  grpcErrorCodes: ReadonlySet<number>
  /** How long the upstream may take to send response headers (--upstream-timeout). */
  upstreamTimeoutMs: number
}

/** Request headers never forwarded: pseudo-headers are rebuilt, connection-specific ones are illegal in h2. */
const NOT_FORWARDED = new Set([
  ':method',
  ':path',
  ':scheme',
  ':authority',
  ':protocol',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
])

/** The status a gRPC client derives from an RST_STREAM code (PROTOCOL-HTTP2.md). */
function rstToGrpc(code: number): number {
  if (code === NGHTTP2_REFUSED_STREAM) return 14
  if (code === NGHTTP2_CANCEL) return 1
  if (code === NGHTTP2_ENHANCE_YOUR_CALM) return 8
  if (code === NGHTTP2_INADEQUATE_SECURITY) return 7
  return 13
}

function grpcStatusOf(h: HeaderBag | http2.IncomingHttpHeaders | undefined): number | undefined {
  const v = h?.['grpc-status']
  if (typeof v !== 'string' || !/^\d{1,2}$/.test(v)) return undefined
  return Number(v)
}

type Stream = http2.ServerHttp2Stream
type Upstream = http2.ClientHttp2Stream

export class H2Exchange implements FaultOps, RequestView {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly headers: HeaderBag
  readonly grpc: boolean
  phase: Phase = 'request'

  readonly #h2: H2Context
  readonly #ctx: ProxyContext
  readonly #stream: Stream
  readonly #start = performance.now()
  readonly #rawPath: string
  /** The client sent END_STREAM with its HEADERS (no body). */
  readonly #noBody: boolean
  /** performance.now() at which the client's grpc-timeout runs out, or Infinity. */
  readonly #deadline: number

  #up: Upstream | undefined
  #upstreamStart = 0
  #candidates: readonly CompiledRule[] = NO_RULES
  #held: HeldRules | undefined

  #terminal = false
  #cut = false
  #clientGone = false
  #failed = false
  #broken = false
  /** The gRPC status this exchange decided itself (fault, deadline, failure). */
  #grpcStatus: number | undefined
  #cancelWait: (() => void) | undefined

  #outHeaders: http2.OutgoingHttpHeaders | undefined
  #target: TargetRewrite | undefined
  #extraQuery: string | undefined
  #requestBody: Buffer | undefined
  #requestTransforms: JsonTransform[] | undefined

  #status = 0
  #resHeaders: http2.OutgoingHttpHeaders | undefined
  #upTrailersOnly = false
  #upTrailers: http2.IncomingHttpHeaders | undefined
  #trailerEdits: Record<string, string> | undefined
  #responseBody: Buffer | undefined
  #resetAfterHeaders: number | undefined

  #bps = 0
  #queue: Buffer[] = []
  #queued = 0
  #upEnded = false
  #pumpTimer: NodeJS.Timeout | undefined
  #nextWriteAt = 0
  #headersTimer: NodeJS.Timeout | undefined

  constructor(h2: H2Context, stream: Stream, headers: http2.IncomingHttpHeaders, flags: number) {
    this.#h2 = h2
    this.#ctx = h2.proxy
    this.#stream = stream
    const url = (headers[':path'] as string | undefined) ?? '/'
    const q = url.indexOf('?')
    this.#rawPath = q < 0 ? url : url.slice(0, q)
    this.path = matchPath(this.#rawPath)
    this.query = q < 0 ? '' : url.slice(q + 1)
    this.method = (headers[':method'] as string | undefined) ?? 'GET'
    this.headers = headers as HeaderBag
    this.grpc = isGrpcContentType(headers['content-type'])
    this.#noBody = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0
    const timeout = this.grpc ? parseGrpcTimeout(headers['grpc-timeout']) : undefined
    this.#deadline = timeout === undefined ? Infinity : this.#start + timeout
    stream.on('error', this.#onStreamError)
    stream.once('aborted', this.#onAborted)
    stream.once('close', this.#onClose)
  }

  start(): void {
    this.#guard(this.#begin)
  }

  #begin = (): void => {
    const ctx = this.#ctx
    const snap = ctx.store.snapshot
    const headerRules = ctx.headerFaults?.(this.headers)
    if (snap.rules.length === 0 && headerRules === undefined) return this.#forward()
    const now = ctx.clock.now()
    const health = ctx.healthPaths.has(this.path) || this.path.startsWith(GRPC_HEALTH_PREFIX)
    let rules = selectRequestRules(snap, this, now, health, ctx.random, ctx.observer)
    this.#candidates = responseCandidates(snap, this, now, health)
    if (headerRules) {
      if (headerRules.request) rules = [...rules, headerRules.request]
      if (headerRules.response) this.#candidates = [...this.#candidates, headerRules.response]
    }
    if (rules.length === 0) return this.#forward()
    this.#runFaults(rules, 'request').then(() => this.#guard(this.#forward), this.#internalError)
  }

  // ── fault execution ──────────────────────────────────────────────────────────

  async #runFaults(rules: readonly CompiledRule[], phase: Phase): Promise<void> {
    this.phase = phase
    const held = (this.#held ??= new HeldRules(this.#ctx))
    for (const rule of rules) held.hold(rule)
    for (const rule of rules) {
      for (const action of rule.actions) {
        held.beginAction(rule)
        const pending = action.fault.apply(action.compiled, this)
        held.endAction(action.fault.kind)
        if (pending !== undefined) await pending
        if (this.#terminal || this.#clientGone) return
      }
    }
  }

  #skip(reason: SkipReason): void {
    this.#held?.skip(reason)
  }

  #marker(): string {
    return this.#held?.marker() ?? ''
  }

  // ── FaultOps ─────────────────────────────────────────────────────────────────

  random(): number {
    return this.#ctx.random()
  }

  /**
   * Holds the stream without reading its body (flow control pushes back on the client). Ends
   * early when the client resets the stream, or at its gRPC deadline: then the call is cancelled
   * and never forwarded.
   */
  wait(ms: number): Promise<boolean> {
    if (this.#clientGone || this.#terminal) return Promise.resolve(false)
    const untilDeadline = this.#deadline - performance.now()
    return new Promise((resolve) => {
      const expires = untilDeadline < ms
      const timer = setTimeout(
        () => {
          this.#cancelWait = undefined
          if (expires) this.#guard(this.#deadlineExceeded)
          resolve(!this.#clientGone && !this.#terminal)
        },
        Math.max(0, expires ? untilDeadline : ms),
      )
      this.#cancelWait = () => {
        clearTimeout(timer)
        this.#cancelWait = undefined
        resolve(false)
      }
    })
  }

  /** The client's deadline passed while we held its call: it has given up, so nothing goes upstream. */
  #deadlineExceeded = (): void => {
    // Answered as a gRPC server answers an expired call (DEADLINE_EXCEEDED, trailers-only), so
    // whichever reaches the client first, its own timer or this, it reports the same status.
    if (!this.#stream.headersSent && !this.#stream.destroyed)
      this.respondGrpc(4, 'deadline exceeded while faultline held the call', undefined)
    else {
      this.#terminal = true
      this.#grpcStatus = 4
      this.#cancelUpstream()
      if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_CANCEL)
    }
  }

  respond(status: number, headers: Readonly<Record<string, string>>, body: Buffer): void {
    this.#terminal = true
    this.#cancelUpstream()
    const stream = this.#stream
    if (stream.headersSent || this.#clientGone || stream.destroyed) return
    const bodyless = status === 204 || status === 304 || this.method === 'HEAD'
    stream.respond(
      {
        ...headers,
        ':status': status,
        ...(bodyless ? {} : { 'content-length': body.length }),
        [FAULT_HEADER]: this.#marker(),
      },
      { endStream: bodyless },
    )
    if (!bodyless) stream.end(body)
    this.#status = status
    this.#stopReading()
  }

  respondGrpc(
    status: number,
    message: string | undefined,
    detailsBin: string | undefined,
    metadata?: Readonly<Record<string, string>>,
  ): void {
    this.#terminal = true
    this.#grpcStatus = status
    this.#cancelUpstream()
    const stream = this.#stream
    if (stream.headersSent || this.#clientGone || stream.destroyed) return
    const h: http2.OutgoingHttpHeaders = {
      ...metadata,
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(status),
      [FAULT_HEADER]: this.#marker(),
    }
    if (message) h['grpc-message'] = encodeGrpcMessage(message)
    if (detailsBin) h['grpc-status-details-bin'] = detailsBin
    // Trailers-only: one HEADERS frame with END_STREAM (never HEADERS then an empty DATA).
    stream.respond(h, { endStream: true })
    this.#status = 200
    this.#stopReading()
  }

  /** We answered before the client finished sending: RST_STREAM(NO_ERROR), as the gRPC spec asks, and read nothing. */
  #stopReading(): void {
    const stream = this.#stream
    if (!stream.readableEnded && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR)
  }

  reset(): void {
    this.resetStream(NGHTTP2_INTERNAL_ERROR, false)
  }

  /** HTTP/2 has no connection-level "close without a reply" for one stream: RST_STREAM(NO_ERROR). */
  close(): void {
    this.resetStream(NGHTTP2_NO_ERROR, false)
  }

  resetStream(code: number, afterHeaders: boolean): void {
    if (afterHeaders && this.phase === 'request') {
      this.#resetAfterHeaders = code
      return
    }
    this.#terminal = true
    this.#cut = true
    this.#cancelUpstream()
    if (!this.#stream.destroyed) this.#stream.close(code)
  }

  goaway(code: number): void {
    this.#terminal = true
    this.#cut = true
    this.#cancelUpstream()
    const session = this.#stream.session
    if (!session || session.destroyed) return
    // The last stream id is the one before this stream: the client treats this call (and any
    // newer one) as unprocessed, so a gRPC client retries it on a new connection.
    session.goaway(code, Math.max(0, (this.#stream.id ?? 1) - 2))
    if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_REFUSED_STREAM)
    session.close()
  }

  setStatus(status: number): void {
    this.#status = status
  }

  setHeader(name: string, value: string): void {
    this.#held?.acted()
    if (this.phase === 'request') this.#requestHeaders()[name] = value
    else this.#responseHeaders()[name] = value
  }

  appendHeader(name: string, value: string): void {
    this.#held?.acted()
    const h = this.phase === 'request' ? this.#requestHeaders() : this.#responseHeaders()
    const prev = h[name]
    h[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value]
  }

  setBody(body: Buffer): void {
    // Body faults do not apply to protobuf: the call passes unchanged, counted.
    if (this.grpc) return this.#held?.cannotApply('grpc-body')
    this.#held?.acted()
    if (this.phase === 'request') this.#requestBody = body
    else this.#responseBody = body
  }

  transformJson(fn: JsonTransform): void {
    if (this.grpc) return this.#held?.cannotApply('grpc-body')
    // Response JSON patches on plain HTTP/2 are not supported: the response passes unchanged.
    if (this.phase !== 'request') return this.#held?.cannotApply('patch_failed')
    this.#held?.deferred()
    ;(this.#requestTransforms ??= []).push(fn)
  }

  setTarget(rewrite: TargetRewrite): void {
    this.#target = { ...this.#target, ...rewrite }
  }

  appendQuery(name: string, value: string): void {
    this.#held?.acted()
    const pair = `${encodeURIComponent(name)}=${encodeURIComponent(value)}`
    this.#extraQuery = this.#extraQuery ? `${this.#extraQuery}&${pair}` : pair
  }

  throttle(bytesPerSecond: number): void {
    this.#bps = this.#bps ? Math.min(this.#bps, bytesPerSecond) : bytesPerSecond
  }

  setTrailer(name: string, value: string): void {
    ;(this.#trailerEdits ??= {})[name] = value
  }

  #requestHeaders(): http2.OutgoingHttpHeaders {
    if (this.#outHeaders) return this.#outHeaders
    const out: http2.OutgoingHttpHeaders = {}
    const strip = this.#ctx.headerFaults !== undefined
    const src = this.headers
    for (const k in src) {
      const v = src[k]
      if (v === undefined || NOT_FORWARDED.has(k)) continue
      if (strip && k.startsWith(HEADER_FAULT_PREFIX)) continue
      out[k] = v
    }
    return (this.#outHeaders = out)
  }

  #responseHeaders(): http2.OutgoingHttpHeaders {
    return (this.#resHeaders ??= {})
  }

  // ── forwarding ───────────────────────────────────────────────────────────────

  #forward = (): void => {
    if (this.#terminal || this.#clientGone) return
    const h = this.#requestHeaders()
    h[':method'] = (this.#target?.method ?? this.method).toUpperCase()
    h[':path'] = this.#upstreamPath()
    h[':scheme'] = this.#h2.upstreamScheme
    h[':authority'] = (this.headers[':authority'] as string | undefined) ?? (this.headers.host as string | undefined)
    if (this.#deadline !== Infinity) {
      // What the client has left, not what it started with: time held here is spent.
      const left = Math.max(1, Math.floor(this.#deadline - performance.now()))
      h['grpc-timeout'] = `${left}m`
    }
    const body = this.#requestBody
    if (body) {
      h['content-length'] = body.length
      this.#open(h, false).end(body)
      this.#stream.resume()
      return
    }
    if (this.#requestTransforms && !this.#noBody) {
      this.#bufferRequestBody().then((b) => this.#guard(() => this.#sendBuffered(h, b)), this.#internalError)
      return
    }
    const up = this.#open(h, this.#noBody)
    if (!this.#noBody) this.#stream.pipe(up)
  }

  #sendBuffered(h: http2.OutgoingHttpHeaders, body: Buffer): void {
    if (this.#terminal || this.#clientGone) return
    h['content-length'] = body.length
    this.#open(h, false).end(body)
  }

  #bufferRequestBody(): Promise<Buffer> {
    const stream = this.#stream
    const cap = this.#ctx.maxBodyBytes
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      stream.on('data', (c: Buffer) => {
        chunks.push(c)
        size += c.length
      })
      stream.once('end', () => {
        const all = Buffer.concat(chunks)
        if (size > cap) {
          this.#held?.settle('patch_too_large')
          return resolve(all)
        }
        rewriteJsonBody(
          all,
          this.headers['content-encoding'] as string | undefined,
          this.#requestTransforms!,
          cap,
        ).then((out) => {
          this.#held?.settle(out.ok ? undefined : out.reason)
          resolve(out.ok ? out.body : all)
        }, reject)
      })
    })
  }

  #upstreamPath(): string {
    const t = this.#target
    if (!t && this.#extraQuery === undefined) return (this.headers[':path'] as string | undefined) ?? '/'
    let query = this.query
    if (t?.query) query = new URLSearchParams(t.query).toString()
    if (this.#extraQuery) query = query ? `${query}&${this.#extraQuery}` : this.#extraQuery
    const path = t?.path ?? this.#rawPath
    return query ? `${path}?${query}` : path
  }

  #open(h: http2.OutgoingHttpHeaders, endStream: boolean): Upstream {
    this.#upstreamStart = performance.now()
    const up = this.#h2.upstream.request(h, { endStream })
    this.#up = up
    up.on('response', (headers, flags) => this.#guard(() => this.#onResponse(headers, flags)))
    up.on('trailers', (t) => {
      this.#upTrailers = t
    })
    up.on('error', (err: Error) => this.#guard(() => this.#onUpstreamError(err)))
    up.once('close', () => this.#guard(this.#onUpstreamClose))
    this.#headersTimer = setTimeout(() => this.#guard(this.#headersTimedOut), this.#h2.upstreamTimeoutMs)
    return up
  }

  /** No response headers within --upstream-timeout: the upstream call is cancelled and answered 504 / UNAVAILABLE. */
  #headersTimedOut = (): void => {
    this.#headersTimer = undefined
    if (this.#terminal || this.#clientGone || this.#status !== 0) return
    this.#up?.close(NGHTTP2_CANCEL)
    this.#upstreamFailed(
      Object.assign(new Error(`no response headers within ${this.#h2.upstreamTimeoutMs} ms`), {
        code: 'UND_ERR_HEADERS_TIMEOUT',
      }),
    )
  }

  #onResponse(headers: http2.IncomingHttpHeaders, flags: number): void {
    clearTimeout(this.#headersTimer)
    this.#ctx.metrics.observeUpstream((performance.now() - this.#upstreamStart) / 1000)
    const status = Number(headers[':status'] ?? 0)
    // 1xx informational responses are not relayed (gRPC never sends them).
    if (status < 200) return
    this.#status = status
    this.#upTrailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0
    if (this.#clientGone || this.#terminal) return
    const out: http2.OutgoingHttpHeaders = {}
    for (const k in headers) if (k[0] !== ':' && !NOT_FORWARDED.has(k)) out[k] = headers[k]
    if (this.#candidates.length > 0) {
      const ctx = this.#ctx
      const rules = selectResponseRules(
        this.#candidates,
        status,
        headers as HeaderBag,
        this.headers,
        ctx.clock.now(),
        ctx.random,
        ctx.observer,
      )
      if (rules.length > 0) {
        this.#resHeaders = out
        // Holding the upstream's headers: its DATA waits in flow control meanwhile.
        this.#up!.pause()
        this.#runFaults(rules, 'response').then(() => this.#guard(this.#startBody), this.#internalError)
        return
      }
    }
    this.#resHeaders = out
    this.#startBody()
  }

  #startBody = (): void => {
    const up = this.#up!
    if (this.#terminal || this.#clientGone) return
    const stream = this.#stream
    if (stream.destroyed) return
    const h = this.#resHeaders!
    h[':status'] = this.#status
    const marker = this.#marker()
    if (marker) h[FAULT_HEADER] = marker
    if (this.#upTrailersOnly) {
      // Kept trailers-only: the status travels in these headers, so rewrites land here.
      Object.assign(h, this.#trailerEdits)
      stream.respond(h, { endStream: true })
      return
    }
    if (this.#responseBody) {
      h['content-length'] = this.#responseBody.length
      delete h['content-encoding']
      up.close(NGHTTP2_CANCEL)
      stream.respond(h, {})
      stream.end(this.#responseBody)
      return
    }
    stream.respond(h, { waitForTrailers: true })
    stream.once('wantTrailers', () => this.#guard(this.#sendTrailers))
    if (this.#resetAfterHeaders !== undefined) {
      this.resetStream(this.#resetAfterHeaders, false)
      return
    }
    if (this.#bps) {
      up.on('data', this.#enqueue)
      up.once('end', () => {
        this.#upEnded = true
        this.#pump()
      })
      up.resume()
    } else up.pipe(stream)
  }

  #sendTrailers = (): void => {
    const stream = this.#stream
    if (stream.destroyed) return
    const t: http2.OutgoingHttpHeaders = {}
    const src = this.#upTrailers
    if (src) for (const k in src) if (k[0] !== ':') t[k] = src[k]
    Object.assign(t, this.#trailerEdits)
    // With no trailers Node ends the stream with an empty DATA frame (END_STREAM).
    stream.sendTrailers(t)
  }

  // ── throttle (per stream: trailers only after the body drains) ───────────────

  #enqueue = (chunk: Buffer): void => {
    this.#queue.push(chunk)
    this.#queued += chunk.length
    // Up to about a second of bytes waits here; beyond it, upstream flow control pushes back.
    if (this.#queued > this.#bps) this.#up?.pause()
    if (!this.#pumpTimer) this.#pump()
  }

  #pump = (): void =>
    this.#guard(() => {
      this.#pumpTimer = undefined
      if (this.#clientGone || this.#stream.destroyed) return
      const head = this.#queue[0]
      if (head === undefined) {
        if (this.#upEnded) this.#stream.end()
        return
      }
      const now = performance.now()
      if (this.#nextWriteAt < now) this.#nextWriteAt = now
      const sliceBytes = Math.max(1, Math.floor(this.#bps / 20))
      const slice = head.length <= sliceBytes ? head : head.subarray(0, sliceBytes)
      if (slice === head) this.#queue.shift()
      else this.#queue[0] = head.subarray(sliceBytes)
      this.#queued -= slice.length
      this.#stream.write(slice)
      if (this.#queued <= this.#bps) this.#up?.resume()
      this.#nextWriteAt += (slice.length * 1000) / this.#bps
      this.#pumpTimer = setTimeout(this.#pump, Math.max(0, this.#nextWriteAt - performance.now()))
    })

  // ── upstream failures and resets ─────────────────────────────────────────────

  #onUpstreamError(err: Error & { code?: string }): void {
    if (this.#terminal || this.#clientGone) return
    // An RST_STREAM from the upstream: the same code goes to the client, unchanged.
    if (err.code === 'ERR_HTTP2_STREAM_ERROR') return this.#passReset()
    // A stream cancelled because its session failed (connect refused, TLS): the session's error says why.
    const cause = (err as { cause?: Error & { code?: string } }).cause
    this.#upstreamFailed(err.code === 'ERR_HTTP2_STREAM_CANCEL' && cause ? cause : err)
  }

  #onUpstreamClose = (): void => {
    if (this.#terminal || this.#clientGone || this.#stream.destroyed) return
    const up = this.#up!
    const code = up.rstCode ?? NGHTTP2_NO_ERROR
    // A clean end was relayed already; a reset before the end is passed through.
    if (code !== NGHTTP2_NO_ERROR || (!this.#stream.headersSent && this.#status === 0)) {
      if (!this.#stream.headersSent && this.#status === 0 && code === NGHTTP2_NO_ERROR)
        return this.#upstreamFailed(new Error('upstream closed the stream without a response'))
      this.#passReset()
    }
  }

  #passReset(): void {
    const code = this.#up?.rstCode ?? NGHTTP2_INTERNAL_ERROR
    this.#terminal = true
    if (this.grpc && this.#grpcStatus === undefined) this.#grpcStatus = rstToGrpc(code)
    this.#cut = true
    if (!this.#stream.destroyed) this.#stream.close(code)
  }

  #upstreamFailed(err: Error & { code?: string }): void {
    this.#failed = true
    this.#ctx.log.warn({ err: { message: err.message, code: err.code } }, 'upstream request failed')
    const stream = this.#stream
    if (stream.headersSent || stream.destroyed) {
      this.#cut = true
      this.#terminal = true
      if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR)
      return
    }
    const e = upstreamError(err)
    // Envoy's mapping for a gRPC client: an unreachable or timed-out upstream (503/504) is UNAVAILABLE.
    if (this.grpc) this.respondGrpc(14, e.message, undefined)
    else this.#sendError(e)
  }

  #sendError(e: FaultlineError): void {
    this.#terminal = true
    const stream = this.#stream
    const body = Buffer.from(JSON.stringify(e.toJSON()))
    stream.respond({
      ':status': e.statusCode,
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
    })
    stream.end(body)
    this.#status = e.statusCode
    this.#stopReading()
  }

  #cancelUpstream(): void {
    const up = this.#up
    if (up && !up.destroyed) up.close(NGHTTP2_CANCEL)
  }

  #guard(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#internalError(err)
    }
  }

  #internalError = (err: unknown): void => {
    if (this.#broken) return
    this.#broken = true
    this.#failed = true
    this.#terminal = true
    this.#ctx.exchangeFailed(err)
    this.#cancelUpstream()
    const stream = this.#stream
    try {
      if (!stream.headersSent && !stream.destroyed && !this.#clientGone) {
        const e = errors.FL_ERR_INTERNAL('the sidecar failed handling this request', { cause: err })
        if (this.grpc) this.respondGrpc(13, e.message, undefined)
        else this.#sendError(e)
        return
      }
    } catch (sendErr) {
      this.#ctx.log.debug({ err: sendErr }, 'could not answer the failed stream; resetting it')
    }
    this.#cut = true
    if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR)
  }

  // ── client side events and accounting ───────────────────────────────────────

  /** A stream error (a peer's RST with an error code, a protocol error): ends this stream only. */
  #onStreamError = (err: Error & { code?: string }): void => {
    this.#ctx.log.debug({ err: { message: err.message, code: err.code } }, 'client stream error')
  }

  /** The client reset the stream (cancel, deadline) or its connection went: cancel what we hold and the upstream call. */
  #onAborted = (): void => {
    if (this.#terminal) return
    this.#clientGone = true
    this.#cancelWait?.()
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer)
    const up = this.#up
    if (up && !up.destroyed) {
      const code = this.#stream.rstCode
      up.close(code === undefined || code === NGHTTP2_NO_ERROR ? NGHTTP2_CANCEL : code)
    }
    if (this.#held) this.#skip('client_gone')
  }

  #onClose = (): void => {
    try {
      this.#account()
    } catch (err) {
      this.#ctx.exchangeFailed(err)
    }
  }

  #account(): void {
    const stream = this.#stream
    if (!this.#terminal && !this.#clientGone && !stream.writableFinished) this.#onAborted()
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer)
    clearTimeout(this.#headersTimer)
    this.#cancelWait?.()
    this.#cancelUpstream()
    const ctx = this.#ctx
    const elapsedMs = performance.now() - this.#start
    const code = this.#cut ? 0 : this.#clientGone ? 499 : this.#status
    let error: boolean
    let label: string | undefined
    if (this.grpc) {
      const status =
        this.#grpcStatus ??
        (this.#clientGone
          ? 1
          : (grpcStatusOf(stream.sentTrailers as HeaderBag) ?? grpcStatusOf(stream.sentHeaders as HeaderBag) ?? 2))
      label = grpcCodeLabel(status)
      error = this.#failed || this.#h2.grpcErrorCodes.has(status)
    } else error = code === 0 || code >= 500 || this.#failed
    const held = this.#held
    // A JSON patch still waiting here never saw its body (another fault answered first).
    if (held?.hasPending) held.settle('patch_not_json')
    ctx.stats.record(elapsedMs * 1000, held?.faulted ?? false, error)
    ctx.metrics.observeRequest(this.method, code, held?.label ?? 'none', elapsedMs / 1000, label)
    held?.release()
  }
}
