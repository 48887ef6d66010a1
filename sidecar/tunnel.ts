/**
 * Raw pass-through tunnels for what cannot go through an Exchange:
 * - HTTP/1.1 Upgrade (WebSocket and others): the handshake is replayed to the upstream and the
 *   two sockets are joined, so any subprotocol works unchanged.
 * - Requests whose method Node's HTTP parser does not know (`BREW`, vendor extensions). A proxy
 *   must forward every token method the app may speak; Node answers those with a parse error, so
 *   the connection's bytes from that request on are replayed to the upstream unparsed. Such a
 *   connection gets no faults (no rule can see its requests) and is counted once, as `OTHER`.
 * Header-driven fault headers (`x-faultline-*`) are stripped from the replayed head when header
 * faults are enabled, exactly as for proxied requests.
 */
import type { IncomingMessage } from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { HEADER_FAULT_PREFIX } from '../src/constants.ts'
import type { Logger } from '../src/log.ts'
import type { SidecarMetrics } from '../src/metrics.ts'

export interface TunnelContext {
  upstream: URL
  log: Logger
  metrics: SidecarMetrics
  /** Strip `x-faultline-*` request headers (header faults are on). */
  stripFaultHeaders: boolean
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Joins `client` to a new upstream connection after writing `head` to it. */
function tunnel(client: Duplex, head: Buffer, ctx: TunnelContext, onUpstreamClose?: (firstBytes: string) => void) {
  const conn = net.connect({ host: ctx.upstream.hostname, port: Number(ctx.upstream.port || 80) })
  let first = ''
  const fail = (err: Error) => {
    ctx.log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'tunnel to upstream failed')
    if (!conn.destroyed) conn.destroy()
    if (client.writable && conn.bytesRead === 0)
      client.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
    else client.destroy()
  }
  conn.once('error', fail)
  client.once('error', (err) => {
    ctx.log.debug({ err: { message: err.message } }, 'tunnel client connection failed')
    conn.destroy()
  })
  if (onUpstreamClose) conn.once('data', (chunk: Buffer) => (first = chunk.subarray(0, 32).toString('latin1')))
  conn.once('connect', () => {
    conn.write(head)
    conn.pipe(client)
    client.pipe(conn)
  })
  conn.once('close', () => {
    client.destroy()
    onUpstreamClose?.(first)
  })
  client.once('close', () => conn.destroy())
}

function isFaultHeader(name: string): boolean {
  return name.toLowerCase().startsWith(HEADER_FAULT_PREFIX)
}

/** The handshake as the client sent it (minus fault headers when stripping), then any early bytes. */
export function tunnelUpgrade(req: IncomingMessage, client: Duplex, early: Buffer, ctx: TunnelContext): void {
  let handshake = `${req.method} ${req.url} HTTP/1.1\r\n`
  const h = req.rawHeaders
  for (let i = 0; i < h.length; i += 2) {
    if (ctx.stripFaultHeaders && isFaultHeader(h[i]!)) continue
    handshake += `${h[i]}: ${h[i + 1]}\r\n`
  }
  tunnel(client, Buffer.concat([Buffer.from(handshake + '\r\n', 'latin1'), early]), ctx)
}

/** Removes `x-faultline-*` lines from the header block at the start of `bytes`, if it is complete. */
function stripRawFaultHeaders(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1')
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return bytes
  const lines = text.slice(0, end).split('\r\n')
  const kept = lines.filter((line, i) => i === 0 || !isFaultHeader(line.slice(0, line.indexOf(':'))))
  if (kept.length === lines.length) return bytes
  return Buffer.from(kept.join('\r\n') + text.slice(end), 'latin1')
}

/**
 * For the server's 'clientError' event: tunnels a request with a method Node's parser does not
 * know; returns false (the caller answers 400 as usual) for every other parse error.
 */
export function tunnelUnknownMethod(
  // (Node passes the request's raw bytes as rawPacket, typed loosely.)
  err: Error & { code?: string; rawPacket?: unknown; bytesParsed?: number },
  client: Duplex,
  ctx: TunnelContext,
): boolean {
  const packet = err.rawPacket
  if (err.code !== 'HPE_INVALID_METHOD' || !Buffer.isBuffer(packet) || client.destroyed) return false
  // The failed request starts at the line the parser was reading when it gave up.
  const start = packet.lastIndexOf(0x0a, Math.max(0, (err.bytesParsed ?? 0) - 1)) + 1
  const bytes = packet.subarray(start)
  const space = bytes.indexOf(0x20)
  const method = space > 0 ? bytes.subarray(0, space).toString('latin1') : ''
  if (!TOKEN.test(method)) return false
  // Node's HTTP server stops reading this socket once its parser has failed; from here the
  // bytes go to the upstream as they are.
  client.removeAllListeners('data')
  const startedAt = performance.now()
  tunnel(client, ctx.stripFaultHeaders ? stripRawFaultHeaders(bytes) : bytes, ctx, (first) => {
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(first)
    ctx.metrics.observeRequest(method, status ? Number(status[1]) : 0, 'none', (performance.now() - startedAt) / 1000)
  })
  return true
}
