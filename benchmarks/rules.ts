/**
 * Rule-count scaling: faultline's pass-through throughput with 0, 10, 100 and 1,000 rules that
 * `GET /` never matches (`nonMatchingRules()`: globs, anchored regexes, header matchers,
 * method+path), each a fresh `faultline sidecar` process, autocannon at 50 connections. Rounds
 * alternate the order; medians are reported. The goal (issue 10): at most 5 % fewer req/s at
 * 1,000 rules than at 0.
 *
 *   npm run bench:rules                   # or: npm run bench -- --rules
 *   npm run bench:rules -- --record       # and write it into benchmarks/README.md
 *
 * Environment: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 2).
 */
import {
  describePinning,
  load,
  loadAverage,
  type LoadResult,
  machine,
  measureRun,
  median,
  nonMatchingRules,
  pinning,
  pinSelf,
  rssMiB,
  type RunCost,
  startOrigin,
} from './harness.ts'
import { faultlineTarget } from './targets/index.ts'

export interface RuleScalingOptions {
  durationS: number
  warmupS: number
  connections: number
  rounds: number
  counts: number[]
}

export interface RuleScalingResult {
  opts: RuleScalingOptions
  runs: Map<number, { load: LoadResult & RunCost; rssIdle: number }[]>
  pinned: string
  loadAverage: string
}

export async function runRuleScaling(opts: RuleScalingOptions): Promise<RuleScalingResult> {
  const pin = pinning()
  const la = loadAverage()
  const restore = pin ? pinSelf(pin.load) : () => {}
  const runs: RuleScalingResult['runs'] = new Map(opts.counts.map((n) => [n, []]))
  const origin = await startOrigin(pin?.load)
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? opts.counts : [...opts.counts].reverse()
      for (const n of order) {
        const t = await faultlineTarget(`faultline, ${n} rules`, nonMatchingRules(n)).start(origin, pin?.proxy)
        try {
          const rssIdle = rssMiB(t.pid)
          if (opts.warmupS > 0) await load(t.url, { connections: opts.connections, duration: opts.warmupS })
          const run = await measureRun(t.pid, (opts.durationS * 1000) / 2, () =>
            load(t.url, { connections: opts.connections, duration: opts.durationS }),
          )
          runs.get(n)!.push({ load: run, rssIdle })
          process.stderr.write(
            `round ${round + 1}/${opts.rounds} ${n} rules: ${run.rps.toFixed(0)} req/s, ${run.cpuUsPerReq.toFixed(1)} µs CPU/req\n`,
          )
        } finally {
          await t.stop()
        }
      }
    }
  } finally {
    await origin.stop()
    restore()
  }
  return { opts, runs, pinned: describePinning(pin), loadAverage: la }
}

export function render(r: RuleScalingResult): string {
  const row = (n: number) => {
    const xs = r.runs.get(n)!
    return {
      rps: median(xs.map((x) => x.load.rps)),
      p50: median(xs.map((x) => x.load.p50)),
      p99: median(xs.map((x) => x.load.p99)),
      cpu: median(xs.map((x) => x.load.cpuUsPerReq)),
      rss: median(xs.map((x) => x.rssIdle)),
      errors: xs.reduce((a, x) => a + x.load.errors, 0),
    }
  }
  const base = r.runs.has(0) ? row(0).rps : undefined
  const o = r.opts
  return [
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
    `Load shape: autocannon, ${o.connections} connections, ${o.durationS}s (after ${o.warmupS}s warm-up), GET / matched by none of the rules; a fresh sidecar per rule count; median of ${o.rounds} rounds, order alternating. ${r.pinned} Shared machine: 1-min load average ${r.loadAverage} at the start, so expect noise.`,
    '',
    '| non-matching rules | req/s | x 0 rules | p50 ms | p99 ms | CPU µs/req | RSS idle MiB | errors |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...o.counts.map((n) => {
      const x = row(n)
      return `| ${n} | ${x.rps.toFixed(0)} | ${base ? (x.rps / base).toFixed(2) : 'n/a'} | ${x.p50.toFixed(2)} | ${x.p99.toFixed(2)} | ${x.cpu.toFixed(1)} | ${x.rss.toFixed(1)} | ${x.errors} |`
    }),
  ].join('\n')
}
