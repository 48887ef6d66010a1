/**
 * Regressions from the hardening pass (issue 7, sidecar items): each case is something a client
 * or an operator could send that once crashed the sidecar, failed every request with a 502 that
 * blamed the app, or escaped a rule. All over real sockets.
 */
import net from 'node:net'
import zlib from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { json, send, startWorld, type World } from '../helpers/world.ts'

let world: World | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
})

/** Sends raw bytes and resolves with everything the server wrote before closing (or a timeout). */
function raw(url: string, bytes: string, waitMs = 1500): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    const chunks: Buffer[] = []
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    const timer = setTimeout(done, waitMs)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', done)
    socket.on('close', done)
    socket.on('error', (err) => (chunks.length ? done() : reject(err)))
    socket.write(bytes)
  })
}

async function stillServes(w: World): Promise<void> {
  const r = await send(w.proxyUrl + '/')
  expect(r.status).toBe(200)
  expect(r.body.toString()).toBe('hello\n')
}

describe('HEAD through response-phase faults (item 1)', () => {
  it.each([
    ['delay', { delay: { ms: 20 } }],
    ['replace', { replace: { status: 503, body: 'nope' } }],
    ['patch.headers', { patch: { headers: [['x-added', 'yes']] } }],
  ])('%s on HEAD answers without crashing and keeps upstream headers', async (_name, fault) => {
    world = await startWorld()
    await world.putRules([{ id: 'r', phase: 'response', match: { path: '/json' }, ...fault }])
    const head = await send(world.proxyUrl + '/json', { method: 'HEAD' })
    expect(head.body.length).toBe(0)
    expect(head.headers['x-faultline-fault']).toBe('r')
    expect(head.headers['content-type']).toBe('application/json')
    await stillServes(world)
  })

  it('HEAD with a response-phase JSON patch keeps every upstream header', async () => {
    world = await startWorld()
    await world.putRules([
      { id: 'p', phase: 'response', match: { path: '/json' }, patch: { json: { merge: { a: 1 } } } },
    ])
    const get = await send(world.proxyUrl + '/json')
    const head = await send(world.proxyUrl + '/json', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers['content-type']).toBe('application/json')
    expect(head.headers['content-length']).toBe(
      String(JSON.stringify({ user: { name: 'ada', tier: 'gold' }, items: [1, 2, 3] }).length),
    )
    expect(get.headers['content-length']).toBe(String(get.body.length))
    await stillServes(world)
  })

  it('an exception inside a fault ends that exchange with a 500 FL_ERR_INTERNAL, never the process', async () => {
    world = await startWorld()
    // A transform that throws inside JSON.stringify is caught as patch_failed; a throwing header
    // setter is not: simulate the worst case by making the response object throw on writeHead.
    await world.putRules([{ id: 'd', phase: 'response', match: { path: '/json' }, delay: { ms: 5 } }])
    const server = world.sidecar.proxy.server
    const original = server.listeners('request')
    const trap = (_req: unknown, res: { writeHead: () => never }) => {
      res.writeHead = () => {
        throw new Error('boom from writeHead')
      }
    }
    server.prependListener('request', trap)
    const r = await send(world.proxyUrl + '/json').catch((err: Error) => err)
    server.removeListener('request', trap)
    expect(original.length).toBeGreaterThan(0)
    // Either a reset (the response could not even start) or an error status: never a dead process.
    if (!(r instanceof Error)) expect(r.status).toBeGreaterThanOrEqual(500)
    await stillServes(world)
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toMatch(/faultline_exchange_failures_total\{[^}]*\} [1-9]/)
  })
})

describe('found by the fuzz suite', () => {
  it('a 204 rewritten to 200 is answered with an empty body, not the length the app put on its 204', async () => {
    world = await startWorld()
    await world.putRules([{ id: 's', phase: 'response', match: { path: '/status/204' }, replace: { status: 200 } }])
    const r = await send(world.proxyUrl + '/status/204')
    expect(r.status).toBe(200)
    expect(r.headers['content-length']).toBe('0')
    await stillServes(world)
  })

  it('a GET rewritten to HEAD is answered with an empty body, not a length the app never sends', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'h', match: { path: '/json' }, replace: { method: 'HEAD' } }])
    const r = await send(world.proxyUrl + '/json')
    expect(r.status).toBe(200)
    expect(r.headers['content-length']).toBe('0')
    expect(r.body.length).toBe(0)
    await stillServes(world)
  })

  it('a response-phase reset after a POST body was read resets the connection (was a 500 FL_ERR_INTERNAL)', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'r1', phase: 'response', abort: { mode: 'reset' } }])
    const r = await send(world.proxyUrl + '/echo/y', { method: 'POST', body: '{"a":1}' }).catch((err: Error) => err)
    expect(r).toBeInstanceOf(Error)
    expect((r as NodeJS.ErrnoException).code).toBe('ECONNRESET')
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toContain('faultline_exchange_failures_total{service="default"} 0')
  })
})

describe('rule values HTTP cannot carry are refused at PUT (item 2)', () => {
  const cases: [string, unknown, string][] = [
    [
      'response header above U+00FF',
      { phase: 'response', replace: { headers: { 'x-a': 'caf\u20ac' } } },
      '/rules/0/replace/headers/x-a',
    ],
    [
      'request header with CR/LF',
      { replace: { headers: { 'x-a': 'a\r\nx-injected: 1' } } },
      '/rules/0/replace/headers/x-a',
    ],
    ['request header with NUL', { patch: { headers: [['x-a', 'a\u0000b']] } }, '/rules/0/patch/headers/0/1'],
    ['replace.path with NUL', { replace: { path: '/a\u0000b' } }, '/rules/0/replace/path'],
    ['replace.path raw non-ASCII', { replace: { path: '/caf\u00e9' } }, '/rules/0/replace/path'],
    ['replace.method not a token', { replace: { method: 'GE T' } }, '/rules/0/replace/method'],
    ['replace.method CONNECT', { replace: { method: 'CONNECT' } }, '/rules/0/replace/method'],
    [
      'abort header with NUL',
      { abort: { status: 503, headers: { 'retry-after': '1\u0000' } } },
      '/rules/0/abort/headers/retry-after',
    ],
    [
      'abort framing header',
      { abort: { status: 503, headers: { 'content-length': '5' } } },
      '/rules/0/abort/headers/content-length',
    ],
    ['patch.query lone surrogate', { patch: { query: [['a', '\ud800']] } }, '/rules/0/patch/query/0/1'],
  ]
  it.each(cases)('%s', async (_name, fields, path) => {
    world = await startWorld()
    await world.putRules([{ id: 'good', delay: { ms: 1 }, match: { path: '/never' } }])
    const r = await world.putRules([{ id: 'bad', ...(fields as object) }])
    expect(r.status).toBe(400)
    expect(r.body.errors.map((e: { path: string }) => e.path)).toContain(path)
    const rules = await world.admin('GET', '/rules')
    expect(rules.body.rules.map((x: { id: string }) => x.id)).toEqual(['good'])
    await stillServes(world)
  })
})

describe('maxActive survives recompiles (item 3)', () => {
  it('a POST /rules while requests are held does not reset the live count', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'cap', match: { path: '/echo/c' }, delay: { ms: 400 }, maxActive: 1 }])
    const first = send(world.proxyUrl + '/echo/c')
    // Wait until the first request is held.
    for (let i = 0; i < 100; i++) {
      const m = (await world.admin('GET', '/metrics')).body as string
      if (m.includes('faultline_active_faults{service="default"} 1')) break
      await new Promise((r) => setTimeout(r, 5))
    }
    expect((await world.admin('POST', '/rules', { id: 'other', match: { path: '/x' }, delay: { ms: 1 } })).status).toBe(
      201,
    )
    const second = await send(world.proxyUrl + '/echo/c')
    expect(second.headers['x-faultline-fault']).toBeUndefined()
    expect((await first).headers['x-faultline-fault']).toBe('cap')
  })

  it('compiled rules are frozen', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'f', delay: { ms: 1 } }])
    const rule = world.sidecar.store.snapshot.rules[0]!
    expect(Object.isFrozen(rule)).toBe(true)
  })
})

describe('path spellings do not bypass rules (item 4)', () => {
  it.each(['//faulted/x', '/%66aulted/x', '/a/../faulted/x', '/./faulted/x', '/faulted//x', '/faulted/%2e/x'])(
    '%s is matched by /faulted/**',
    async (spelling) => {
      world = await startWorld()
      await world.putRules([{ id: 'f', match: { path: '/faulted/**' }, replace: { headers: { 'x-seen': 'yes' } } }])
      const r = await raw(world.proxyUrl, `GET ${spelling} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
      expect(r).toMatch(/x-faultline-fault: f/i)
    },
  )

  it('absolute-form request targets are matched on their path', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'f', match: { path: '/echo/**' }, replace: { headers: { 'x-seen': 'yes' } } }])
    const r = await raw(
      world.proxyUrl,
      `GET http://example.test/echo/x HTTP/1.1\r\nhost: example.test\r\nconnection: close\r\n\r\n`,
    )
    expect(r).toMatch(/x-faultline-fault: f/i)
    expect(r).toContain('"x-seen":"yes"')
  })

  it('forwards exactly what the client sent', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'f', match: { path: '/echo/a/b/~x' }, replace: { headers: { 'x-seen': 'yes' } } }])
    const r = await raw(world.proxyUrl, `GET /echo//a/./b/%7Ex HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
    expect(r).toMatch(/x-faultline-fault: f/i)
    expect(r).toContain('"url":"/echo//a/./b/%7Ex"')
  })
})

describe('admin API bodies (items 5, 6, 7)', () => {
  it('DELETE and POST /reset with content-type: application/json and no body are accepted', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'a', source: 's', delay: { ms: 1 } }])
    const headers = { 'content-type': 'application/json' }
    const del = await fetch(world.adminUrl + '/rules/a', { method: 'DELETE', headers })
    expect(del.status).toBe(200)
    const reset = await fetch(world.adminUrl + '/reset', { method: 'POST', headers })
    expect(reset.status).toBe(200)
    const bySource = await fetch(world.adminUrl + '/rules?source=s', { method: 'DELETE', headers })
    expect(bySource.status).toBe(200)
  })

  it('JSON nested 10,000 deep is a 400 with a path; GET /rules still answers', async () => {
    world = await startWorld()
    const deep = '['.repeat(10_000) + ']'.repeat(10_000)
    const body = `{"rules":[{"id":"d","phase":"response","patch":{"json":{"merge":{"a":${deep}}}}}]}`
    const r = await world.admin('PUT', '/rules', body)
    expect(r.status).toBe(400)
    expect(r.body.errors[0].path).toMatch(/^\/rules\/0\/patch\/json\/merge\/a/)
    const rules = await world.admin('GET', '/rules')
    expect(rules.status).toBe(200)
  })

  it('a ttl beyond the documented maximum is a 400 with its path', async () => {
    world = await startWorld()
    const r = await world.putRules([{ id: 't', delay: { ms: 1 }, ttl: '99999999999999999999d' }])
    expect(r.status).toBe(400)
    expect(r.body.errors).toEqual([{ path: '/rules/0/ttl', message: expect.stringMatching(/at most/) }])
  })
})

describe('204 and 304 carry no body and no content-length (item 8)', () => {
  it.each([
    ['abort 204', { abort: { status: 204, body: 'x' } }, 204],
    ['abort 304', { abort: { status: 304 } }, 304],
    ['replace.status 204', { phase: 'response', replace: { status: 204 } }, 204],
    ['replace.body on a 304', { phase: 'response', replace: { status: 304, body: 'x' } }, 304],
  ])('%s', async (_name, fault, status) => {
    world = await startWorld()
    await world.putRules([{ id: 'n', match: { path: '/json' }, ...fault }])
    const r = await raw(
      world.proxyUrl,
      'GET /json HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    )
    const [head, rest] = r.split('\r\n\r\n', 2) as [string, string]
    expect(head).toContain(`HTTP/1.1 ${status}`)
    expect(head.toLowerCase()).not.toContain('content-length')
    expect(head.toLowerCase()).not.toContain('transfer-encoding')
    // The next response on the same connection starts right after the headers: no stray body.
    expect(rest.startsWith('HTTP/1.1 200')).toBe(true)
  })
})

describe('Upgrade requests (item 9)', () => {
  it('strips x-faultline-* headers when header faults are on', async () => {
    world = await startWorld({ headerFaults: true })
    const r = await raw(
      world.proxyUrl,
      'GET /echo/ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nx-faultline-delay-ms: 5\r\nx-keep: 1\r\n\r\n',
    )
    // The sample app answers the handshake as a plain request echoing what it received.
    expect(r).toContain('"x-keep":"1"')
    expect(r).not.toContain('x-faultline-delay-ms')
  })
})

describe('body decoding limits (item 10)', () => {
  it('a small gzip body that inflates past --max-body-bytes passes unchanged and is counted', async () => {
    world = await startWorld({ maxBodyBytes: 64 * 1024 })
    await world.putRules([{ id: 'z', match: { path: '/echo/**' }, patch: { json: { merge: { a: 1 } } } }])
    const bomb = zlib.gzipSync(Buffer.from(`{"x":"${'a'.repeat(4 * 1024 * 1024)}"}`))
    expect(bomb.length).toBeLessThan(64 * 1024)
    const r = await send(world.proxyUrl + '/echo/z', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    })
    expect(r.status).toBe(200)
    expect(json(r).bytes).toBe(bomb.length)
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toContain('faultline_faults_skipped_total{service="default",rule="z",reason="patch_too_large"} 1')
  })
})

describe('methods outside the usual list (item 11)', () => {
  it.each(['PROPFIND', 'MKCOL', 'PURGE', 'REPORT'])('%s is forwarded to the app', async (method) => {
    world = await startWorld()
    const r = await raw(
      world.proxyUrl,
      `${method} /echo/m HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
    )
    expect(r).toContain('HTTP/1.1 200')
    expect(r).toContain(`"method":"${method}"`)
  })
})

describe('methods Node cannot parse (item 11)', () => {
  it('BREW is tunnelled to the app unparsed, x-faultline-* stripped, and counted as OTHER', async () => {
    // Node's own HTTP server refuses BREW, so the app here is a raw socket that echoes the head.
    const seen: string[] = []
    const app = net.createServer((s) => {
      let buf = ''
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1')
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.slice(0, end)
        buf = buf.slice(end + 4)
        seen.push(head)
        s.write(`HTTP/1.1 418 I'm a teapot\r\ncontent-length: ${head.length}\r\n\r\n${head}`)
      })
    })
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r))
    const { port } = app.address() as net.AddressInfo
    try {
      world = await startWorld({ upstream: `http://127.0.0.1:${port}`, headerFaults: true })
      const r = await raw(
        world.proxyUrl,
        'BREW /pot HTTP/1.1\r\nhost: x\r\nx-faultline-delay-ms: 5\r\naccept-additions: milk\r\nconnection: close\r\n\r\n',
      )
      expect(r).toContain("HTTP/1.1 418 I'm a teapot")
      expect(seen[0]).toContain('BREW /pot HTTP/1.1')
      expect(seen[0]).toContain('accept-additions: milk')
      expect(seen[0]).not.toContain('x-faultline')
      await expect
        .poll(async () => (await world!.admin('GET', '/metrics')).body as string)
        .toMatch(/faultline_requests_total\{service="default",method="OTHER",code="418",fault="none"\} 1/)
    } finally {
      await world?.close()
      world = undefined
      await new Promise((r) => app.close(r))
    }
  })

  it('a malformed request still gets a 400, and the sidecar keeps serving', async () => {
    world = await startWorld()
    const r = await raw(world.proxyUrl, 'GE\u0000T / HTTP/1.1\r\nhost: x\r\n\r\n')
    expect(r).toContain('HTTP/1.1 400')
    await stillServes(world)
  })
})

/**
 * An app that speaks raw HTTP/1.1, since Node's own server refuses BREW: it keeps every byte each
 * connection brought, and answers 418 (echoing the head) to every header block it sees, so a
 * request that reached it raw shows up both in its bytes and as one more answer.
 */
async function rawApp(): Promise<{ url: string; received: () => string[]; close: () => Promise<void> }> {
  const received: string[] = []
  const app = net.createServer((s) => {
    const at = received.push('') - 1
    let buf = ''
    s.on('data', (d: Buffer) => {
      received[at] += d.toString('latin1')
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end)
        buf = buf.slice(end + 4)
        s.write(`HTTP/1.1 418 I'm a teapot\r\ncontent-length: ${head.length}\r\n\r\n${head}`)
      }
    })
    s.on('error', () => s.destroy())
  })
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r))
  const { port } = app.address() as net.AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received: () => received,
    close: () => new Promise((r) => app.close(() => r())),
  }
}

/** Raw bytes over one connection, `steps` written one after another, each once the previous answer is in. */
function conversation(url: string, steps: string[], isAnswered: (soFar: string) => boolean) {
  const { hostname, port } = new URL(url)
  return new Promise<{ bytes: string; closed: boolean; writeFailed: boolean }>((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    let bytes = ''
    let writeFailed = false
    let next = 0
    const timer = setTimeout(() => finish(false), 3000)
    const finish = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ bytes, closed, writeFailed })
    }
    const write = () => socket.write(steps[next++]!, (err) => (writeFailed ||= !!err))
    socket.on('data', (d: Buffer) => {
      bytes += d.toString('latin1')
      if (next < steps.length && isAnswered(bytes)) write()
    })
    socket.on('close', () => finish(true))
    socket.on('error', () => (writeFailed = true))
    socket.on('connect', write)
  })
}

const statusLines = (bytes: string) => bytes.match(/HTTP\/1\.1 \d{3}/g) ?? []
const FAULTED_GET =
  'GET /faulted/x HTTP/1.1\r\nhost: x\r\nx-faultline-abort-status: 500\r\nx-other: 1\r\ncontent-length: 0\r\n\r\n'

describe('a relayed request carries no later request past the rules (items 4, 9, 11)', () => {
  let app: Awaited<ReturnType<typeof rawApp>> | undefined
  afterEach(async () => {
    await app?.close()
    app = undefined
  })

  async function faultedWorld(upstream: string): Promise<World> {
    const w = await startWorld({ upstream, headerFaults: true })
    await w.putRules([{ id: 'f', match: { path: '/faulted/**' }, abort: { status: 503 } }])
    return w
  }

  it('a pipelined request after BREW never reaches the app: one answer, connection: close, then a clean close', async () => {
    app = await rawApp()
    world = await faultedWorld(app.url)
    const brew = 'BREW /pot HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n'
    const r = await conversation(world.proxyUrl, [brew + FAULTED_GET], () => false)
    expect(r.closed).toBe(true)
    expect(statusLines(r.bytes)).toEqual(['HTTP/1.1 418'])
    expect(r.bytes.toLowerCase()).toContain('connection: close')
    // The app got the BREW alone, told to close, and never the GET or its fault header.
    expect(app.received()).toEqual(['BREW /pot HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'])
    // The GET, sent again on a new connection as a client must, takes the normal (faulted) path.
    const again = await send(world.proxyUrl + '/faulted/x', { headers: { 'x-faultline-abort-status': '500' } })
    expect(again.headers['x-faultline-fault']).toBe('f,header-request')
    expect(again.status).toBe(503)
    const stats = (await world.admin('GET', '/stats')).body
    expect(stats.count).toBe(2)
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toMatch(/faultline_requests_total\{service="default",method="OTHER",code="418",fault="none"\} 1\n/)
  })

  it('a request sent on the same connection after the BREW answer is never relayed raw', async () => {
    app = await rawApp()
    world = await faultedWorld(app.url)
    const brew = 'BREW /pot HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n'
    const r = await conversation(world.proxyUrl, [brew, FAULTED_GET], (soFar) => /\r\n\r\n[\s\S]*pot/.test(soFar))
    expect(r.closed).toBe(true)
    expect(statusLines(r.bytes)).toEqual(['HTTP/1.1 418'])
    expect(app.received().join('')).not.toContain('/faulted/x')
    expect(app.received().join('')).not.toContain('x-faultline')
  })

  it('a BREW body is framed by its content-length or chunked encoding; what follows it is dropped', async () => {
    app = await rawApp()
    world = await faultedWorld(app.url)
    const sized = 'BREW /a HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello'
    await conversation(world.proxyUrl, [sized + FAULTED_GET], () => false)
    const chunked =
      'BREW /b HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nt: 1\r\n\r\n'
    await conversation(world.proxyUrl, [chunked + FAULTED_GET], () => false)
    expect(app.received()).toEqual([
      'BREW /a HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello',
      'BREW /b HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5;x=1\r\nhello\r\n0\r\nt: 1\r\n\r\n',
    ])
  })

  it('a BREW that cannot be framed is a 400 and reaches nobody', async () => {
    app = await rawApp()
    world = await faultedWorld(app.url)
    const r = await conversation(
      world.proxyUrl,
      ['BREW /a HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n' + FAULTED_GET],
      () => false,
    )
    expect(r.closed).toBe(true)
    expect(statusLines(r.bytes)).toEqual(['HTTP/1.1 400'])
    expect(r.bytes).toContain('"code":"FL_ERR_BAD_REQUEST"')
    expect(app.received().join('')).toBe('')
  })

  it('a BREW pipelined after a GET waits for the GET to be answered, in order', async () => {
    app = await rawApp()
    world = await faultedWorld(app.url)
    const r = await conversation(
      world.proxyUrl,
      ['GET /faulted/1 HTTP/1.1\r\nhost: x\r\n\r\nBREW /pot HTTP/1.1\r\nhost: x\r\n\r\n' + FAULTED_GET],
      () => false,
    )
    expect(r.closed).toBe(true)
    expect(statusLines(r.bytes)).toEqual(['HTTP/1.1 503', 'HTTP/1.1 418'])
    expect(app.received().join('')).not.toContain('/faulted/')
  })

  it('an Upgrade the app refuses ends the connection after its answer; a pipelined request is not relayed', async () => {
    world = await startWorld({ headerFaults: true })
    await world.putRules([{ id: 'f', match: { path: '/faulted/**' }, abort: { status: 503 } }])
    const upgrade = 'GET /echo/ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n'
    const r = await conversation(world.proxyUrl, [upgrade, FAULTED_GET], (soFar) => soFar.includes('"url"'))
    expect(r.closed).toBe(true)
    // The sample app answers the handshake as a plain request: that answer, and nothing else.
    expect(statusLines(r.bytes)).toEqual(['HTTP/1.1 200'])
    expect(r.bytes.toLowerCase()).toContain('connection: close')
  })
})

/** A port whose accept queue is full: a connect to it neither succeeds nor fails (SYNs are dropped). */
async function unacceptingPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const { Worker } = await import('node:worker_threads')
  // The listener lives in a worker whose event loop is then blocked, so it never accepts.
  const worker = new Worker(
    `const net = require('node:net'); const { parentPort } = require('node:worker_threads')
     const s = net.createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(s.address().port); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0) })`,
    { eval: true },
  )
  const port = await new Promise<number>((r) => worker.once('message', r))
  const fillers: net.Socket[] = []
  for (;;) {
    const s = net.connect({ host: '127.0.0.1', port })
    fillers.push(s)
    const connected = await new Promise<boolean>((r) => {
      s.once('connect', () => r(true))
      s.once('error', () => r(false))
      setTimeout(() => r(false), 300)
    })
    if (!connected) break
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy()
      await worker.terminate()
    },
  }
}

describe('a relay to an app it cannot reach answers like the normal path (item 11)', () => {
  it('a refused connection is a 503 FL_ERR_UPSTREAM_UNAVAILABLE with its JSON body, counted', async () => {
    const closed = net.createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const { port } = closed.address() as net.AddressInfo
    await new Promise((r) => closed.close(r))
    world = await startWorld({ upstream: `http://127.0.0.1:${port}` })
    const r = await raw(world.proxyUrl, 'BREW /pot HTTP/1.1\r\nhost: x\r\n\r\n')
    const [head, body] = r.split('\r\n\r\n', 2) as [string, string]
    expect(head).toMatch(/^HTTP\/1\.1 503 /)
    expect(head).toContain('content-type: application/json')
    expect(JSON.parse(body)).toMatchObject({ code: 'FL_ERR_UPSTREAM_UNAVAILABLE' })
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toMatch(/faultline_requests_total\{service="default",method="OTHER",code="503",fault="none"\} 1\n/)
  })

  it('a connect that hangs is a 503 after --upstream-timeout', async () => {
    const blackhole = await unacceptingPort()
    try {
      world = await startWorld({ upstream: `http://127.0.0.1:${blackhole.port}`, upstreamTimeoutMs: 300 })
      const t0 = performance.now()
      const r = await raw(world.proxyUrl, 'BREW /pot HTTP/1.1\r\nhost: x\r\n\r\n', 5000)
      const ms = performance.now() - t0
      expect(r).toMatch(/^HTTP\/1\.1 503 /)
      expect(r).toContain('"code":"FL_ERR_UPSTREAM_UNAVAILABLE"')
      expect(r).toContain('no connection within 300 ms')
      expect(ms).toBeGreaterThanOrEqual(290)
      expect(ms).toBeLessThan(3000)
    } finally {
      await blackhole.close()
    }
  })

  it('an app that accepts but never answers is a 504 FL_ERR_UPSTREAM_TIMEOUT after --upstream-timeout', async () => {
    const held: net.Socket[] = []
    const silent = net.createServer((s) => held.push(s.on('error', () => s.destroy())))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const { port } = silent.address() as net.AddressInfo
    try {
      world = await startWorld({ upstream: `http://127.0.0.1:${port}`, upstreamTimeoutMs: 300 })
      const r = await raw(world.proxyUrl, 'BREW /pot HTTP/1.1\r\nhost: x\r\n\r\n', 5000)
      expect(r).toMatch(/^HTTP\/1\.1 504 /)
      expect(r).toContain('"code":"FL_ERR_UPSTREAM_TIMEOUT"')
    } finally {
      await world?.close()
      world = undefined
      for (const s of held) s.destroy()
      await new Promise((r) => silent.close(r))
    }
  })
})

describe('no data is null, never 0 (item 18)', () => {
  it('GET /stats on an idle sidecar reports null latency figures and error rates', async () => {
    world = await startWorld()
    const { status, body } = await world.admin('GET', '/stats')
    expect(status).toBe(200)
    expect(body.count).toBe(0)
    expect(body.errorRate).toBeNull()
    expect(body.latencyMs).toEqual({ p50: null, p90: null, p95: null, p99: null, max: null })
    for (const cohort of ['faulted', 'unfaulted']) {
      expect(body.cohorts[cohort].errorRate).toBeNull()
      expect(body.cohorts[cohort].latencyMs.p95).toBeNull()
      expect(body.cohorts[cohort].latencyMs.max).toBeNull()
    }
    // One request later the figures are numbers.
    await stillServes(world)
    const after = (await world.admin('GET', '/stats')).body
    expect(after.errorRate).toBe(0)
    expect(typeof after.latencyMs.p95).toBe('number')
    expect(typeof after.latencyMs.max).toBe('number')
  })
})

describe('method labels (item 11)', () => {
  it('a PROPFIND is counted as method="OTHER", a GET as itself', async () => {
    world = await startWorld()
    const r = await raw(
      world.proxyUrl,
      'PROPFIND /echo/dav HTTP/1.1\r\nhost: x\r\ndepth: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
    )
    expect(r).toContain('"method":"PROPFIND"')
    await stillServes(world)
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toMatch(/faultline_requests_total\{service="default",method="OTHER",code="200",fault="none"\} 1\n/)
    expect(metrics).toMatch(/faultline_requests_total\{service="default",method="GET",code="200",fault="none"\} 1\n/)
    expect(metrics).not.toContain('method="PROPFIND"')
  })
})

describe('unknown methods split across reads (found by the relay fuzz)', () => {
  let app: Awaited<ReturnType<typeof rawApp>> | undefined
  afterEach(async () => {
    await app?.close()
    app = undefined
  })

  /** Writes `pieces` 50 ms apart (each arrives as its own read) and resolves with what came back. */
  function inPieces(url: string, pieces: string[]): Promise<string> {
    const { hostname, port } = new URL(url)
    return new Promise((resolve) => {
      const socket = net.connect({ host: hostname, port: Number(port) }).setNoDelay(true)
      let bytes = ''
      const timer = setTimeout(() => socket.destroy(), 3000)
      socket.on('data', (d: Buffer) => (bytes += d.toString('latin1')))
      socket.on('error', () => undefined) // a write after the close: what came back is checked
      socket.on('close', () => {
        clearTimeout(timer)
        resolve(bytes)
      })
      socket.on('connect', async () => {
        for (const p of pieces) {
          socket.write(p)
          await new Promise((r) => setTimeout(r, 50))
        }
      })
    })
  }

  it('a method whose first byte came in an earlier read is refused with a 400, never forwarded mangled', async () => {
    app = await rawApp()
    world = await startWorld({ upstream: app.url })
    const r = await inPieces(world.proxyUrl, ['B', 'REW /pot HTTP/1.1\r\nhost: x\r\n\r\n'])
    expect(statusLines(r)).toEqual(['HTTP/1.1 400'])
    expect(app.received().join('')).toBe('')
  })

  it('a method whose request line goes on in the next read is relayed whole', async () => {
    app = await rawApp()
    world = await startWorld({ upstream: app.url })
    const r = await inPieces(world.proxyUrl, ['BREW', ' /pot HTTP/1.1\r\nhost: x\r\n\r\n'])
    expect(statusLines(r)).toEqual(['HTTP/1.1 418'])
    expect(app.received()).toEqual(['BREW /pot HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'])
  })

  it('a malformed request pipelined after a slow one is refused after its answer, in order', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'slow', match: { path: '/echo/slow' }, delay: { ms: 50 } }])
    const r = await raw(
      world.proxyUrl,
      'GET /echo/slow HTTP/1.1\r\nhost: x\r\n\r\nGE\u0000T / HTTP/1.1\r\nhost: x\r\n\r\n',
    )
    expect(statusLines(r)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400'])
    expect(r).toContain('"url":"/echo/slow"')
  })
})
