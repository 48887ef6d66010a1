/**
 * The data-plane listener: fastify with body parsing switched off (bodies stream straight to the
 * upstream) and one catch-all route that hands the raw request to an Exchange.
 */
import { METHODS } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import { Exchange } from './exchange.ts'
import type { ProxyContext } from './proxy-context.ts'
import { type TunnelContext, tunnelUnknownMethod, tunnelUpgrade } from './tunnel.ts'

export function buildProxyApp(ctx: ProxyContext, upstream: URL): FastifyInstance {
  const tunnels: TunnelContext = {
    upstream,
    log: ctx.log,
    metrics: ctx.metrics,
    stripFaultHeaders: ctx.headerFaults !== undefined,
  }
  const app = Fastify({
    logger: false,
    // Node's default (5 s) is shorter than most client pools and causes spurious resets.
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    return503OnClosing: false,
    clientErrorHandler(err, socket) {
      if (tunnelUnknownMethod(err, socket, tunnels)) return
      // What fastify does by default: a 400 for a malformed request, then close.
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      else socket.destroy()
    },
  })
  // Every method Node's parser knows (WebDAV, PURGE, QUERY, ...), not just fastify's default list;
  // CONNECT never reaches a request handler (Node emits 'connect' for it).
  for (const method of METHODS)
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  // HOT PATH: every proxied request.
  app.all('*', (request, reply) => {
    reply.hijack()
    new Exchange(ctx, request.raw, reply.raw).start()
  })
  app.server.on('upgrade', (req, socket, head) => tunnelUpgrade(req, socket, head, tunnels))
  return app
}
