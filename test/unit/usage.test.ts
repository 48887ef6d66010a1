import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { RUN, VALIDATE } from '../../bin/run.ts'
import {
  asUsageError,
  defineCommand,
  displayPath,
  type Flag,
  helpText,
  parseCommandLine,
  UsageError,
  usageLine,
  wantsJson,
} from '../../bin/usage.ts'
import { errors } from '../../src/errors.ts'

const CMD = defineCommand({
  command: 'try',
  summary: 'a command for tests',
  args: [{ name: 'FILE', help: 'the file' }],
  flags: {
    wait: { type: 'duration', env: 'T_WAIT', help: 'how long' },
    count: { type: 'integer', env: 'T_COUNT', min: 1, max: 9, help: 'how many' },
    fast: { type: 'boolean', env: 'T_FAST', help: 'go fast' },
    mode: { type: 'string', env: 'T_MODE', choices: ['a', 'b'], help: 'which' },
    tag: { type: 'list', value: 'K=V', help: 'tags' },
  },
})

/** The one-line message of what `parse` throws. */
function usage(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseCommandLine(CMD, argv, env)
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError)
    expect((err as UsageError).exitCode).toBe(64)
    expect((err as UsageError).code).toBe('FL_ERR_CONFIG_INVALID')
    return usageLine(err as UsageError)
  }
  throw new Error(`no usage error for ${JSON.stringify(argv)}`)
}

describe('parseCommandLine', () => {
  it('reads flags, falls back to their variables, and lets a flag win', () => {
    const p = parseCommandLine(CMD, ['f.yaml', '--wait', '2s', '--tag', 'a=1', '--tag=b=2', '--mode', 'b'], {
      T_WAIT: '9s',
      T_COUNT: '3',
      T_FAST: 'yes',
      T_MODE: 'a',
    })
    expect(p).toEqual({
      help: false,
      args: ['f.yaml'],
      values: { wait: 2000, count: 3, fast: true, mode: 'b', tag: ['a=1', 'b=2'] },
    })
    const none = parseCommandLine(CMD, ['f'], { T_FAST: '' })
    expect(none).toMatchObject({ values: { wait: undefined, count: undefined, fast: false, mode: undefined, tag: [] } })
    expect(parseCommandLine(CMD, ['f'], { T_FAST: 'off' })).toMatchObject({ values: { fast: false } })
  })

  it('--help and -h win over every mistake and validate nothing', () => {
    for (const argv of [['--help'], ['-h'], ['--nope', '-h'], ['--wait', 'soon', '--help'], ['a', 'b', 'c', '-h']])
      expect(parseCommandLine(CMD, argv, { T_COUNT: 'many' })).toEqual({ help: true })
    // After `--`, it is an argument.
    expect(parseCommandLine(CMD, ['--', '--help'])).toMatchObject({ help: false, args: ['--help'] })
  })

  it('says what is wrong in one line, naming the flag or the variable', () => {
    expect(usage(['f', '--nope'])).toBe('faultline try: unknown option --nope (see faultline try --help)')
    expect(usage(['f', '-x'])).toBe('faultline try: unknown option -x (see faultline try --help)')
    expect(usage([])).toBe('faultline try: missing FILE (see faultline try --help)')
    expect(usage(['f', 'g'])).toBe('faultline try: unexpected argument "g" (see faultline try --help)')
    expect(usage(['f', '--wait'])).toMatch(/: --wait needs a value \(/)
    expect(usage(['f', '--wait', '--fast'])).toMatch(
      /: --wait needs a value; a value starting with - is written --wait=--fast \(/,
    )
    expect(usage(['f', '--fast=1'])).toMatch(/: --fast takes no value \(got "1"\)/)
    expect(usage(['f', '--wait', '1s', '--wait', '2s'])).toMatch(/: --wait given twice/)
    expect(usage(['f', '--wait', 'soon'])).toMatch(/: --wait must be a duration such as 10s or 500ms, got "soon"/)
    expect(usage(['f', '--count', '10'])).toMatch(/: --count must be a whole number from 1 to 9, got "10"/)
    expect(usage(['f', '--count', '1.5'])).toMatch(/--count must be a whole number/)
    expect(usage(['f', '--mode', 'c'])).toMatch(/: --mode must be one of a, b, got "c"/)
    expect(usage(['f'], { T_WAIT: 'soon' })).toMatch(/: T_WAIT must be a duration/)
    expect(usage(['f'], { T_FAST: 'maybe' })).toMatch(/: T_FAST must be 1\/true\/yes\/on or 0\/false\/no\/off/)
    for (const line of [usage(['f', '--nope']), usage(['f'], { T_COUNT: 'x' })]) expect(line).not.toContain('\n')
  })
})

describe('helpText', () => {
  it('lists every flag with its variable in brackets, the arguments, and -h', () => {
    const text = helpText(CMD)
    expect(text).toMatch(/^faultline try: a command for tests\n\nusage: faultline try FILE \[options\]\n/)
    expect(text).toMatch(/--wait DURATION\s+how long \[T_WAIT\]/)
    expect(text).toMatch(/--count N\s+how many \[T_COUNT\]/)
    expect(text).toMatch(/--mode a\|b\s+which \[T_MODE\]/)
    expect(text).toMatch(/--tag K=V\s+tags\n/)
    expect(text).toMatch(/-h, --help\s+print this help/)
    for (const line of helpText(RUN).split('\n')) expect(line.length).toBeLessThanOrEqual(100)
  })

  it('names a FAULTLINE_* variable for every flag of run', () => {
    const text = helpText(RUN)
    for (const [flag, spec] of Object.entries(RUN.flags) as [string, Flag][]) {
      const env = spec.env
      expect(env ?? spec.envHelp, flag).toBeDefined()
      if (env) {
        expect(env).toMatch(/^FAULTLINE_[A-Z_]+$/)
        expect(text.replace(/\n\s+/g, ' ')).toMatch(new RegExp(`--${flag}\\b[^\\n]*\\[${env}\\]`))
      }
    }
  })

  it('reads every flag of run from its variable', () => {
    const env = {
      FAULTLINE_DRY_RUN: '1',
      FAULTLINE_DATA: '/d',
      FAULTLINE_OUTPUT: 'json',
      FAULTLINE_QUIET: 'true',
      FAULTLINE_TTL_MARGIN: '7s',
      FAULTLINE_REDIS: 'redis://127.0.0.1:1',
      FAULTLINE_KUBECONFIG: '/k',
      FAULTLINE_KUBE_CONTEXT: 'ctx',
      FAULTLINE_SEED: '42',
      FAULTLINE_LOG_LEVEL: 'debug',
    }
    const p = parseCommandLine(RUN, ['x.yaml'], env)
    expect(p).toEqual({
      help: false,
      args: ['x.yaml'],
      values: {
        'dry-run': true,
        var: [],
        data: '/d',
        output: 'json',
        quiet: true,
        'ttl-margin': 7000,
        redis: 'redis://127.0.0.1:1',
        kubeconfig: '/k',
        context: 'ctx',
        seed: 42,
        'log-level': 'debug',
      },
    })
    // Every variable the table declares is covered above.
    const declared = (Object.values(RUN.flags) as Flag[]).flatMap((f) => (f.env ? [f.env] : []))
    expect(Object.keys(env).sort()).toEqual([...declared].sort())
    expect(parseCommandLine(VALIDATE, ['x.yaml'], { FAULTLINE_OUTPUT: 'json' })).toMatchObject({
      values: { output: 'json' },
    })
  })
})

describe('helpers', () => {
  it('displayPath: ./relative under the current directory, absolute elsewhere', () => {
    const cwd = path.resolve('/work/project')
    expect(displayPath('/work/project/.faultline/runs/x/report.html', cwd)).toBe(
      `.${path.sep}${path.join('.faultline', 'runs', 'x', 'report.html')}`,
    )
    expect(displayPath('runs/x', cwd)).toBe(`.${path.sep}${path.join('runs', 'x')}`)
    expect(displayPath('/tmp/elsewhere/journal.json', cwd)).toBe(path.resolve('/tmp/elsewhere/journal.json'))
    expect(displayPath('../sibling/a', cwd)).toBe(path.resolve('/work/sibling/a'))
    expect(displayPath('/work/project', cwd)).toBe('.')
  })

  it('wantsJson reads --output leniently, before --, then FAULTLINE_OUTPUT', () => {
    expect(wantsJson(['x', '--output', 'json'], {})).toBe(true)
    expect(wantsJson(['--output=json', '--nope'], {})).toBe(true)
    expect(wantsJson(['--output', 'text'], { FAULTLINE_OUTPUT: 'json' })).toBe(false)
    expect(wantsJson(['--', '--output', 'json'], {})).toBe(false)
    expect(wantsJson([], { FAULTLINE_OUTPUT: 'json' })).toBe(true)
    expect(wantsJson([], {})).toBe(false)
  })

  it('asUsageError turns a configuration error into one line of the command, other errors pass through', () => {
    const err = errors.FL_ERR_CONFIG_INVALID('x', {
      issues: [
        { path: '--listen', message: 'must be HOST:PORT' },
        { path: '--upstream', message: 'is required' },
      ],
    })
    const u = asUsageError('sidecar', err) as UsageError
    expect(usageLine(u)).toBe(
      'faultline sidecar: --listen must be HOST:PORT; --upstream is required (see faultline sidecar --help)',
    )
    expect(u.issues).toHaveLength(2)
    const other = errors.FL_ERR_EXPERIMENT_INVALID('y')
    expect(asUsageError('run', other)).toBe(other)
    const plain = new Error('z')
    expect(asUsageError('run', plain)).toBe(plain)
  })
})
