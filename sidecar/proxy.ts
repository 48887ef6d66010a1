/**
 * The data-plane listener: a plain node:http server whose every request becomes an Exchange.
 * Bodies stream straight to the upstream (nothing parses them here); every method Node's parser
 * knows reaches the handler, and unknown token methods and Upgrades are tunnelled (tunnel.ts).
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { Exchange } from './exchange.ts'
import { type HttpListener, httpListener } from './listener.ts'
import type { ProxyContext } from './proxy-context.ts'
import { type TunnelContext, tunnelUnknownMethod, tunnelUpgrade } from './tunnel.ts'

export function buildProxyApp(ctx: ProxyContext, upstream: URL): HttpListener {
  const tunnels: TunnelContext = {
    upstream,
    log: ctx.log,
    metrics: ctx.metrics,
    stripFaultHeaders: ctx.headerFaults !== undefined,
  }
  const server = http.createServer(
    {
      // Node's default (5 s) is shorter than most client pools and causes spurious resets.
      keepAliveTimeout: 65_000,
      requestTimeout: 0,
    },
    // HOT PATH: every proxied request.
    (req, res) => new Exchange(ctx, req, res).start(),
  )
  server.on('clientError', (err: Error, socket: Duplex) => {
    if (tunnelUnknownMethod(err, socket, tunnels)) return
    // A malformed request: a 400, then close (what Node does without a listener).
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
    else socket.destroy()
  })
  server.on('upgrade', (req, socket, head) => tunnelUpgrade(req, socket, head, tunnels))
  return httpListener(server)
}
