/**
 * Proxy benchmark: autocannon against, in one run, the app direct, bare @fastify/http-proxy,
 * and faultline with 0 rules, 100 non-matching rules and one 100%-delay rule. Every target runs
 * in its own process; the origin is shared. Rounds alternate the target order so drift (thermal,
 * noisy neighbours) does not always favour the same target; medians are reported.
 *
 *   npm run bench                 # print the table
 *   npm run bench -- --record     # also write it into benchmarks/README.md
 *
 * Environment: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50),
 * BENCH_RATE (req/s for the low-load run, default 500), BENCH_ROUNDS (default 2).
 */
import type { ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import * as hdr from 'hdr-histogram-js'
import { HERE, recordSection, startProcess, startSidecarProcess } from './harness.ts'
const DURATION = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const RATE = Number(process.env.BENCH_RATE ?? 500)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const WARMUP = 2

interface Target {
  name: string
  start(origin: string): Promise<{ url: string; child: ChildProcess }>
}

/** 100 rules that a GET / never matches, in the shapes people write: globs, regexes, headers, methods. */
export function nonMatchingRules(n = 100): unknown[] {
  return Array.from({ length: n }, (_, i) => {
    const base = { id: `nm-${i}`, percent: 50, delay: { ms: 5 } }
    switch (i % 4) {
      case 0:
        return { ...base, match: { path: `/api/svc-${i}/**` } }
      case 1:
        return { ...base, match: { pathRegex: `^/v${i}/orders/[0-9]+$` } }
      case 2:
        return { ...base, match: { headers: [{ name: 'x-tenant', exact: `t-${i}` }] } }
      default:
        return { ...base, match: { methods: ['DELETE'], path: `/admin/${i}/*` } }
    }
  })
}

function faultline(name: string, rules: unknown[]): Target {
  return {
    name,
    async start(origin) {
      const { proxy, admin, child } = await startSidecarProcess(origin)
      const started = { url: proxy, child }
      const res = await fetch(`${admin}/rules`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rules }),
      })
      if (res.status !== 200) throw new Error(`rules rejected: ${await res.text()}`)
      return started
    },
  }
}

const TARGETS: Target[] = [
  { name: 'direct', start: async (origin) => ({ url: origin, child: undefined as unknown as ChildProcess }) },
  {
    name: 'bare @fastify/http-proxy',
    start: (origin) => startProcess([path.join(HERE, 'targets/http-proxy.ts'), origin], (l) => l.url),
  },
  faultline('faultline, 0 rules', []),
  faultline('faultline, 100 non-matching rules', nonMatchingRules()),
  faultline('faultline, 1 rule: 100% delay 1ms', [{ id: 'delay-all', delay: { ms: 1 } }]),
]

interface Measure {
  rps: number
  p50: number
  p99: number
  errors: number
}

async function load(
  url: string,
  opts: { connections: number; duration: number; overallRate?: number },
): Promise<Measure> {
  const latency = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  })
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url, ...opts, pipelining: 1 }, (err, res) => (err ? reject(err) : resolve(res)))
    // autocannon's own histogram has 1 ms resolution; record microseconds ourselves.
    instance.on('response', (_client, _status, _bytes, ms) => latency.recordValue(Math.round(ms * 1000)))
  })
  return {
    rps: result.requests.average,
    p50: latency.getValueAtPercentile(50) / 1000,
    p99: latency.getValueAtPercentile(99) / 1000,
    errors: result.errors + result.timeouts + result.non2xx,
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export async function runBenchmarks(args: string[]): Promise<void> {
  const origin = await startProcess([path.join(HERE, 'origin.ts')], (l) => l.url)
  const results = new Map<string, { tput: Measure[]; low: Measure[] }>(
    TARGETS.map((t) => [t.name, { tput: [], low: [] }]),
  )
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse()
      for (const target of order) {
        const { url, child } = await target.start(origin.url)
        try {
          await load(url, { connections: CONNECTIONS, duration: WARMUP })
          const tput = await load(url, { connections: CONNECTIONS, duration: DURATION })
          const low = await load(url, { connections: 1, duration: DURATION, overallRate: RATE })
          results.get(target.name)!.tput.push(tput)
          results.get(target.name)!.low.push(low)
          process.stderr.write(
            `round ${round + 1}/${ROUNDS} ${target.name}: ${tput.rps.toFixed(0)} req/s, low-load p50 ${low.p50.toFixed(3)} ms\n`,
          )
        } finally {
          child?.kill()
        }
      }
    }
  } finally {
    origin.child.kill()
  }
  const table = render(results)
  process.stdout.write(table + '\n')
  if (args.includes('--record')) recordSection('results', table)
}

function render(results: Map<string, { tput: Measure[]; low: Measure[] }>): string {
  const row = (name: string) => {
    const r = results.get(name)!
    return {
      rps: median(r.tput.map((m) => m.rps)),
      tp50: median(r.tput.map((m) => m.p50)),
      tp99: median(r.tput.map((m) => m.p99)),
      lp50: median(r.low.map((m) => m.p50)),
      lp99: median(r.low.map((m) => m.p99)),
      errors: [...r.tput, ...r.low].reduce((a, m) => a + m.errors, 0),
    }
  }
  const direct = row('direct')
  const bare = row('bare @fastify/http-proxy')
  const lines = [
    `| target | req/s | x direct | x http-proxy | p50 ms | p99 ms | low-load p50 ms | low-load p99 ms | +p50 vs http-proxy (low load) | errors |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ]
  for (const t of TARGETS) {
    const r = row(t.name)
    lines.push(
      `| ${t.name} | ${r.rps.toFixed(0)} | ${(r.rps / direct.rps).toFixed(2)} | ${(r.rps / bare.rps).toFixed(2)} | ${r.tp50.toFixed(2)} | ${r.tp99.toFixed(2)} | ${r.lp50.toFixed(3)} | ${r.lp99.toFixed(3)} | ${(r.lp50 - bare.lp50 >= 0 ? '+' : '') + (r.lp50 - bare.lp50).toFixed(3)} | ${r.errors} |`,
    )
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  const shape = `throughput: ${CONNECTIONS} connections, ${DURATION}s (after ${WARMUP}s warm-up); low load: 1 connection at ${RATE} req/s, ${DURATION}s; median of ${ROUNDS} rounds, target order alternating`
  return [
    `Run ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} x ${cpu}, ${os.platform()} ${os.release()}.`,
    `Load shape: ${shape}. Origin, proxy and autocannon share the machine's cores.`,
    '',
    ...lines,
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) await runBenchmarks(process.argv.slice(2))
