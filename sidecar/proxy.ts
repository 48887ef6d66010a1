/**
 * The data-plane listener: fastify with body parsing switched off (bodies stream straight to the
 * upstream) and one catch-all route that hands the raw request to an Exchange.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { Exchange } from './exchange.ts'
import type { ProxyContext } from './proxy-context.ts'
import { tunnelUpgrades } from './upgrade.ts'

export function buildProxyApp(ctx: ProxyContext, upstream: URL): FastifyInstance {
  const app = Fastify({
    logger: false,
    // Node's default (5 s) is shorter than most client pools and causes spurious resets.
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    return503OnClosing: false,
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  // HOT PATH: every proxied request.
  app.all('*', (request, reply) => {
    reply.hijack()
    new Exchange(ctx, request.raw, reply.raw).start()
  })
  tunnelUpgrades(app.server, upstream, ctx.log)
  return app
}
