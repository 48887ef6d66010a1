/**
 * Proxy benchmark: autocannon against, in one run, the app direct, nginx (the non-Node
 * reference), a hand-written node:http + undici proxy (the Node floor), bare
 * @fastify/http-proxy, toxy (the Node fault-proxy peer), and faultline with 0 rules, 100
 * non-matching rules and one 100%-delay rule. Every target runs in its own process; the origin
 * is shared. With two cores the proxy under test is pinned to one and the load generator and
 * origin to the other. Rounds alternate the target order so drift (thermal, noisy neighbours)
 * does not always favour the same target; medians are reported. A second table gives each
 * target's CPU per request (/proc/<pid>/stat before and after each run) and its RSS.
 *
 *   npm run bench                         # print the tables
 *   npm run bench -- --record             # also write them into benchmarks/README.md
 *   npm run bench -- --delay              # the delay-accuracy pass instead (benchmarks/delay.ts)
 *   npm run bench -- --rules              # rule-count scaling (benchmarks/rules.ts)
 *   npm run bench -- --startup            # startup to ready (benchmarks/startup.ts)
 *   npm run bench -- --all                # all four
 *
 * Environment: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50),
 * BENCH_RATE (req/s for the low-load run, default 500), BENCH_ROUNDS (default 2),
 * BENCH_PIN=0 (no taskset pinning).
 */
import { render as renderDelay, runDelayPass } from './delay.ts'
import {
  describePinning,
  exitOnSignals,
  load,
  loadAverage,
  machine,
  type LoadResult,
  measureRun,
  median,
  nonMatchingRules,
  pinning,
  pinSelf,
  recordSection,
  type RunCost,
  rssMiB,
  signed,
  startOrigin,
} from './harness.ts'
import { render as renderRules, runRuleScaling } from './rules.ts'
import { render as renderStartup, runStartup } from './startup.ts'
import { faultlineTarget, nodeTarget, type Target, toxyTarget } from './targets/index.ts'
import { nginxUnavailable, startNginx } from './targets/nginx.ts'

export { nonMatchingRules }

const DIRECT = 'direct'
const HTTP_PROXY = 'bare @fastify/http-proxy'

export const TARGETS: Target[] = [
  // The origin itself: its own process is what CPU and RSS are read from.
  { name: DIRECT, start: async (origin) => ({ url: origin.url, pid: origin.pid, stop: async () => {} }) },
  { name: 'nginx, 1 worker', unavailable: nginxUnavailable, start: (origin, cpu) => startNginx(origin.url, cpu) },
  nodeTarget('node:http + undici', 'node-undici.ts'),
  nodeTarget(HTTP_PROXY, 'http-proxy.ts'),
  toxyTarget('toxy, no fault'),
  faultlineTarget('faultline, 0 rules', []),
  faultlineTarget('faultline, 100 non-matching rules', nonMatchingRules()),
  faultlineTarget('faultline, 1 rule: 100% delay 1ms', [{ id: 'delay-all', delay: { ms: 1 } }]),
]

export interface ThroughputOptions {
  durationS: number
  warmupS: number
  connections: number
  /** req/s of the low-load run (1 connection). */
  rate: number
  rounds: number
  /** Only these target names (default: all). */
  only?: string[]
}

type Measured = LoadResult & RunCost
export interface TargetResult {
  tput: Measured[]
  low: Measured[]
  rssIdle: number[]
  rssAfter: number[]
}
export interface ThroughputResult {
  opts: ThroughputOptions
  targets: Target[]
  results: Map<string, TargetResult>
  skipped: string[]
  pinned: string
  loadAverage: string
}

export async function runThroughput(opts: ThroughputOptions): Promise<ThroughputResult> {
  const skipped: string[] = []
  const targets = TARGETS.filter((t) => !opts.only || opts.only.includes(t.name)).filter((t) => {
    const why = t.unavailable?.()
    if (why) skipped.push(`${t.name}: ${why}`)
    return !why
  })
  const pin = pinning()
  const la = loadAverage()
  const restore = pin ? pinSelf(pin.load) : () => {}
  const results = new Map<string, TargetResult>(
    targets.map((t) => [t.name, { tput: [], low: [], rssIdle: [], rssAfter: [] }]),
  )
  const origin = await startOrigin(pin?.load)
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse()
      for (const target of order) {
        const t = await target.start(origin, pin?.proxy)
        try {
          const r = results.get(target.name)!
          r.rssIdle.push(rssMiB(t.pid))
          if (opts.warmupS > 0) await load(t.url, { connections: opts.connections, duration: opts.warmupS })
          const midMs = (opts.durationS * 1000) / 2
          const tput = await measureRun(
            t.pid,
            midMs,
            () => load(t.url, { connections: opts.connections, duration: opts.durationS }),
            origin.pid,
          )
          const low = await measureRun(t.pid, midMs, () =>
            load(t.url, { connections: 1, duration: opts.durationS, overallRate: opts.rate }),
          )
          r.tput.push(tput)
          r.low.push(low)
          r.rssAfter.push(rssMiB(t.pid))
          process.stderr.write(
            `round ${round + 1}/${opts.rounds} ${target.name}: ${tput.rps.toFixed(0)} req/s, ${tput.cpuUsPerReq.toFixed(1)} µs CPU/req, low-load p50 ${low.p50.toFixed(3)} ms\n`,
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
  return { opts, targets, results, skipped, pinned: describePinning(pin), loadAverage: la }
}

export function renderThroughput(run: ThroughputResult): string {
  const { opts, results } = run
  const row = (name: string) => {
    const r = results.get(name)
    if (!r) return undefined
    return {
      rps: median(r.tput.map((m) => m.rps)),
      tp50: median(r.tput.map((m) => m.p50)),
      tp99: median(r.tput.map((m) => m.p99)),
      lp50: median(r.low.map((m) => m.p50)),
      lp99: median(r.low.map((m) => m.p99)),
      errors: [...r.tput, ...r.low].reduce((a, m) => a + m.errors, 0),
      cpuTput: median(r.tput.map((m) => m.cpuUsPerReq)),
      cpuLow: median(r.low.map((m) => m.cpuUsPerReq)),
      rssIdle: median(r.rssIdle),
      rssMid: median(r.tput.map((m) => m.rssMidMiB)),
      rssAfter: median(r.rssAfter),
      loadSide: median(r.tput.map((m) => m.loadSideCpuPct)),
    }
  }
  const direct = row(DIRECT)
  const bare = row(HTTP_PROXY)
  const ratio = (x: number, base: number | undefined) => (base ? (x / base).toFixed(2) : 'n/a')
  const lines = [
    `| target | req/s | x direct | x http-proxy | p50 ms | p99 ms | low-load p50 ms | low-load p99 ms | +p50 vs http-proxy (low load) | errors |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ]
  const costs = [
    `| target | CPU µs/req (throughput) | req/s one core could serve at that cost | CPU µs/req (low load) | RSS idle MiB | RSS mid-run MiB | RSS after MiB | load side CPU % (throughput) |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|`,
  ]
  for (const t of run.targets) {
    const r = row(t.name)!
    lines.push(
      `| ${t.name} | ${r.rps.toFixed(0)} | ${ratio(r.rps, direct?.rps)} | ${ratio(r.rps, bare?.rps)} | ${r.tp50.toFixed(2)} | ${r.tp99.toFixed(2)} | ${r.lp50.toFixed(3)} | ${r.lp99.toFixed(3)} | ${bare ? signed(r.lp50 - bare.lp50, 3) : 'n/a'} | ${r.errors} |`,
    )
    costs.push(
      `| ${t.name} | ${r.cpuTput.toFixed(1)} | ${(1e6 / r.cpuTput).toFixed(0)} | ${r.cpuLow.toFixed(1)} | ${r.rssIdle.toFixed(1)} | ${r.rssMid.toFixed(1)} | ${r.rssAfter.toFixed(1)} | ${r.loadSide.toFixed(0)} |`,
    )
  }
  const shape = `throughput: ${opts.connections} connections, ${opts.durationS}s (after ${opts.warmupS}s warm-up); low load: 1 connection at ${opts.rate} req/s, ${opts.durationS}s; median of ${opts.rounds} rounds, target order alternating`
  return [
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
    `Load shape: ${shape}. ${run.pinned} Shared machine: 1-min load average ${run.loadAverage} at the start, so expect noise.`,
    ...(run.skipped.length ? ['', ...run.skipped.map((s) => `Not run: ${s}.`)] : []),
    '',
    ...lines,
    '',
    'CPU per request: utime+stime of the target process (nginx: master and worker; direct: the origin) over the measured run, divided by the responses counted; the capacity column is 10^6 / that, the rate one fully busy core would serve. It compares targets whose req/s above were capped by the load side (load side CPU % near 100: autocannon and the origin share one core). RSS: VmRSS idle after start-up and rules, half way through the throughput run, and after both runs.',
    '',
    ...costs,
  ].join('\n')
}

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt)

export async function runBenchmarks(args: string[]): Promise<void> {
  const record = args.includes('--record')
  const all = args.includes('--all')
  const passes = {
    throughput: all || !['--delay', '--rules', '--startup'].some((f) => args.includes(f)),
    delay: all || args.includes('--delay'),
    rules: all || args.includes('--rules'),
    startup: all || args.includes('--startup'),
  }
  const emit = (section: string, text: string) => {
    process.stdout.write(text + '\n\n')
    if (record) recordSection(section, text)
  }
  if (passes.throughput) {
    const run = await runThroughput({
      durationS: num('BENCH_DURATION', 10),
      warmupS: 2,
      connections: num('BENCH_CONNECTIONS', 50),
      rate: num('BENCH_RATE', 500),
      rounds: num('BENCH_ROUNDS', 2),
    })
    emit('results', renderThroughput(run))
  }
  if (passes.delay) {
    emit(
      'delay',
      renderDelay(
        await runDelayPass({
          durationS: num('BENCH_DURATION', 10),
          warmupS: 2,
          connections: (process.env.BENCH_DELAY_CONNECTIONS ?? '1,10,50').split(',').map(Number),
          delayMs: 100,
          cpuRounds: num('BENCH_CPU_ROUNDS', 3),
        }),
      ),
    )
  }
  if (passes.rules) {
    emit(
      'rules',
      renderRules(
        await runRuleScaling({
          durationS: num('BENCH_DURATION', 10),
          warmupS: 2,
          connections: num('BENCH_CONNECTIONS', 50),
          rounds: num('BENCH_ROUNDS', 2),
          counts: [0, 10, 100, 1000],
        }),
      ),
    )
  }
  if (passes.startup) {
    emit('startup', renderStartup(await runStartup({ runs: num('BENCH_STARTUP_RUNS', 5) })))
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  exitOnSignals()
  await runBenchmarks(process.argv.slice(2))
}
