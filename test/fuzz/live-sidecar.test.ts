/**
 * Property against a live sidecar over real sockets: a generated rule set is either refused
 * (400 with paths, and the live rules do not change), or accepted, after which every request
 * that may match it is answered: no crash, no 500 from inside the sidecar, no 502 that blames
 * the app for a rule the sidecar let through. A reset or close counts as an answer only when an
 * accepted rule asks for one.
 */
import http from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startWorld, type World } from '../helpers/world.ts'
import { ruleSet, runs, FUZZ_TIMEOUT_MS } from './arbitraries.ts'

let world: World
beforeAll(async () => {
  world = await startWorld({ headerFaults: true, maxBodyBytes: 64 * 1024 })
})
afterAll(() => world.close())

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
afterAll(() => agent.destroy())

interface Outcome {
  status?: number
  body?: string
  error?: string
}

function request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const { hostname, port } = new URL(world.proxyUrl)
  return new Promise((resolve) => {
    const req = http.request({ hostname, port, path, method, agent, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('latin1') }))
      res.on('error', (err) => resolve({ error: err.message }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ error: err.message }))
    req.end(body)
  })
}

const PROBES: [string, string, string | undefined, Record<string, string>][] = [
  ['GET', '/echo/x?debug=1', undefined, { 'x-request-id': 'abc', 'x-tier': 'gold' }],
  ['HEAD', '/json', undefined, {}],
  ['POST', '/echo/y', '{"a":1,"user":{"tier":"gold"}}', { 'content-type': 'application/json' }],
  ['GET', '/json?gzip=1', undefined, {}],
  ['GET', '/json?br=1', undefined, { 'x-faultline-delay-ms': '1' }],
  ['PROPFIND', '/echo/p', undefined, {}],
  ['GET', '/status/204', undefined, {}],
  ['GET', '//echo/../json', undefined, {}],
]

it(
  'refused with paths and no change, or accepted and every request answered',
  async () => {
    await fc.assert(
      fc.asyncProperty(ruleSet, async (input) => {
        const before = await world.admin('GET', '/rules')
        const put = await world.admin('PUT', '/rules', input)
        if (put.status !== 200) {
          expect(put.status).toBe(400)
          expect(put.body.code).toMatch(/^FL_ERR_(RULES_INVALID|BAD_REQUEST)$/)
          expect(put.body.errors.length).toBeGreaterThan(0)
          const after = await world.admin('GET', '/rules')
          expect(after.body).toEqual(before.body)
          return
        }
        const rules = (input as { rules: { abort?: { mode?: string } }[] }).rules
        const cuts = rules.some((r) => r.abort?.mode === 'reset' || r.abort?.mode === 'close')
        const outcomes = await Promise.all(PROBES.map(([m, p, b, h]) => request(m, p, b, h)))
        outcomes.forEach((o, i) => {
          const what = `${PROBES[i]![0]} ${PROBES[i]![1]} with ${JSON.stringify(input)}`
          if (o.error) {
            expect(cuts, `${what}: ${o.error}`).toBe(true)
            expect(o.error, what).not.toBe('timeout')
            return
          }
          expect(o.body ?? '', what).not.toMatch(/FL_ERR_(INTERNAL|UPSTREAM)/)
        })
      }),
      { numRuns: runs(80) },
    )
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toMatch(/faultline_exchange_failures_total\{service="default"\} 0/)
  },
  FUZZ_TIMEOUT_MS,
)
