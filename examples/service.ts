/**
 * One service of the demo system (front -> orders -> inventory), run as its own process so an
 * experiment can kill it. Configured by environment:
 *   NAME        front | orders | inventory
 *   PORT        port to listen on (127.0.0.1)
 *   DOWNSTREAM  base URL of the next service (through its sidecar); none for inventory
 *   TIMEOUT_MS  how long to wait for the downstream (default 1000)
 * GET /api/...  answers JSON after calling the downstream; 502 when the downstream fails.
 * GET /healthz  ok
 */
import http from 'node:http'

const name = process.env.NAME ?? 'service'
const port = Number(process.env.PORT ?? 0)
const downstream = process.env.DOWNSTREAM
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 1000)
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

function callDownstream(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(downstream + path, { agent, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

const server = http.createServer(async (req, res) => {
  const send = (status: number, doc: unknown) => {
    const body = JSON.stringify(doc)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
  if (req.url === '/healthz') return send(200, { ok: true, name })
  if (!downstream) return send(200, { service: name, stock: 42 })
  try {
    const down = await callDownstream(req.url ?? '/')
    if (down.status >= 500) return send(502, { service: name, error: `downstream answered ${down.status}` })
    send(200, { service: name, downstream: JSON.parse(down.body) })
  } catch (err) {
    send(502, { service: name, error: `downstream failed: ${(err as Error).message}` })
  }
})
server.keepAliveTimeout = 65_000
server.listen(port, '127.0.0.1')
process.on('SIGTERM', () => server.close(() => process.exit(0)))
