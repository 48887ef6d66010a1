/**
 * One client request through the sidecar. The Exchange is at once the undici dispatch handler
 * for the upstream call and the FaultOps that fault kinds act through, so a request costs one
 * object. HOT PATH: the unfaulted route (start -> forward -> pass-through) allocates the
 * upstream header object and nothing else of ours.
 *
 *   client ─▶ start ─▶ [request faults] ─▶ forward ─▶ upstream
 *   client ◀─ emit  ◀─ [response faults] ◀─ onResponseStart/Data/End ◀─┘
 *
 * All accounting (stats, metrics, maxActive release) happens once, in onClose, which Node fires
 * for every response whether it finished, was cut by a fault, or the client left.
 *
 * Nothing thrown here may reach the process: every entry point (start, the undici callbacks,
 * promise continuations, timers, close) runs under a guard that ends this one exchange with a
 * 500 FL_ERR_INTERNAL (or a reset once headers are out), counted and logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { rewriteJsonBody } from '../src/body-codec.ts'
import { FAULT_HEADER } from '../src/constants.ts'
import { errors, type FaultlineError } from '../src/errors.ts'
import type { FaultOps, JsonTransform, Phase, TargetRewrite } from '../src/faults/types.ts'
import type { CompiledRule, HeaderBag, RequestView } from '../src/rules/compile.ts'
import {
  NO_RULES,
  responseCandidates,
  type SkipReason,
  selectRequestRules,
  selectResponseRules,
} from '../src/rules/match.ts'
import { clientResponseHeaders, hasRequestBody, upstreamRequestHeaders } from './headers.ts'
import { matchPath } from '../src/rules/request-path.ts'
import { HeldRules } from './held-rules.ts'
import type { ProxyContext } from './proxy-context.ts'

/**
 * pass: stream the upstream body; buffer: collect it for a JSON patch; discard: a fault already
 * answered; hold: response faults are still running, so chunks and the end wait for them.
 */
type BodyMode = 'pass' | 'buffer' | 'discard' | 'hold'

/** Statuses whose responses never carry a body (RFC 9110 §6.4.1). */
function bodyless(status: number): boolean {
  return status === 204 || status === 304
}

function stripBodyHeaders(headers: Record<string, unknown>): void {
  delete headers['content-length']
  delete headers['transfer-encoding']
}

type Controller = Dispatcher.DispatchController

export class Exchange implements FaultOps, RequestView, Dispatcher.DispatchHandler {
  readonly method: string
  /** The normal form rules match (request-path.ts); `#rawPath` is what is forwarded. */
  readonly path: string
  readonly query: string
  readonly headers: HeaderBag
  phase: Phase = 'request'

  readonly #ctx: ProxyContext
  readonly #req: IncomingMessage
  readonly #res: ServerResponse
  readonly #start: number
  readonly #rawPath: string
  #upstreamStart = 0
  #controller: Controller | undefined

  #candidates: readonly CompiledRule[] = NO_RULES
  #held: HeldRules | undefined

  /** A fault ended the exchange (local reply, reset or close). */
  #terminal = false
  /** The connection was cut on purpose or after a failure: counts as an error with code 0. */
  #cut = false
  #clientGone = false
  #failed = false
  /** Handling failed inside the sidecar (not the upstream's fault): answered once, with a 500 or a reset. */
  #broken = false
  #cancelWait: (() => void) | undefined

  // Request-phase edits
  #outHeaders: Record<string, string | string[]> | undefined
  #target: TargetRewrite | undefined
  #extraQuery: string | undefined
  #requestBody: Buffer | undefined
  #requestTransforms: JsonTransform[] | undefined

  // Response state
  #status = 0
  #upstreamStatus = 0
  #resHeaders: HeaderBag | undefined
  #responseBody: Buffer | undefined
  #responseTransforms: JsonTransform[] | undefined
  #mode: BodyMode = 'pass'
  /** Upstream chunks that arrived while response faults ran (mode 'hold'). */
  #pending: Buffer[] | undefined
  #upstreamDone = false
  #buffered: Buffer[] | undefined
  #bufferedBytes = 0
  #onDrain: (() => void) | undefined

  // Throttle state
  #bps = 0
  #queue: Buffer[] | undefined
  #pumping = false
  #endPending = false
  #nextWriteAt = 0
  #pumpTimer: NodeJS.Timeout | undefined

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse) {
    this.#ctx = ctx
    this.#req = req
    this.#res = res
    this.#start = performance.now()
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    this.#rawPath = q < 0 ? url : url.slice(0, q)
    this.path = matchPath(this.#rawPath)
    this.query = q < 0 ? '' : url.slice(q + 1)
    this.method = req.method ?? 'GET'
    this.headers = req.headers
    res.once('close', this.#onClose)
  }

  /** HOT PATH entry. */
  start(): void {
    try {
      this.#begin()
    } catch (err) {
      this.#internalError(err)
    }
  }

  #begin(): void {
    const ctx = this.#ctx
    const snap = ctx.store.snapshot
    const headerRules = ctx.headerFaults?.(this.headers)
    if (snap.rules.length === 0 && headerRules === undefined) {
      this.#forward()
      return
    }
    const now = ctx.clock.now()
    const health = ctx.healthPaths.has(this.path)
    let rules = selectRequestRules(snap, this, now, health, ctx.random, ctx.observer)
    this.#candidates = responseCandidates(snap, this, now, health)
    if (headerRules) {
      if (headerRules.request) rules = [...rules, headerRules.request]
      if (headerRules.response) this.#candidates = [...this.#candidates, headerRules.response]
    }
    if (rules.length === 0) {
      this.#forward()
      return
    }
    this.#runFaults(rules, 'request').then(this.#forwardGuarded, this.#internalError)
  }

  #forwardGuarded = (): void => this.#guard(this.#forward)

  // ── fault execution ──────────────────────────────────────────────────────────

  async #runFaults(rules: readonly CompiledRule[], phase: Phase): Promise<void> {
    this.phase = phase
    // Hold every admitted rule before the first await, so maxActive is exact.
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

  #marker(): string | undefined {
    return this.#held?.marker()
  }

  /**
   * Sets the `x-faultline-fault` header when a fault touched the exchange; otherwise the app's
   * own (a sidecar further down the call chain may have set it) passes as it came.
   */
  #mark(headers: Record<string, unknown>): void {
    const marker = this.#marker()
    if (marker) headers[FAULT_HEADER] = marker
  }

  // ── FaultOps ─────────────────────────────────────────────────────────────────

  random(): number {
    return this.#ctx.random()
  }

  wait(ms: number): Promise<boolean> {
    if (this.#clientGone) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#cancelWait = undefined
        resolve(!this.#clientGone)
      }, ms)
      this.#cancelWait = () => {
        clearTimeout(timer)
        this.#cancelWait = undefined
        resolve(false)
      }
    })
  }

  respond(status: number, headers: Readonly<Record<string, string>>, body: Buffer): void {
    this.#terminal = true
    this.#mode = 'discard'
    const res = this.#res
    if (res.headersSent || this.#clientGone) return
    const marker = this.#marker() ?? ''
    if (bodyless(status)) {
      res.writeHead(status, { ...headers, [FAULT_HEADER]: marker })
      res.end()
      return
    }
    res.writeHead(status, { ...headers, 'content-length': body.length, [FAULT_HEADER]: marker })
    res.end(body)
  }

  reset(): void {
    this.#cutConnection(true)
  }

  close(): void {
    this.#cutConnection(false)
  }

  #cutConnection(reset: boolean): void {
    this.#terminal = true
    this.#cut = true
    this.#mode = 'discard'
    this.#controller?.abort(new Error('connection cut by fault'))
    // The request's own reference is dropped once its body has been read (a POST that reached
    // the upstream): the response holds the same socket until it is finished.
    const socket = this.#res.socket ?? this.#req.socket
    if (!socket) this.#res.destroy()
    else if (reset && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
    else socket.destroy()
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
    h[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }

  setBody(body: Buffer): void {
    if (this.phase === 'request') this.#requestBody = body
    else this.#responseBody = body
  }

  transformJson(fn: JsonTransform): void {
    this.#held?.deferred()
    if (this.phase === 'request') (this.#requestTransforms ??= []).push(fn)
    else (this.#responseTransforms ??= []).push(fn)
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

  #requestHeaders(): Record<string, string | string[]> {
    return (this.#outHeaders ??= upstreamRequestHeaders(this.headers, this.#ctx.headerFaults !== undefined))
  }

  #responseHeaders(): HeaderBag {
    return (this.#resHeaders ??= {})
  }

  // ── forwarding ───────────────────────────────────────────────────────────────

  #forward = (): void => {
    if (this.#terminal || this.#clientGone) return
    const headers = this.#requestHeaders()
    let method = this.#target?.method ?? this.method
    let body: Dispatcher.DispatchOptions['body'] = hasRequestBody(this.headers) ? this.#req : null
    if (this.#requestBody) {
      body = this.#requestBody
      headers['content-length'] = String(this.#requestBody.length)
    } else if (this.#requestTransforms && body) {
      this.#bufferRequestBody().then((b) => this.#guard(() => this.#dispatch(method, headers, b)), this.#internalError)
      return
    }
    if (method === 'GET' || method === 'HEAD') {
      if (body !== null && this.#target?.method) {
        // The rewrite turned a request with a body into one that cannot carry it.
        body = null
        delete headers['content-length']
      }
    }
    method = method.toUpperCase()
    this.#dispatch(method, headers, body)
  }

  #dispatch(
    method: string,
    headers: Record<string, string | string[]>,
    body: Dispatcher.DispatchOptions['body'],
  ): void {
    if (this.#clientGone) return
    if (body instanceof Buffer) {
      headers['content-length'] = String(body.length)
      delete headers['transfer-encoding']
    }
    this.#upstreamStart = performance.now()
    try {
      this.#ctx.pool.dispatch({ path: this.#upstreamPath(), method, headers, body }, this)
    } catch (err) {
      this.#upstreamFailed(err as Error)
    }
  }

  #upstreamPath(): string {
    const t = this.#target
    if (!t && this.#extraQuery === undefined) return this.#req.url ?? '/'
    let query = this.query
    if (t?.query) query = new URLSearchParams(t.query).toString()
    if (this.#extraQuery) query = query ? `${query}&${this.#extraQuery}` : this.#extraQuery
    const path = t?.path ?? this.#rawPath
    return query ? `${path}?${query}` : path
  }

  /** Reads the request body for a JSON patch, up to the cap; beyond it, streams it on unchanged. */
  #bufferRequestBody(): Promise<Buffer | Readable> {
    const req = this.#req
    const cap = this.#ctx.maxBodyBytes
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      const onData = (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.length
        if (size <= cap) return
        req.pause()
        cleanup()
        this.#held?.settle('patch_too_large')
        resolve(
          Readable.from(
            (async function* () {
              yield* chunks
              for await (const c of req) yield c as Buffer
            })(),
          ),
        )
      }
      const onEnd = () => {
        cleanup()
        const all = Buffer.concat(chunks)
        rewriteJsonBody(all, req.headers['content-encoding'], this.#requestTransforms!, cap).then((out) => {
          this.#held?.settle(out.ok ? undefined : out.reason)
          resolve(out.ok ? out.body : all)
        }, reject)
      }
      const cleanup = () => {
        req.off('data', onData)
        req.off('end', onEnd)
        req.off('error', reject)
      }
      req.on('data', onData)
      req.on('end', onEnd)
      req.on('error', reject)
    })
  }

  // ── undici DispatchHandler ───────────────────────────────────────────────────

  onRequestStart(controller: Controller): void {
    this.#controller = controller
    if (this.#clientGone) controller.abort(new Error('client went away'))
  }

  onResponseStart(controller: Controller, statusCode: number, headers: HeaderBag): void {
    try {
      this.#responseStart(controller, statusCode, headers)
    } catch (err) {
      this.#internalError(err)
    }
  }

  #responseStart(controller: Controller, statusCode: number, headers: HeaderBag): void {
    this.#ctx.metrics.observeUpstream((performance.now() - this.#upstreamStart) / 1000)
    this.#status = this.#upstreamStatus = statusCode
    if (this.#clientGone) return
    const candidates = this.#candidates
    if (candidates.length > 0) {
      const ctx = this.#ctx
      const rules = selectResponseRules(
        candidates,
        statusCode,
        headers,
        this.headers,
        ctx.clock.now(),
        ctx.random,
        ctx.observer,
      )
      if (rules.length > 0) {
        this.#resHeaders = clientResponseHeaders(headers)
        // Pausing does not hold back the end of a bodyless response (HEAD, 204): 'hold' does.
        this.#mode = 'hold'
        controller.pause()
        this.#runFaults(rules, 'response').then(this.#afterResponseFaults, this.#internalError)
        return
      }
    }
    this.#resHeaders = headers
    this.#startBody(true)
  }

  #afterResponseFaults = (): void =>
    this.#guard(() => {
      this.#startBody()
      const pending = this.#pending
      this.#pending = undefined
      if (pending) for (const chunk of pending) this.#onData(chunk, this.#controller)
      if (this.#upstreamDone) this.#onEnd()
      else if (this.#controller && !this.#controller.aborted) this.#controller.resume()
    })

  /** Decides what happens to the upstream body once response faults (if any) have run. */
  #startBody(raw = false): void {
    if (this.#terminal || this.#clientGone) {
      this.#mode = 'discard'
      return
    }
    const headers = raw
      ? clientResponseHeaders(this.#resHeaders!)
      : (this.#resHeaders as Record<string, string | string[]>)
    const patching =
      this.#responseTransforms !== undefined && this.method !== 'HEAD' && !bodyless(this.#status) && !this.#responseBody
    // A JSON patch with no body to rewrite (HEAD, 204/304, a replaced body) did not take effect.
    if (!patching && this.#held?.hasPending) this.#held.settle('patch_not_json')
    this.#mark(headers)
    if (
      this.method !== 'HEAD' &&
      ((this.#target?.method ?? this.method) === 'HEAD' || bodyless(this.#upstreamStatus))
    ) {
      // The app sent no body (a rule turned the request into a HEAD, or it answered 204/304),
      // so any length it gave describes a body that will never come: a client told otherwise
      // (after a status rewrite) would wait for it forever.
      stripBodyHeaders(headers)
      headers['content-length'] = '0'
    }
    if (bodyless(this.#status)) {
      // Whatever the app or a fault said, a 204/304 carries no body and no length on the wire.
      stripBodyHeaders(headers)
      this.#mode = 'discard'
      this.#res.writeHead(this.#status, headers)
      this.#res.end()
    } else if (this.#responseBody) {
      this.#mode = 'discard'
      headers['content-length'] = String(this.#responseBody.length)
      delete headers['content-encoding']
      this.#res.writeHead(this.#status, headers)
      this.#emit(this.#responseBody)
      this.#finish()
    } else if (patching) {
      // (A HEAD response has no body to patch; its headers pass as the app sent them.)
      this.#mode = 'buffer'
      this.#buffered = []
      this.#resHeaders = headers
    } else {
      this.#mode = 'pass'
      this.#res.writeHead(this.#status, headers)
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    // HOT PATH: a pass-through chunk costs one branch more than a bare write.
    if (this.#mode === 'pass') {
      try {
        this.#emit(chunk, controller)
      } catch (err) {
        this.#internalError(err)
      }
      return
    }
    this.#guard(() => this.#onData(chunk, controller))
  }

  #onData(chunk: Buffer, controller: Controller | undefined): void {
    const mode = this.#mode
    if (mode === 'pass') {
      this.#emit(chunk, controller)
      return
    }
    if (mode === 'discard') return
    if (mode === 'hold') {
      ;(this.#pending ??= []).push(chunk)
      return
    }
    this.#buffered!.push(chunk)
    this.#bufferedBytes += chunk.length
    if (this.#bufferedBytes > this.#ctx.maxBodyBytes) {
      // Fail open: too big to patch, so the client gets the original, unmodified.
      this.#held?.settle('patch_too_large')
      this.#mode = 'pass'
      const headers = this.#resHeaders as Record<string, string | string[]>
      this.#mark(headers)
      this.#res.writeHead(this.#status, headers)
      for (const c of this.#buffered!) this.#emit(c, controller)
      this.#buffered = undefined
    }
  }

  onResponseEnd(): void {
    this.#guard(this.#onEnd)
  }

  #onEnd = (): void => {
    if (this.#mode === 'discard' || this.#clientGone) return
    if (this.#mode === 'hold') {
      this.#upstreamDone = true
      return
    }
    if (this.#mode === 'buffer') {
      this.#mode = 'discard'
      const headers = this.#resHeaders as Record<string, string | string[]>
      const original = Buffer.concat(this.#buffered!)
      this.#buffered = undefined
      const encoding = headers['content-encoding'] as string | undefined
      rewriteJsonBody(original, encoding, this.#responseTransforms!, this.#ctx.maxBodyBytes).then(
        (out) =>
          this.#guard(() => {
            if (this.#clientGone) return
            this.#held?.settle(out.ok ? undefined : out.reason)
            this.#mark(headers)
            const body = out.ok ? out.body : original
            headers['content-length'] = String(body.length)
            this.#res.writeHead(this.#status, headers)
            this.#emit(body)
            this.#finish()
          }),
        this.#internalError,
      )
      return
    }
    this.#finish()
  }

  onResponseError(_controller: Controller, err: Error): void {
    if (this.#clientGone || this.#terminal) return
    this.#upstreamFailed(err)
  }

  #upstreamFailed(err: Error): void {
    const res = this.#res
    this.#failed = true
    this.#ctx.log.warn(
      { err: { message: err.message, code: (err as { code?: string }).code } },
      'upstream request failed',
    )
    if (res.headersSent) {
      // Too late for a status: cutting the connection is the only honest signal left.
      this.#cut = true
      res.destroy()
      return
    }
    this.#sendError(upstreamError(err))
  }

  /** Runs `fn`; anything it throws ends this exchange, never the process. */
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
    this.#mode = 'discard'
    this.#ctx.exchangeFailed(err)
    if (this.#controller && !this.#controller.aborted) this.#controller.abort(new Error('exchange failed'))
    const res = this.#res
    if (!res.headersSent && !this.#clientGone) {
      try {
        this.#sendError(errors.FL_ERR_INTERNAL('the sidecar failed handling this request', { cause: err }))
        return
      } catch (sendErr) {
        // The response object itself is broken: a reset is the only answer left.
        this.#ctx.log.debug({ err: sendErr }, 'could not send the 500; resetting the connection')
      }
    }
    this.#cut = true
    res.destroy()
  }

  #sendError(e: FaultlineError): void {
    const body = JSON.stringify(e.toJSON())
    this.#res.writeHead(e.statusCode, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    })
    this.#res.end(body)
  }

  // ── output with backpressure and throttling ──────────────────────────────────

  #emit(chunk: Buffer, controller?: Controller): void {
    if (this.#bps) {
      this.#enqueue(chunk, controller)
      return
    }
    if (!this.#res.write(chunk) && controller && !controller.paused) {
      controller.pause()
      this.#res.once('drain', (this.#onDrain ??= () => controller.resume()))
    }
  }

  #finish(): void {
    if (this.#pumping) this.#endPending = true
    else this.#res.end()
  }

  #enqueue(chunk: Buffer, controller?: Controller): void {
    ;(this.#queue ??= []).push(chunk)
    if (controller) this.#controller = controller
    this.#controller?.pause()
    if (!this.#pumping) {
      this.#pumping = true
      this.#nextWriteAt = performance.now()
      this.#pump()
    }
  }

  /** Writes the queue in slices of ~50 ms worth of bytes, each at its scheduled time. */
  #pump = (): void => this.#guard(this.#pumpOnce)

  #pumpOnce = (): void => {
    this.#pumpTimer = undefined
    const queue = this.#queue!
    if (this.#clientGone) return
    const head = queue[0]
    if (head === undefined) {
      this.#pumping = false
      if (this.#endPending) this.#res.end()
      else if (this.#controller && !this.#controller.aborted) this.#controller.resume()
      return
    }
    const sliceBytes = Math.max(1, Math.floor(this.#bps / 20))
    const slice = head.length <= sliceBytes ? head : head.subarray(0, sliceBytes)
    if (slice === head) queue.shift()
    else queue[0] = head.subarray(sliceBytes)
    this.#res.write(slice)
    this.#nextWriteAt += (slice.length * 1000) / this.#bps
    this.#pumpTimer = setTimeout(this.#pump, Math.max(0, this.#nextWriteAt - performance.now()))
  }

  // ── accounting ───────────────────────────────────────────────────────────────

  #onClose = (): void => {
    try {
      this.#account()
    } catch (err) {
      // Accounting runs after the response is over: nothing left to answer, so log and count.
      this.#ctx.exchangeFailed(err)
    }
  }

  #account(): void {
    const res = this.#res
    if (!res.writableFinished && !this.#cut && !this.#failed) {
      this.#clientGone = true
      this.#cancelWait?.()
      this.#controller?.abort(new Error('client went away'))
      if (this.#held) this.#skip('client_gone')
    }
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer)
    const ctx = this.#ctx
    const elapsedMs = performance.now() - this.#start
    const code = this.#cut ? 0 : this.#clientGone ? 499 : res.statusCode
    const error = code === 0 || code >= 500 || this.#failed
    const held = this.#held
    // A JSON patch still waiting here never saw its body (another fault answered first).
    if (held?.hasPending) held.settle('patch_not_json')
    ctx.stats.record(elapsedMs * 1000, held?.faulted ?? false, error)
    ctx.metrics.observeRequest(this.method, code, held?.label ?? 'none', elapsedMs / 1000)
    held?.release()
  }
}

/** Maps an undici failure to the status a client should see (one place for the mapping). */
export function upstreamError(err: Error): FaultlineError {
  const code = (err as { code?: string }).code ?? ''
  const detail = `${code || err.name}: ${err.message}`
  if (
    [
      'ECONNREFUSED',
      'ENOTFOUND',
      'EAI_AGAIN',
      'EHOSTUNREACH',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_DESTROYED',
      'UND_ERR_CLOSED',
    ].includes(code)
  )
    return errors.FL_ERR_UPSTREAM_UNAVAILABLE(detail, { cause: err })
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return errors.FL_ERR_UPSTREAM_TIMEOUT(detail, { cause: err })
  return errors.FL_ERR_UPSTREAM_BAD_RESPONSE(detail, { cause: err })
}
