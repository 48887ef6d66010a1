/**
 * Delay accuracy: how far from the asked-for delay a delayed request really is, and what a
 * delayed request costs in CPU. faultline (`delay: { ms: 100 }`, 100%) and toxy (`latency`
 * 100 ms) are loaded in a closed loop at 1, 10 and 50 connections; every request is timed in
 * microseconds. The error at each percentile is the proxy's latency minus the delay minus the
 * direct origin's own median latency, measured in the same run with the same arrival pattern
 * (each connection waits the delay itself, then sends: all connections in step, as the delayed
 * proxy releases them). The median, not the same percentile: the direct run's tail is the
 * machine's noise (a vCPU woken after 100 ms), and subtracting one noisy tail from another gave
 * negative p99 errors; its percentiles are shown in their own rows instead. Toxiproxy is not a row: it is a Go binary, not an npm
 * package, and none is installed here.
 *
 * CPU per delayed request is compared with CPU per pass-through request (faultline, no rules)
 * twice: at the same arrival pattern and request rate (so only the delay differs), and in a
 * plain closed loop (as fast as the connections go, as the throughput table measures it).
 *
 *   npm run bench:delay                   # or: npm run bench -- --delay
 *   npm run bench:delay -- --record       # and write it into benchmarks/README.md
 *
 * Environment: BENCH_DURATION (s per run, default 10), BENCH_DELAY_CONNECTIONS (default 1,10,50).
 */
import {
  clockTicks,
  closedLoop,
  describePinning,
  loadAverage,
  type LoadResult,
  machine,
  measureRun,
  median,
  pinning,
  pinSelf,
  rssMiB,
  type RunCost,
  putRules,
  signed,
  startOrigin,
  startSidecarProcess,
  stopProcess,
} from './harness.ts'
import { faultlineTarget, type Target, toxyTarget } from './targets/index.ts'

export interface DelayOptions {
  durationS: number
  warmupS: number
  connections: number[]
  /** Rounds of the delayed/pass-through CPU pairs (alternating order; medians). */
  cpuRounds: number
  delayMs: number
}

type Measured = LoadResult & RunCost

export interface DelayRow {
  target: string
  connections: number
  run: Measured
  /** Latency minus the delay minus the direct origin's median latency, ms, at p50/p90/p99/max. */
  error: { p50: number; p90: number; p99: number; max: number }
  rss: { idle: number; mid: number; after: number }
}

export interface DelayResult {
  opts: DelayOptions
  /** The direct origin with the delayed arrival pattern, per connection count. */
  baseline: Map<number, LoadResult>
  rows: DelayRow[]
  /** faultline CPU per request: delayed vs pass-through at the same pattern vs closed-loop pass-through. */
  cpu: {
    connections: number
    delayed: number
    passSamePattern: number
    passClosedLoop: number
    /** delayed / paced of each round, in round order. */
    ratios: number[]
  }[]
  skipped: string[]
  pinned: string
  loadAverage: string
}

export async function runDelayPass(opts: DelayOptions): Promise<DelayResult> {
  const pin = pinning()
  const la = loadAverage()
  const restore = pin ? pinSelf(pin.load) : () => {}
  const skipped: string[] = ['Toxiproxy: a Go binary, not on npm, and not installed here']
  const baseline = new Map<number, LoadResult>()
  const rows: DelayRow[] = []
  const cpu: DelayResult['cpu'] = []
  const origin = await startOrigin(pin?.load)
  const loop = (url: string, connections: number, durationS: number, thinkMs = 0) =>
    closedLoop(url, { connections, durationS, thinkMs })
  const warm = async (url: string, connections: number, thinkMs = 0) => {
    if (opts.warmupS > 0) await loop(url, connections, opts.warmupS, thinkMs)
  }
  const midMs = (opts.durationS * 1000) / 2
  const maxConnections = Math.max(...opts.connections)
  try {
    // The direct origin, paced like a delayed proxy paces it: the latency subtracted below.
    for (const c of opts.connections) {
      await warm(origin.url, c, opts.delayMs)
      baseline.set(c, await loop(origin.url, c, opts.durationS, opts.delayMs))
    }

    const delayRule = [{ id: 'delay-100', percent: 100, delay: { ms: opts.delayMs } }]
    const delayed: Target[] = [
      faultlineTarget(`faultline, delay ${opts.delayMs} ms`, delayRule),
      toxyTarget(`toxy, latency ${opts.delayMs} ms`, opts.delayMs),
    ]
    for (const target of delayed) {
      const why = target.unavailable?.()
      if (why) {
        skipped.push(`${target.name}: ${why}`)
        continue
      }
      const t = await target.start(origin, pin?.proxy)
      try {
        const idle = rssMiB(t.pid)
        // First at the most connections, so the code paths are compiled (JIT) before the
        // 1-connection run, whose warm-up alone is a few dozen requests.
        await warm(t.url, maxConnections)
        for (const c of opts.connections) {
          await warm(t.url, c)
          const run = await measureRun(t.pid, midMs, () => loop(t.url, c, opts.durationS))
          const base = baseline.get(c)!
          const err = (k: 'p50' | 'p90' | 'p99' | 'max') => run[k] - opts.delayMs - base.p50
          rows.push({
            target: target.name,
            connections: c,
            run,
            error: { p50: err('p50'), p90: err('p90'), p99: err('p99'), max: err('max') },
            rss: { idle, mid: run.rssMidMiB, after: rssMiB(t.pid) },
          })
          process.stderr.write(
            `${target.name}, ${c} connection(s): error p50 ${signed(err('p50'), 2)} ms, p99 ${signed(err('p99'), 2)} ms, ${run.cpuUsPerReq.toFixed(0)} µs CPU/req\n`,
          )
        }
      } finally {
        await t.stop()
      }
    }

    // faultline's CPU per delayed vs pass-through request: one sidecar, the delay rule put and
    // cleared between rounds in alternating order, medians. Each measured on its own sidecar
    // minutes apart, the two varied by more than their difference on this shared machine.
    if (rows.some((r) => r.target.startsWith('faultline'))) {
      const sidecar = await startSidecarProcess(origin.url, [], { cpu: pin?.proxy })
      const t = { url: sidecar.proxy, pid: sidecar.child.pid!, admin: sidecar.admin }
      try {
        await warm(t.url, maxConnections)
        for (const c of opts.connections) {
          const delayed: number[] = []
          const paced: number[] = []
          for (let round = 0; round < opts.cpuRounds; round++) {
            const order = round % 2 === 0 ? ['delayed', 'paced'] : ['paced', 'delayed']
            for (const which of order) {
              await putRules(t.admin, which === 'delayed' ? delayRule : [])
              const think = which === 'delayed' ? 0 : opts.delayMs
              await warm(t.url, c, think)
              const run = await measureRun(t.pid, midMs, () => loop(t.url, c, opts.durationS, think))
              ;(which === 'delayed' ? delayed : paced).push(run.cpuUsPerReq)
            }
          }
          await putRules(t.admin, [])
          await warm(t.url, c)
          const closed = await measureRun(t.pid, midMs, () => loop(t.url, c, opts.durationS))
          cpu.push({
            connections: c,
            delayed: median(delayed),
            passSamePattern: median(paced),
            passClosedLoop: closed.cpuUsPerReq,
            ratios: delayed.map((d, i) => d / paced[i]!),
          })
          process.stderr.write(
            `cpu pairs, ${c} connection(s): delayed ${delayed.map((x) => x.toFixed(0)).join('/')} vs paced ${paced.map((x) => x.toFixed(0)).join('/')} µs\n`,
          )
        }
      } finally {
        await stopProcess(sidecar.child)
      }
    }
  } finally {
    await origin.stop()
    restore()
  }
  return { opts, baseline, rows, cpu, skipped, pinned: describePinning(pin), loadAverage: la }
}

export function render(r: DelayResult): string {
  const ms = (x: number) => x.toFixed(2)
  const lines = [
    `| target | connections | requests | req/s | error p50 ms | error p90 ms | error p99 ms | error max ms | CPU µs/req | RSS idle / mid-run / after MiB | errors |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ]
  for (const [c, b] of r.baseline)
    lines.push(
      `| direct origin, paced like the delay (raw latency; its p50 is subtracted) | ${c} | ${b.requests} | ${b.rps.toFixed(0)} | ${ms(b.p50)} | ${ms(b.p90)} | ${ms(b.p99)} | ${ms(b.max)} | | | ${b.errors} |`,
    )
  for (const row of r.rows)
    lines.push(
      `| ${row.target} | ${row.connections} | ${row.run.requests} | ${row.run.rps.toFixed(0)} | ${signed(row.error.p50, 2)} | ${signed(row.error.p90, 2)} | ${signed(row.error.p99, 2)} | ${signed(row.error.max, 2)} | ${row.run.cpuUsPerReq.toFixed(0)} | ${row.rss.idle.toFixed(1)} / ${row.rss.mid.toFixed(1)} / ${row.rss.after.toFixed(1)} | ${row.run.errors} |`,
    )
  const ratio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a')
  const cpuLines = [
    `| connections | delayed ${r.opts.delayMs} ms: CPU µs/req | pass-through, same arrival pattern | x (medians) | x per round | pass-through, closed loop | x |`,
    `|---:|---:|---:|---:|---:|---:|---:|`,
    ...r.cpu.map(
      (c) =>
        `| ${c.connections} | ${c.delayed.toFixed(0)} | ${c.passSamePattern.toFixed(0)} | ${ratio(c.delayed / c.passSamePattern)} | ${c.ratios.map(ratio).join(', ')} | ${c.passClosedLoop.toFixed(0)} | ${ratio(c.delayed / c.passClosedLoop)} |`,
    ),
  ]
  return [
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
    `Load shape: closed loop (undici, one keep-alive connection per worker), ${r.opts.durationS}s per connection count (after ${r.opts.warmupS}s warm-up), ${r.opts.delayMs} ms delay on every request. ${r.pinned} Shared machine: 1-min load average ${r.loadAverage} at the start, so expect noise.`,
    ...r.skipped.map((s) => `Not run: ${s}.`),
    '',
    ...lines,
    '',
    `Error = latency − ${r.opts.delayMs} ms − the direct origin's median latency at the same connection count, paced like the delayed proxy (its own percentiles are the "direct origin" rows: how much tail the machine adds without any proxy). CPU: utime+stime of the proxy process per request (clock ticks of ${(1000 / clockTicks()).toFixed(0)} ms: few requests, as at 1 connection, make it coarse). Every target is warmed up at ${Math.max(...r.opts.connections)} connections first, then at each count before it is measured.`,
    '',
    `faultline, CPU per delayed request vs per pass-through request: one sidecar, the delay rule put and cleared between ${r.opts.cpuRounds} rounds of each (alternating order), medians; the closed loop once, without rules:`,
    '',
    ...cpuLines,
  ].join('\n')
}
