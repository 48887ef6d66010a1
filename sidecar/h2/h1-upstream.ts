/**
 * `--upstream-protocol http1`: HTTP/2 client streams sent upstream over HTTP/1.1 (the shared
 * undici Pool). The adapter looks to an H2Exchange like the node:http2 client stream it would
 * otherwise get ('response' with `:status`, data with backpressure, 'trailers', close(code)),
 * so the exchange has one relay. HTTP/1.1 has no stream reset: close(code) aborts the request
 * and cuts its connection, and an upstream failure surfaces as an 'error' with undici's code.
 */
import type http2 from 'node:http2'
import { Duplex, PassThrough } from 'node:stream'
import type { Dispatcher } from 'undici'

/** Hop-by-hop or HTTP/2-only request fields that must not be sent over HTTP/1.1. */
const DROP = new Set([':method', ':path', ':scheme', ':authority', 'te', 'connection', 'keep-alive', 'upgrade'])

export interface H2Upstream {
  request(headers: http2.OutgoingHttpHeaders, options: { endStream: boolean }): http2.ClientHttp2Stream
}

class H1UpstreamStream extends Duplex implements Dispatcher.DispatchHandler {
  rstCode: number | undefined
  readonly #body: PassThrough | undefined
  #controller: Dispatcher.DispatchController | undefined

  constructor(pool: Dispatcher, headers: http2.OutgoingHttpHeaders, endStream: boolean) {
    super()
    const out: Record<string, string | string[]> = {}
    for (const k in headers) {
      const v = headers[k]
      if (v === undefined || DROP.has(k)) continue
      out[k] = Array.isArray(v) ? v.map(String) : String(v)
    }
    if (headers[':authority']) out.host = String(headers[':authority'])
    this.#body = endStream ? undefined : new PassThrough()
    if (endStream) this.end()
    pool.dispatch(
      {
        path: String(headers[':path'] ?? '/'),
        method: String(headers[':method'] ?? 'GET') as Dispatcher.HttpMethod,
        headers: out,
        body: this.#body ?? null,
      },
      this,
    )
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.#body || this.#body.write(chunk)) cb()
    else this.#body.once('drain', () => cb())
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#body?.end()
    cb()
  }

  override _read(): void {
    if (this.#controller?.paused) this.#controller.resume()
  }

  /** Like ClientHttp2Stream.close: there is no RST on HTTP/1.1, so the request is aborted. */
  close(code?: number): void {
    this.rstCode = code
    this.#controller?.abort(new Error('stream closed by the sidecar'))
    this.destroy()
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.destroyed) controller.abort(new Error('stream closed by the sidecar'))
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    const h: Record<string, unknown> = { ':status': status }
    for (const k in headers)
      if (k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') h[k] = headers[k]
    this.emit('response', h, 0)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.push(chunk)) controller.pause()
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    if (trailers && Object.keys(trailers).length > 0) this.emit('trailers', trailers, 0)
    this.push(null)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.destroy(err)
  }
}

/** An H2Upstream over an HTTP/1.1 dispatcher. */
export function h1Upstream(pool: Dispatcher): H2Upstream {
  return {
    request: (headers, options) =>
      new H1UpstreamStream(pool, headers, options.endStream) as unknown as http2.ClientHttp2Stream,
  }
}
