import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
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

function writeExperiment(faultDuration: string): string {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-run-'))
  const file = path.join(dir, 'exp.yaml')
  writeFileSync(
    file,
    `apiVersion: faultline/v1
kind: Experiment
metadata: { name: cli-run }
spec:
  targets: { app: { sidecars: ["\${ADMIN}"] } }
  hypothesis: { title: t, checks: [] }
  method:
    - sidecarFault:
        target: app
        duration: ${faultDuration}
        rules: [{ id: held, match: { path: /nowhere }, delay: { ms: 1 } }]
`,
  )
  return file
}

function run(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited, out: () => out }
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
