import http from 'node:http'
import * as hdr from 'hdr-histogram-js'
import { afterEach, describe, expect, it } from 'vitest'
import { send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

describe('admin API', () => {
  it('requires the bearer token for mutations only', async () => {
    world = await startWorld({ adminToken: 's3cret' })
    const rules = [{ id: 'a', delay: { ms: 1 } }]
    expect((await world.putRules(rules)).status).toBe(401)
    expect((await world.admin('PUT', '/rules', { rules }, { authorization: 'Bearer wrong' })).status).toBe(401)
    expect((await world.admin('POST', '/reset', undefined, {})).body.code).toBe('FL_ERR_UNAUTHORIZED')
    expect((await world.admin('PUT', '/rules', { rules }, { authorization: 'Bearer s3cret' })).status).toBe(200)
    expect((await world.admin('GET', '/rules')).body.rules).toHaveLength(1)
  })

  it('adds, conflicts, deletes by id and by source, and resets', async () => {
    world = await startWorld()
    expect((await world.admin('POST', '/rules', { id: 'a', source: 'exp-1', delay: { ms: 1 } })).status).toBe(201)
    expect((await world.admin('POST', '/rules', { id: 'b', source: 'exp-1', delay: { ms: 1 } })).status).toBe(201)
    expect((await world.admin('POST', '/rules', { id: 'c', source: 'exp-2', delay: { ms: 1 } })).status).toBe(201)
    const dup = await world.admin('POST', '/rules', { id: 'a', delay: { ms: 1 } })
    expect(dup.status).toBe(409)
    expect(dup.body.code).toBe('FL_ERR_RULE_DUPLICATE')
    const bad = await world.admin('POST', '/rules', { id: 'd', delay: { ms: 'x' } })
    expect(bad.status).toBe(400)
    expect(bad.body.errors).toEqual([{ path: '/delay/ms', message: 'must be a number, got string' }])
    expect((await world.admin('DELETE', '/rules?source=exp-1')).body).toEqual({
      generation: 4,
      removed: ['a', 'b'],
    })
    expect((await world.admin('DELETE', '/rules/nope')).status).toBe(404)
    expect((await world.admin('DELETE', '/rules')).status).toBe(400)
    expect((await world.admin('DELETE', '/rules/c')).body).toEqual({ generation: 5 })
    await world.admin('POST', '/rules', { id: 'e', delay: { ms: 1 } })
    expect((await world.admin('POST', '/reset')).body).toEqual({ generation: 7 })
    expect((await world.admin('GET', '/rules')).body).toEqual({ generation: 7, rules: [] })
  })

  it('rejects bad JSON with 400 and keeps the rules', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'keep', delay: { ms: 1 } }])
    const res = await fetch(world.adminUrl + '/rules', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"rules": [',
    })
    expect(res.status).toBe(400)
    expect((await world.admin('GET', '/rules')).body.rules.map((r: any) => r.id)).toEqual(['keep'])
  })

  it('answers a body over 16 MiB with 413 FL_ERR_BAD_REQUEST and closes, keeping the rules', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'keep', delay: { ms: 1 } }])
    const u = new URL(world.adminUrl + '/rules')
    const reply = await new Promise<{ status: number; body: any; connection?: string }>((resolve, reject) => {
      const req = http.request(u, { method: 'PUT', headers: { 'content-type': 'application/json' } }, (res) => {
        let b = ''
        res.on('data', (d) => (b += d))
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: JSON.parse(b), connection: res.headers.connection }),
        )
      })
      req.on('error', reject)
      const chunk = Buffer.alloc(1 << 20, 0x20)
      let n = 0
      const write = (): void => {
        while (n < 20) {
          n++
          if (!req.write(chunk)) return void req.once('drain', write)
        }
        req.end()
      }
      write()
    })
    expect(reply.status).toBe(413)
    expect(reply.body.code).toBe('FL_ERR_BAD_REQUEST')
    expect(reply.connection).toBe('close')
    expect((await world.admin('GET', '/rules')).body.rules.map((r: { id: string }) => r.id)).toEqual(['keep'])
  })

  it('serves stats as JSON and as mergeable HDR histograms, and validates the window', async () => {
    world = await startWorld()
    await world.putRules([{ id: 'half', match: { path: '/status/200' }, abort: { status: 500 }, percent: 50 }])
    for (let i = 0; i < 40; i++) await send(world.proxyUrl + '/status/200')
    const stats = (await world.admin('GET', '/stats?window=30s')).body
    expect(stats.count).toBe(40)
    expect(stats.rules.half.matched).toBe(40)
    expect(stats.cohorts.faulted.count + stats.cohorts.unfaulted.count).toBe(40)
    expect(stats.cohorts.faulted.errorRate).toBe(1)
    expect(stats.cohorts.unfaulted.errorRate).toBe(0)
    expect(stats.errorRate).toBeCloseTo(stats.cohorts.faulted.count / 40)
    const encoded = (await world.admin('GET', '/stats?window=30s&format=hdr')).body
    const h = hdr.decodeFromCompressedBase64(encoded.histograms.unfaulted, 32, false)
    expect(h.totalCount).toBe(stats.cohorts.unfaulted.count)
    expect((await world.admin('GET', '/stats?window=1h')).status).toBe(400)
    expect((await world.admin('GET', '/stats?window=abc')).body.errors[0].path).toBe('/window')
  })

  it('publishes the JSON Schema built from the registry, and metrics in Prometheus format', async () => {
    world = await startWorld({ service: 'checkout' })
    const schema = (await world.admin('GET', '/schema')).body
    const ruleProps = schema.properties.rules.items.properties
    for (const kind of ['delay', 'abort', 'replace', 'patch', 'throttle']) expect(ruleProps).toHaveProperty(kind)
    await send(world.proxyUrl + '/')
    const res = await fetch(world.adminUrl + '/metrics')
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(text).toContain('faultline_requests_total{service="checkout",method="GET",code="200",fault="none"} 1')
    expect(text).toContain(
      'faultline_request_duration_seconds_bucket{le="0.0005",service="checkout",method="GET",fault="none"}',
    )
    expect(text).toContain('faultline_upstream_duration_seconds_count{service="checkout"} 1')
    expect(text).toContain('faultline_rules_generation{service="checkout"} 0')
  })
})
