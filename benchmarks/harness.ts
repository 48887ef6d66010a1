/**
 * What every benchmark script shares: starting the pieces as processes (pinned to a core when
 * the machine has two), loading them (autocannon, or a closed loop with per-request timing),
 * reading their CPU time and RSS from /proc, and recording results.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import * as hdr from 'hdr-histogram-js'
import { Client, type Dispatcher } from 'undici'

export const HERE = path.dirname(fileURLToPath(import.meta.url))
export const ROOT = path.join(HERE, '..')

// ── processes ────────────────────────────────────────────────────────────────

/** Every process a benchmark started and has not stopped yet: killed when this process exits. */
const live = new Set<ChildProcess>()
const atExit = new Set<() => void>()
let exitHookInstalled = false

/** Registers a child (and optional synchronous cleanup) to be killed/run if this process exits first. */
export function track(child: ChildProcess, cleanup?: () => void): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // 'exit' handlers must be synchronous: kill() and rmSync are.
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL')
      for (const f of atExit) f()
    })
  }
  live.add(child)
  if (cleanup) atExit.add(cleanup)
  child.once('exit', () => {
    live.delete(child)
    if (cleanup) {
      atExit.delete(cleanup)
      cleanup()
    }
  })
}

/** Makes SIGINT/SIGTERM exit through 'exit', so the children above are killed on Ctrl-C too. */
export function exitOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130))
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopProcess(child: ChildProcess | undefined, graceMs = 3000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Spawns `cmd args`, on core `cpu` (through taskset) when one is given. */
export function spawnPinned(cmd: string, args: string[], cpu: number | undefined, opts: Parameters<typeof spawn>[2]) {
  // taskset execs the command, so the child's pid is the command's own.
  const child =
    cpu === undefined ? spawn(cmd, args, opts ?? {}) : spawn('taskset', ['-c', String(cpu), cmd, ...args], opts ?? {})
  track(child)
  return child
}

/**
 * Starts a node process and waits for the first JSON stdout line `pick` finds a URL in; one
 * that says nothing useful within `timeoutMs` is killed.
 */
export async function startProcess(
  args: string[],
  pick: (line: any) => string | undefined,
  opts: { cpu?: number; timeoutMs?: number } = {},
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawnPinned(process.execPath, args, opts.cpu, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  // Killing it ends stdout, which ends the loop below with the error after it.
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
  const lines = readline.createInterface({ input: child.stdout! })
  try {
    return await firstUrl(lines, child, pick)
  } finally {
    clearTimeout(timer)
  }
}

async function firstUrl(
  lines: readline.Interface,
  child: ChildProcess,
  pick: (line: any) => string | undefined,
): Promise<{ url: string; child: ChildProcess }> {
  for await (const line of lines) {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      // Not a JSON line (a warning, a banner): the ready line is still to come.
      continue
    }
    const url = pick(parsed)
    if (url) {
      lines.removeAllListeners('line')
      child.stdout!.resume()
      return { url, child }
    }
  }
  throw new Error(`${child.spawnargs.join(' ')} exited before it was ready (or did not get ready in time)`)
}

/** `faultline sidecar` in front of `upstream`, on free ports; resolves once it is listening. */
export async function startSidecarProcess(
  upstream: string,
  extra: string[] = [],
  opts: { cpu?: number } = {},
): Promise<{ proxy: string; admin: string; child: ChildProcess }> {
  let admin = ''
  const { url, child } = await startProcess(
    [
      path.join(ROOT, 'bin/faultline.js'),
      'sidecar',
      '--upstream',
      upstream,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      ...extra,
    ],
    (l) => {
      if (l.msg !== 'sidecar listening') return undefined
      admin = l.admin
      return l.proxy
    },
    opts,
  )
  return { proxy: url, admin, child }
}

/** The benchmark's origin (benchmarks/origin.ts) as its own process, on core `cpu` when given. */
export async function startOrigin(cpu?: number): Promise<Running> {
  const { url, child } = await startProcess([path.join(HERE, 'origin.ts')], (l) => l.url, { cpu })
  return running(url, child)
}

/** Replaces a running sidecar's rules through its admin API. */
export async function putRules(admin: string, rules: unknown[]): Promise<void> {
  const res = await fetch(`${admin}/rules`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules }),
  })
  if (res.status !== 200) throw new Error(`rules rejected: ${await res.text()}`)
}

/** `n` rules that a GET / never matches, in the shapes people write: globs, regexes, headers, methods. */
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

/** Polls `url` until it answers 200 (bounded by `timeoutMs`); resolves with the time it did. */
export async function waitForHttp(url: string, timeoutMs = 10_000, everyMs = 10): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const status = await fetch(url).then(
      async (r) => (await r.arrayBuffer(), r.status),
      // Refused or reset: not listening yet; the loop (bounded by the deadline) tries again.
      () => 0,
    )
    if (status === 200) return performance.now()
    if (performance.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A running load target: where to send requests, which process to measure, how to stop it. */
export interface Running {
  url: string
  /** The process whose CPU time and RSS are the target's (with its descendants, for nginx). */
  pid: number
  stop(): Promise<void>
}

export function running(url: string, child: ChildProcess): Running {
  return { url, pid: child.pid!, stop: () => stopProcess(child) }
}

// ── system packages and pinning ──────────────────────────────────────────────

/** The full path of `cmd`; sbin is searched too, since a non-root PATH may leave it out (nginx lives there). */
export function commandPath(cmd: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    const file = path.join(dir, cmd)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // Not in this directory: look in the next one.
      continue
    }
  }
  throw new Error(`${cmd} not found`)
}

export function hasCommand(cmd: string): boolean {
  try {
    commandPath(cmd)
    return true
  } catch {
    // commandPath's "not found" is exactly the answer here.
    return false
  }
}

let depsChecked = false
/** Runs scripts/install-bench-deps.sh (nginx, taskset) once, when something it installs is missing. */
export function ensureBenchDeps(): void {
  if (depsChecked) return
  depsChecked = true
  if (hasCommand('nginx') && hasCommand('taskset')) return
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/install-bench-deps.sh')], { stdio: 'inherit' })
  if (r.status !== 0) process.stderr.write(`scripts/install-bench-deps.sh failed (exit ${r.status ?? r.signal})\n`)
}

export interface Pinning {
  /** The core the proxy under test runs on. */
  proxy: number
  /** The core the load generator (this process) and the origin run on. */
  load: number
}

/**
 * Proxy on the first core, load generator and origin on the second, when the machine has two
 * cores and taskset (util-linux) is there; BENCH_PIN=0 turns it off.
 */
export function pinning(): Pinning | undefined {
  if (process.env.BENCH_PIN === '0' || os.availableParallelism() < 2) return undefined
  ensureBenchDeps()
  return hasCommand('taskset') ? { proxy: 0, load: 1 } : undefined
}

export function describePinning(p: Pinning | undefined): string {
  if (!p) return `Not pinned: origin, proxy and load generator share the machine's ${os.availableParallelism()} cores.`
  return `Pinned with taskset: the proxy under test on CPU ${p.proxy}; the load generator and the origin on CPU ${p.load}.`
}

/** Pins this process (all its threads) to `cpu`; returns a function that restores the old mask. */
export function pinSelf(cpu: number): () => void {
  const before = /:\s*([0-9a-f]+)\s*$/.exec(execFileSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' }))
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' })
  return () => {
    if (before) execFileSync('taskset', ['-a', '-p', before[1]!, String(process.pid)], { stdio: 'ignore' })
  }
}

// ── /proc: CPU time and memory ───────────────────────────────────────────────

let clkTck: number | undefined
/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
export function clockTicks(): number {
  clkTck ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  return clkTck
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces): [state, ppid, ...]. */
function statFields(pid: number): string[] | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    // The process exited between listing and reading.
    return undefined
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ')
}

/** `pid` and every process below it (nginx's workers below its master). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const ppid = Number(statFields(Number(entry))?.[1])
    if (!Number.isFinite(ppid)) continue
    const list = children.get(ppid) ?? []
    list.push(Number(entry))
    children.set(ppid, list)
  }
  const out: number[] = []
  const walk = (p: number) => {
    out.push(p)
    for (const c of children.get(p) ?? []) walk(c)
  }
  walk(pid)
  return out
}

/** utime + stime of `pid` and its descendants, in seconds. */
export function cpuSeconds(pid: number): number {
  let ticks = 0
  for (const p of processTree(pid)) {
    const f = statFields(p)
    // utime and stime are fields 14 and 15 of stat(5); f[0] is field 3.
    if (f) ticks += Number(f[11]) + Number(f[12])
  }
  return ticks / clockTicks()
}

/** VmRSS of `pid` and its descendants, in MiB (one decimal). */
export function rssMiB(pid: number): number {
  let kb = 0
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0)
    } catch {
      // Exited while being read: it holds no memory any more.
      continue
    }
  }
  return Math.round((kb / 1024) * 10) / 10
}

// ── load ─────────────────────────────────────────────────────────────────────

export interface LoadResult {
  /** Requests answered per second. */
  rps: number
  /** Responses counted (any status). */
  requests: number
  /** Latency percentiles in milliseconds, from a microsecond histogram. */
  p50: number
  p90: number
  p99: number
  max: number
  errors: number
}

function histogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
}

function percentiles(h: ReturnType<typeof histogram>) {
  return {
    p50: h.getValueAtPercentile(50) / 1000,
    p90: h.getValueAtPercentile(90) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    max: h.maxValue / 1000,
  }
}

/** autocannon against `url`, latency recorded per response in microseconds. */
export async function load(
  url: string,
  opts: { connections: number; duration: number; overallRate?: number },
): Promise<LoadResult> {
  const latency = histogram()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url, ...opts, pipelining: 1 }, (err, res) => (err ? reject(err) : resolve(res)))
    // autocannon's own histogram has 1 ms resolution; record microseconds ourselves.
    instance.on('response', (_client, _status, _bytes, ms) => latency.recordValue(Math.round(ms * 1000)))
  })
  return {
    rps: result.requests.average,
    requests: latency.totalCount,
    ...percentiles(latency),
    errors: result.errors + result.timeouts + result.non2xx,
  }
}

/**
 * A closed loop: `connections` workers, each on its own keep-alive connection, send a request,
 * wait for the whole response, (optionally wait `thinkMs`), and send the next, until `durationS`
 * has passed. Latency is timed per request in microseconds from dispatch to the parser's end of
 * message. With `thinkMs` equal to a proxy's delay, a direct run reproduces the arrival pattern
 * the delayed proxy gives the origin (all connections in step, bursts of `connections`), so its
 * latency is the right thing to subtract from the delayed one.
 */
export async function closedLoop(
  url: string,
  opts: { connections: number; durationS: number; thinkMs?: number; timeoutMs?: number },
): Promise<LoadResult> {
  const target = new URL(url)
  const path = target.pathname + target.search
  const latency = histogram()
  const timeoutMs = opts.timeoutMs ?? 10_000
  const clients = Array.from(
    { length: opts.connections },
    () =>
      new Client(target.origin, {
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      }),
  )
  let errors = 0
  const once = (client: Client) =>
    new Promise<{ status: number; us: number }>((resolve, reject) => {
      const t0 = performance.now()
      let status = 0
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => {},
        onResponseStart: (_c, s) => void (status = s),
        onResponseData: () => {},
        onResponseEnd: () => resolve({ status, us: Math.round((performance.now() - t0) * 1000) }),
        onResponseError: (_c, err) => reject(err),
      }
      client.dispatch({ origin: target.origin, path, method: 'GET', headers: {} }, handler)
    })
  const started = performance.now()
  const endAt = started + opts.durationS * 1000
  const worker = async (client: Client) => {
    while (performance.now() < endAt) {
      if (opts.thinkMs) {
        await new Promise((r) => setTimeout(r, opts.thinkMs))
        if (performance.now() >= endAt) break
      }
      try {
        const { status, us } = await once(client)
        latency.recordValue(us)
        if (status < 200 || status >= 300) errors++
      } catch (err) {
        errors++
        // A failed connection is counted, not fatal; a brief pause keeps a dead target from spinning the loop.
        if (errors <= 3) process.stderr.write(`closed loop ${url}: ${(err as Error).message}\n`)
        await new Promise((r) => setTimeout(r, 10))
      }
    }
  }
  try {
    await Promise.all(clients.map(worker))
  } finally {
    await Promise.all(clients.map((c) => c.destroy()))
  }
  const elapsedS = (performance.now() - started) / 1000
  return { rps: latency.totalCount / elapsedS, requests: latency.totalCount, ...percentiles(latency), errors }
}

/** What a measured run cost the target process: CPU per request and RSS half way through. */
export interface RunCost {
  /** µs of CPU (user + system, the target and its descendants) per request answered. */
  cpuUsPerReq: number
  rssMidMiB: number
  /** CPU of this process (the load generator) and of `alsoLoad` (the origin), % of one core. */
  loadSideCpuPct: number
}

/**
 * Runs `run` and reads the target's CPU time (/proc/<pid>/stat) before and after it, and its RSS
 * half way through (`midMs`). `alsoLoad` is a process on the load side (the origin) whose CPU is
 * added to this process's own for `loadSideCpuPct`, to show when the load side, not the proxy,
 * is what saturates.
 */
export async function measureRun<T extends LoadResult>(
  pid: number,
  midMs: number,
  run: () => Promise<T>,
  alsoLoad?: number,
): Promise<T & RunCost> {
  let rssMidMiB = 0
  const mid = setTimeout(() => (rssMidMiB = rssMiB(pid)), midMs)
  const cpu0 = cpuSeconds(pid)
  const self0 = process.cpuUsage()
  const other0 = alsoLoad && alsoLoad !== pid ? cpuSeconds(alsoLoad) : 0
  const t0 = performance.now()
  let result: T
  try {
    result = await run()
  } finally {
    clearTimeout(mid)
  }
  const wallS = (performance.now() - t0) / 1000
  const cpu1 = cpuSeconds(pid)
  const self = process.cpuUsage(self0)
  const other = alsoLoad && alsoLoad !== pid ? cpuSeconds(alsoLoad) - other0 : 0
  if (!rssMidMiB) rssMidMiB = rssMiB(pid)
  return {
    ...result,
    cpuUsPerReq: result.requests > 0 ? ((cpu1 - cpu0) * 1e6) / result.requests : NaN,
    rssMidMiB,
    loadSideCpuPct: (((self.user + self.system) / 1e6 + other) / wallS) * 100,
  }
}

// ── numbers and recording ────────────────────────────────────────────────────

export const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** A signed number with a fixed number of decimals: +1.20, -0.05. */
export const signed = (x: number, digits: number): string => (x >= 0 ? '+' : '') + x.toFixed(digits)

/** One line naming the machine, for the top of a recorded table. */
export function machine(): string {
  return `Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, ${os.platform()} ${os.release()}`
}

/** The 1-minute load average when a run starts, since the machine is shared. */
export function loadAverage(): string {
  return os.loadavg()[0]!.toFixed(2)
}

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in benchmarks/README.md. */
export function recordSection(name: string, text: string): void {
  const file = path.join(HERE, 'README.md')
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const before = readFileSync(file, 'utf8')
  if (!before.includes(start)) throw new Error(`benchmarks/README.md has no ${start} marker`)
  writeFileSync(
    file,
    before.replace(new RegExp(`${start}[\\s\\S]*${end}`), () => `${start}\n${text}\n${end}`),
  )
  process.stderr.write(`recorded in ${path.relative(process.cwd(), file)}\n`)
}
