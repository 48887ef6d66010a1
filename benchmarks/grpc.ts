/**
 * gRPC through the sidecar, side by side in one run: a grpc-js echo server (its own process) is
 * called directly, through `faultline sidecar` (its own process, h2c), and through Debian's nginx
 * with `grpc_pass` (the non-Node reference; the row is skipped, saying why, when nginx or its
 * gRPC module is missing). The load is a grpc-js client in this process: `concurrency` unary
 * calls in a closed loop over 4 channels (4 HTTP/2 connections). Reported: calls/s, p50/p99,
 * and CPU per call of the proxy process (/proc/<pid>/stat, user + system).
 *
 * Also measured in the same run:
 * - an HTTP/1.1 pass-through request through the same sidecar binary (undici closed loop against
 *   benchmarks/origin.ts), for the goal "a unary call costs at most 1.5 x the CPU of an HTTP/1.1
 *   pass-through request";
 * - a 100 ms request delay at 50 concurrent streams: latency minus 100 ms minus the direct
 *   server's median at the same arrival pattern (each worker waits 100 ms itself, then calls),
 *   as benchmarks/delay.ts does for HTTP/1.1; the goal is p99 at most +5 ms.
 *
 *   npm run bench:grpc                  # print the tables
 *   npm run bench:grpc -- --record      # and write them into benchmarks/README.md (grpc section)
 *
 * Environment: BENCH_DURATION (s per run, default 8), BENCH_GRPC_CONCURRENCY (default 32).
 * `node benchmarks/grpc.ts --origin` runs just the echo server and prints its URL (the origin).
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as hdr from 'hdr-histogram-js'
import { freePort } from '../controller/drivers/local/ports.ts'
import { type EchoClient, loadEcho, startEchoServer } from '../examples/grpc/echo-service.ts'
import {
  closedLoop,
  exitOnSignals,
  HERE,
  hasCommand,
  loadAverage,
  type LoadResult,
  machine,
  measureRun,
  putRules,
  recordSection,
  type RunCost,
  signed,
  startOrigin,
  startProcess,
  startSidecarProcess,
  stopProcess,
  track,
} from './harness.ts'

type Measured = LoadResult & RunCost

interface Row {
  name: string
  result?: Measured
  skipped?: string
}

/** Calls `Unary` in a closed loop; latency per call in microseconds. */
export async function grpcLoop(
  target: string,
  opts: { concurrency: number; durationS: number; thinkMs?: number },
): Promise<LoadResult> {
  const { Echo } = loadEcho()
  // Separate subchannels per client, so the 4 channels really are 4 connections.
  const clients = Array.from(
    { length: 4 },
    () =>
      new Echo(target, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      }) as unknown as EchoClient,
  )
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  })
  let errors = 0
  const call = (c: EchoClient) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now()
      c.Unary({ text: 'ping' }, new grpc.Metadata(), {}, (err) => {
        if (err) errors++
        else h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)))
        resolve()
      })
    })
  // Connect all channels before timing.
  await Promise.all(clients.map((c) => call(c)))
  h.reset()
  errors = 0
  const started = performance.now()
  const endAt = started + opts.durationS * 1000
  const worker = async (i: number) => {
    const c = clients[i % clients.length]!
    while (performance.now() < endAt) {
      if (opts.thinkMs) {
        await new Promise((r) => setTimeout(r, opts.thinkMs))
        if (performance.now() >= endAt) break
      }
      await call(c)
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(i)))
  for (const c of clients) c.close()
  const elapsedS = (performance.now() - started) / 1000
  return {
    rps: h.totalCount / elapsedS,
    requests: h.totalCount,
    p50: h.getValueAtPercentile(50) / 1000,
    p90: h.getValueAtPercentile(90) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    max: h.maxValue / 1000,
    errors,
  }
}

/** Whether Debian's nginx can proxy gRPC: the binary, HTTP/2 and the (default-built) gRPC module. */
function nginxProblem(): string | undefined {
  if (!hasCommand('nginx')) return 'nginx is not installed'
  // nginx -V prints its configure arguments on stderr.
  const all = execFileSync('sh', ['-c', 'nginx -V 2>&1'], { encoding: 'utf8' })
  if (!all.includes('--with-http_v2_module')) return 'this nginx is built without http_v2_module'
  if (all.includes('--without-http_grpc_module')) return 'this nginx is built without the gRPC module'
  return undefined
}

/** nginx with grpc_pass to `origin` (host:port); resolves to its host:port and pid. */
async function startNginx(origin: string): Promise<{ target: string; pid: number; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-nginx-grpc-'))
  const port = await freePort()
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream echo { server ${origin}; keepalive 32; }
  server {
    listen 127.0.0.1:${port} http2;
    location / { grpc_pass grpc://echo; }
    location = /healthz { return 200 ok; }
  }
}
`,
  )
  const child = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  track(child)
  const target = `127.0.0.1:${port}`
  // The port answers once nginx is up (a GET over HTTP/1.1 to an http2-only listener still connects).
  await waitForPort(port)
  return {
    target,
    pid: child.pid!,
    async close() {
      await stopProcess(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const net = await import('node:net')
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`nothing listened on ${port} within ${timeoutMs} ms`)
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a')

async function main(): Promise<void> {
  exitOnSignals()
  const record = process.argv.includes('--record')
  const durationS = Number(process.env.BENCH_DURATION ?? 8)
  const concurrency = Number(process.env.BENCH_GRPC_CONCURRENCY ?? 32)
  const load0 = loadAverage()

  const origin = await startProcess([path.join(HERE, 'grpc.ts'), '--origin'], (l) => l.url)
  const originTarget = new URL(origin.url).host
  const sidecar = await startSidecarProcess(origin.url)
  const sidecarTarget = new URL(sidecar.proxy).host
  const rows: Row[] = []
  const loop = () => grpcLoop(originTarget, { concurrency, durationS })
  try {
    // Warm-up: JIT and connection pools, not measured.
    await grpcLoop(sidecarTarget, { concurrency, durationS: 2 })
    rows.push({ name: 'direct (grpc-js server)', result: await measureRun(origin.child.pid!, 1000, loop) })
    rows.push({
      name: 'through faultline (h2c)',
      result: await measureRun(
        sidecar.child.pid!,
        1000,
        () => grpcLoop(sidecarTarget, { concurrency, durationS }),
        origin.child.pid,
      ),
    })
    const problem = nginxProblem()
    if (problem) rows.push({ name: 'through nginx grpc_pass', skipped: problem })
    else {
      const nginx = await startNginx(originTarget)
      try {
        await grpcLoop(nginx.target, { concurrency, durationS: 2 })
        rows.push({
          name: 'through nginx grpc_pass',
          result: await measureRun(
            nginx.pid,
            1000,
            () => grpcLoop(nginx.target, { concurrency, durationS }),
            origin.child.pid,
          ),
        })
      } finally {
        await nginx.close()
      }
    }

    // HTTP/1.1 pass-through CPU per request through a sidecar of the same build, same run.
    const h1Origin = await startOrigin()
    const h1Sidecar = await startSidecarProcess(h1Origin.url)
    let h1: Measured
    try {
      await closedLoop(h1Sidecar.proxy, { connections: concurrency, durationS: 2 })
      h1 = await measureRun(h1Sidecar.child.pid!, 1000, () =>
        closedLoop(h1Sidecar.proxy, { connections: concurrency, durationS }),
      )
    } finally {
      await stopProcess(h1Sidecar.child)
      await h1Origin.stop()
    }

    // 100 ms delay at 50 concurrent streams.
    const delayMs = 100
    const direct = await grpcLoop(originTarget, { concurrency: 50, durationS, thinkMs: delayMs })
    await putRules(sidecar.admin, [
      { id: 'delay', match: { path: '/faultline.echo.Echo/Unary' }, delay: { ms: delayMs } },
    ])
    const delayed = await measureRun(sidecar.child.pid!, 1000, () =>
      grpcLoop(sidecarTarget, { concurrency: 50, durationS }),
    )
    await putRules(sidecar.admin, [])

    const out = report({ rows, h1, direct, delayed, delayMs, durationS, concurrency, load0 })
    process.stdout.write(out + '\n')
    if (record) recordSection('grpc', out)
  } finally {
    await stopProcess(sidecar.child)
    await stopProcess(origin.child)
  }
}

function report(r: {
  rows: Row[]
  h1: Measured
  direct: LoadResult
  delayed: Measured
  delayMs: number
  durationS: number
  concurrency: number
  load0: string
}): string {
  const lines: string[] = []
  lines.push(
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}; load average ${r.load0} at the start (the machine is shared).`,
  )
  lines.push(
    `Unary calls (grpc-js client in the bench process, 4 channels, ${r.concurrency} calls in flight, closed loop, ${r.durationS} s per row); each server and proxy its own process, not pinned.`,
  )
  lines.push('')
  lines.push('| path | calls/s | p50 ms | p99 ms | errors | proxy CPU µs/call |')
  lines.push('|---|---:|---:|---:|---:|---:|')
  for (const row of r.rows) {
    if (!row.result) {
      lines.push(`| ${row.name} | skipped: ${row.skipped} | | | | |`)
      continue
    }
    const x = row.result
    const cpu = row.name.startsWith('direct') ? `(server) ${f(x.cpuUsPerReq, 0)}` : f(x.cpuUsPerReq, 0)
    lines.push(`| ${row.name} | ${f(x.rps, 0)} | ${f(x.p50)} | ${f(x.p99)} | ${x.errors} | ${cpu} |`)
  }
  const fl = r.rows.find((x) => x.name.startsWith('through faultline'))?.result
  lines.push('')
  const ratio = fl ? fl.cpuUsPerReq / r.h1.cpuUsPerReq : NaN
  lines.push(
    `HTTP/1.1 pass-through through the same sidecar (undici closed loop, ${r.concurrency} connections): ${f(r.h1.rps, 0)} req/s, ${f(r.h1.cpuUsPerReq, 0)} µs CPU/request. ` +
      `A unary gRPC call costs ${f(ratio)} x that (goal: at most 1.5 x): ${ratio <= 1.5 ? 'met' : 'not met'}.`,
  )
  lines.push('')
  const err = (p: number) => p - r.delayMs - r.direct.p50
  lines.push(
    `100 ms request delay at 50 concurrent streams: ${f(r.delayed.rps, 0)} calls/s, error (latency - 100 ms - direct median ${f(r.direct.p50)} ms) ` +
      `p50 ${signed(err(r.delayed.p50), 2)} ms, p90 ${signed(err(r.delayed.p90), 2)} ms, p99 ${signed(err(r.delayed.p99), 2)} ms ` +
      `(goal p99 at most +5 ms: ${err(r.delayed.p99) <= 5 ? 'met' : 'not met'}); ${r.delayed.errors} errors, ${f(r.delayed.cpuUsPerReq, 0)} µs CPU per delayed call. ` +
      `The direct server at the same arrival pattern, for the noise floor: p50 ${f(r.direct.p50)} ms, p90 ${f(r.direct.p90)} ms, p99 ${f(r.direct.p99)} ms.`,
  )
  return lines.join('\n')
}

if (process.argv.includes('--origin')) {
  const echo = await startEchoServer()
  process.stdout.write(JSON.stringify({ url: echo.url }) + '\n')
} else if (import.meta.main) {
  await main()
  process.exit(0)
}
