/**
 * gRPC through a real sidecar: a real grpc-js server behind it, real grpc-js clients in front,
 * every call shape, metadata and trailers, and each gRPC-aware fault with what the client
 * really sees (status, details, retries).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { afterEach, describe, expect, it } from 'vitest'
import type { EchoReply } from '../../examples/grpc/echo-service.ts'
import { type GrpcWorld, startGrpcWorld, unary } from '../helpers/grpc-world.ts'

let world: GrpcWorld | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
})

const metrics = async (w: GrpcWorld) => (await w.admin('GET', '/metrics')).body as string

describe('gRPC pass-through', () => {
  it('unary: reply, response metadata and binary trailers arrive unchanged', async () => {
    world = await startGrpcWorld()
    const md = new grpc.Metadata()
    md.set('x-caller', 'test')
    const r = await unary(world.client(), { text: 'hi' }, { metadata: md })
    expect(r.err).toBeNull()
    expect(r.reply?.text).toBe('hi')
    expect(r.metadata?.get('x-echo')).toEqual(['1'])
    expect(r.trailers?.get('x-echo-trailer-bin')).toEqual([Buffer.from([0, 1, 2, 255])])
    expect(world.echo.lastMetadata?.get('x-caller')).toEqual(['test'])
    expect(world.echo.calls.Unary).toBe(1)
    const m = await metrics(world)
    expect(m).toMatch(/faultline_requests_total\{[^}]*method="POST",code="200",fault="none",grpc_code="OK"\} 1/)
  })

  it('an application error keeps its status, details and trailers', async () => {
    world = await startGrpcWorld()
    const md = new grpc.Metadata()
    md.set('x-echo-fail', String(grpc.status.NOT_FOUND))
    const r = await unary(world.client(), { text: 'x' }, { metadata: md })
    expect(r.err?.code).toBe(grpc.status.NOT_FOUND)
    expect(r.err?.details).toBe('the app failed')
    expect(r.err?.metadata.get('x-echo-trailer-bin')).toEqual([Buffer.from([0, 1, 2, 255])])
    // NOT_FOUND is an application status: not an error in /stats by default.
    const stats = (await world.admin('GET', '/stats')).body
    expect(JSON.stringify(stats)).toContain('"errors":0')
  })

  it('server streaming, client streaming and bidirectional calls', async () => {
    world = await startGrpcWorld()
    const client = world.client()
    const server: EchoReply[] = await new Promise((resolve, reject) => {
      const got: EchoReply[] = []
      const call = client.ServerStream({ text: 's', count: 50 })
      call.on('data', (r: EchoReply) => got.push(r))
      call.on('end', () => resolve(got))
      call.on('error', reject)
    })
    expect(server.map((r) => r.index)).toEqual([...Array(50).keys()])

    const clientStream: EchoReply = await new Promise((resolve, reject) => {
      const call = client.ClientStream((err: grpc.ServiceError | null, r?: EchoReply) =>
        err ? reject(err) : resolve(r!),
      )
      for (const t of ['a', 'b', 'c']) call.write({ text: t })
      call.end()
    })
    expect(clientStream).toMatchObject({ text: 'a,b,c', index: 3 })

    const bidi: string[] = await new Promise((resolve, reject) => {
      const call = client.Bidi()
      const got: string[] = []
      // Each reply triggers the next request: the stream is really interleaved, not buffered.
      call.on('data', (r: EchoReply) => {
        got.push(r.text)
        if (got.length < 5) call.write({ text: `m${got.length}` })
        else call.end()
      })
      call.on('end', () => resolve(got))
      call.on('error', reject)
      call.write({ text: 'm0' })
    })
    expect(bidi).toEqual(['M0', 'M1', 'M2', 'M3', 'M4'])
  })

  it('a large streamed response is relayed with flow control (no corruption)', async () => {
    world = await startGrpcWorld()
    const r = await unary(world.client(), { text: 'big', count: 3_000_000 })
    expect(r.err).toBeNull()
    expect(r.reply?.padding?.length).toBe(3_000_000)
  })

  it('a client cancel cancels the upstream call', async () => {
    world = await startGrpcWorld()
    const call = world.client().ServerStream({ text: 'forever', count: -1 })
    await new Promise<void>((resolve) => call.once('data', () => resolve()))
    const status: grpc.StatusObject = await new Promise((resolve) => {
      call.on('status', resolve)
      call.on('error', () => undefined)
      call.cancel()
    })
    expect(status.code).toBe(grpc.status.CANCELLED)
    // The sidecar stops being sent data: the app's stream was cancelled (its cancelled handler ran).
    await expect.poll(async () => metrics(world!)).toMatch(/grpc_code="Canceled"/)
  })
})

describe('gRPC over TLS', () => {
  it('a grpc-js client with TLS credentials reaches the app through the sidecar (ALPN h2), faults included', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-grpc-tls-'))
    try {
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
          '/CN=localhost',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
          '-keyout',
          'key.pem',
          '-out',
          'cert.pem',
        ],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      world = await startGrpcWorld({ tlsCert: path.join(dir, 'cert.pem'), tlsKey: path.join(dir, 'key.pem') })
      const creds = grpc.credentials.createSsl(readFileSync(path.join(dir, 'cert.pem')))
      const client = world.client({}, creds)
      const ok = await unary(client, { text: 'secure' })
      expect(ok.err).toBeNull()
      expect(ok.reply?.text).toBe('secure')
      expect(ok.trailers?.get('x-echo-trailer-bin')).toEqual([Buffer.from([0, 1, 2, 255])])
      await world.putRules([
        { id: 'tls-abort', match: { path: '/faultline.echo.Echo/Unary' }, abort: { grpcStatus: 7 } },
      ])
      expect((await unary(client, { text: 'x' })).err?.code).toBe(grpc.status.PERMISSION_DENIED)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('gRPC faults', () => {
  it('abort.grpcStatus: trailers-only UNAVAILABLE with the message and details; the app never sees the call', async () => {
    world = await startGrpcWorld()
    const details = Buffer.from('details-proto').toString('base64')
    await world.putRules([
      {
        id: 'unavail',
        match: { path: '/faultline.echo.Echo/Unary' },
        abort: {
          grpcStatus: 'UNAVAILABLE',
          grpcMessage: 'injected: 100% ünavailable',
          grpcStatusDetailsBin: details,
          headers: { 'grpc-retry-pushback-ms': '250' },
        },
      },
    ])
    const r = await unary(world.client(), { text: 'x' })
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE)
    expect(r.err?.details).toBe('injected: 100% ünavailable')
    expect(r.err?.metadata.get('grpc-status-details-bin')).toEqual([Buffer.from('details-proto')])
    expect(r.err?.metadata.get('x-faultline-fault')).toEqual(['unavail'])
    expect(r.err?.metadata.get('grpc-retry-pushback-ms')).toEqual(['250'])
    expect(world.echo.calls.Unary).toBeUndefined()
    expect(await metrics(world)).toMatch(/code="200",fault="abort",grpc_code="Unavailable"\} 1/)
  })

  it('a trailers-only UNAVAILABLE is retried by a client retry policy; the second attempt reaches the app', async () => {
    world = await startGrpcWorld()
    // Deterministic: fail the first attempt only (retries carry grpc-previous-rpc-attempts).
    await world.putRules([
      {
        id: 'first-attempt',
        match: { path: '/faultline.echo.Echo/Unary', headers: [{ name: 'grpc-previous-rpc-attempts', absent: true }] },
        abort: { grpcStatus: 14 },
      },
    ])
    const serviceConfig = {
      methodConfig: [
        {
          name: [{ service: 'faultline.echo.Echo' }],
          retryPolicy: {
            maxAttempts: 3,
            initialBackoff: '0.01s',
            maxBackoff: '0.05s',
            backoffMultiplier: 2,
            retryableStatusCodes: ['UNAVAILABLE'],
          },
        },
      ],
    }
    const client = world.client({ 'grpc.service_config': JSON.stringify(serviceConfig) })
    const r = await unary(client, { text: 'retry me' })
    expect(r.err).toBeNull()
    expect(r.reply?.text).toBe('retry me')
    expect(world.echo.calls.Unary).toBe(1)
    expect(world.echo.lastMetadata?.get('grpc-previous-rpc-attempts')).toEqual(['1'])
  })

  it('abort.status 503 maps to UNAVAILABLE; raw sends the real HTTP status and the client maps it', async () => {
    world = await startGrpcWorld()
    await world.putRules([{ id: 'http', match: { path: '/faultline.echo.Echo/Unary' }, abort: { status: 404 } }])
    const mapped = await unary(world.client(), { text: 'x' })
    expect(mapped.err?.code).toBe(grpc.status.UNIMPLEMENTED)
    await world.putRules([
      { id: 'raw', match: { path: '/faultline.echo.Echo/Unary' }, abort: { status: 503, raw: true } },
    ])
    const raw = await unary(world.client(), { text: 'x' })
    expect(raw.err?.code).toBe(grpc.status.UNAVAILABLE)
    expect(raw.err?.details).toContain('503')
  })

  it('reset REFUSED_STREAM: UNAVAILABLE after one transparent retry, both attempts counted', async () => {
    world = await startGrpcWorld()
    await world.putRules([
      {
        id: 'refuse',
        match: { path: '/faultline.echo.Echo/Unary' },
        abort: { mode: 'reset', http2Code: 'REFUSED_STREAM' },
      },
    ])
    const r = await unary(world.client(), { text: 'x' })
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE)
    expect(world.echo.calls.Unary).toBeUndefined()
    expect(await metrics(world)).toMatch(/faultline_faults_injected_total\{[^}]*rule="refuse",kind="abort"\} 2/)
  })

  it('reset with other codes: INTERNAL_ERROR -> INTERNAL, ENHANCE_YOUR_CALM -> RESOURCE_EXHAUSTED, CANCEL -> CANCELLED', async () => {
    world = await startGrpcWorld()
    for (const [code, expected] of [
      ['INTERNAL_ERROR', grpc.status.INTERNAL],
      ['ENHANCE_YOUR_CALM', grpc.status.RESOURCE_EXHAUSTED],
      ['CANCEL', grpc.status.CANCELLED],
    ] as const) {
      await world.putRules([
        { id: 'rst', match: { path: '/faultline.echo.Echo/Unary' }, abort: { mode: 'reset', http2Code: code } },
      ])
      const r = await unary(world.client(), { text: 'x' })
      expect(r.err?.code, code).toBe(expected)
    }
  })

  it('reset after: "headers": the app runs, the client gets the headers and then the reset (committed, not retried)', async () => {
    world = await startGrpcWorld()
    await world.putRules([
      {
        id: 'late-rst',
        match: { path: '/faultline.echo.Echo/Unary' },
        abort: { mode: 'reset', http2Code: 'INTERNAL_ERROR', after: 'headers' },
      },
    ])
    const r = await unary(world.client(), { text: 'x' })
    expect(r.err?.code).toBe(grpc.status.INTERNAL)
    expect(world.echo.calls.Unary).toBe(1)
    expect(r.metadata?.get('x-echo')).toEqual(['1'])
  })

  it('goaway NO_ERROR: the refused call is retried transparently once (two attempts counted); ENHANCE_YOUR_CALM is not retried; later calls work', async () => {
    world = await startGrpcWorld()
    const rule = (http2Code: string) => ({
      id: 'goaway',
      match: { path: '/faultline.echo.Echo/Unary', headers: [{ name: 'x-goaway', present: true }] },
      abort: { mode: 'goaway', http2Code },
    })
    const injected = async () =>
      Number(
        /faultline_faults_injected_total\{[^}]*rule="goaway",kind="abort"\} (\d+)/.exec(await metrics(world!))?.[1] ??
          0,
      )
    const md = new grpc.Metadata()
    md.set('x-goaway', '1')

    await world.putRules([rule('NO_ERROR')])
    const client = world.client()
    expect((await unary(client, { text: 'warm' })).err).toBeNull()
    const r = await unary(client, { text: 'x' }, { metadata: md })
    // The call sits above the GOAWAY's last stream id: unprocessed, so grpc-js retries it on a
    // new connection; the retry hits the rule again, so the client sees UNAVAILABLE.
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE)
    expect(await injected()).toBe(2)
    expect((await unary(client, { text: 'fine' })).err).toBeNull()

    await world.putRules([rule('ENHANCE_YOUR_CALM')])
    const before = await injected()
    const calm = await unary(client, { text: 'x' }, { metadata: md })
    // An error code makes Node's client destroy the session: the call fails with the code's mapping, once.
    expect(calm.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED)
    // (A rule replaced under the same id keeps its counter.)
    expect(await injected()).toBe(before + 1)
    expect(world.echo.calls.Unary).toBe(2)
  })

  it('replace.grpcStatus in the response phase: headers and messages pass, the trailers carry the new status', async () => {
    world = await startGrpcWorld()
    await world.putRules([
      {
        id: 'late',
        phase: 'response',
        match: { path: '/faultline.echo.Echo/ServerStream' },
        replace: { grpcStatus: 'INTERNAL', grpcMessage: 'late failure' },
      },
    ])
    const got: EchoReply[] = []
    const status: grpc.StatusObject = await new Promise((resolve) => {
      const call = world!.client().ServerStream({ text: 's', count: 3 })
      call.on('data', (r: EchoReply) => got.push(r))
      call.on('status', resolve)
      call.on('error', () => undefined)
    })
    expect(got).toHaveLength(3)
    expect(status.code).toBe(grpc.status.INTERNAL)
    expect(status.details).toBe('late failure')
  })

  it('delay longer than the deadline: DEADLINE_EXCEEDED at the client and the call never reaches the app', async () => {
    world = await startGrpcWorld()
    await world.putRules([{ id: 'slow', match: { path: '/faultline.echo.Echo/Unary' }, delay: { ms: 2000 } }])
    const t0 = performance.now()
    const r = await unary(world.client(), { text: 'x' }, { deadlineMs: 200 })
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED)
    expect(performance.now() - t0).toBeLessThan(1500)
    await expect.poll(async () => metrics(world!)).toMatch(/grpc_code="(Canceled|DeadlineExceeded)"/)
    expect(world.echo.calls.Unary).toBeUndefined()
  })

  it('delay within the deadline: the call succeeds late and the forwarded grpc-timeout is what is left', async () => {
    world = await startGrpcWorld()
    await world.putRules([{ id: 'slow', match: { path: '/faultline.echo.Echo/Unary' }, delay: { ms: 150 } }])
    const t0 = performance.now()
    const r = await unary(world.client(), { text: 'x' }, { deadlineMs: 5000 })
    expect(r.err).toBeNull()
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140)
    const timeout = String(world.echo.lastMetadata?.get('grpc-timeout')[0] ?? '')
    // grpc-js strips grpc-timeout from metadata; the deadline it enforces is checked instead.
    expect(timeout === '' || /^\d+[mu]$/.test(timeout)).toBe(true)
  })

  it('response-phase delay holds the app headers: the app has answered, the client waits', async () => {
    world = await startGrpcWorld()
    await world.putRules([
      { id: 'late-headers', phase: 'response', match: { path: '/faultline.echo.Echo/Unary' }, delay: { ms: 250 } },
    ])
    const t0 = performance.now()
    const r = await unary(world.client(), { text: 'x' })
    expect(r.err).toBeNull()
    expect(world.echo.calls.Unary).toBe(1)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(240)
    expect(r.metadata?.get('x-faultline-fault')).toEqual(['late-headers'])
    expect(r.trailers?.get('x-echo-trailer-bin')).toHaveLength(1)
  })

  it('throttle limits the response body per stream and the trailers come after it', async () => {
    world = await startGrpcWorld()
    await world.putRules([
      {
        id: 'slow-body',
        phase: 'response',
        match: { path: '/faultline.echo.Echo/Unary' },
        throttle: { bytesPerSecond: 100_000 },
      },
    ])
    const t0 = performance.now()
    const r = await unary(world.client(), { text: 'x', count: 50_000 })
    expect(r.err).toBeNull()
    expect(r.reply?.padding?.length).toBe(50_000)
    expect(r.trailers?.get('x-echo-trailer-bin')).toHaveLength(1)
    // 50 kB at 100 kB/s: about half a second (the first slice goes at once).
    expect(performance.now() - t0).toBeGreaterThan(350)
  })

  it('replace.headers acts on metadata; a body replace is skipped on gRPC and counted as grpc-body', async () => {
    world = await startGrpcWorld()
    await world.putRules([
      {
        id: 'meta',
        match: { path: '/faultline.echo.Echo/Unary' },
        replace: { headers: { 'x-added': 'yes' }, body: 'nope' },
      },
    ])
    const r = await unary(world.client(), { text: 'x' })
    expect(r.err).toBeNull()
    expect(r.reply?.text).toBe('x')
    expect(world.echo.lastMetadata?.get('x-added')).toEqual(['yes'])
    expect(await metrics(world)).toMatch(/faultline_faults_skipped_total\{[^}]*rule="meta",reason="grpc-body"\} 1/)
    // The metadata part took effect, so the rule is injected; a body-only replace is not.
    await world.putRules([
      { id: 'body-only', match: { path: '/faultline.echo.Echo/Unary' }, replace: { body: 'nope' } },
    ])
    expect((await unary(world.client(), { text: 'y' })).reply?.text).toBe('y')
    const text = await metrics(world)
    expect(text).toMatch(/faultline_faults_skipped_total\{[^}]*rule="body-only",reason="grpc-body"\} 1/)
    expect(text).toMatch(/faultline_faults_injected_total\{[^}]*rule="body-only",kind="replace"\} 0/)
    const stats = (await world.admin('GET', '/stats?window=10s')).body
    expect(stats.rules['body-only']).toEqual({ matched: 1, injected: 0 })
  })

  it('the gRPC health service is never faulted unless a rule names it', async () => {
    world = await startGrpcWorld()
    await world.putRules([{ id: 'all', match: { path: '/**' }, abort: { grpcStatus: 14 } }])
    const { status } = await rawGrpcStatus(world.target, '/grpc.health.v1.Health/Check')
    // The echo app has no health service: UNIMPLEMENTED from the app, not the injected UNAVAILABLE.
    expect(status).toBe('12')
    await world.putRules([{ id: 'named', match: { path: '/grpc.health.v1.Health/Check' }, abort: { grpcStatus: 14 } }])
    expect((await rawGrpcStatus(world.target, '/grpc.health.v1.Health/Check')).status).toBe('14')
  })

  it('x-faultline-abort-grpc-status (header faults on) aborts with that status and is stripped', async () => {
    world = await startGrpcWorld({ headerFaults: true })
    const md = new grpc.Metadata()
    md.set('x-faultline-abort-grpc-status', '8')
    const r = await unary(world.client(), { text: 'x' }, { metadata: md })
    expect(r.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED)
    const md2 = new grpc.Metadata()
    md2.set('x-faultline-delay-ms', '1')
    await unary(world.client(), { text: 'x' }, { metadata: md2 })
    expect(world.echo.lastMetadata?.get('x-faultline-delay-ms')).toEqual([])
  })

  it('/stats counts server-caused statuses as errors (configurable with grpcErrorCodes)', async () => {
    world = await startGrpcWorld({ grpcErrorCodes: [5] })
    const md = new grpc.Metadata()
    md.set('x-echo-fail', String(grpc.status.NOT_FOUND))
    await unary(world.client(), { text: 'x' }, { metadata: md })
    await unary(world.client(), { text: 'ok' })
    const stats = JSON.stringify((await world.admin('GET', '/stats')).body)
    expect(stats).toContain('"errors":1')
  })
})

/** One gRPC call over node:http2 with an empty message; resolves to grpc-status from trailers or trailers-only headers. */
async function rawGrpcStatus(target: string, path: string): Promise<{ status: string | undefined }> {
  const http2 = await import('node:http2')
  const session = http2.connect(`http://${target}`)
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
      })
      let status: string | undefined
      req.on('response', (h) => (status ??= h['grpc-status'] as string | undefined))
      req.on('trailers', (t) => (status = t['grpc-status'] as string | undefined))
      req.on('close', () => resolve({ status }))
      req.on('error', reject)
      req.resume()
      req.end(Buffer.from([0, 0, 0, 0, 0]))
    })
  } finally {
    session.close()
  }
}
