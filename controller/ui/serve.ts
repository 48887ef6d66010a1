/**
 * Answers GET /ui/{file} (`/ui/` itself is index.html): the dashboard's static files, with no token (they hold
 * no data: every datum comes from the authenticated API) and a strict Content-Security-Policy.
 * The files are built once, on the first request (assets.ts), so a controller nobody opens the
 * dashboard of never reads them.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../../src/errors.ts'
import { type Asset, buildAssets, CONTENT_SECURITY_POLICY } from './assets.ts'

export function dashboardFiles(build: () => Map<string, Asset> = () => buildAssets()) {
  let assets: Map<string, Asset> | undefined
  const send = (name: string, request: FastifyRequest, reply: FastifyReply) => {
    assets ??= build()
    const a = assets.get(name)
    if (!a)
      throw errors.FL_ERR_NOT_FOUND(`dashboard file ${name}`, {
        issues: [{ path: '/params/file', message: 'no such dashboard file' }],
      })
    reply
      .header('content-type', a.type)
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .header('etag', a.etag)
      .header('vary', 'accept-encoding')
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
      reply.header('content-encoding', 'gzip')
      return a.gzip
    }
    return a.body
  }
  return { file: send }
}
