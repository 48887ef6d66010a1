/**
 * The controller's GET /metrics with a real sidecar: what a run in progress shows (runs, faults
 * and targets under faults, the run window), what an ended run leaves (outcome, check results,
 * recovery time, blast radius), that dry runs are not counted, that a run a killed controller
 * left behind counts as aborted once recovered, the halt gauge, and schedule skips by reason.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { type ControllerWorld, startController, waitForRun } from '../helpers/controller.ts'
import { startControllerProcess } from '../helpers/cli.ts'
import { startWorld, type World } from '../helpers/world.ts'

let world: World | undefined
let c: ControllerWorld | undefined
const children: ChildProcess[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  await c?.close()
  await world?.close()
})

const metrics = async () => (await fetch(`${c!.url}/metrics`)).text()
/** The value of one exposition line (labels exactly as written), or undefined when the series is absent. */
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

function doc(world: World, name: string, fault = '2s') {
  return {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name },
    spec: {
      targets: { app: { sidecars: [world.adminUrl] } },
      load: { url: `${world.proxyUrl}/echo/x`, rate: 100, connections: 2 },
      hypothesis: {
        title: 'p95 under 500 ms with a 20 ms delay',
        checks: [
          {
            name: 'p95',
            sidecar: { target: 'app', stat: 'p95' },
            tolerance: { max: 500 },
            window: '2s',
            interval: '250ms',
            minSamples: 5,
          },
        ],
      },
      method: [{ sidecarFault: { target: 'app', duration: fault, rules: [{ id: 'slow', delay: { ms: 20 } }] } }],
    },
  }
}

it('shows a run in progress with its faults and blast radius, then its outcome, checks and recovery', async () => {
  world = await startWorld()
  c = await startController({ token: 'secret' })
  const authed = { ...c, api: ((m, p, b) => c!.api(m, p, b, { authorization: 'Bearer secret' })) as typeof c.api }
  // Open like /healthz: Prometheus scrapes it without the API token.
  expect(value(await metrics(), 'faultline_runs_in_progress')).toBe(0)
  const started = await authed.api('POST', '/runs', { document: doc(world, 'm') })
  expect(started.status).toBe(202)
  const runId: string = started.body.runId
  await expect
    .poll(async () => value(await metrics(), 'faultline_run_faults_active{kind="sidecar",target="app"}'), {
      timeout: 15_000,
      interval: 100,
    })
    .toBe(1)
  const during = await metrics()
  expect(value(during, 'faultline_fault_targets_affected{kind="sidecar",target="app"}')).toBe(1)
  expect(value(during, 'faultline_runs_in_progress')).toBe(1)
  expect(value(during, `faultline_run_active{experiment="m",run_id="${runId}"}`)).toBe(1)
  // Created at 0 when the run started, so increase() sees the run end.
  expect(value(during, 'faultline_runs_total{experiment="m",status="completed",verdict="pass"}')).toBe(0)

  const run = await waitForRun(authed, runId)
  expect(run).toMatchObject({ status: 'completed', verdict: 'pass' })
  const after = await metrics()
  expect(value(after, 'faultline_runs_total{experiment="m",status="completed",verdict="pass"}')).toBe(1)
  expect(value(after, 'faultline_runs_total{experiment="m",status="completed",verdict="fail"}')).toBe(0)
  expect(value(after, 'faultline_check_results_total{experiment="m",check="p95",result="pass"}')).toBe(1)
  expect(value(after, 'faultline_recovery_seconds_count{experiment="m",check="p95"}')).toBe(1)
  const recovered = run.checks.p95.phases.find((p: { phase: string }) => p.phase === 'after').recoveredAfterMs
  expect(value(after, 'faultline_recovery_seconds_sum{experiment="m",check="p95"}')).toBeCloseTo(recovered / 1000, 6)
  expect(value(after, 'faultline_run_faults_applied_total{kind="sidecar",target="app"}')).toBe(1)
  expect(value(after, 'faultline_run_targets_affected_sum{experiment="m"}')).toBe(1)
  expect(value(after, 'faultline_run_faults_active{kind="sidecar",target="app"}')).toBe(0)
  expect(value(after, 'faultline_fault_targets_affected{kind="sidecar",target="app"}')).toBe(0)
  expect(value(after, 'faultline_runs_in_progress')).toBe(0)
  expect(after).not.toContain('faultline_run_active{')

  // A dry run injects nothing: it is not an outcome of the experiment.
  const dry = await authed.api('POST', '/runs', { document: doc(world, 'm', '1s'), dryRun: true })
  await waitForRun(authed, dry.body.runId)
  const total = (await metrics())
    .split('\n')
    .filter((l) => l.startsWith('faultline_runs_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ')[1]), 0)
  expect(total).toBe(1)
}, 60_000)

it('shows the halt, and schedule firings and skips by reason', async () => {
  world = await startWorld()
  c = await startController()
  expect((await c.api('POST', '/experiments', doc(world, 'gone'))).status).toBe(201)
  expect((await c.api('POST', '/schedules', { name: 'nightly', experiment: 'gone', cron: '0 3 * * *' })).status).toBe(
    201,
  )
  const armed = await metrics()
  expect(value(armed, 'faultline_schedule_firings_total{schedule="nightly",outcome="started"}')).toBe(0)
  expect(value(armed, 'faultline_schedule_skips_total{schedule="nightly",reason="halted"}')).toBe(0)
  expect(value(armed, 'faultline_halted')).toBe(0)

  await c.api('POST', '/halt', { reason: 'test' })
  expect(value(await metrics(), 'faultline_halted')).toBe(1)
  expect((await c.api('POST', '/schedules/nightly/trigger', {})).body).toMatchObject({ outcome: 'skipped' })
  await c.api('DELETE', '/halt')
  expect(value(await metrics(), 'faultline_halted')).toBe(0)
  await c.api('DELETE', '/experiments/gone')
  expect((await c.api('POST', '/schedules/nightly/trigger', {})).body).toMatchObject({ outcome: 'skipped' })

  const text = await metrics()
  expect(value(text, 'faultline_schedule_firings_total{schedule="nightly",outcome="skipped"}')).toBe(2)
  expect(value(text, 'faultline_schedule_firings_total{schedule="nightly",outcome="started"}')).toBe(0)
  expect(value(text, 'faultline_schedule_skips_total{schedule="nightly",reason="halted"}')).toBe(1)
  expect(value(text, 'faultline_schedule_skips_total{schedule="nightly",reason="experiment_missing"}')).toBe(1)
  expect(value(text, 'faultline_schedule_skips_total{schedule="nightly",reason="concurrency_forbid"}')).toBe(0)
  expect(text).toMatch(/^faultline_build_info\{version="[^"]+",node_version="v24[^"]*",component="controller"\} 1$/m)
}, 30_000)

async function controllerProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const c = await startControllerProcess(dataDir)
  children.push(c.child)
  return c
}

it('counts a run left running by a killed controller as aborted when the next one recovers it', async () => {
  world = await startWorld()
  const dataDir = mkdtempSync(path.join(tmpdir(), 'faultline-metrics-crash-'))
  dirs.push(dataDir)
  const first = await controllerProcess(dataDir)
  const post = async (url: string, body: unknown) =>
    (
      await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    ).json() as Promise<any>
  const { runId } = await post(`${first.url}/runs`, { document: doc(world, 'long', '10m') })
  await expect
    .poll(async () => ((await (await fetch(`${first.url}/runs/${runId}`)).json()) as any).faults?.[0]?.appliedAt, {
      timeout: 15_000,
    })
    .toBeGreaterThan(0)
  first.child.kill('SIGKILL')
  await new Promise((r) => first.child.once('exit', r))
  const second = await controllerProcess(dataDir)
  const text = await (await fetch(`${second.url}/metrics`)).text()
  expect(value(text, 'faultline_runs_total{experiment="long",status="aborted",verdict="inconclusive"}')).toBe(1)
  expect(value(text, 'faultline_runs_in_progress')).toBe(0)
  expect(text).toMatch(/^faultline_build_info\{[^}]*component="controller"\} 1$/m)
}, 60_000)
