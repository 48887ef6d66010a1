/**
 * HTTP/2 on the proxy port at the frame level: a raw node:http2 client asserts frame shapes
 * (trailers-only = one HEADERS frame with END_STREAM, RST_STREAM codes, GOAWAY), codes passed
 * through both ways, HTTP/1.1 and h2c together on one port under load, TLS with ALPN, and a
 * hostile pass where every abuse ends that stream or connection, never the process.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildSidecar, type Sidecar, type SidecarOptions } from '../../sidecar/build.ts'
import { proxyPortListener } from '../../sidecar/listener.ts'
import { silentLogger } from '../../src/log.ts'
import { jsonClient } from '../helpers/http.ts'

const { NGHTTP2_FLAG_END_STREAM } = http2.constants

/**
 * An upstream that speaks HTTP/1.1 and h2c on one port (built with the sidecar's own port
 * listener) and records what reached it. Paths: /echo (body back, trailers), /rst/<code>
 * (RST_STREAM with that code), /trailers-only (grpc-status in one HEADERS+END_STREAM),
 * /hang (never answers; records the reset it gets).
 */
async function startUpstream() {
  const seen = { requests: 0, resets: [] as number[], protocols: [] as string[], sessions: 0 }
  const h1 = http.createServer((req, res) => {
    seen.requests++
    seen.protocols.push('1.1')
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => res.end(Buffer.concat(chunks).toString() || 'ok'))
  })
  const h2 = http2.createServer()
  h2.on('session', () => seen.sessions++)
  h2.on('stream', (stream, headers) => {
    seen.requests++
    seen.protocols.push('2')
    stream.on('error', () => undefined)
    stream.on('close', () => {
      if (stream.rstCode) seen.resets.push(stream.rstCode)
    })
    const p = String(headers[':path'])
    if (p.startsWith('/rst/')) return stream.close(Number(p.slice(5)))
    if (p === '/trailers-only')
      return stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'nope' },
        { endStream: true },
      )
    if (p === '/hang') return
    if (p === '/goaway') {
      stream.respond({ ':status': 200 }, { endStream: true })
      stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id)
      return
    }
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-meta': 'm' }, { waitForTrailers: true })
      stream.once('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', 'x-trailer-bin': Buffer.from([1, 2, 3]).toString('base64') }),
      )
      stream.end(Buffer.concat(chunks).toString() || 'ok')
    })
  })
  const listener = proxyPortListener({ h1, h2, log: silentLogger() })
  const url = await listener.listen({ host: '127.0.0.1', port: 0 })
  return { url, seen, close: () => listener.close() }
}

type Upstream = Awaited<ReturnType<typeof startUpstream>>
let up: Upstream
let sidecar: Sidecar | undefined
let proxyUrl = ''
let adminUrl = ''

async function startSidecar(opts: Partial<SidecarOptions> = {}) {
  sidecar = buildSidecar({
    upstream: up.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    ...opts,
  })
  ;({ proxyUrl, adminUrl } = await sidecar.listen())
}

const putRules = (rules: unknown[]) => jsonClient(adminUrl)('PUT', '/rules', { rules })

interface H2Result {
  headers: http2.IncomingHttpHeaders | undefined
  flags: number
  body: string
  trailers: http2.IncomingHttpHeaders | undefined
  rstCode: number | undefined
  dataFrames: number
}

function h2request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<H2Result> {
  return new Promise((resolve) => {
    const out: H2Result = {
      headers: undefined,
      flags: 0,
      body: '',
      trailers: undefined,
      rstCode: undefined,
      dataFrames: 0,
    }
    const req = session.request({ ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers', ...headers })
    req.on('response', (h, flags) => {
      out.headers = h
      out.flags = flags
    })
    req.on('data', (c: Buffer) => {
      out.dataFrames++
      out.body += c.toString()
    })
    req.on('trailers', (t) => (out.trailers = t))
    req.on('error', () => undefined)
    req.on('close', () => {
      out.rstCode = req.rstCode
      resolve(out)
    })
    req.end(body)
  })
}

async function stillServes(): Promise<void> {
  const s = http2.connect(proxyUrl)
  try {
    const r = await h2request(s, { ':path': '/echo' }, 'alive')
    expect(r.body).toBe('alive')
  } finally {
    s.close()
  }
  const h1 = await fetch(`${proxyUrl}/plain`, { method: 'POST', body: 'h1 alive' })
  expect(await h1.text()).toBe('h1 alive')
}

beforeAll(async () => {
  up = await startUpstream()
})
afterAll(async () => {
  await up.close()
})
afterEach(async () => {
  await sidecar?.close()
  sidecar = undefined
  up.seen.requests = 0
  up.seen.resets = []
  up.seen.protocols = []
  up.seen.sessions = 0
})

describe('frame shapes', () => {
  it('pass-through: headers, DATA, binary trailers; the upstream is reached over HTTP/2', async () => {
    await startSidecar()
    const s = http2.connect(proxyUrl)
    const r = await h2request(s, { ':path': '/echo' }, 'payload')
    s.close()
    expect(r.headers?.[':status']).toBe(200)
    expect(r.headers?.['x-meta']).toBe('m')
    expect(r.body).toBe('payload')
    expect(r.trailers?.['grpc-status']).toBe('0')
    expect(r.trailers?.['x-trailer-bin']).toBe('AQID')
    expect(up.seen.protocols).toEqual(['2'])
  })

  it('an upstream trailers-only response stays one HEADERS frame with END_STREAM', async () => {
    await startSidecar()
    const s = http2.connect(proxyUrl)
    const r = await h2request(s, { ':path': '/trailers-only' })
    s.close()
    expect(r.flags & NGHTTP2_FLAG_END_STREAM).toBeTruthy()
    expect(r.headers?.['grpc-status']).toBe('5')
    expect(r.dataFrames).toBe(0)
    expect(r.trailers).toBeUndefined()
  })

  it('abort.grpcStatus is one HEADERS frame with END_STREAM: :status 200, content-type, grpc-status, encoded message, marker', async () => {
    await startSidecar()
    await putRules([{ id: 'g', match: { path: '/echo' }, abort: { grpcStatus: 'UNAVAILABLE', grpcMessage: 'a b%ü' } }])
    const s = http2.connect(proxyUrl)
    const r = await h2request(s, { ':path': '/echo' }, 'x')
    s.close()
    expect(r.flags & NGHTTP2_FLAG_END_STREAM).toBeTruthy()
    expect(r.headers).toMatchObject({
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': '14',
      'grpc-message': 'a b%25%C3%BC',
      'x-faultline-fault': 'g',
    })
    expect(r.headers?.['content-length']).toBeUndefined()
    expect(r.dataFrames).toBe(0)
    expect(up.seen.requests).toBe(0)
  })

  it('reset: RST_STREAM with the named code on that stream only; the connection keeps serving', async () => {
    await startSidecar()
    await putRules([{ id: 'r', match: { path: '/echo' }, abort: { mode: 'reset', http2Code: 'REFUSED_STREAM' } }])
    const s = http2.connect(proxyUrl)
    const r = await h2request(s, { ':path': '/echo' })
    expect(r.rstCode).toBe(http2.constants.NGHTTP2_REFUSED_STREAM)
    const ok = await h2request(s, { ':path': '/other' }, 'fine')
    expect(ok.body).toBe('fine')
    s.close()
  })

  it('goaway: a GOAWAY frame with the code and a last stream id below the faulted stream', async () => {
    await startSidecar()
    await putRules([{ id: 'ga', match: { path: '/go' }, abort: { mode: 'goaway', http2Code: 'ENHANCE_YOUR_CALM' } }])
    const s = http2.connect(proxyUrl)
    s.on('error', () => undefined)
    await h2request(s, { ':path': '/echo' }, 'first')
    const goaway = new Promise<[number, number]>((resolve) => s.once('goaway', (code, last) => resolve([code, last])))
    void h2request(s, { ':path': '/go' })
    const [code, last] = await goaway
    expect(code).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
    // stream 1 was the first request, stream 3 the faulted one.
    expect(last).toBe(1)
    s.destroy()
  })

  it('RST codes pass through both ways: the upstream reset reaches the client, a client cancel reaches the upstream', async () => {
    await startSidecar()
    const s = http2.connect(proxyUrl)
    const r = await h2request(s, { ':path': `/rst/${http2.constants.NGHTTP2_ENHANCE_YOUR_CALM}` })
    expect(r.rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)

    const req = s.request({ ':method': 'POST', ':path': '/hang', 'content-type': 'application/grpc' })
    req.on('error', () => undefined)
    req.write('start')
    await expect.poll(() => up.seen.requests).toBe(2)
    req.close(http2.constants.NGHTTP2_CANCEL)
    await expect.poll(() => up.seen.resets).toContain(http2.constants.NGHTTP2_CANCEL)

    // Any code, not only CANCEL.
    const req2 = s.request({ ':method': 'POST', ':path': '/hang', 'content-type': 'application/grpc' })
    req2.on('error', () => undefined)
    req2.write('start')
    await expect.poll(() => up.seen.requests).toBe(3)
    req2.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
    await expect.poll(() => up.seen.resets).toContain(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
    s.close()
  })

  it('an upstream GOAWAY: the pooled session is dropped and the next stream opens a new one', async () => {
    await startSidecar()
    const s = http2.connect(proxyUrl)
    expect((await h2request(s, { ':path': '/echo' }, 'one')).body).toBe('one')
    expect((await h2request(s, { ':path': '/goaway' })).headers?.[':status']).toBe(200)
    expect((await h2request(s, { ':path': '/echo' }, 'two')).body).toBe('two')
    s.close()
    expect(up.seen.sessions).toBe(2)
  })
})

describe('delay on HTTP/2', () => {
  it('holds the HEADERS without reading the body: the client is pushed back by flow control, then everything arrives', async () => {
    await startSidecar()
    await putRules([{ id: 'hold', match: { path: '/echo' }, delay: { ms: 400 } }])
    const s = http2.connect(proxyUrl)
    const payload = Buffer.alloc(1 << 20, 97)
    const t0 = performance.now()
    const done = new Promise<{ body: Buffer; finishedAt: number }>((resolve, reject) => {
      const req = s.request({ ':method': 'POST', ':path': '/echo', 'content-type': 'application/octet-stream' })
      const chunks: Buffer[] = []
      let finishedAt = 0
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => resolve({ body: Buffer.concat(chunks), finishedAt }))
      req.on('error', reject)
      // 1 MiB against a 64 KiB stream window: the write cannot complete until the sidecar reads.
      expect(req.write(payload)).toBe(false)
      req.end()
      req.once('finish', () => (finishedAt = performance.now() - t0))
    })
    await new Promise((r) => setTimeout(r, 200))
    expect(up.seen.requests).toBe(0)
    const { body, finishedAt } = await done
    s.close()
    expect(body.equals(payload)).toBe(true)
    expect(finishedAt).toBeGreaterThan(350)
  })
})

describe('shutdown', () => {
  it('close() sends GOAWAY, lets a streaming call finish, and cuts what is still open after the drain timeout', async () => {
    await startSidecar({ drainTimeoutMs: 300 })
    const s = http2.connect(proxyUrl)
    s.on('error', () => undefined)
    const goaway = new Promise<void>((resolve) => s.once('goaway', () => resolve()))
    const endless = s.request({ ':method': 'POST', ':path': '/hang', 'content-type': 'application/grpc' })
    endless.on('error', () => undefined)
    endless.write('x')
    await expect.poll(() => up.seen.requests).toBe(1)
    const t0 = performance.now()
    await sidecar!.close()
    sidecar = undefined
    await goaway
    // The endless stream held the drain until the timeout cut it.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250)
    expect(performance.now() - t0).toBeLessThan(5000)
    s.destroy()
  })
})

describe('upstream failures', () => {
  it('no upstream headers within --upstream-timeout: 504 for plain HTTP/2, trailers-only UNAVAILABLE for gRPC; the upstream call is cancelled', async () => {
    await startSidecar({ upstreamTimeoutMs: 200 })
    const s = http2.connect(proxyUrl)
    const plain = await h2request(s, { ':path': '/hang', 'content-type': 'text/plain' })
    expect(plain.headers?.[':status']).toBe(504)
    expect(JSON.parse(plain.body).code).toBe('FL_ERR_UPSTREAM_TIMEOUT')
    const g = await h2request(s, { ':path': '/hang' })
    expect(g.flags & NGHTTP2_FLAG_END_STREAM).toBeTruthy()
    expect(g.headers?.['grpc-status']).toBe('14')
    s.close()
    await expect.poll(() => up.seen.resets.filter((c) => c === http2.constants.NGHTTP2_CANCEL).length).toBe(2)
  })

  it('an unreachable upstream: trailers-only UNAVAILABLE for gRPC, 502/503 JSON for plain HTTP/2', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port
        srv.close(() => resolve(p))
      })
    })
    sidecar = buildSidecar({
      upstream: `http://127.0.0.1:${port}`,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      logger: silentLogger(),
    })
    ;({ proxyUrl, adminUrl } = await sidecar.listen())
    const s = http2.connect(proxyUrl)
    const g = await h2request(s, { ':path': '/x' })
    expect(g.headers?.['grpc-status']).toBe('14')
    const plain = await h2request(s, { ':path': '/x', 'content-type': 'text/plain' })
    expect(JSON.parse(plain.body).code).toBe('FL_ERR_UPSTREAM_UNAVAILABLE')
    s.close()
  })
})

describe('one port, every protocol', () => {
  it('HTTP/1.1 and h2c requests at once, under concurrent load, each served in its own protocol', async () => {
    await startSidecar()
    const sessions = Array.from({ length: 4 }, () => http2.connect(proxyUrl))
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
    const h1 = (i: number) =>
      new Promise<string>((resolve, reject) => {
        const req = http.request(`${proxyUrl}/h1/${i}`, { method: 'POST', agent }, (res) => {
          let b = ''
          res.on('data', (c) => (b += c))
          res.on('end', () => resolve(b))
        })
        req.on('error', reject)
        req.end(`h1-${i}`)
      })
    const jobs: Promise<string>[] = []
    for (let i = 0; i < 200; i++) {
      jobs.push(h1(i))
      jobs.push(h2request(sessions[i % 4]!, { ':path': `/h2/${i}` }, `h2-${i}`).then((r) => r.body))
    }
    const bodies = await Promise.all(jobs)
    for (let i = 0; i < 200; i++) {
      expect(bodies[2 * i]).toBe(`h1-${i}`)
      expect(bodies[2 * i + 1]).toBe(`h2-${i}`)
    }
    expect(up.seen.protocols.filter((p) => p === '1.1')).toHaveLength(200)
    expect(up.seen.protocols.filter((p) => p === '2')).toHaveLength(200)
    for (const s of sessions) s.close()
    agent.destroy()
  })

  it('--upstream-protocol h2c sends HTTP/1.1 requests upstream over h2c; http1 sends HTTP/2 requests over HTTP/1.1', async () => {
    await startSidecar({ upstreamProtocol: 'h2c' })
    const viaH2c = await fetch(`${proxyUrl}/up-h2c`, { method: 'POST', body: 'h1 in, h2c out' })
    expect(await viaH2c.text()).toBe('h1 in, h2c out')
    expect(up.seen.protocols).toEqual(['2'])
    await sidecar!.close()

    up.seen.protocols = []
    await startSidecar({ upstreamProtocol: 'http1' })
    const s = http2.connect(proxyUrl)
    const r = await h2request(s, { ':path': '/up-h1', 'content-type': 'text/plain' }, 'h2 in, h1 out')
    s.close()
    expect(r.headers?.[':status']).toBe(200)
    expect(r.body).toBe('h2 in, h1 out')
    expect(up.seen.protocols).toEqual(['1.1'])
  })

  it('an upstream protocol that cannot fit the upstream URL is refused by name', () => {
    expect(() => buildSidecar({ upstream: up.url, upstreamProtocol: 'h2' })).toThrow(/--upstream-protocol h2/)
  })

  describe('TLS with ALPN', () => {
    let dir: string
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-tls-'))
      writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n')
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          'key.pem',
          '-out',
          'cert.pem',
        ],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
      )
    })
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('h2 and http/1.1 are both served on the TLS port, chosen by ALPN', async () => {
      await startSidecar({ tlsCert: path.join(dir, 'cert.pem'), tlsKey: path.join(dir, 'key.pem') })
      expect(proxyUrl).toMatch(/^https:/)
      const ca = readFileSync(path.join(dir, 'cert.pem'))
      const s = http2.connect(proxyUrl, { ca })
      const r = await h2request(s, { ':path': '/tls-h2' }, 'over h2')
      expect((s.socket as unknown as { alpnProtocol: string }).alpnProtocol).toBe('h2')
      s.close()
      expect(r.body).toBe('over h2')
      expect(r.trailers?.['grpc-status']).toBe('0')
      const agent = new https.Agent({ ca, ALPNProtocols: ['http/1.1'] })
      const h1 = await new Promise<{ body: string; alpn: string | false }>((resolve, reject) => {
        const req = https.request(`${proxyUrl}/tls-h1`, { method: 'POST', agent }, (res) => {
          const alpn = (res.socket as unknown as { alpnProtocol: string | false }).alpnProtocol
          let b = ''
          res.on('data', (c) => (b += c))
          res.on('end', () => resolve({ body: b, alpn }))
        })
        req.on('error', reject)
        req.end('over h1')
      })
      agent.destroy()
      expect(h1).toEqual({ body: 'over h1', alpn: 'http/1.1' })
    })

    it('a missing key file is refused by name', () => {
      expect(() =>
        buildSidecar({ upstream: up.url, tlsCert: path.join(dir, 'cert.pem'), tlsKey: path.join(dir, 'nope.pem') }),
      ).toThrow(/--tls-key/)
    })
  })
})

/** Raw HTTP/2 frames for the hostile pass. */
function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9)
  h.writeUIntBE(payload.length, 0, 3)
  h[3] = type
  h[4] = flags
  h.writeUInt32BE(stream, 5)
  return Buffer.concat([h, payload])
}

/** An HPACK block of literal fields without indexing (no Huffman): enough for a request. */
function hpack(fields: [string, string][]): Buffer {
  const parts: Buffer[] = []
  const str = (s: string) => {
    const b = Buffer.from(s)
    if (b.length >= 127) {
      // 7-bit prefix integer continuation.
      const out = [127]
      let n = b.length - 127
      while (n >= 128) {
        out.push((n % 128) + 128)
        n = Math.floor(n / 128)
      }
      out.push(n)
      return Buffer.concat([Buffer.from(out), b])
    }
    return Buffer.concat([Buffer.from([b.length]), b])
  }
  for (const [k, v] of fields) parts.push(Buffer.from([0]), str(k), str(v))
  return Buffer.concat(parts)
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

/** Opens a raw connection, writes `bytes`, and resolves when the sidecar closes it (or after `ms`: 'open'). */
function rawConnection(bytes: Buffer[], ms: number): Promise<{ ended: 'closed' | 'open'; received: Buffer }> {
  return new Promise((resolve) => {
    const sock = net.connect(Number(new URL(proxyUrl).port), '127.0.0.1')
    const got: Buffer[] = []
    sock.on('data', (c: Buffer) => got.push(c))
    sock.on('error', () => undefined)
    const timer = setTimeout(() => {
      sock.destroy()
      resolve({ ended: 'open', received: Buffer.concat(got) })
    }, ms)
    sock.on('close', () => {
      clearTimeout(timer)
      resolve({ ended: 'closed', received: Buffer.concat(got) })
    })
    sock.on('connect', () => {
      for (const b of bytes) sock.write(b)
    })
  })
}

describe('hostile clients end their own stream or connection, never the process', () => {
  it('a malformed preface gets a 400 (it is not HTTP/2, so HTTP/1.1 answers) and the connection closes', async () => {
    await startSidecar()
    const r = await rawConnection([Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n')], 5000)
    expect(r.ended).toBe('closed')
    expect(r.received.toString()).toMatch(/^HTTP\/1\.1 400/)
    await stillServes()
  })

  it('garbage after a valid preface ends that connection with GOAWAY', async () => {
    await startSidecar()
    const r = await rawConnection([PREFACE, Buffer.from('this is not a frame at all, not even close.....')], 5000)
    expect(r.ended).toBe('closed')
    await stillServes()
  })

  it('a SETTINGS flood (never reading the ACKs) ends that connection', async () => {
    await startSidecar()
    const flood = Buffer.concat(Array.from({ length: 20_000 }, () => frame(4, 0, 0)))
    const r = await rawConnection([PREFACE, frame(4, 0, 0), flood, flood, flood], 10_000)
    expect(r.ended).toBe('closed')
    await stillServes()
  })

  it('a client ignoring flow control (DATA past the window) gets its stream or connection ended', async () => {
    await startSidecar()
    await putRules([{ id: 'hold', match: { path: '/flood' }, delay: { ms: 5000 } }])
    const headers = hpack([
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/flood'],
      [':authority', 'x'],
      ['content-type', 'application/grpc'],
    ])
    const data = Buffer.concat(Array.from({ length: 10 }, () => frame(0, 0, 1, Buffer.alloc(16_384))))
    const r = await rawConnection([PREFACE, frame(4, 0, 0), frame(1, 4, 1, headers), data], 5000)
    // 160 KiB against a 64 KiB window: FLOW_CONTROL_ERROR (RST_STREAM type 3 or GOAWAY type 7).
    const types = frameTypes(r.received)
    expect(types.some(([t, code]) => (t === 3 || t === 7) && code === http2.constants.NGHTTP2_FLOW_CONTROL_ERROR)).toBe(
      true,
    )
    await stillServes()
  })

  it('a huge header block is refused and the process keeps serving', async () => {
    await startSidecar()
    const s = http2.connect(proxyUrl)
    s.on('error', () => undefined)
    const r = await h2request(s, { ':path': '/echo', 'x-big': 'a'.repeat(200_000) })
    expect(Number(r.headers?.[':status']) === 431 || r.rstCode !== undefined || s.destroyed).toBe(true)
    expect(up.seen.requests).toBe(0)
    s.destroy()
    await stillServes()
  })

  it('a stream that never ends is cut when its client goes, and does not stall other streams', async () => {
    await startSidecar()
    const s = http2.connect(proxyUrl)
    s.on('error', () => undefined)
    const endless = s.request({ ':method': 'POST', ':path': '/hang', 'content-type': 'application/grpc' })
    endless.on('error', () => undefined)
    const timer = setInterval(() => endless.write(Buffer.alloc(1024)), 5)
    await expect.poll(() => up.seen.requests).toBe(1)
    const other = await h2request(s, { ':path': '/echo' }, 'meanwhile')
    expect(other.body).toBe('meanwhile')
    clearInterval(timer)
    s.destroy()
    await expect.poll(() => up.seen.resets.length).toBe(1)
    await stillServes()
  })
})

/** [type, error code] of each RST_STREAM / GOAWAY frame in a server byte stream (others: code 0). */
function frameTypes(bytes: Buffer): [number, number][] {
  const out: [number, number][] = []
  let i = 0
  while (i + 9 <= bytes.length) {
    const len = bytes.readUIntBE(i, 3)
    const type = bytes[i + 3]!
    const payload = bytes.subarray(i + 9, i + 9 + len)
    const code = type === 3 ? payload.readUInt32BE(0) : type === 7 && payload.length >= 8 ? payload.readUInt32BE(4) : 0
    out.push([type, code])
    i += 9 + len
  }
  return out
}
