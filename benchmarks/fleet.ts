/**
 * Fleet propagation: time from a rule change written by the controller (FleetBus) to the last
 * acknowledgement, for 1, 10 and 100 sidecars following one service through a real redis-server.
 * All sidecars run in this process (each with its own Redis connections), so the figures include
 * their share of one event loop: an upper bound for sidecars on their own machines.
 *
 *   npm run bench:fleet              # print the table
 *   npm run bench:fleet -- --record  # and write it into benchmarks/README.md
 *
 * Environment: FLEET_CHANGES (changes measured per size, default 30), FLEET_SIZES (default 1,10,100).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import os from 'node:os'
import { FleetBus } from '../controller/bus/fleet.ts'
import { startSampleApp } from '../examples/sample-app.ts'
import { buildSidecar, type Sidecar } from '../sidecar/build.ts'
import { silentLogger } from '../src/log.ts'
import { freePort, waitForPort } from '../controller/drivers/local/ports.ts'
import { recordSection } from './harness.ts'

const CHANGES = Number(process.env.FLEET_CHANGES ?? 30)
const SIZES = (process.env.FLEET_SIZES ?? '1,10,100').split(',').map(Number)

async function redisServer(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort()
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  await waitForPort(port, true)
  return { url: `redis://127.0.0.1:${port}`, child }
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!

async function main(record: boolean): Promise<void> {
  const redis = await redisServer()
  const app = await startSampleApp()
  const bus = new FleetBus(redis.url)
  const rows: string[] = []
  try {
    for (const n of SIZES) {
      const service = `bench-${n}`
      const sidecars: Sidecar[] = []
      for (let i = 0; i < n; i++) {
        const sc = buildSidecar({
          upstream: app.url,
          listen: { host: '127.0.0.1', port: 0 },
          admin: { host: '127.0.0.1', port: 0 },
          logger: silentLogger(),
          service,
          redisUrl: redis.url,
        })
        await sc.listen()
        sidecars.push(sc)
      }
      while ((await bus.instances(service)).length < n) await new Promise((r) => setTimeout(r, 50))
      const times: number[] = []
      let incomplete = 0
      for (let k = 0; k < CHANGES + 3; k++) {
        const expiresAt = new Date(Date.now() + 600_000).toISOString()
        const r = await bus.update(
          service,
          () => [{ id: `rule-${k}`, source: 'bench', expiresAt, delay: { ms: 1 } }],
          10_000,
        )
        if (r.acked.length !== n) incomplete++
        if (k >= 3) times.push(r.ms) // the first changes warm up connections and JIT
      }
      rows.push(`| ${n} | ${CHANGES} | ${pct(times, 50)} | ${pct(times, 95)} | ${Math.max(...times)} | ${incomplete} |`)
      process.stderr.write(`${n} sidecar(s): median ${pct(times, 50)} ms, p95 ${pct(times, 95)} ms\n`)
      await Promise.all(sidecars.map((s) => s.close()))
    }
  } finally {
    await bus.close()
    await app.close()
    redis.child.kill('SIGKILL')
  }
  const table = [
    `Run ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, redis-server from Debian, all sidecars in one process.`,
    '',
    '| sidecars | changes | median ms (change -> last ack) | p95 ms | max ms | changes not acknowledged by all |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n')
  process.stdout.write(table + '\n')
  if (record) recordSection('fleet', table)
}

await main(process.argv.includes('--record'))
