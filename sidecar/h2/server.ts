/**
 * The HTTP/2 half of the proxy port: a node:http2 server that is never listening itself; the
 * port's listener (../listener.ts) hands it connections whose preface (h2c) or ALPN (h2) says
 * HTTP/2. Every stream becomes an H2Exchange (core 'stream' API, not the compat layer, which
 * cannot send a trailers-only response). Limits are set so a hostile peer ends its own stream
 * or connection: nghttp2's flood protection (SETTINGS/PING/RST floods end the session), a cap on
 * concurrent streams, header list size and session memory.
 */
import http2 from 'node:http2'
import type { Logger } from '../../src/log.ts'
import { type H2Context, H2Exchange } from './exchange.ts'

/** Per-connection cap on open streams (Node's default is unlimited). */
export const MAX_CONCURRENT_STREAMS = 1000

export interface H2Server {
  server: http2.Http2Server
  /** Open sessions (connections), for a graceful drain on close. */
  sessions: Set<http2.ServerHttp2Session>
}

export function createH2Server(h2: H2Context, log: Logger): H2Server {
  const sessions = new Set<http2.ServerHttp2Session>()
  const server = http2.createServer({
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: 64 * 1024 },
    maxHeaderListPairs: 512,
    maxSessionMemory: 32,
    maxSettings: 32,
  })
  server.on('stream', (stream, headers, flags) => new H2Exchange(h2, stream, headers, flags).start())
  // A session that fails (protocol error, flood, reset socket) ends that connection only.
  server.on('sessionError', (err: Error & { code?: string }) => {
    log.debug({ err: { message: err.message, code: err.code } }, 'HTTP/2 session error')
  })
  server.on('session', (session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    session.on('error', (err: Error & { code?: string }) => {
      log.debug({ err: { message: err.message, code: err.code } }, 'HTTP/2 session failed')
    })
  })
  return { server, sessions }
}

/** Sends GOAWAY to every open session and lets their streams finish (graceful drain). */
export function drainSessions(sessions: Set<http2.ServerHttp2Session>): void {
  for (const s of sessions) if (!s.closed && !s.destroyed) s.close()
}
