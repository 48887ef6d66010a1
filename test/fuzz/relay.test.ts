/**
 * Property of the one-request relay (sidecar/tunnel.ts) for methods Node cannot parse: on one
 * connection, a few ordinary requests, then a request with an unknown method (a body framed by
 * content-length or chunked, with or without fault headers), then more requests, all written in
 * random pieces. Invariant: the app receives exactly the relayed request (its fault headers
 * stripped, `connection: close` added, its body byte for byte) and nothing that came after it;
 * the client gets one answer per request up to the relayed one, in order, then a close. The one
 * exception, a method cut across two reads, is a 400 in its place, and nothing reaches the app.
 */
import net from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BodyCounter, requestFraming, splitHead } from '../../sidecar/http1-framing.ts'
import { startWorld, type World } from '../helpers/world.ts'
import { FUZZ_TIMEOUT_MS, runs } from './arbitraries.ts'

/**
 * A raw HTTP/1.1 app (Node's server refuses unknown methods): keeps every byte each connection
 * brought, and answers 418 once a request's body is complete (so what the relay forwarded is all
 * in `received` by the time the client has its answer).
 */
const received: string[] = []
const app = net.createServer((s) => {
  const at = received.push('') - 1
  let buf: Buffer = Buffer.alloc(0)
  let body: BodyCounter | undefined
  s.on('data', (d: Buffer) => {
    received[at] += d.toString('latin1')
    buf = Buffer.concat([buf, d])
    for (;;) {
      if (!body) {
        const split = splitHead(buf)
        if (!split) return
        body = new BodyCounter(requestFraming(split.head))
        buf = split.rest
      }
      buf = buf.subarray(body.take(buf))
      if (!body.done) return
      body = undefined
      s.write('HTTP/1.1 418 teapot\r\ncontent-length: 2\r\n\r\nok')
    }
  })
  s.on('error', () => s.destroy())
})

let world: World
beforeAll(async () => {
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r))
  const { port } = app.address() as net.AddressInfo
  world = await startWorld({ upstream: `http://127.0.0.1:${port}`, headerFaults: true })
  await world.putRules([{ id: 'f', match: { path: '/faulted/**' }, abort: { status: 503 } }])
})
afterAll(async () => {
  await world.close()
  await new Promise((r) => app.close(r))
})

/** Writes `pieces` one by one and resolves with what came back once the server closes. */
function converse(pieces: Buffer[]): Promise<{ bytes: string; closed: boolean }> {
  const { hostname, port } = new URL(world.proxyUrl)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    let bytes = ''
    const finish = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ bytes, closed })
    }
    const timer = setTimeout(() => finish(false), 3000)
    socket.on('data', (d: Buffer) => (bytes += d.toString('latin1')))
    socket.on('close', () => finish(true))
    socket.on('error', () => undefined) // a write after the close; the close is what is checked
    socket.on('connect', async () => {
      for (const p of pieces) {
        if (socket.destroyed) return
        socket.write(p)
        await new Promise((r) => setImmediate(r))
      }
    })
  })
}

const before = fc.constantFrom(
  { bytes: 'GET /p/1 HTTP/1.1\r\nhost: x\r\n\r\n', status: 418 },
  { bytes: 'GET /faulted/p HTTP/1.1\r\nhost: x\r\nx-faultline-delay-ms: 1\r\n\r\n', status: 503 },
  { bytes: 'HEAD /p/2 HTTP/1.1\r\nhost: x\r\n\r\n', status: 418 },
)
const after = fc.constantFrom(
  'GET /after/1 HTTP/1.1\r\nhost: x\r\nx-faultline-abort-status: 500\r\n\r\n',
  'BREW /after/2 HTTP/1.1\r\nhost: x\r\n\r\n',
  'POST /after/3 HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc',
  'GET /faulted/after/4 HTTP/1.1\r\nhost: x\r\n\r\n',
  'garbage\r\n\r\n',
)
const payload = fc.string({ unit: 'binary-ascii', maxLength: 40 })
const body = fc.oneof(
  fc.constant({ headers: [] as string[], bytes: '' }),
  payload.map((p) => ({ headers: [`content-length: ${p.length}`], bytes: p })),
  fc
    .array(
      payload.filter((p) => p.length > 0),
      { maxLength: 3 },
    )
    .map((chunks) => ({
      headers: ['transfer-encoding: chunked'],
      bytes: chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n',
    })),
)
const extra = fc.subarray(['x-faultline-delay-ms: 2', 'x-faultline-abort-status: 500', 'accept: */*', 'x-a: 1'])
const method = fc.constantFrom('BREW', 'WHEN', 'X-VENDOR', 'MKBREW')

it(
  'the relayed request reaches the app alone and intact; nothing after it does',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(before, { maxLength: 2 }),
        method,
        extra,
        body,
        fc.array(after, { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (first, m, headers, b, rest, cuts) => {
          received.length = 0
          const relayed = `${m} /relayed HTTP/1.1\r\nhost: x\r\n${[...headers, ...b.headers].map((h) => h + '\r\n').join('')}\r\n${b.bytes}`
          const all = Buffer.from(first.map((r) => r.bytes).join('') + relayed + rest.join(''), 'latin1')
          const at = [...new Set(cuts.map((c) => c % all.length))].sort((x, y) => x - y)
          const pieces = [0, ...at, all.length].slice(0, -1).map((s, i, a) => all.subarray(s, a[i + 1] ?? all.length))
          const r = await converse(pieces.filter((p) => p.length))
          expect(r.closed).toBe(true)
          const statuses = (r.bytes.match(/HTTP\/1\.1 \d{3}/g) ?? []).map((s) => Number(s.slice(9)))
          const atApp = received.filter((c) => c.includes('/relayed'))
          // A method cut across two reads cannot be recovered (Node keeps only the last read):
          // then, and only then, it is refused with a 400 after the earlier answers, never mangled.
          const methodAt = first.map((x) => x.bytes).join('').length
          const methodCut = at.some((c) => c > methodAt && c < methodAt + m.length)
          if (methodCut && statuses.at(-1) === 400) {
            expect(statuses).toEqual([...first.map((x) => x.status), 400])
            expect(atApp).toEqual([])
          } else {
            expect(statuses).toEqual([...first.map((x) => x.status), 418])
            const expected = `${m} /relayed HTTP/1.1\r\nhost: x\r\n${[...headers.filter((h) => !h.startsWith('x-faultline')), ...b.headers].map((h) => h + '\r\n').join('')}connection: close\r\n\r\n${b.bytes}`
            expect(atApp).toEqual([expected])
          }
          const everything = received.join('')
          expect(everything).not.toContain('/after/')
          expect(everything).not.toContain('x-faultline')
        },
      ),
      { numRuns: runs(60) },
    )
  },
  FUZZ_TIMEOUT_MS,
)
