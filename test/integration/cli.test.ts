import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { afterEach, expect, it } from 'vitest'
import { type SampleApp, startSampleApp } from '../../examples/sample-app.ts'
import { send } from '../helpers/world.ts'

const BIN = path.resolve(import.meta.dirname, '../../bin/faultline.js')
const children: ChildProcess[] = []
let app: SampleApp | undefined
let dir: string | undefined
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  await app?.close()
  app = undefined
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function run(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  return { child, exited, stderr: () => stderr }
}

it('drains in-flight requests on SIGTERM, then exits 0', async () => {
  app = await startSampleApp()
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-cli-'))
  const rules = path.join(dir, 'rules.json')
  writeFileSync(rules, JSON.stringify({ rules: [{ id: 'slow', match: { path: '/echo/slow' }, delay: { ms: 400 } }] }))
  const { child, exited } = run([
    'sidecar',
    '--upstream',
    app.url,
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--rules',
    rules,
  ])
  const lines = readline.createInterface({ input: child.stdout! })
  let listening: { proxy: string; admin: string } | undefined
  for await (const line of lines) {
    const entry = JSON.parse(line)
    if (entry.msg === 'sidecar listening') {
      listening = entry
      break
    }
  }
  expect(listening).toBeDefined()
  const pending = send(listening!.proxy + '/echo/slow')
  await expect
    .poll(async () =>
      (await (await fetch(listening!.admin + '/metrics')).text()).includes(
        'faultline_active_faults{service="default"} 1',
      ),
    )
    .toBe(true)
  child.kill('SIGTERM')
  const reply = await pending
  expect(reply.status).toBe(200)
  expect(reply.headers['x-faultline-fault']).toBe('slow')
  expect(await exited).toBe(0)
})

it('names every bad flag in one line, exits 64 (usage) and starts nothing', async () => {
  const { exited, stderr } = run(['sidecar', '--listen', 'nope', '--upstream-timeout', '5'])
  expect(await exited).toBe(64)
  expect(stderr().trimEnd().split('\n')).toHaveLength(1)
  expect(stderr()).toMatch(/^faultline sidecar: .*\(see faultline sidecar --help\)\n$/)
  expect(stderr()).toContain('--upstream is required')
  expect(stderr()).toContain('--listen must be HOST:PORT')
  expect(stderr()).toContain('--upstream-timeout must be a duration')
})

it('faultline tour shows every fault kind working', async () => {
  const { child, exited } = run(['tour'])
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  expect(await exited).toBe(0)
  expect(out).toMatch(/GET \/echo\/slow\/report\s+slow-api\s+200 in \d+ ms/)
  expect(out).toMatch(/flaky-status\s+\d+\/50 got an injected 503/)
  expect(out).toMatch(/gold-only-reset\s+ECONNRESET/)
  expect(out).toContain('"tier":"bronze"')
  expect(out).toMatch(/slow-download\s+200 64 KiB in (0\.9|1\.\d)/)
  expect(out).toContain('the app saw /echo/v2/orders?beta=1')
  expect(out).toMatch(/faulted\s+\d+ requests/)
})

it('faultline demo runs the three example experiments: pass, fail, and a measured recovery', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-demo-'))
  const child = spawn(process.execPath, [BIN, 'demo'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const code = await new Promise((resolve) => child.once('exit', resolve))
  expect(code, out).toBe(0)
  expect(out).toMatch(/pass\s+exit 0\s+latency-absorbed/)
  expect(out).toMatch(/fail\s+exit 1\s+dependency-outage/)
  expect(out).toMatch(/pass\s+exit 0\s+orders-process-kill/)
  expect(out).toMatch(/\[kill\] orders SIGKILL: recovered in \d+ ms/)
  for (const m of out.matchAll(/(\.faultline\/runs\/\S+)\/report\.html/g)) {
    const journal = JSON.parse(readFileSync(path.join(dir, m[1]!, 'journal.json'), 'utf8'))
    expect(journal.faults.every((f: { revertedAt?: number }) => f.revertedAt !== undefined)).toBe(true)
  }
}, 90_000)

it('a missing or unreadable --rules, --tls-cert or --tls-key file exits 64 naming the flag; rules that do not validate exit 1', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-cli-'))
  const missing = path.join(dir, 'missing.yaml')
  const base = ['sidecar', '--upstream', 'http://127.0.0.1:9', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']
  const absent = run([...base, '--rules', missing, '--tls-cert', dir, '--tls-key', missing])
  expect(await absent.exited).toBe(64)
  expect(absent.stderr()).toBe(
    `faultline sidecar: --rules cannot read ${missing}: ENOENT; --tls-cert cannot read ${dir}: EISDIR; ` +
      `--tls-key cannot read ${missing}: ENOENT (see faultline sidecar --help)\n`,
  )
  const invalid = path.join(dir, 'rules.yaml')
  writeFileSync(invalid, 'rules: [{ bogus: 1 }]\n')
  const bad = run([...base, '--rules', invalid])
  expect(await bad.exited).toBe(1)
  expect(bad.stderr()).toMatch(
    /^faultline sidecar: invalid rule set: .*\[FL_ERR_RULES_INVALID\]\n {2}\/rules\/0\/bogus: /,
  )
})
