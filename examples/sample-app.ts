/**
 * A small HTTP app to put behind a sidecar: used by `faultline demo`, the tests and the
 * benchmarks. Endpoints:
 *   GET  /                  "hello"
 *   ANY  /echo[...]         JSON: method, url, headers, body (as text and base64), bytes
 *   GET  /json[?gzip=1|br=1] JSON document {"user":{"name":"ada","tier":"gold"},"items":[1,2,3]}
 *   GET  /bytes?n=N         N bytes of "x", streamed in 16 KiB chunks
 *   GET  /status/:code      that status
 *   GET  /healthz           ok
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'

export const SAMPLE_JSON = { user: { name: 'ada', tier: 'gold' }, items: [1, 2, 3] }

export interface SampleApp {
  url: string
  server: http.Server
  /** Requests the app has seen, by path (tests use it to prove the upstream was not contacted). */
  hits: Map<string, number>
  close(): Promise<void>
}

export async function startSampleApp(port = 0, host = '127.0.0.1'): Promise<SampleApp> {
  const hits = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (url.pathname === '/') return send(res, 200, 'hello\n', 'text/plain')
      if (url.pathname === '/healthz') return send(res, 200, 'ok\n', 'text/plain')
      if (url.pathname.startsWith('/echo')) {
        const body = Buffer.concat(chunks)
        return send(
          res,
          200,
          JSON.stringify({
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: body.toString('utf8'),
            bodyBase64: body.toString('base64'),
            bytes: body.length,
          }),
          'application/json',
        )
      }
      if (url.pathname === '/json') {
        const text = Buffer.from(JSON.stringify(SAMPLE_JSON))
        if (url.searchParams.get('gzip') === '1')
          return send(res, 200, zlib.gzipSync(text), 'application/json', { 'content-encoding': 'gzip' })
        if (url.searchParams.get('br') === '1')
          return send(res, 200, zlib.brotliCompressSync(text), 'application/json', {
            'content-encoding': 'br',
          })
        return send(res, 200, text, 'application/json')
      }
      if (url.pathname === '/bytes') {
        const n = Number(url.searchParams.get('n') ?? 1024)
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n })
        const chunk = Buffer.alloc(16 * 1024, 'x')
        let left = n
        const pump = () => {
          while (left > 0) {
            const part = left >= chunk.length ? chunk : chunk.subarray(0, left)
            left -= part.length
            if (!res.write(part)) return void res.once('drain', pump)
          }
          res.end()
        }
        return pump()
      }
      const status = /^\/status\/(\d{3})$/.exec(url.pathname)
      if (status) return send(res, Number(status[1]), `status ${status[1]}\n`, 'text/plain')
      send(res, 404, 'not found\n', 'text/plain')
    })
  })
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  const addr = server.address() as AddressInfo
  return {
    url: `http://${host}:${addr.port}`,
    server,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string | Buffer,
  type: string,
  extra: Record<string, string> = {},
) {
  const buf = typeof body === 'string' ? Buffer.from(body) : body
  res.writeHead(status, { 'content-type': type, 'content-length': buf.length, ...extra })
  res.end(buf)
}
