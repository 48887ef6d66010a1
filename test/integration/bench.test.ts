import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { benchCommand } from '../../bin/bench.ts'
import type { BenchResult } from '../../controller/bench/report.ts'
import { runBench } from '../../controller/bench/rounds.ts'
import { buildPlan } from '../../src/bench/plan.ts'
import { startWorld, type World } from '../helpers/world.ts'

let world: World | undefined
let out: string | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await world?.close()
  world = undefined
  if (out) rmSync(out, { recursive: true, force: true })
})

function capture() {
  const err: string[] = []
  const stdout: string[] = []
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true))
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (stdout.push(String(s)), true))
  return { err, stdout }
}

/** A port nothing listens on: one that was just closed. */
async function closedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as net.AddressInfo
  await new Promise((r) => s.close(r))
  return port
}

it('benchmarks a real sidecar in front of a real app: a 503 scenario and a delay scenario are measured against the baseline, and every rule is gone afterwards', async () => {
  world = await startWorld()
  out = mkdtempSync(path.join(tmpdir(), 'faultline-bench-'))
  const io = capture()
  const code = await benchCommand([
    '--target',
    `${world.proxyUrl}/echo/x`,
    '--sidecar',
    world.adminUrl,
    '--scenario',
    '503:50%',
    '--scenario',
    'slow=delay:50ms',
    '--rounds',
    '2',
    '--duration',
    '1s',
    '--warmup',
    '300ms',
    '--rate',
    '100',
    '--connections',
    '10',
    '--out',
    out,
  ])
  vi.restoreAllMocks()
  expect(code, io.err.join('')).toBe(0)
  const result = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as BenchResult
  expect(result.status).toBe('completed')
  // Interleaved: baseline, 503, slow, baseline, 503, slow.
  expect(result.results.map((r) => `${r.round}:${r.scenario}`)).toEqual([
    '1:baseline',
    '1:503:50%',
    '1:slow',
    '2:baseline',
    '2:503:50%',
    '2:slow',
  ])
  const [base, errors, slow] = result.summary
  expect(base!.figures.errorRate.median).toBe(0)
  expect(base!.requests).toBeGreaterThan(100)
  // Half the requests answered 503: +50 percentage points, within sampling noise.
  expect(errors!.change!.errorRatePp.median).toBeGreaterThan(30)
  expect(errors!.change!.errorRatePp.median).toBeLessThan(70)
  expect(errors!.change!.errorRatePp.rounds).toHaveLength(2)
  // Every request held 50 ms: the median moves by about that much, no errors added.
  expect(slow!.change!.p50Ms.median).toBeGreaterThan(40)
  expect(slow!.change!.p50Ms.median).toBeLessThan(90)
  expect(slow!.figures.errorRate.median).toBe(0)
  // The sidecar's own count of what the rules did, per round.
  const injected = result.results.filter((r) => r.scenario === '503:50%').map((r) => r.injected!['bench-503-50-0']!)
  for (const c of injected) expect(c.injected).toBeGreaterThan(10)
  // Faults always revert.
  expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
  const html = readFileSync(path.join(out, 'report.html'), 'utf8')
  for (const cls of ['latency', 'throughput', 'error-rate', 'latency-over-time', 'error-rate-over-time'])
    expect(html).toContain(`<svg class="chart ${cls}"`)
  // Four faulted rounds, shaded on both over-time charts.
  expect(html.match(/<rect class="scenario-window"/g)).toHaveLength(8)
  // Per second, whole seconds only: a 1 s round has one point, with the round's requests in it.
  for (const r of result.results) {
    expect(r.figures.series).toHaveLength(1)
    expect(r.figures.series![0]!.requests).toBeGreaterThan(50)
  }
  expect(html).toContain('data-scenario="slow"')
  expect(html).not.toMatch(/<script|<link|src="http/)
  const stdout = io.stdout.join('')
  expect(stdout).toMatch(/^scenario +req\/s +p50 ms +p95 ms +p99 ms +errors$/m)
  expect(stdout).toMatch(/^503:50% .+\(\+\d+(\.\d+)? pp \[/m)
  expect(stdout).toContain(`result: ${path.join(out, 'result.json')}`)
  // Not a terminal here: plain progress lines, no carriage returns.
  const stderr = io.err.join('')
  expect(stderr).toMatch(/\[round 2\/2\] slow: [\d.]+ req\/s/)
  expect(stderr).not.toContain('\r')
}, 60_000)

it('exits 3 naming the URL when the sidecar or the target cannot be reached, and 64 when the target bypasses the sidecar', async () => {
  world = await startWorld()
  const dead = `http://127.0.0.1:${await closedPort()}`
  const io = capture()
  const common = ['--scenario', '503:1%', '--duration', '1s', '--warmup', '0s', '--rounds', '1']
  expect(await benchCommand(['--target', `${world.proxyUrl}/x`, '--sidecar', dead, ...common])).toBe(3)
  expect(io.err.join('')).toContain(
    `faultline bench: sidecar ${dead} unreachable: ECONNREFUSED [FL_ERR_SIDECAR_UNREACHABLE]`,
  )
  expect(await benchCommand(['--target', `${dead}/x`, '--sidecar', world.adminUrl, ...common])).toBe(3)
  expect(io.err.join('')).toContain(`target ${dead}/x (the sidecar's proxy) unreachable: ECONNREFUSED`)
  expect(await benchCommand(['--target', `${world.app.url}/echo/x`, '--sidecar', world.adminUrl, ...common])).toBe(64)
  expect(io.err.join('')).toMatch(/faultline bench: --target does not go through the sidecar/)
  expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
}, 30_000)

it('an interrupt during a faulted round ends it early and removes its rules', async () => {
  world = await startWorld()
  const planned = buildPlan({
    flags: {
      target: `${world.proxyUrl}/echo/x`,
      sidecar: world.adminUrl,
      duration: '4s',
      warmup: '0s',
      rounds: '1',
      rate: '50',
    },
    scenarios: [{ spec: 'slow=delay:20ms' }],
  })
  if (!planned.ok) throw new Error(JSON.stringify(planned.issues))
  const abort = new AbortController()
  let rulesDuringFault: unknown[] | undefined
  let abortedAt = 0
  const run = await runBench({
    plan: planned.plan,
    signal: abort.signal,
    progress: {
      status(text) {
        if (!text.includes('slow') || rulesDuringFault) return
        rulesDuringFault = []
        void world!.admin('GET', '/rules').then((r) => {
          rulesDuringFault = r.body.rules
          abortedAt = Date.now()
          abort.abort()
        })
      },
      line: () => undefined,
      end: () => undefined,
    },
  })
  expect(run.status).toBe('interrupted')
  // The faulted round stopped at the interrupt, not at the end of its 4 s.
  expect(abortedAt).toBeGreaterThan(0)
  expect(Date.now() - abortedAt).toBeLessThan(1500)
  expect(rulesDuringFault).toEqual([expect.objectContaining({ id: 'bench-slow-0', source: run.source })])
  expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
  // The baseline round finished; the interrupted one is not reported as if it were whole.
  expect(run.results.map((r) => r.scenario)).toEqual(['baseline'])
}, 60_000)

it('takes the admin token from --token or FAULTLINE_TOKEN, and refuses before any load without it', async () => {
  world = await startWorld({ adminToken: 's3cret' })
  out = mkdtempSync(path.join(tmpdir(), 'faultline-bench-'))
  const io = capture()
  const args = [
    ...['--target', `${world.proxyUrl}/echo/x`, '--sidecar', world.adminUrl, '--scenario', '503:10%'],
    ...['--duration', '300ms', '--warmup', '0s', '--rounds', '1', '--rate', '50', '--out', out],
  ]
  expect(await benchCommand(args)).toBe(1)
  expect(io.err.join('')).toMatch(/401 .*\[FL_ERR_SIDECAR_REJECTED\]/)
  expect(io.err.join('')).not.toMatch(/\[round 1\/1\] baseline:/)
  expect(await benchCommand([...args, '--token', 's3cret'])).toBe(0)
  vi.stubEnv('FAULTLINE_TOKEN', 's3cret')
  expect(await benchCommand(args)).toBe(0)
  vi.unstubAllEnvs()
  expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
}, 30_000)

it('Ctrl-C on the real command: the faulted round stops, its rules are removed, the finished rounds are written, exit 2', async () => {
  world = await startWorld()
  out = mkdtempSync(path.join(tmpdir(), 'faultline-bench-'))
  const bin = path.resolve(import.meta.dirname, '../../bin/faultline.js')
  const child = spawn(
    process.execPath,
    [
      bin,
      'bench',
      ...['--target', `${world.proxyUrl}/echo/x`, '--sidecar', world.adminUrl, '--scenario', 'held=delay:5ms'],
      ...['--duration', '1s', '--warmup', '0s', '--rounds', '5', '--rate', '50', '--out', out],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const ended = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  // Interrupt while the scenario's rule is on the sidecar.
  await expect
    .poll(async () => ((await world!.admin('GET', '/rules')).body.rules as { id: string }[]).map((r) => r.id), {
      timeout: 20_000,
      interval: 20,
    })
    .toEqual(['bench-held-0'])
  child.kill('SIGINT')
  expect(await ended, output).toBe(2)
  expect(output).toMatch(/SIGINT: aborting, reverting every applied fault/)
  expect(output).toMatch(/interrupted after \d+ round result\(s\); every rule removed/)
  expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
  const result = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as BenchResult
  expect(result.status).toBe('interrupted')
  expect(result.results.map((r) => r.scenario)).toContain('baseline')
  expect(result.results.length).toBeLessThan(10)
}, 60_000)
