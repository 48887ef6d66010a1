/**
 * The data-plane listener: one port for HTTP/1.1 and HTTP/2 (h2c by preface, h2 by ALPN when
 * TLS is configured; listener.ts decides once per connection).
 * - HTTP/1.1: a plain node:http server whose every request becomes an Exchange. Bodies stream
 *   straight to the upstream (nothing parses them here); every method Node's parser knows
 *   reaches the handler; a request with an unknown token method and an Upgrade are relayed
 *   one request per connection (tunnel.ts).
 * - HTTP/2: every stream becomes an H2Exchange (h2/exchange.ts), relayed over pooled HTTP/2
 *   upstream sessions (h2/upstream-pool.ts).
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { Exchange } from './exchange.ts'
import type { H2Context } from './h2/exchange.ts'
import { createH2Server, drainSessions } from './h2/server.ts'
import { type HttpListener, proxyPortListener } from './listener.ts'
import type { ProxyContext } from './proxy-context.ts'
import { refuseMalformed, type TunnelContext, tunnelUnknownMethod, tunnelUpgrade } from './tunnel.ts'

export interface ProxyPortOptions {
  h2: Omit<H2Context, 'proxy'>
  tls?: { cert: string | Buffer; key: string | Buffer }
}

export interface ProxyListener extends HttpListener {
  /** Sends GOAWAY on every HTTP/2 connection, so clients finish and move on (drain). */
  drainHttp2(): void
  /** Cuts every HTTP/2 connection (the drain timed out). */
  destroyHttp2(): void
}

export function buildProxyApp(ctx: ProxyContext, upstream: URL, opts: ProxyPortOptions): ProxyListener {
  const tunnels: TunnelContext = {
    upstream,
    log: ctx.log,
    metrics: ctx.metrics,
    stats: ctx.stats,
    stripFaultHeaders: ctx.headerFaults !== undefined,
    timeoutMs: opts.h2.upstreamTimeoutMs,
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
    if (!tunnelUnknownMethod(err, socket, tunnels)) refuseMalformed(socket)
  })
  server.on('upgrade', (req, socket, head) => tunnelUpgrade(req, socket, head, tunnels))
  const h2 = createH2Server({ ...opts.h2, proxy: ctx }, ctx.log)
  const listener = proxyPortListener({ h1: server, h2: h2.server, tls: opts.tls, log: ctx.log })
  return {
    ...listener,
    drainHttp2: () => drainSessions(h2.sessions),
    destroyHttp2: () => {
      for (const s of h2.sessions) s.destroy()
    },
  }
}
