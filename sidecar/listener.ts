/**
 * The sidecar's listeners. `httpListener` wraps a plain node:http server (the admin port): listen
 * on a HostPort (port 0 allowed) and resolve to its base URL, and close (stop accepting, let what
 * is in flight finish). The sidecar runs on node:http directly, without fastify: the data path
 * never needed a router, and fastify alone costs ~25 MB of RSS in every injected pod.
 *
 * `proxyPortListener` is the proxy port, one port for every protocol: a front server accepts
 * each connection and hands it to the HTTP/1.1 server or the HTTP/2 server. Plaintext: by the
 * connection preface (`PRI * HTTP/2.0...`, h2c with prior knowledge); TLS: by ALPN (`h2`,
 * `http/1.1`, or none = HTTP/1.1). Neither inner server listens itself. The choice is made once
 * per connection, so the HTTP/1.1 request path is exactly what it was.
 */
import type http from 'node:http'
import type http2 from 'node:http2'
import net, { type AddressInfo } from 'node:net'
import tls from 'node:tls'
import type { HostPort } from '../src/config.ts'
import type { Logger } from '../src/log.ts'

export interface HttpListener {
  /** The HTTP/1.1 server (the one that handles requests; on the proxy port it does not listen itself). */
  readonly server: http.Server
  /** Resolves to `http://host:port` (or `https://`) once listening. */
  listen(on: HostPort): Promise<string>
  close(): Promise<void>
}

function listenOn(front: net.Server, on: HostPort, scheme: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(err)
    front.once('error', fail)
    front.listen(on.port, on.host, () => {
      front.off('error', fail)
      const a = front.address() as AddressInfo
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
      resolve(`${scheme}://${host}:${a.port}`)
    })
  })
}

function closeFront(front: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!front.listening) return resolve()
    front.close((err) => (err ? reject(err) : resolve()))
  })
}

export function httpListener(server: http.Server): HttpListener {
  return { server, listen: (on) => listenOn(server, on, 'http'), close: () => closeFront(server) }
}

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

/** How long a new plaintext connection may stay silent before its protocol is known. */
const SNIFF_TIMEOUT_MS = 65_000

export interface ProxyPortOptions {
  h1: http.Server
  h2: http2.Http2Server
  /** PEM certificate and key: the port serves TLS, ALPN h2 + http/1.1. */
  tls?: { cert: string | Buffer; key: string | Buffer }
  log: Logger
}

/**
 * Reads just enough of a plaintext connection to tell HTTP/2's preface from an HTTP/1.1 request
 * line (they differ by the 4th byte at the latest), puts the bytes back and hands the socket on.
 */
function sniff(socket: net.Socket, h1: http.Server, h2: http2.Http2Server, log: Logger): void {
  let seen: Buffer = Buffer.alloc(0)
  const onError = (err: Error & { code?: string }) => {
    log.debug({ err: { message: err.message, code: err.code } }, 'connection failed before its first request')
  }
  const done = (to: 'h1' | 'h2' | 'none') => {
    socket.off('data', onData)
    socket.off('error', onError)
    socket.setTimeout(0)
    socket.off('timeout', onTimeout)
    if (to === 'none') return
    socket.pause()
    if (seen.length) socket.unshift(seen)
    if (to === 'h2') {
      // node:http2 reads the bytes put back here on its 'connect' tick, then takes the handle.
      h2.emit('connection', socket)
      return
    }
    h1.emit('connection', socket)
    // The HTTP/1.1 server takes the handle's future reads directly; the bytes read here are
    // replayed through 'data' on resume, which runs (nextTick) before any further read.
    socket.resume()
  }
  const onData = (chunk: Buffer) => {
    seen = seen.length ? Buffer.concat([seen, chunk]) : chunk
    const n = Math.min(seen.length, PREFACE.length)
    if (seen.subarray(0, n).equals(PREFACE.subarray(0, n))) {
      if (n === PREFACE.length) done('h2')
      return
    }
    done('h1')
  }
  const onTimeout = () => {
    done('none')
    socket.destroy()
  }
  socket.on('data', onData)
  socket.on('error', onError)
  socket.setTimeout(SNIFF_TIMEOUT_MS)
  socket.once('timeout', onTimeout)
}

export function proxyPortListener(opts: ProxyPortOptions): HttpListener {
  const { h1, h2, log } = opts
  let front: net.Server
  if (opts.tls) {
    front = tls.createServer({ cert: opts.tls.cert, key: opts.tls.key, ALPNProtocols: ['h2', 'http/1.1'] })
    front.on('secureConnection', (socket: tls.TLSSocket) => {
      ;(socket.alpnProtocol === 'h2' ? h2 : h1).emit('connection', socket)
    })
    front.on('tlsClientError', (err: Error & { code?: string }) => {
      log.debug({ err: { message: err.message, code: err.code } }, 'TLS handshake failed')
    })
  } else front = net.createServer((socket) => sniff(socket, h1, h2, log))
  return {
    server: h1,
    async listen(on) {
      const url = await listenOn(front, on, opts.tls ? 'https' : 'http')
      // The inner HTTP/1.1 server tracks connections (request/header timeouts, closeIdleConnections)
      // from its 'listening' event on; it never listens itself, so it is told here.
      h1.emit('listening')
      return url
    },
    async close() {
      // The front server's close waits for every connection it accepted, whoever serves it.
      const closed = closeFront(front)
      const notRunning = (what: string) => (err?: Error) => {
        if (err && (err as { code?: string }).code !== 'ERR_SERVER_NOT_RUNNING')
          log.warn({ err }, `closing the ${what} server failed`)
      }
      // Neither inner server listens, but their close() still ends idle HTTP/1.1 connections and
      // sends GOAWAY to every HTTP/2 session, so in-flight streams finish and the front can close.
      h1.close(notRunning('HTTP/1.1'))
      h2.close(notRunning('HTTP/2'))
      await closed
    },
  }
}
