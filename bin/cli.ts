/**
 * The `faultline` command: finds the subcommand and hands it the rest of argv. This is the one
 * place allowed to compose the sidecar and the controller. Each command parses its own flags
 * (bin/usage.ts) and answers `--help` itself; this file turns what they throw into exit codes:
 * 64 for a usage error or an invalid experiment, 3 for a `run` that failed as a tool, 1 for any
 * other command that failed.
 */
import { readFileSync } from 'node:fs'
import { buildSidecar } from '../sidecar/build.ts'
import { BOOLEAN_FLAGS, parseSidecarConfig, SIDECAR_FLAGS } from '../src/config.ts'
import { FaultlineError, isFaultlineError } from '../src/errors.ts'
import { createLogger } from '../src/log.ts'
import { closeOnSignals } from './signals.ts'
import {
  asUsageError,
  defineCommand,
  EXIT_USAGE,
  flagsFromEnvTable,
  isUsageError,
  parseCommandLine,
  printHelp,
  throwIssues,
  unreadableFileIssues,
  UsageError,
  usageLine,
  wantsJson,
} from './usage.ts'

/** What `faultline run` returns when it failed as a tool (runner.ts EXIT.errored). */
const EXIT_ERRORED = 3

type Command = (argv: string[]) => Promise<number | void>

/** Every command: its one-line summary (the overview) and how it starts; modules load on use. */
const COMMANDS: Record<string, { summary: string; start: Command }> = {
  run: {
    summary: 'run an experiment: inject, measure, judge, revert, report (exit 0 pass, 1 fail, 2, 3)',
    start: async (argv) => (await import('./run.ts')).runCommand(argv),
  },
  validate: {
    summary: 'check an experiment document and print every problem with its path',
    start: async (argv) => (await import('./run.ts')).validateCommand(argv),
  },
  import: {
    summary: 'translate a Chaos Toolkit, Chaos Mesh or Litmus experiment into faultline/v1',
    start: async (argv) => (await import('./import.ts')).importCommand(argv),
  },
  demo: {
    summary: 'three sample services behind sidecars and the example experiments, on this machine',
    start: async (argv) => (await import('./demo.ts')).demoCommand(argv),
  },
  tour: {
    summary: 'one sidecar in front of a sample app, showing each fault kind (--keep to stay up)',
    start: async (argv) => (await import('./tour.ts')).tourCommand(argv),
  },
  bench: {
    summary: 'load plus faults against your own service: throughput, latency and errors per scenario',
    start: async (argv) => (await import('./bench.ts')).benchCommand(argv),
  },
  controller: {
    summary: 'the long-running controller: REST API, runs, schedules, shaping, halt, fleet mode',
    start: async (argv) => (await import('./controller.ts')).controllerCommand(argv),
  },
  sidecar: { summary: 'the fault-injection proxy in front of an app', start: sidecarCommand },
  stress: {
    summary: 'burn CPU and/or hold memory for a while (what stress steps run)',
    start: async (argv) => (await import('./run.ts')).stressCommand(argv),
  },
  injector: {
    summary: 'the sidecar injection webhook for Kubernetes',
    start: async (argv) => (await import('./injector.ts')).injectorCommand(argv),
  },
  capture: {
    summary: "a pod's init step: iptables redirect of inbound app ports to the sidecar",
    start: async (argv) => (await import('./capture.ts')).captureCommand(argv),
  },
  schema: { summary: 'print the JSON Schema of a rule set or of an experiment', start: schemaCommand },
  version: { summary: 'print the version (also -v, --version)', start: versionCommand },
}

/** The commands whose `--output json` promises one JSON object on stdout, failures included. */
const JSON_COMMANDS = new Set(['run', 'validate', 'import'])

function overview(): string {
  return `faultline <command> [options]     faultline <command> --help for a command's options

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`)
  .join('\n')}

  -h, --help, help [COMMAND]   this overview, or a command's help
  -v, --version                the version

exit codes: 0 success (run: pass), 1 fail (other commands: an error), 2 inconclusive or aborted,
            3 errored, 64 usage error or invalid experiment. Docs: README.md, docs/experiments.md
`
}

const SIDECAR = defineCommand({
  command: 'sidecar',
  summary: 'the fault-injection proxy in front of an app: rules, statistics, metrics (README.md)',
  flags: flagsFromEnvTable(SIDECAR_FLAGS, BOOLEAN_FLAGS),
})

async function sidecarCommand(argv: string[]): Promise<number | void> {
  // The shape of the command line in our words and --help; src/config.ts checks the values.
  if (parseCommandLine(SIDECAR, argv, {}).help) return printHelp(SIDECAR)
  let config
  try {
    config = parseSidecarConfig(argv, process.env)
  } catch (err) {
    throw asUsageError('sidecar', err)
  }
  // A missing or unreadable file is a usage error (exit 64); rules that do not validate stay exit 1.
  throwIssues(
    'sidecar',
    unreadableFileIssues([
      ['--rules', config.rulesFile],
      ['--tls-cert', config.tlsCert],
      ['--tls-key', config.tlsKey],
    ]),
  )
  const logger = createLogger({ name: 'faultline-sidecar', level: config.logLevel })
  const sc = buildSidecar({ ...config, logger, headerFaults: config.headerFaults || false })
  await sc.listen()
  closeOnSignals(logger, 'draining in-flight requests, then exiting', () => sc.close())
}

const SCHEMA = defineCommand({
  command: 'schema',
  summary: 'print a JSON Schema (2020-12) on stdout',
  args: [{ name: 'KIND', help: 'rules (the default: a rule set, as PUT /rules takes) or experiment', optional: true }],
  flags: {},
})

async function schemaCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(SCHEMA, argv)
  if (parsed.help) return printHelp(SCHEMA)
  const kind = parsed.args[0] ?? 'rules'
  if (kind !== 'rules' && kind !== 'experiment')
    throw new UsageError('schema', `unknown schema "${kind}" (rules or experiment)`)
  const schema =
    kind === 'experiment'
      ? (await import('../src/experiments/schema.ts')).experimentJsonSchema()
      : (await import('../src/rules/schema.ts')).ruleSetJsonSchema()
  process.stdout.write(JSON.stringify(schema, null, 2) + '\n')
  return 0
}

const VERSION = defineCommand({ command: 'version', summary: 'print the version', flags: {} })

async function versionCommand(argv: string[]): Promise<number> {
  if (parseCommandLine(VERSION, argv).help) return printHelp(VERSION)
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  process.stdout.write(pkg.version + '\n')
  return 0
}

async function main(command: string | undefined, rest: string[]): Promise<number | void> {
  switch (command) {
    case undefined:
      // No command is a usage error too, but the overview is what helps here.
      process.stderr.write(overview())
      return EXIT_USAGE
    case 'help':
    case '--help':
    case '-h':
      // `faultline help run` is `faultline run --help`.
      if (command === 'help' && rest[0] && COMMANDS[rest[0]]) return COMMANDS[rest[0]]!.start(['--help'])
      process.stdout.write(overview())
      return 0
    case '-v':
    case '--version':
      return versionCommand([])
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
  if (!entry)
    throw new UsageError(
      undefined,
      command.startsWith('-') ? `unknown option ${command}` : `unknown command "${command}"`,
    )
  return entry.start(rest)
}

/** Exit code for what a command threw. */
function exitCodeFor(command: string | undefined, err: unknown): number {
  if (isUsageError(err)) return EXIT_USAGE
  if (isFaultlineError(err) && err.code === 'FL_ERR_EXPERIMENT_INVALID') return EXIT_USAGE
  return command === 'run' ? EXIT_ERRORED : 1
}

/** For --output json: the failure as the one object on stdout (the message also goes to stderr). */
function failureJson(command: string, err: unknown, exitCode: number): Record<string, unknown> {
  const fe = isFaultlineError(err) ? err : undefined
  return {
    command,
    ok: false,
    exitCode,
    status: isUsageError(err) ? 'usage' : exitCode === EXIT_USAGE ? 'invalid' : 'errored',
    verdict: null,
    reasons: [isUsageError(err) ? usageLine(err) : (err as Error).message],
    ...(fe ? { code: fe.code } : {}),
    issues: fe?.issues ?? [],
  }
}

function printError(command: string | undefined, err: unknown): void {
  if (isUsageError(err)) process.stderr.write(usageLine(err) + '\n')
  else if (err instanceof FaultlineError) {
    process.stderr.write(`faultline${command ? ` ${command}` : ''}: ${err.message} [${err.code}]\n`)
    for (const i of err.issues ?? []) process.stderr.write(`  ${i.path}: ${i.message}\n`)
  } else process.stderr.write(`faultline${command ? ` ${command}` : ''}: ${(err as Error).stack ?? String(err)}\n`)
}

const [command, ...rest] = process.argv.slice(2)
main(command, rest).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code
  },
  (err: unknown) => {
    const code = exitCodeFor(command, err)
    if (command && JSON_COMMANDS.has(command) && wantsJson(rest))
      process.stdout.write(JSON.stringify(failureJson(command, err, code), null, 2) + '\n')
    printError(command, err)
    process.exit(code)
  },
)
