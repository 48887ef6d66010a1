import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { startAdminProxy } from '../helpers/admin-proxy.ts'
import { startWorld, type World } from '../helpers/world.ts'

const BIN = path.resolve(import.meta.dirname, '../../bin/faultline.js')
let world: World | undefined
let dir: string
const children: ChildProcess[] = []
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  await world?.close()
  world = undefined
  rmSync(dir, { recursive: true, force: true })
})

function writeExperiment(faultDuration: string, checks = '[]', after = ''): string {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-run-'))
  const file = path.join(dir, 'exp.yaml')
  writeFileSync(
    file,
    `apiVersion: faultline/v1
kind: Experiment
metadata: { name: cli-run }
spec:
  targets: { app: { sidecars: ["\${ADMIN}"] } }
  hypothesis: { title: t, checks: ${checks} }
  method:
    - sidecarFault:
        target: app
        duration: ${faultDuration}
        rules: [{ id: held, match: { path: /nowhere }, delay: { ms: 1 } }]
${after}`,
  )
  return file
}

function cli(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, command, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, exited, ended, out: () => out }
}

const run = (args: string[], env?: Record<string, string>) => cli('run', args, env)

/** Every journal under `data`, parsed. */
function journals(data: string): any[] {
  const runs = path.join(data, 'runs')
  if (!existsSync(runs)) return []
  return readdirSync(runs)
    .filter((r) => existsSync(path.join(runs, r, 'journal.json')))
    .map((r) => JSON.parse(readFileSync(path.join(runs, r, 'journal.json'), 'utf8')))
}

/** Resolves with `what` or rejects once `ms` passed: a run that ignores a signal fails here, not by a test timeout. */
function within<T>(ms: number, what: Promise<T>): Promise<T> {
  return Promise.race([
    what,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms).unref()),
  ])
}

const ruleIds = async (w: World) => (await w.admin('GET', '/rules')).body.rules.map((r: { id: string }) => r.id)

it('SIGKILL of faultline run mid-fault: the rules still expire by their ttl', async () => {
  world = await startWorld()
  const file = writeExperiment('60s')
  const { child } = run([file, '--var', `ADMIN=${world.adminUrl}`, '--ttl-margin', '1s'])
  await expect.poll(() => ruleIds(world!), { timeout: 10_000 }).toEqual(['held'])
  const rule = (await world.admin('GET', '/rules')).body.rules[0]
  expect(rule.source).toMatch(/^cli-run-/)
  child.kill('SIGKILL')
  // Nobody reverts now: only the sidecar's own expiry (60 s + 1 s margin) can remove it...
  expect(await ruleIds(world)).toEqual(['held'])
  const expiresIn = Date.parse(rule.expiresAt) - Date.now()
  expect(expiresIn).toBeGreaterThan(55_000)
  expect(expiresIn).toBeLessThan(62_000)
  // ...and the intent was on disk before the rule was applied, so a later controller can find it.
  const runs = readdirSync(path.join(dir, '.faultline', 'runs'))
  const journal = JSON.parse(readFileSync(path.join(dir, '.faultline', 'runs', runs[0]!, 'journal.json'), 'utf8'))
  expect(journal.status).toBe('running')
  expect(journal.faults[0]).toMatchObject({ kind: 'sidecar', source: rule.source, on: [world.adminUrl] })
})

it('a killed runner leaves nothing behind once the ttl passes', async () => {
  world = await startWorld()
  const file = writeExperiment('1s')
  const { child } = run([file, '--var', `ADMIN=${world.adminUrl}`, '--ttl-margin', '500ms'])
  await expect.poll(() => ruleIds(world!), { timeout: 10_000 }).toEqual(['held'])
  child.kill('SIGKILL')
  await expect.poll(() => ruleIds(world!), { timeout: 5_000, interval: 100 }).toEqual([])
})

it('SIGTERM reverts at once, marks the run aborted and exits 2', async () => {
  world = await startWorld()
  const file = writeExperiment('60s')
  const { child, exited, out } = run([file, '--var', `ADMIN=${world.adminUrl}`])
  await expect.poll(() => ruleIds(world!), { timeout: 10_000 }).toEqual(['held'])
  child.kill('SIGTERM')
  expect(await exited).toBe(2)
  expect(await ruleIds(world)).toEqual([])
  expect(out()).toMatch(/INCONCLUSIVE \(aborted\): interrupted \(signal\)/)
})

it('an invalid experiment exits 64 and names every problem', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-run-'))
  const file = path.join(dir, 'bad.yaml')
  writeFileSync(
    file,
    'apiVersion: faultline/v1\nkind: Experiment\nmetadata: { name: Bad }\nspec: { targets: {}, hypothesis: { title: t, checks: [] }, method: [{ wait: soon }] }\n',
  )
  const { exited, out } = run([file])
  expect(await exited).toBe(64)
  expect(out()).toContain('FL_ERR_EXPERIMENT_INVALID')
  expect(out()).toContain('/metadata/name')
  expect(out()).toContain('/spec/method/0/wait')
  expect(readdirSync(dir)).toEqual(['bad.yaml'])
})

it('faultline run writes under FAULTLINE_DATA when --data is not given', async () => {
  world = await startWorld()
  const file = writeExperiment('10ms')
  const data = path.join(dir, 'from-env')
  const { exited, out } = run([file, '--var', `ADMIN=${world.adminUrl}`], { FAULTLINE_DATA: data })
  expect(await exited).toBe(2) // no checks: inconclusive
  expect(journals(data)).toHaveLength(1)
  expect(existsSync(path.join(dir, '.faultline'))).toBe(false)
  expect(out()).toContain(path.join('from-env', 'runs'))
})

it('--data still wins over FAULTLINE_DATA', async () => {
  world = await startWorld()
  const file = writeExperiment('10ms')
  const { exited } = run([file, '--var', `ADMIN=${world.adminUrl}`, '--data', 'flag'], { FAULTLINE_DATA: 'env' })
  expect(await exited).toBe(2)
  expect(journals(path.join(dir, 'flag'))).toHaveLength(1)
  expect(existsSync(path.join(dir, 'env'))).toBe(false)
})

it('a second SIGINT while reverting does not kill the run half-way: the journal still ends aborted', async () => {
  world = await startWorld()
  // A sidecar slow to remove rules, so the revert is still under way when the second signal comes.
  const admin = await startAdminProxy(world.adminUrl, { delayMs: (req) => (req.method === 'DELETE' ? 1500 : 0) })
  try {
    const file = writeExperiment('60s')
    const data = path.join(dir, 'data')
    const { child, ended, out } = run([file, '--var', `ADMIN=${admin.url}`, '--data', data])
    await expect.poll(() => ruleIds(world!), { timeout: 10_000 }).toEqual(['held'])
    child.kill('SIGINT')
    await expect.poll(() => out(), { timeout: 5000, interval: 20 }).toMatch(/SIGINT: aborting/)
    child.kill('SIGINT') // an impatient second Ctrl-C, mid-revert
    expect(await within(10_000, ended)).toEqual({ code: 2, signal: null })
    expect(out()).toMatch(/SIGINT: still reverting/)
    expect(await ruleIds(world)).toEqual([])
    const [journal] = journals(data)
    expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive', reason: 'interrupted (signal)' })
    expect(journal.faults[0].revertedAt).toBeGreaterThan(0)
  } finally {
    await admin.close()
  }
})

it('SIGTERM during the recovery phase ends the run at once, aborted, not after recoverWithin', async () => {
  world = await startWorld()
  // A check that never recovers, with a deadline far beyond the test's patience.
  const checks = `[{ name: up, phases: [after], http: { url: "\${PROXY}/status/500" }, interval: 200ms, recoverWithin: 60s }]`
  const file = writeExperiment('10ms', checks)
  const data = path.join(dir, 'data')
  const { child, ended } = run([
    file,
    '--var',
    `ADMIN=${world.adminUrl}`,
    '--var',
    `PROXY=${world.proxyUrl}`,
    '--data',
    data,
  ])
  const inRecovery = () =>
    journals(data).some((j) => j.timeline.some((e: any) => e.type === 'phase' && e.detail === 'after'))
  await expect.poll(inRecovery, { timeout: 10_000, interval: 50 }).toBe(true)
  const t0 = Date.now()
  child.kill('SIGTERM')
  expect(await within(10_000, ended)).toEqual({ code: 2, signal: null })
  expect(Date.now() - t0).toBeLessThan(5000)
  const [journal] = journals(data)
  expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive', reason: 'interrupted (signal)' })
  expect(journal.checks.up.phases[0]).toMatchObject({ phase: 'after', result: 'inconclusive' })
  expect(journal.checks.up.phases[0].reason).toMatch(/^interrupted before it recovered/)
})

it('faultline demo stopped by SIGTERM reverts, finishes its journal as aborted, and writes under FAULTLINE_DATA', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-demo-'))
  const data = path.join(dir, 'data')
  const { child, ended, out } = cli('demo', [], { FAULTLINE_DATA: data })
  await expect.poll(() => out(), { timeout: 20_000, interval: 100 }).toMatch(/\[fault\]/)
  child.kill('SIGTERM')
  const end = await within(20_000, ended)
  expect(end.signal).toBeNull() // it finished by itself, not killed by the signal
  const all = journals(data)
  expect(all).toHaveLength(1) // the experiments after the interrupted one did not start
  expect(all[0]).toMatchObject({ status: 'aborted', reason: 'interrupted (signal)' })
  const applied = all[0].faults.filter((f: any) => f.appliedAt !== undefined)
  expect(applied.length).toBeGreaterThan(0)
  for (const f of applied) expect(f.revertedAt).toBeGreaterThanOrEqual(f.appliedAt)
  expect(existsSync(path.join(dir, '.faultline'))).toBe(false)
}, 60_000)
