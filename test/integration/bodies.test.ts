import { createHash } from 'node:crypto'
import http from 'node:http'
import zlib from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { SAMPLE_JSON } from '../../examples/sample-app.ts'
import { json, send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

const patchRule = (id: string, path: string) => ({
  id,
  phase: 'response',
  match: { path },
  patch: {
    json: { merge: { user: { tier: 'bronze' } } },
    jsonPatch: [{ op: 'add', path: '/items/-', value: 4 }],
  },
})

describe('JSON patching', () => {
  it.each([
    ['gzip', '/json?gzip=1', zlib.gunzipSync],
    ['br', '/json?br=1', zlib.brotliDecompressSync],
  ])('round-trips a %s body with a correct content-length', async (encoding, url, decode) => {
    world = await startWorld()
    await world.putRules([patchRule('p', '/json')])
    const reply = await send(world.proxyUrl + url)
    expect(reply.headers['content-encoding']).toBe(encoding)
    expect(reply.headers['content-length']).toBe(String(reply.body.length))
    expect(JSON.parse(decode(reply.body).toString())).toEqual({
      user: { name: 'ada', tier: 'bronze' },
      items: [1, 2, 3, 4],
    })
  })

  it('patches a gzip request body before forwarding', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'rq', match: { path: '/echo/in' }, patch: { json: { merge: { injected: true } } } }])
    const body = zlib.gzipSync(JSON.stringify({ a: 1 }))
    const reply = await send(world.proxyUrl + '/echo/in', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    })
    const echo = json(reply)
    expect(echo.headers['content-length']).toBe(String(echo.bytes))
    expect(echo.headers['content-encoding']).toBe('gzip')
    expect(JSON.parse(zlib.gunzipSync(Buffer.from(echo.bodyBase64, 'base64')).toString())).toEqual({
      a: 1,
      injected: true,
    })
  })

  it('passes non-JSON and oversized bodies through unchanged, counted as skipped, never as injected', async () => {
    world = await startWorld({ maxBodyBytes: 1000 })
    await world.putRules([patchRule('text', '/'), patchRule('big', '/bytes'), patchRule('head', '/json')])
    const text = await send(world.proxyUrl + '/')
    expect(text.body.toString()).toBe('hello\n')
    const big = await send(world.proxyUrl + '/bytes?n=5000')
    expect(big.body.length).toBe(5000)
    const head = await send(world.proxyUrl + '/json', { method: 'HEAD' })
    expect(head.status).toBe(200)
    // No fault took effect, so nothing says one did: no marker, no injection, the unfaulted cohort.
    for (const r of [text, big, head]) expect(r.headers['x-faultline-fault']).toBeUndefined()
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toContain('faultline_faults_skipped_total{service="default",rule="text",reason="patch_not_json"} 1')
    expect(metrics).toContain('faultline_faults_skipped_total{service="default",rule="big",reason="patch_too_large"} 1')
    expect(metrics).toContain('faultline_faults_skipped_total{service="default",rule="head",reason="patch_not_json"} 1')
    for (const id of ['text', 'big', 'head'])
      expect(metrics).toContain(`faultline_faults_injected_total{service="default",rule="${id}",kind="patch"} 0`)
    expect(metrics).not.toMatch(/^faultline_requests_total\{[^}]*fault="patch"/m)
    const stats = (await world.admin('GET', '/stats?window=10s')).body
    expect(stats.cohorts.faulted.count).toBe(0)
    expect(stats.cohorts.unfaulted.count).toBe(3)
    for (const id of ['text', 'big', 'head']) expect(stats.rules[id]).toEqual({ matched: 1, injected: 0 })
  })

  it('counts a JSON patch as injected once it has rewritten the body, with the marker', async () => {
    world = await startWorld()
    await world.putRules([patchRule('p', '/json')])
    const reply = await send(world.proxyUrl + '/json')
    expect(json(reply).user.tier).toBe('bronze')
    expect(reply.headers['x-faultline-fault']).toBe('p')
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toContain('faultline_faults_injected_total{service="default",rule="p",kind="patch"} 1')
    const stats = (await world.admin('GET', '/stats?window=10s')).body
    expect(stats.rules.p).toEqual({ matched: 1, injected: 1 })
    expect(stats.cohorts.faulted.count).toBe(1)
  })

  it('passes the body unchanged when a JSON patch op fails', async () => {
    world = await startWorld()
    await world.putRules([
      {
        id: 'f',
        phase: 'response',
        match: { path: '/json' },
        patch: { jsonPatch: [{ op: 'remove', path: '/nope' }] },
      },
    ])
    expect(json(await send(world.proxyUrl + '/json'))).toEqual(SAMPLE_JSON)
  })
})

describe('streaming', () => {
  it('streams a 32 MiB download byte for byte', async () => {
    world = await startWorld()
    const reply = await send(world.proxyUrl + '/bytes?n=33554432')
    expect(reply.status).toBe(200)
    expect(reply.body.length).toBe(33_554_432)
    expect(reply.body.every((b) => b === 0x78)).toBe(true)
  })

  it('streams a chunked 16 MiB upload byte for byte', async () => {
    world = await startWorld()
    const chunk = Buffer.alloc(64 * 1024)
    for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251
    const expected = createHash('sha256')
    const reply = await new Promise<any>((resolve, reject) => {
      const req = http.request(world.proxyUrl + '/echo/upload', { method: 'POST' }, (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString())))
      })
      req.on('error', reject)
      let n = 0
      const write = () => {
        while (n < 256) {
          n++
          expected.update(chunk)
          if (!req.write(chunk)) return void req.once('drain', write)
        }
        req.end()
      }
      write()
    })
    expect(reply.headers['transfer-encoding']).toBe('chunked')
    expect(reply.bytes).toBe(16 * 1024 * 1024)
  })
})
