/**
 * Raw-socket HTTP/1.1 framing fuzz against the proxy listener: valid requests with mutations
 * (smuggling shapes such as CL+TE and duplicate lengths, malformed chunking, obs-fold, bare LF,
 * NUL and control bytes, absolute-form and odd targets, odd methods and versions, truncated and
 * oversized heads, random byte flips). Invariant: whatever comes back, the sidecar answers the
 * next well-formed request and nothing fails inside the sidecar.
 */
import net from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { send, startWorld, type World } from '../helpers/world.ts'
import { runs, FUZZ_TIMEOUT_MS } from './arbitraries.ts'

let world: World
beforeAll(async () => {
  world = await startWorld({ headerFaults: true })
  await world.putRules([
    { id: 'slow', match: { path: '/echo/slow/**' }, delay: { ms: 2 } },
    { id: 'patch', phase: 'response', match: { path: '/json' }, patch: { json: { merge: { x: 1 } } } },
    { id: 'abort', match: { path: '/echo/abort/**' }, abort: { status: 503 } },
  ])
})
afterAll(() => world.close())

/** Writes bytes, half-closes, and resolves once the server closes (or after a short wait). */
function exchange(bytes: Buffer): Promise<string> {
  const { hostname, port } = new URL(world.proxyUrl)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    const chunks: Buffer[] = []
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    const timer = setTimeout(done, 1000)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('close', done)
    socket.on('error', done)
    socket.end(bytes)
  })
}

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'PROPFIND', 'DELETE', 'OPTIONS') },
  fc.constantFrom('BREW', 'get', 'G\u0000T', 'CONNECT', '', 'GET GET', 'PRI'),
)
const target = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/echo/a', '/json', '/echo/slow/x', '/echo/abort/y', '/', '/status/204') },
  fc.constantFrom(
    '//echo/../json',
    'http://h/echo/a',
    '*',
    'echo',
    '/e cho',
    '/%zz',
    '/\u00e9',
    '/' + 'a'.repeat(9000),
  ),
)
const version = fc.oneof(
  { weight: 6, arbitrary: fc.constant('HTTP/1.1') },
  fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', 'HTTX/1.1', ''),
)
const header = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('host: x', 'accept: */*', 'x-request-id: 1', 'content-type: application/json'),
  },
  fc.constantFrom(
    'content-length: 5',
    'content-length: 0',
    'content-length: -1',
    'content-length: 5, 6',
    'content-length: 99999999999999999999',
    'transfer-encoding: chunked',
    'transfer-encoding: gzip, chunked',
    'transfer-encoding: chunked, identity',
    'Transfer-Encoding : chunked',
    'x-faultline-delay-ms: 3',
    'x-faultline-abort-status: 418',
    'x-faultline-throttle-bps: 1',
    ' folded: continuation',
    'connection: upgrade',
    'upgrade: websocket',
    'expect: 100-continue',
    'x: a\u0000b',
    'bad header',
    'x-big: ' + 'b'.repeat(20_000),
  ),
)
const body = fc.constantFrom(
  '',
  'hello',
  '{"a":1}',
  '5\r\nhello\r\n0\r\n\r\n',
  'zz\r\nhello\r\n0\r\n\r\n',
  '5\r\nhel',
  '0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nhost: x\r\n\r\n',
)
const eol = fc.oneof({ weight: 8, arbitrary: fc.constant('\r\n') }, fc.constantFrom('\n', '\r', '\r\r\n'))

const request = fc
  .record({ method, target, version, headers: fc.array(header, { maxLength: 5 }), body, eol })
  .map(({ method, target, version, headers, body, eol }) =>
    Buffer.from(
      `${method} ${target} ${version}${eol}${headers.join(eol)}${headers.length ? eol : ''}${eol}${body}`,
      'latin1',
    ),
  )

/** A request with a few bytes flipped, inserted or cut. */
const mutated = fc
  .tuple(
    request,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'cut')), {
      maxLength: 3,
    }),
  )
  .map(([bytes, edits]) => {
    let b = Buffer.from(bytes)
    for (const [at, byte, op] of edits) {
      const i = b.length ? at % b.length : 0
      if (op === 'flip') b[i] = byte
      else if (op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)])
      else b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)])
    }
    return b
  })

it(
  'the sidecar survives any framing and keeps serving',
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(request, mutated), fc.oneof(request, mutated), async (a, b) => {
        // Two in a row on one connection: pipelining is where framing bugs show.
        await exchange(Buffer.concat([a, b]))
        const ok = await send(world.proxyUrl + '/')
        expect(ok.status).toBe(200)
      }),
      { numRuns: runs(120) },
    )
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toContain('faultline_exchange_failures_total{service="default"} 0')
  },
  FUZZ_TIMEOUT_MS,
)
