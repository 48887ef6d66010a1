/**
 * A plain node:http server with the two things the sidecar needs around it: listen on a
 * HostPort (port 0 allowed) and resolve to its base URL, and close (stop accepting, let what is
 * in flight finish). The sidecar runs on node:http directly, without fastify: the data path
 * never needed a router, and fastify alone costs ~25 MB of RSS in every injected pod.
 */
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HostPort } from '../src/config.ts'

export interface HttpListener {
  readonly server: http.Server
  /** Resolves to `http://host:port` once listening. */
  listen(on: HostPort): Promise<string>
  close(): Promise<void>
}

export function httpListener(server: http.Server): HttpListener {
  return {
    server,
    listen(on) {
      return new Promise((resolve, reject) => {
        const fail = (err: Error) => reject(err)
        server.once('error', fail)
        server.listen(on.port, on.host, () => {
          server.off('error', fail)
          const a = server.address() as AddressInfo
          const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
          resolve(`http://${host}:${a.port}`)
        })
      })
    },
    close() {
      return new Promise((resolve, reject) => {
        if (!server.listening) return resolve()
        server.close((err) => (err ? reject(err) : resolve()))
      })
    },
  }
}
