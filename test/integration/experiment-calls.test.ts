/**
 * The faultline/v1 parts Chaos Toolkit documents need, through the real runner: http and run
 * steps (journalled calls, continueOnFailure), once-checks (one sample, declared order, stop at
 * the first miss), rollbacks on every run, and revertAt.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'

let server: Server
let url: string
let calls: string[]
let healthy: boolean

beforeEach(async () => {
  calls = []
  healthy = true
  server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`)
    if (req.url === '/break') healthy = false
    if (req.url === '/health') res.writeHead(healthy ? 200 : 500)
    if (req.url === '/teapot') res.writeHead(418)
    res.end('ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterEach(async () => {
  await new Promise((r) => server.close(r))
})

const health = (name: string) => ({ name, phases: ['before', 'after'], once: true, http: { url: `${url}/health` } })
const run = (spec: Record<string, unknown>) =>
  runExperiment(experiment({ targets: {}, ...spec }), { dataDir: dataDir() })

describe('http and run steps, rollbacks, once-checks', () => {
  it('a failing http step errors the run unless continueOnFailure; rollbacks still run', async () => {
    const r = await run({
      hypothesis: { title: 't', checks: [health('up')] },
      method: [{ name: 'teapot', http: { url: `${url}/teapot`, status: [200] } }, { http: { url: `${url}/never` } }],
      rollbacks: [{ name: 'after', http: { url: `${url}/rollback`, method: 'POST' } }],
    })
    expect(r.status).toBe('errored')
    expect(r.reason).toContain('status 418')
    expect(calls).not.toContain('GET /never')
    expect(calls.at(-1)).toBe('POST /rollback')
    expect(r.journal.calls!.map((c) => [c.key, c.status])).toEqual([
      ['method/0', 'failed'],
      ['rollbacks/0', 'succeeded'],
    ])
  })

  it('continueOnFailure goes on; run steps journal stdout and the exit code', async () => {
    const r = await run({
      hypothesis: { title: 't', checks: [health('up')] },
      method: [
        { name: 'teapot', http: { url: `${url}/teapot`, status: [200] }, continueOnFailure: true },
        { name: 'echo', run: { command: ['sh', '-c', 'echo hi; exit 3'], exitCode: '1-3' } },
      ],
    })
    expect(r.verdict).toBe('pass')
    expect(r.journal.calls![1]).toMatchObject({ status: 'succeeded', output: { status: 3, stdout: 'hi\n' } })
  })

  it('once-checks: one sample per phase; after the first miss the rest are not run', async () => {
    const r = await run({
      hypothesis: {
        title: 't',
        checks: [health('first'), { ...health('second'), http: { url: `${url}/health?second` } }],
      },
      method: [{ http: { url: `${url}/break`, method: 'POST' } }],
    })
    expect(r.verdict).toBe('fail')
    expect(calls).toEqual(['GET /health', 'GET /health?second', 'POST /break', 'GET /health'])
    expect(r.journal.checks.second!.phases.at(-1)).toMatchObject({ phase: 'after', result: 'inconclusive', samples: 0 })
    expect(r.journal.checks.first!.samples).toHaveLength(2)
  })
})
