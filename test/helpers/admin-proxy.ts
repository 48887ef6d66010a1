/**
 * A pass-through in front of a sidecar's admin API that can refuse or hold chosen calls: a
 * sidecar whose statistics cannot be read while its rules still can, or one slow to answer, as a
 * struggling real one might be.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface AdminProxy {
  url: string
  /** Calls refused so far, as "METHOD /path?query". */
  refused: string[]
  close(): Promise<void>
}

export interface AdminProxyOptions {
  /** Answer 503 instead of forwarding. */
  refuse?: (req: http.IncomingMessage) => boolean
  /** Hold the call this long before forwarding it. */
  delayMs?: (req: http.IncomingMessage) => number
}

export async function startAdminProxy(target: string, opts: AdminProxyOptions): Promise<AdminProxy> {
  const upstream = new URL(target)
  const refused: string[] = []
  const server = http.createServer((req, res) => {
    const hold = opts.delayMs?.(req) ?? 0
    if (hold > 0) setTimeout(() => forward(req, res), hold)
    else forward(req, res)
  })
  function forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (opts.refuse?.(req)) {
      refused.push(`${req.method} ${req.url}`)
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ code: 'TEST_REFUSED', error: 'refused by the test proxy' }))
      return
    }
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode!, up.headers)
        up.pipe(res)
      },
    )
    out.on('error', (err) => res.destroy(err))
    req.pipe(out)
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
