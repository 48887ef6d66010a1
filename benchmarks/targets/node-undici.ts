/**
 * The Node floor: the least a Node proxy can do. `http.createServer` in front, one keep-alive
 * `undici.Pool` behind, each request forwarded with `pool.dispatch()` and streamed both ways
 * (request body piped by undici, response chunks written as they come, with backpressure). No
 * framework, no rules, no statistics: what is left is Node's HTTP server and undici.
 *
 *   node benchmarks/targets/node-undici.ts http://127.0.0.1:PORT [LISTEN_PORT]   # prints {"url": ...}
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Dispatcher, Pool } from 'undici'

// RFC 9110 §7.6.1: these describe one connection, not the message, so they are not forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
])

function strip(src: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const k in src) {
    const v = src[k]
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v
  }
  return out
}

/** One request's undici handler: writes the upstream response into the client's response. */
class Forward implements Dispatcher.DispatchHandler {
  #res: ServerResponse
  #controller: Dispatcher.DispatchController | undefined
  #clientGone = false

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#res = res
    // A client that leaves early frees the upstream connection instead of reading a body no one wants.
    res.once('close', () => {
      if (res.writableFinished) return
      this.#clientGone = true
      this.#controller?.abort(new Error('client went away'))
    })
    req.once('error', () => this.#controller?.abort(new Error('client request failed')))
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#clientGone) controller.abort(new Error('client went away'))
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: http.IncomingHttpHeaders): void {
    this.#res.writeHead(statusCode, strip(headers))
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk) && !controller.paused) {
      controller.pause()
      this.#res.once('drain', () => controller.resume())
    }
  }

  onResponseEnd(): void {
    this.#res.end()
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.#clientGone) return
    if (this.#res.headersSent) {
      // The status line is out: the only honest signal left is a cut connection.
      this.#res.destroy(err)
      return
    }
    const body = JSON.stringify({ error: 'upstream failed', message: err.message })
    this.#res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    this.#res.end(body)
  }
}

const upstream = new URL(process.argv[2]!)
// The same pool shape as the sidecar's (sidecar/build.ts): keep-alive, up to 256 connections.
const pool = new Pool(upstream.origin, { connections: 256, keepAliveTimeout: 30_000 })

const server = http.createServer((req, res) => {
  const bodyless = req.method === 'GET' || req.method === 'HEAD'
  pool.dispatch(
    {
      method: req.method as Dispatcher.HttpMethod,
      path: req.url!,
      headers: strip(req.headers),
      body: bodyless ? null : req,
    },
    new Forward(req, res),
  )
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }) + '\n')
})
