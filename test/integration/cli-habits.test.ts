/**
 * The habits every `faultline` command shares, through the real CLI: --help/-h that starts
 * nothing, usage errors as one line and exit 64, --output json for scripts, and run's
 * FAULTLINE_* variables.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startWorld, type World } from '../helpers/world.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const BIN = path.join(ROOT, 'bin/faultline.js')
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

interface Ended {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
})

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-habits-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the CLI in `dir` with only PATH and HOME from this environment (no stray FAULTLINE_*). */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<Ended> {
  const t0 = Date.now()
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  return new Promise((resolve, reject) => {
    // A command that started work instead of printing its help would still be running here.
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`faultline ${args.join(' ')} still running after ${timeoutMs} ms\n${stdout}${stderr}`))
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - t0 })
    })
  })
}

/** Every command; import and bench belong to their own modules, listed once those exist. */
const COMMANDS = [
  'run',
  'validate',
  'demo',
  'tour',
  'controller',
  'sidecar',
  'stress',
  'injector',
  'capture',
  'schema',
  'version',
  ...['import', 'bench'].filter((c) => existsSync(path.join(ROOT, 'bin', `${c}.ts`))),
]

describe('--help and -h', () => {
  // Sequential: a dozen Node start-ups at once on a small machine would measure the machine.
  it.each(COMMANDS)('faultline %s --help and -h print its usage, exit 0 and start nothing', async (command) => {
    for (const flag of ['--help', '-h']) {
      const r = await cli([command, flag], {}, 8000)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(`faultline ${command}`)
      expect(r.stdout).toMatch(/usage: faultline /)
      expect(r.stdout).toMatch(/--help/)
      expect(r.stderr).toBe('')
      // Printing help is a start-up and a write; anything near the timeout started real work.
      expect(r.ms).toBeLessThan(5000)
    }
    // Nothing was written where a run, the demo or a controller would write.
    expect(existsSync(path.join(dir, '.faultline'))).toBe(false)
  })

  it('faultline --help, -h and help print the overview with every command; help COMMAND its help', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await cli(args)
      expect(r.code).toBe(0)
      for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} +\\S`, 'm'))
      expect(r.stdout).toContain('64 usage error')
    }
    const r = await cli(['help', 'run'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^faultline run: /)
  })

  it('-v, --version and version print the version', async () => {
    for (const args of [['-v'], ['--version'], ['version']]) {
      const r = await cli(args)
      expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' })
    }
  })

  it("run --help lists each flag's FAULTLINE_* variable in brackets", async () => {
    const { stdout } = await cli(['run', '--help'])
    const flat = stdout.replace(/\n {29}/g, ' ')
    for (const [flag, env] of [
      ['dry-run', 'FAULTLINE_DRY_RUN'],
      ['data', 'FAULTLINE_DATA'],
      ['output', 'FAULTLINE_OUTPUT'],
      ['quiet', 'FAULTLINE_QUIET'],
      ['ttl-margin', 'FAULTLINE_TTL_MARGIN'],
      ['redis', 'FAULTLINE_REDIS'],
      ['kubeconfig', 'FAULTLINE_KUBECONFIG'],
      ['context', 'FAULTLINE_KUBE_CONTEXT'],
      ['seed', 'FAULTLINE_SEED'],
      ['log-level', 'FAULTLINE_LOG_LEVEL'],
    ])
      expect(flat).toMatch(new RegExp(`--${flag}\\b.*\\[${env}\\]`))
    expect(flat).toMatch(/--var NAME=value .*\[NAME\]/)
    expect(flat).toMatch(/exit codes: 0 pass, 1 fail, 2 inconclusive or aborted, 3 errored/)
  })
})

describe('usage errors exit 64 with one line', () => {
  const exp = () => {
    const file = path.join(dir, 'ok.yaml')
    writeFileSync(
      file,
      'apiVersion: faultline/v1\nkind: Experiment\nmetadata: { name: ok }\nspec: { targets: {}, hypothesis: { title: t, checks: [] }, method: [{ wait: 1s }] }\n',
    )
    return file
  }
  const cases: [string, () => string[], Record<string, string>, RegExp][] = [
    [
      'unknown option',
      () => ['run', exp(), '--foo'],
      {},
      /^faultline run: unknown option --foo \(see faultline run --help\)$/,
    ],
    ['bad --var', () => ['run', exp(), '--var', 'NOEQUALS'], {}, /^faultline run: --var NOEQUALS must be NAME=value /],
    ['missing file', () => ['run', 'missing.yaml'], {}, /^faultline run: cannot read missing\.yaml: no such file /],
    [
      'missing argument',
      () => ['validate'],
      {},
      /^faultline validate: missing EXPERIMENT \(see faultline validate --help\)$/,
    ],
    ['unknown command', () => ['rnu'], {}, /^faultline: unknown command "rnu" \(see faultline --help\)$/],
    ['bad value', () => ['run', exp(), '--ttl-margin', 'soon'], {}, /^faultline run: --ttl-margin must be a duration/],
    [
      'bad variable',
      () => ['run', exp()],
      { FAULTLINE_SEED: 'abc' },
      /^faultline run: FAULTLINE_SEED must be a whole number/,
    ],
    ['flag missing its value', () => ['run', exp(), '--data'], {}, /^faultline run: --data needs a value/],
    ['extra argument', () => ['validate', exp(), 'more'], {}, /^faultline validate: unexpected argument "more"/],
    ['sidecar flag', () => ['sidecar', '--upstrem', 'x'], {}, /^faultline sidecar: unknown option --upstrem /],
    [
      'controller value',
      () => ['controller', '--listen', 'nope'],
      {},
      /^faultline controller: --listen must be HOST:PORT/,
    ],
    ['demo flag', () => ['demo', '--fast'], {}, /^faultline demo: unknown option --fast /],
    ['tour flag', () => ['tour', '--kepp'], {}, /^faultline tour: unknown option --kepp /],
    ['schema kind', () => ['schema', 'rule'], {}, /^faultline schema: unknown schema "rule"/],
    [
      'stress values',
      () => ['stress', '--cpu', '0'],
      {},
      /^faultline stress: --cpu must be a number from 1 to 256.*--duration is required/,
    ],
  ]
  it.each(cases)('%s', async (_, args, env, line) => {
    const r = await cli(args(), env)
    expect(r.code, r.stderr).toBe(64)
    expect(r.stdout).toBe('')
    expect(r.stderr.endsWith('\n')).toBe(true)
    const lines = r.stderr.slice(0, -1).split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(line)
    expect(existsSync(path.join(dir, '.faultline'))).toBe(false)
  })

  it('with --output json a usage error is also the one JSON object on stdout', async () => {
    const r = await cli(['run', 'missing.yaml', '--output', 'json'])
    expect(r.code).toBe(64)
    expect(JSON.parse(r.stdout)).toEqual({
      command: 'run',
      ok: false,
      exitCode: 64,
      status: 'usage',
      verdict: null,
      reasons: ['faultline run: cannot read missing.yaml: no such file (see faultline run --help)'],
      code: 'FL_ERR_CONFIG_INVALID',
      issues: [{ path: 'missing.yaml', message: 'not readable' }],
    })
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
  })
})

describe('validate --output json', () => {
  it('a valid document: ok, the absolute path, no issues', async () => {
    writeFileSync(
      path.join(dir, 'good.yaml'),
      'apiVersion: faultline/v1\nkind: Experiment\nmetadata: { name: good }\nspec:\n  targets: { app: { sidecars: ["${ADMIN}"] } }\n  hypothesis: { title: t, checks: [] }\n  method: [{ wait: 1s }, { wait: 2s }]\n',
    )
    const r = await cli(['validate', 'good.yaml', '--output', 'json', '--var', 'ADMIN=http://127.0.0.1:1'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      command: 'validate',
      ok: true,
      exitCode: 0,
      file: path.join(dir, 'good.yaml'),
      issues: [],
      format: 'faultline',
      approximations: [],
      experiment: 'good',
      steps: 2,
      checks: 0,
    })
  })

  it('an invalid document: not ok, exit 64, every issue with its path; nothing on stdout but the object', async () => {
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      'apiVersion: faultline/v1\nkind: Experiment\nmetadata: { name: Bad }\nspec: { targets: {}, hypothesis: { title: t, checks: [] }, method: [{ wait: soon }] }\n',
    )
    const r = await cli(['validate', 'bad.yaml'], { FAULTLINE_OUTPUT: 'json' })
    expect(r.code).toBe(64)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({ command: 'validate', ok: false, exitCode: 64, file: path.join(dir, 'bad.yaml') })
    expect(out.issues.map((i: { path: string }) => i.path).sort()).toEqual(['/metadata/name', '/spec/method/0/wait'])
    for (const i of out.issues) expect(i.message).toEqual(expect.any(String))
    // The text mode of the same file: every problem on stderr, exit 64 as well.
    const text = await cli(['validate', 'bad.yaml'])
    expect(text.code).toBe(64)
    expect(text.stderr).toContain('/spec/method/0/wait')
  })
})

describe('run --output json', () => {
  let world: World
  beforeAll(async () => {
    world = await startWorld()
  })
  afterAll(async () => world.close())

  /** An http check on /echo/x, and a 1 s fault that fails it (abort 503 on /echo/**). */
  function experimentFile(name: string): string {
    const file = path.join(dir, `${name}.yaml`)
    writeFileSync(
      file,
      `apiVersion: faultline/v1
kind: Experiment
metadata: { name: ${name} }
spec:
  targets: { app: { sidecars: ["\${ADMIN}"] } }
  hypothesis:
    title: echo stays up
    checks: [{ name: echo-up, http: { url: "\${PROXY}/echo/x" }, interval: 200ms }]
  method:
    - sidecarFault:
        target: app
        duration: 1s
        rules: [{ id: echo-down, match: { path: /echo/** }, abort: { status: 503 } }]
`,
    )
    return file
  }

  it('a failing run: one JSON object with status, verdict, reasons and absolute paths; progress on stderr', async () => {
    const file = experimentFile('echo-fails')
    const r = await cli(
      ['run', 'echo-fails.yaml', '--output', 'json', '--var', `ADMIN=${world.adminUrl}`, '--data', 'out'],
      { PROXY: world.proxyUrl, FAULTLINE_TTL_MARGIN: '7s' },
      30_000,
    )
    expect(r.code, r.stderr).toBe(1)
    const out = JSON.parse(r.stdout) // the whole of stdout is the one object
    expect(out).toMatchObject({
      command: 'run',
      ok: false,
      exitCode: 1,
      file,
      experiment: 'echo-fails',
      dryRun: false,
      status: 'completed',
      verdict: 'fail',
    })
    expect(out.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^echo-up \(during\): fail: /)]))
    expect(out.checks).toEqual([
      expect.objectContaining({ name: 'echo-up', guardrail: false, result: 'fail', phases: expect.any(Array) }),
    ])
    const runDir = path.join(dir, 'out', 'runs', out.runId)
    expect(out.journal).toBe(path.join(runDir, 'journal.json'))
    expect(out.report).toBe(path.join(runDir, 'report.html'))
    expect(out.summary).toBe(path.join(runDir, 'report.md'))
    for (const p of [out.journal, out.report, out.summary]) expect(existsSync(p), p).toBe(true)
    // Progress went to stderr, and FAULTLINE_TTL_MARGIN reached the rules' ttl (1 s + 7 s).
    expect(r.stderr).toContain('faultline run echo-fails.yaml')
    const journal = JSON.parse(readFileSync(out.journal, 'utf8'))
    expect(journal.faults[0].ttlMs).toBe(8000)
    expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
  }, 40_000)

  it('run flags from FAULTLINE_* variables: a quiet JSON dry run into FAULTLINE_DATA that injects nothing', async () => {
    experimentFile('echo-dry')
    const before = (await world.admin('GET', '/rules')).body.generation
    const r = await cli(
      ['run', 'echo-dry.yaml'],
      {
        ADMIN: world.adminUrl,
        PROXY: world.proxyUrl,
        FAULTLINE_DRY_RUN: '1',
        FAULTLINE_OUTPUT: 'json',
        FAULTLINE_QUIET: 'yes',
        FAULTLINE_DATA: path.join(dir, 'from-env'),
      },
      30_000,
    )
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      ok: true,
      exitCode: 0,
      dryRun: true,
      status: 'completed',
      verdict: 'pass',
      reasons: ['dry run: checks ran, nothing was injected'],
    })
    expect(out.journal.startsWith(path.join(dir, 'from-env', 'runs') + path.sep)).toBe(true)
    expect(r.stderr).toBe('') // quiet: no progress at all
    expect((await world.admin('GET', '/rules')).body.generation).toBe(before)
    // A flag wins over its variable: --output text prints for people, paths ./relative.
    const text = await cli(
      ['run', 'echo-dry.yaml', '--output', 'text', '--data', 'text-out'],
      { ADMIN: world.adminUrl, PROXY: world.proxyUrl, FAULTLINE_DRY_RUN: '1', FAULTLINE_OUTPUT: 'json' },
      30_000,
    )
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^PASS \(completed\)/m)
    expect(text.stdout).toMatch(
      new RegExp(`^  journal  \\.\\${path.sep}text-out\\${path.sep}runs\\${path.sep}\\S+journal\\.json$`, 'm'),
    )
  }, 60_000)
})
