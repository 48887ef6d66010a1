/**
 * The injector's HTTPS server (fastify): `POST /inject` answers AdmissionReviews, `GET /healthz`
 * says it is up. A body that is not an AdmissionReview v1 with a request uid is a 400 (the API
 * server then applies failurePolicy Ignore); every well-formed review is answered `allowed: true`
 * (admit.ts). The serving certificate is reloaded when its files change (tls.ts).
 */
import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { HostPort } from '../../src/config.ts'
import { errors, httpErrorOf } from '../../src/errors.ts'
import { parseJsonBody } from '../../src/json-body.ts'
import { createLogger, type Logger } from '../../src/log.ts'
import type { Cluster } from '../drivers/kubernetes/cluster.ts'
import { lazyCluster } from '../drivers/kubernetes/connect.ts'
import { admit } from './admit.ts'
import type { InjectorConfig } from './config.ts'
import { namespaceLabelReader } from './namespaces.ts'
import { admissionResponse, readReview } from './review.ts'
import { readTlsPair, TlsReloader } from './tls.ts'

export interface InjectorServerOptions {
  listen: HostPort
  certFile: string
  keyFile: string
  config: InjectorConfig
  logger?: Logger
  /** For `namespaceLookup`; default: connected on first use as kubectl would (in-cluster in a pod). */
  cluster?: () => Cluster
  /** Backstop poll of the TLS files; default 60 s. */
  tlsPollMs?: number
}

export interface InjectorServer {
  app: FastifyInstance<HttpsServer>
  tls: TlsReloader
  /** Listens; resolves to `https://host:port`. */
  listen(): Promise<string>
  close(): Promise<void>
}

/** An API server sends a pod of at most ~1.5 MB (etcd's object limit) inside the review. */
const BODY_LIMIT = 4 * 1024 * 1024

export function buildInjectorServer(opts: InjectorServerOptions): InjectorServer {
  const log = opts.logger ?? createLogger({ name: 'faultline-injector' })
  const pair = readTlsPair(opts.certFile, opts.keyFile)
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    https: { cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' },
  })
  const tls = new TlsReloader(pair, {
    certFile: opts.certFile,
    keyFile: opts.keyFile,
    log,
    pollMs: opts.tlsPollMs,
    apply: (next) => app.server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' }),
  })
  const namespaceLabels = opts.config.namespaceLookup ? namespaceLabelReader(opts.cluster ?? lazyCluster()) : undefined

  // The body is read as text whatever its content type, so that a review that is not JSON gets
  // this service's 400 with a reason rather than a framework 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body))

  // Every answer, the framework's own included (an unknown route, a body too large), is in
  // faultline's error shape `{ code, error }` (docs/errors.md).
  app.setNotFoundHandler((request, reply) => {
    const err = errors.FL_ERR_NOT_FOUND(
      `no route ${request.method} ${request.url.split('?')[0]} (the injector serves POST /inject and GET /healthz)`,
    )
    return reply.code(err.statusCode).send(err.toJSON())
  })
  app.setErrorHandler((err, request, reply) => {
    const { statusCode, body } = httpErrorOf(err)
    log[statusCode >= 500 ? 'error' : 'warn'](
      { url: request.url, code: body.code, error: body.error },
      'request failed',
    )
    return reply.code(statusCode).send(body)
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.post('/inject', async (request, reply) => {
    let review
    try {
      review = readReview(parseJsonBody(typeof request.body === 'string' ? request.body : ''))
    } catch (err) {
      const { statusCode, body } = httpErrorOf(err)
      log.warn({ code: body.code, error: body.error }, 'malformed AdmissionReview refused')
      return reply.code(statusCode).send(body)
    }
    const result = await admit(review, { config: opts.config, log, namespaceLabels })
    return admissionResponse(review.uid, result.patch, result.warnings)
  })

  return {
    app,
    tls,
    async listen() {
      await app.listen({ host: opts.listen.host, port: opts.listen.port })
      tls.start()
      const address = app.server.address() as AddressInfo
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
      const url = `https://${host}:${address.port}`
      log.info({ url, validTo: pair.validTo, namespaceLookup: opts.config.namespaceLookup }, 'injector listening')
      return url
    },
    async close() {
      tls.close()
      await app.close()
    },
  }
}
