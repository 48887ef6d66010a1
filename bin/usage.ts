/**
 * The shape every `faultline <command>` shares: its flags declared once in a table (flag,
 * environment variable, help text, type), parsed from argv and the environment (a flag wins
 * over its variable), and `--help` / `-h` generated from the same table. A mistake on the command
 * line is a `UsageError`: the CLI prints it as one line and exits 64 (EX_USAGE), apart from the
 * verdict codes 0-3 of `faultline run`.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { parseDuration } from '../src/duration.ts'
import { FaultlineError, type FieldIssue } from '../src/errors.ts'

/** sysexits.h EX_USAGE: the command was used incorrectly. */
export const EXIT_USAGE = 64

/**
 * A command-line mistake (unknown option, bad value, missing argument or file). The message is
 * the short detail; `usageLine()` turns it into what the user reads. It stays in the error
 * catalogue as FL_ERR_CONFIG_INVALID.
 */
export class UsageError extends FaultlineError {
  /** `run`, `bench`...; undefined for a mistake before any command was recognised. */
  readonly command: string | undefined
  readonly exitCode = EXIT_USAGE

  constructor(command: string | undefined, message: string, options: { issues?: FieldIssue[]; cause?: unknown } = {}) {
    super('FL_ERR_CONFIG_INVALID', message, 400, options)
    this.name = 'UsageError'
    this.command = command
  }
}

export function isUsageError(err: unknown): err is UsageError {
  return err instanceof UsageError
}

/** `faultline run: unknown option --foo (see faultline run --help)`. */
export function usageLine(err: UsageError): string {
  const who = err.command ? `faultline ${err.command}` : 'faultline'
  return `${who}: ${err.message} (see ${who} --help)`
}

/**
 * A FL_ERR_CONFIG_INVALID from a command's own option checks (src/config.ts, capture's options)
 * as a usage error of that command, its issues joined into the one line.
 */
export function asUsageError(command: string, err: unknown): unknown {
  if (!(err instanceof FaultlineError) || err.code !== 'FL_ERR_CONFIG_INVALID' || isUsageError(err)) return err
  const message = err.issues?.length
    ? err.issues.map((i) => `${i.path} ${i.message}`).join('; ')
    : err.message.replace(/^invalid configuration: /, '').split('\n')[0]!
  return new UsageError(command, message, { issues: err.issues, cause: err })
}

/**
 * A file named by a flag, checked before anything starts: one that is missing, unreadable or a
 * directory is a problem naming the flag, which the command reports as a usage error (exit 64),
 * as a bad --kubeconfig is. What the file holds is checked by whoever reads it.
 */
export function unreadableFileIssue(flag: string, file: string): FieldIssue | undefined {
  let problem: string | undefined
  try {
    const fd = openSync(file, 'r')
    try {
      if (fstatSync(fd).isDirectory()) problem = 'EISDIR'
    } finally {
      closeSync(fd)
    }
  } catch (err) {
    problem = (err as NodeJS.ErrnoException).code ?? (err as Error).message
  }
  return problem === undefined ? undefined : { path: flag, message: `cannot read ${file}: ${problem}` }
}

/** `unreadableFileIssue` for each `[flag, file]` whose file was given. */
export function unreadableFileIssues(files: readonly (readonly [string, string | undefined])[]): FieldIssue[] {
  return files.flatMap(([flag, file]) => {
    const issue = file ? unreadableFileIssue(flag, file) : undefined
    return issue ? [issue] : []
  })
}

/** The usage error for `issues` (flag problems) when there is any: one line naming each flag. */
export function throwIssues(command: string, issues: FieldIssue[]): void {
  if (issues.length) throw new UsageError(command, issues.map((i) => `${i.path} ${i.message}`).join('; '), { issues })
}

export type FlagType = 'string' | 'boolean' | 'list' | 'duration' | 'integer'

export interface Flag {
  /**
   * `string` as given; `boolean` takes no value (its variable: 1/true/yes/on or 0/false/no/off);
   * `list` may repeat; `duration` is milliseconds from "10s"; `integer` a whole number.
   */
  type: FlagType
  help: string
  /** The environment variable read when the flag is absent. */
  env?: string
  /** Shown in brackets instead of `env` when the environment form is not one variable. */
  envHelp?: string
  /** The value's placeholder in the help: URL, FILE, NAME=value. */
  value?: string
  /** One letter: `-o`. */
  short?: string
  /** `string` only: the values accepted. */
  choices?: readonly string[]
  /** `integer` only: bounds, inclusive. */
  min?: number
  max?: number
}

export interface Positional {
  name: string
  help: string
  optional?: boolean
}

export interface CommandSpec<F extends Record<string, Flag> = Record<string, Flag>> {
  /** The words after `faultline`: `run`, `schema`. */
  command: string
  /** One line: what the command does. */
  summary: string
  args?: readonly Positional[]
  flags: F
  /** Printed after the options: exit codes, examples. */
  notes?: string
}

/** Declares a command with its flag table, keeping the flags' literal types for `Values`. */
export function defineCommand<const F extends Record<string, Flag>>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec
}

type ValueOf<T extends FlagType> = T extends 'boolean'
  ? boolean
  : T extends 'list'
    ? string[]
    : T extends 'duration' | 'integer'
      ? number | undefined
      : string | undefined

export type Values<F extends Record<string, Flag>> = { [K in keyof F]: ValueOf<F[K]['type']> }

export type Parsed<F extends Record<string, Flag>> = { help: true } | { help: false; values: Values<F>; args: string[] }

const HELP_FLAG: Flag = { type: 'boolean', short: 'h', help: 'print this help and exit' }
const TRUE = ['1', 'true', 'yes', 'on']
const FALSE = ['0', 'false', 'no', 'off', '']

/**
 * Parses argv against the table. `--help` or `-h` anywhere (before `--`) wins over every other
 * mistake and returns `{ help: true }`: nothing is validated and nothing starts. Throws a
 * UsageError naming the flag (or the variable) for anything else wrong.
 */
export function parseCommandLine<F extends Record<string, Flag>>(
  spec: CommandSpec<F>,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Parsed<F> {
  const all: Record<string, Flag> = { ...spec.flags, help: HELP_FLAG }
  const options = Object.fromEntries(
    Object.entries(all).map(([name, f]) => [
      name,
      {
        type: f.type === 'boolean' ? ('boolean' as const) : ('string' as const),
        ...(f.short ? { short: f.short } : {}),
      },
    ]),
  )
  // Not strict: node's own messages are replaced by ours, token by token.
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true })
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { help: true }
  const fail = (message: string, flag?: string): never => {
    throw new UsageError(spec.command, message, flag ? { issues: [{ path: flag, message }] } : {})
  }
  const given: Record<string, string[]> = {}
  const args: string[] = []
  for (const t of tokens) {
    if (t.kind === 'positional') args.push(t.value)
    if (t.kind !== 'option') continue
    const flag = all[t.name]
    if (!flag) fail(`unknown option ${t.rawName}`, t.rawName)
    if (flag!.type === 'boolean') {
      if (t.value !== undefined) fail(`${t.rawName} takes no value (got "${t.value}")`, `--${t.name}`)
      ;(given[t.name] ??= []).push('true')
      continue
    }
    // Without `=`, a value that looks like an option is a forgotten value: `--data --dry-run`.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))) {
      const hint = t.value === undefined ? '' : `; a value starting with - is written --${t.name}=${t.value}`
      fail(`--${t.name} needs a value${flag!.value ? ` (${flag!.value})` : ''}${hint}`, `--${t.name}`)
    }
    if (flag!.type !== 'list' && given[t.name]) fail(`--${t.name} given twice`, `--${t.name}`)
    ;(given[t.name] ??= []).push(t.value!)
  }
  const values: Record<string, unknown> = {}
  for (const [name, flag] of Object.entries(spec.flags)) {
    const fromFlag = given[name]
    const fromEnv = flag.env && flag.type !== 'list' ? env[flag.env] : undefined
    if (fromFlag)
      values[name] = convert(spec.command, flag, `--${name}`, flag.type === 'list' ? fromFlag : fromFlag[0]!)
    else if (fromEnv !== undefined && fromEnv !== '') values[name] = convert(spec.command, flag, flag.env!, fromEnv)
    else values[name] = flag.type === 'boolean' ? false : flag.type === 'list' ? [] : undefined
  }
  const declared = spec.args ?? []
  const missing = declared.slice(args.length).find((a) => !a.optional)
  if (missing) fail(`missing ${missing.name}`)
  if (args.length > declared.length) fail(`unexpected argument "${args[declared.length]}"`)
  return { help: false, values: values as Values<F>, args }
}

/** One flag's value from its text; `where` is `--flag` or the variable, for the message. */
function convert(command: string, flag: Flag, where: string, text: string | string[]): unknown {
  const fail = (message: string): never => {
    throw new UsageError(command, `${where} ${message}`, { issues: [{ path: where, message }] })
  }
  if (Array.isArray(text)) return text
  switch (flag.type) {
    case 'boolean': {
      const t = text.toLowerCase()
      if (TRUE.includes(t)) return true
      if (FALSE.includes(t)) return false
      return fail(`must be 1/true/yes/on or 0/false/no/off, got "${text}"`)
    }
    case 'duration': {
      const ms = parseDuration(text)
      return ms === undefined ? fail(`must be a duration such as 10s or 500ms, got "${text}"`) : ms
    }
    case 'integer': {
      const n = Number(text)
      const { min = 0, max = Number.MAX_SAFE_INTEGER } = flag
      if (!/^\d+$/.test(text) || n < min || n > max)
        return fail(`must be a whole number from ${min} to ${max}, got "${text}"`)
      return n
    }
    default:
      if (flag.choices && !flag.choices.includes(text))
        return fail(`must be one of ${flag.choices.join(', ')}, got "${text}"`)
      return text
  }
}

/** The `--help` text: usage line, arguments, every flag with its variable in brackets, notes. */
export function helpText(spec: CommandSpec): string {
  const args = (spec.args ?? []).map((a) => (a.optional ? `[${a.name}]` : a.name))
  const lines = [
    `faultline ${spec.command}: ${spec.summary}`,
    '',
    `usage: faultline ${[spec.command, ...args].join(' ')}`,
  ]
  if (Object.keys(spec.flags).length) lines[lines.length - 1] += ' [options]'
  if (spec.args?.length) {
    lines.push('')
    for (const a of spec.args) lines.push(...wrap(`  ${a.name.padEnd(26)} ${a.help}`))
  }
  lines.push('', 'options (environment variable in brackets; a flag wins over its variable):')
  for (const [name, flag] of [...Object.entries(spec.flags), ['help', HELP_FLAG] as const]) {
    const left = `${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.type === 'boolean' ? '' : ` ${flag.value ?? placeholder(flag)}`}`
    const bracket = flag.envHelp ?? flag.env
    lines.push(...wrap(`  ${left.padEnd(26)} ${flag.help}${bracket ? ` [${bracket}]` : ''}`))
  }
  if (spec.notes) lines.push('', spec.notes.trimEnd())
  return lines.join('\n') + '\n'
}

const WIDTH = 100
const HANG = ' '.repeat(29)

/** A long option line broken at spaces, continued under the help column. */
function wrap(line: string): string[] {
  const out: string[] = []
  let rest = line
  while (rest.length > WIDTH) {
    const cut = rest.lastIndexOf(' ', WIDTH)
    if (cut <= HANG.length) break
    out.push(rest.slice(0, cut))
    rest = HANG + rest.slice(cut + 1)
  }
  out.push(rest)
  return out
}

function placeholder(flag: Flag): string {
  if (flag.choices) return flag.choices.join('|')
  return { duration: 'DURATION', integer: 'N', list: 'VALUE', string: 'VALUE', boolean: '' }[flag.type]
}

/** Writes the command's help to stdout; returns exit code 0 for the caller to return. */
export function printHelp(spec: CommandSpec, out: NodeJS.WritableStream = process.stdout): number {
  out.write(helpText(spec))
  return 0
}

/** `--output text|json`, shared by run, validate and import. */
export const OUTPUT_FLAG = {
  type: 'string',
  choices: ['text', 'json'],
  env: 'FAULTLINE_OUTPUT',
  help: 'json: one JSON object on stdout for scripts and CI (logs and progress go to stderr); default text',
} as const satisfies Flag

/**
 * Whether argv (or FAULTLINE_OUTPUT) asks for JSON output, read leniently: used when the
 * command line itself is wrong, so the usage error can still reach a script as JSON.
 */
export function wantsJson(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break
    if (argv[i] === '--output=json' || (argv[i] === '--output' && argv[i + 1] === 'json')) return true
    if (argv[i] === '--output' || argv[i]!.startsWith('--output=')) return false
  }
  return env.FAULTLINE_OUTPUT === 'json'
}

/**
 * A path as people should read it: `./x/y` when under the current directory (clearly relative),
 * otherwise absolute.
 */
export function displayPath(p: string, cwd: string = process.cwd()): string {
  const abs = path.resolve(cwd, p)
  const rel = path.relative(cwd, abs)
  if (rel === '') return '.'
  if (rel.startsWith('..') || path.isAbsolute(rel)) return abs
  return `.${path.sep}${rel}`
}

/**
 * A `flag -> [environment variable, help]` table (src/config.ts SIDECAR_FLAGS and the like, whose
 * own parsers check the values) as flags for `parseCommandLine` and `helpText`: strings, except
 * the names in `booleans`.
 */
export function flagsFromEnvTable(
  table: Readonly<Record<string, readonly [string, string]>>,
  booleans: readonly string[] = [],
): Record<string, Flag> {
  return Object.fromEntries(
    Object.entries(table).map(([name, [env, help]]) => [
      name,
      { type: booleans.includes(name) ? 'boolean' : 'string', env, help, value: valueName(name) } satisfies Flag,
    ]),
  )
}

/** A readable placeholder from a flag's name: --listen HOST:PORT, --rules FILE. */
function valueName(flag: string): string {
  if (/redis|upstream$|advertise/.test(flag)) return 'URL'
  if (/listen|admin$/.test(flag)) return 'HOST:PORT'
  if (/rules|config|kubeconfig|cert|key$/.test(flag)) return 'FILE'
  if (/data/.test(flag)) return 'DIR'
  if (/timeout|delay/.test(flag)) return 'DURATION'
  if (/bytes|seed/.test(flag)) return 'N'
  if (/paths/.test(flag)) return 'PATH,...'
  if (/level/.test(flag)) return 'LEVEL'
  if (/service/.test(flag)) return 'NAME'
  return flag.split('-').pop()!.toUpperCase()
}

/**
 * For commands whose values are checked by their own parser: `--help` and the shape of the
 * command line (unknown options, missing values, stray arguments) in our words. True when help
 * was asked for. The environment is not read here; the command's parser does that.
 */
export function helpOrShapeCheck(spec: CommandSpec, argv: readonly string[]): boolean {
  return parseCommandLine(spec, argv, {}).help
}

/** What a failed read means, in a few words. */
const READ_PROBLEM: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
}

/**
 * A file named on the command line, as text. One that cannot be read is a usage error of the
 * command: `faultline run: cannot read exp.yaml: no such file (see faultline run --help)`.
 */
export function readArgumentFile(command: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? ''
    throw new UsageError(command, `cannot read ${file}: ${READ_PROBLEM[code] ?? (err as Error).message}`, {
      cause: err,
      issues: [{ path: file, message: 'not readable' }],
    })
  }
}
