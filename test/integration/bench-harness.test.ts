/**
 * The benchmark passes, each run for about a second with tiny settings: every row is there and
 * every number is a real, positive measurement. Nothing here judges performance (two shared
 * cores); `npm run bench`, `bench:delay`, `bench:rules` and `bench:startup` do the real runs.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { render as renderDelay, runDelayPass } from '../../benchmarks/delay.ts'
import { ensureBenchDeps } from '../../benchmarks/harness.ts'
import { render as renderRules, runRuleScaling } from '../../benchmarks/rules.ts'
import { renderThroughput, runThroughput } from '../../benchmarks/run.ts'
import { render as renderStartup, runStartup } from '../../benchmarks/startup.ts'

/** The cells of the table row that starts with `| name |`. */
function cells(table: string, name: string): string[] {
  const line = table.split('\n').find((l) => l.startsWith(`| ${name} |`))
  expect(line, `a row for ${name} in:\n${table}`).toBeDefined()
  return line!
    .split('|')
    .slice(2, -1)
    .map((c) => c.trim())
}

const positive = (x: number) => expect(Number.isFinite(x) && x > 0, `${x} is a positive number`).toBe(true)
const finite = (x: number) => expect(Number.isFinite(x), `${x} is a number`).toBe(true)

describe('benchmark harness', () => {
  // nginx comes from Debian (scripts/install-bench-deps.sh), installed once if missing.
  beforeAll(() => ensureBenchDeps(), 300_000)

  it('throughput table: nginx, node:http + undici and toxy rows, CPU per request and RSS', async () => {
    // (autocannon runs at least a second whatever the duration; direct and http-proxy are left
    // out to stay quick, so their ratio columns read n/a.)
    const names = ['nginx, 1 worker', 'node:http + undici', 'toxy, no fault', 'faultline, 0 rules']
    const run = await runThroughput({ durationS: 1, warmupS: 0, connections: 10, rate: 200, rounds: 1, only: names })
    expect(run.skipped).toEqual([])
    const table = renderThroughput(run)
    for (const name of names) {
      const r = run.results.get(name)!
      expect(r.tput).toHaveLength(1)
      const [tput, low] = [r.tput[0]!, r.low[0]!]
      expect(tput.errors + low.errors, `${name}: errors`).toBe(0)
      for (const x of [tput.rps, tput.requests, tput.p50, tput.p99, low.p50, tput.cpuUsPerReq, tput.rssMidMiB])
        positive(x)
      // A second at 200 req/s may stay under one 10 ms clock tick of CPU: 0 is a fair reading.
      expect(low.cpuUsPerReq).toBeGreaterThanOrEqual(0)
      for (const x of [r.rssIdle[0]!, r.rssAfter[0]!]) positive(x)
      // Both tables carry the row, with a number in every cell after the name.
      const row = cells(table, name)
      expect(row, row.join(' | ')).toHaveLength(9)
      expect(
        row.every((c) => /^([+-]?\d+(\.\d+)?|n\/a)$/.test(c)),
        row.join(' | '),
      ).toBe(true)
    }
    expect(table).toMatch(/Pinned with taskset|Not pinned/)
  }, 60_000)

  it('delay pass: error at p50/p90/p99/max per connection count, CPU delayed vs pass-through', async () => {
    const r = await runDelayPass({ durationS: 0.35, warmupS: 0, connections: [1, 4], delayMs: 100, cpuRounds: 2 })
    expect(r.skipped.filter((s) => !s.startsWith('Toxiproxy'))).toEqual([])
    expect(r.rows.map((x) => `${x.target} @${x.connections}`)).toEqual([
      'faultline, delay 100 ms @1',
      'faultline, delay 100 ms @4',
      'toxy, latency 100 ms @1',
      'toxy, latency 100 ms @4',
    ])
    for (const row of r.rows) {
      expect(row.run.errors).toBe(0)
      positive(row.run.requests)
      // The delay was applied: no request came back sooner than it.
      expect(row.run.p50).toBeGreaterThanOrEqual(100)
      for (const x of Object.values(row.error)) finite(x)
      for (const x of Object.values(row.rss)) positive(x)
      expect(row.run.cpuUsPerReq).toBeGreaterThanOrEqual(0)
    }
    for (const b of r.baseline.values()) positive(b.p50)
    expect(r.cpu.map((c) => c.connections)).toEqual([1, 4])
    for (const c of r.cpu) {
      for (const x of [c.passSamePattern, c.passClosedLoop, c.delayed]) finite(x)
      expect(c.ratios).toHaveLength(2)
    }
    const table = renderDelay(r)
    expect(cells(table, 'faultline, delay 100 ms')).toHaveLength(10)
    expect(table).toContain('Not run: Toxiproxy')
  }, 60_000)

  it('rule scaling: req/s and the ratio to 0 rules per rule count', async () => {
    const r = await runRuleScaling({ durationS: 1, warmupS: 0, connections: 10, rounds: 1, counts: [0, 100] })
    const table = renderRules(r)
    expect(cells(table, '0')[1]).toBe('1.00')
    for (const n of [0, 100]) {
      const [run] = r.runs.get(n)!
      expect(run!.load.errors).toBe(0)
      for (const x of [run!.load.rps, run!.load.cpuUsPerReq, run!.rssIdle]) positive(x)
      finite(Number(cells(table, String(n))[1]))
    }
  }, 60_000)

  it('startup: spawn to /readyz 200, with and without a rules file, and the floors', async () => {
    const r = await runStartup({ runs: 1 })
    expect(r.rows).toHaveLength(4)
    for (const row of r.rows) {
      expect(row.ms).toHaveLength(1)
      positive(row.ms[0]!)
    }
    for (const row of r.rows.slice(0, 3)) positive(row.rssMiB[0]!)
    const table = renderStartup(r)
    expect(Number(cells(table, 'faultline sidecar, no rules: spawn to /readyz 200')[0])).toBeGreaterThan(0)
  }, 60_000)
})
