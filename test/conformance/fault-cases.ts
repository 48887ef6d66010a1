/**
 * One case per fault kind and phase. The conformance suite runs every case through the same
 * checks; a registered kind with no case here fails the suite, so a new kind cannot land untested.
 */
import { expect } from 'vitest'
import type { Phase } from '../../src/faults/types.ts'
import { json, type Reply, type World } from '../helpers/world.ts'

export interface PhaseCase {
  spec: unknown
  /** Request path; the rule matches exactly this path. */
  path: string
  request?: { method?: string; headers?: Record<string, string>; body?: string }
  verify(reply: Reply, world: World): void
}

const DELAY_CASE: PhaseCase = {
  spec: { ms: 150 },
  path: '/echo/delay',
  verify(reply) {
    expect(reply.status).toBe(200)
    expect(reply.ms).toBeGreaterThanOrEqual(145)
  },
}

export const FAULT_CASES: Record<string, Partial<Record<Phase, PhaseCase>>> = {
  delay: { request: DELAY_CASE, response: DELAY_CASE },
  abort: {
    request: {
      spec: { status: 503, body: 'nope', headers: { 'retry-after': '2' } },
      path: '/echo/abort',
      verify(reply, world) {
        expect(reply.status).toBe(503)
        expect(reply.body.toString()).toBe('nope')
        expect(reply.headers['retry-after']).toBe('2')
        expect(world.app.hits.get('/echo/abort') ?? 0).toBe(0)
      },
    },
    response: {
      spec: { status: 502 },
      path: '/echo/abort',
      verify(reply, world) {
        expect(reply.status).toBe(502)
        expect(reply.body.toString()).toContain('fault injected')
        expect(world.app.hits.get('/echo/abort')).toBe(1)
      },
    },
  },
  replace: {
    request: {
      spec: {
        path: '/echo/replaced',
        method: 'PUT',
        query: { a: '1' },
        headers: { 'x-r': 'yes' },
        body: 'new body',
      },
      path: '/echo/original',
      request: { method: 'POST', body: 'old body' },
      verify(reply) {
        const echo = json(reply)
        expect(echo.method).toBe('PUT')
        expect(echo.url).toBe('/echo/replaced?a=1')
        expect(echo.headers['x-r']).toBe('yes')
        expect(echo.body).toBe('new body')
      },
    },
    response: {
      spec: { status: 418, headers: { 'x-r': 'yes' }, body: 'teapot' },
      path: '/json',
      verify(reply) {
        expect(reply.status).toBe(418)
        expect(reply.body.toString()).toBe('teapot')
        expect(reply.headers['content-length']).toBe('6')
        expect(reply.headers['x-r']).toBe('yes')
      },
    },
  },
  patch: {
    request: {
      spec: { headers: [['x-p', '1']], query: [['q', '2']], json: { merge: { added: true } } },
      path: '/echo/patch',
      request: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"orig":1}' },
      verify(reply) {
        const echo = json(reply)
        expect(JSON.parse(echo.body)).toEqual({ orig: 1, added: true })
        expect(echo.headers['x-p']).toBe('1')
        expect(echo.headers['content-length']).toBe(String(Buffer.byteLength(echo.body)))
        expect(echo.url).toBe('/echo/patch?q=2')
      },
    },
    response: {
      spec: { headers: [['x-p', '1']], json: { merge: { user: { tier: 'bronze' } } } },
      path: '/json',
      verify(reply) {
        expect(json(reply).user).toEqual({ name: 'ada', tier: 'bronze' })
        expect(reply.headers['x-p']).toBe('1')
        expect(reply.headers['content-length']).toBe(String(reply.body.length))
      },
    },
  },
  throttle: {
    response: {
      spec: { bytesPerSecond: 40_000 },
      path: '/bytes',
      request: {},
      verify(reply) {
        expect(reply.status).toBe(200)
        expect(reply.body.length).toBe(20_000)
        // 20 kB at 40 kB/s is 0.5 s; the first slice goes out at once.
        expect(reply.ms).toBeGreaterThanOrEqual(400)
        expect(reply.ms).toBeLessThan(2000)
      },
    },
  },
}

/** The request URL for a case (throttle needs a body size). */
export function caseUrl(c: PhaseCase): string {
  return c.path === '/bytes' ? '/bytes?n=20000' : c.path
}
