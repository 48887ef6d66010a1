/** `faultline run`, `faultline validate` and `faultline stress`. */
import path from 'node:path'
import { exitCodeOf, EXIT, type RunResult, runExperiment } from '../controller/experiments/runner.ts'
import { parseSize, runStress } from '../controller/drivers/local/stress.ts'
import {
  type ConnectOptions,
  connectNow,
  lazyCluster,
  ownNamespace,
  usesKubernetes,
} from '../controller/drivers/kubernetes/connect.ts'
import { parseDuration } from '../src/duration.ts'
import { isFaultlineError, type FieldIssue } from '../src/errors.ts'
import type { ExperimentDoc } from '../src/experiments/schema.ts'
import { interopFormats, type ReadExperiment, readAnyExperiment } from '../src/interop/registry.ts'
import { createLogger, type Logger } from '../src/log.ts'
import { seededRandom } from '../src/random.ts'
import { abortOnSignals } from './interrupt.ts'
import {
  asUsageError,
  defineCommand,
  displayPath,
  type Flag,
  OUTPUT_FLAG,
  parseCommandLine,
  printHelp,
  readArgumentFile,
  throwIssues,
  UsageError,
} from './usage.ts'

export const DEFAULT_DATA_DIR = '.faultline'

/** The data directory: --data, then FAULTLINE_DATA (as for `faultline controller`), then .faultline. */
export function dataDirOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.FAULTLINE_DATA || undefined) ?? DEFAULT_DATA_DIR
}

/**
 * The runner's log for a CLI run: JSON lines on stderr, so stdout stays the human progress (or
 * the one JSON object); warnings and up unless --log-level / FAULTLINE_LOG_LEVEL says otherwise.
 */
export function cliRunLogger(name: string, level?: string): Logger {
  return createLogger({ name, level: level ?? process.env.FAULTLINE_LOG_LEVEL ?? 'warn', destination: process.stderr })
}

const VAR_FLAG = {
  type: 'list',
  value: 'NAME=value',
  help: 'set ${NAME} in the document (repeatable); the environment is read too, --var wins',
  envHelp: 'NAME',
} as const satisfies Flag

const EXIT_NOTES = `exit codes: 0 pass, 1 fail, 2 inconclusive or aborted, 3 errored,
            64 usage error (unknown option, bad value, missing file) or invalid experiment`

export const RUN = defineCommand({
  command: 'run',
  summary: 'run an experiment: inject its faults, measure, judge the hypothesis, revert, report',
  args: [{ name: 'EXPERIMENT', help: 'a faultline/v1 experiment file (YAML or JSON)' }],
  flags: {
    'dry-run': {
      type: 'boolean',
      env: 'FAULTLINE_DRY_RUN',
      help: 'resolve targets and run the checks, inject nothing',
    },
    var: VAR_FLAG,
    data: {
      type: 'string',
      value: 'DIR',
      env: 'FAULTLINE_DATA',
      help: `where runs are written (journal, reports); default ${DEFAULT_DATA_DIR}`,
    },
    output: OUTPUT_FLAG,
    quiet: { type: 'boolean', env: 'FAULTLINE_QUIET', help: 'no progress lines, only the result' },
    'ttl-margin': {
      type: 'duration',
      env: 'FAULTLINE_TTL_MARGIN',
      help: "added to each fault's duration for its rules' ttl (default 10s)",
    },
    redis: {
      type: 'string',
      value: 'URL',
      env: 'FAULTLINE_REDIS',
      help: 'fleet mode: deliver faults to `service` targets through this Redis',
    },
    kubeconfig: {
      type: 'string',
      value: 'FILE',
      env: 'FAULTLINE_KUBECONFIG',
      help: 'kubeconfig for Kubernetes targets (default: $KUBECONFIG, ~/.kube/config, or in-cluster)',
    },
    context: {
      type: 'string',
      value: 'NAME',
      env: 'FAULTLINE_KUBE_CONTEXT',
      help: 'kubeconfig context (default: its current context)',
    },
    seed: {
      type: 'integer',
      max: 9_999_999_999,
      env: 'FAULTLINE_SEED',
      help: 'seed for picking Kubernetes targets (modes): the same seed, the same selection',
    },
    'log-level': {
      type: 'string',
      choices: ['trace', 'debug', 'info', 'warn', 'error'],
      value: 'LEVEL',
      env: 'FAULTLINE_LOG_LEVEL',
      help: 'trace|debug|info|warn|error: JSON logs on stderr (default warn)',
    },
  },
  notes: EXIT_NOTES,
})

export const VALIDATE = defineCommand({
  command: 'validate',
  summary: 'check an experiment document and print every problem with its path; nothing runs',
  args: [{ name: 'EXPERIMENT', help: 'a faultline/v1 experiment file (YAML or JSON)' }],
  flags: { var: VAR_FLAG, output: OUTPUT_FLAG },
  notes: 'exit codes: 0 valid, 64 invalid (every problem listed) or a usage error',
})

/** The `--var NAME=value` pairs (the environment is the fallback, applied by the reader). */
function varsFrom(list: string[], command: string): Record<string, string> {
  const vars: Record<string, string> = {}
  for (const kv of list) {
    const i = kv.indexOf('=')
    if (i < 1)
      throw new UsageError(command, `--var ${kv} must be NAME=value`, {
        issues: [{ path: '--var', message: `"${kv}" is not NAME=value` }],
      })
    vars[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return vars
}

/**
 * The one place a file becomes an experiment: faultline/v1, or a Chaos Toolkit, Chaos Mesh or
 * Litmus document read as faultline/v1 (src/interop), with what was approximated on the way.
 */
export function loadExperimentFile(
  file: string,
  env: NodeJS.ProcessEnv,
  varList: string[],
  command = 'run',
): ReadExperiment {
  return readAnyExperiment(readArgumentFile(command, file), { file, env, vars: varsFrom(varList, command) })
}

/** What a person should know before a translated document runs. */
function translationNotes(read: ReadExperiment): string[] {
  if (read.format === 'faultline') return []
  const title = interopFormats.find((f) => f.name === read.format)?.title ?? read.format
  return [
    `read as ${title}; ${read.approximations.length} field(s) approximated${read.approximations.length ? ':' : ''}`,
    ...read.approximations.map((a) => `  ${a.path}: ${a.message}`),
    ...(read.schedule
      ? ['  recurring in its own tool: this run is one occurrence (faultline import prints the controller schedule)']
      : []),
  ]
}

/** One JSON object on stdout, the whole of it in --output json. */
function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export async function runCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseCommandLine(RUN, argv, env)
  if (parsed.help) return printHelp(RUN)
  const { values } = parsed
  const file = parsed.args[0]!
  const json = values.output === 'json'
  const read = loadExperimentFile(file, env, values.var, 'run')
  const experiment = read.experiment
  // Human progress on stdout; in JSON mode stdout carries only the result, so progress moves to stderr.
  const progressStream = json ? process.stderr : process.stdout
  const say = (line: string) => progressStream.write(line + '\n')
  const cluster = clusterFor(experiment.spec, { kubeconfig: values.kubeconfig, context: values.context }, env)
  for (const line of translationNotes(read)) say(line)
  // Listen before anything is applied; a signal from here on finishes the journal as aborted.
  const interrupt = abortOnSignals(say)
  try {
    if (!values.quiet)
      say(`faultline run ${file}${values['dry-run'] ? ' (dry run)' : ''}: ${experiment.spec.hypothesis.title}`)
    const logger = cliRunLogger('faultline-run', values['log-level'])
    const fleet = values.redis
      ? new (await import('../controller/bus/fleet.ts')).FleetBus(values.redis, { log: logger })
      : undefined
    const result = await runExperiment(experiment, {
      dataDir: dataDirOf(values.data, env),
      dryRun: values['dry-run'],
      signal: interrupt.signal,
      progress: values.quiet ? undefined : say,
      ttlMarginMs: values['ttl-margin'],
      fleet,
      logger,
      cluster,
      random: values.seed === undefined ? undefined : seededRandom(values.seed),
      ownNamespace: ownNamespace(env),
    })
    await fleet?.close()
    if (json) writeJson({ ...runResultJson(file, result), format: read.format, approximations: read.approximations })
    else reportText(result, (line) => process.stdout.write(line + '\n'))
    return exitCodeOf(result)
  } finally {
    interrupt.dispose()
  }
}

/**
 * The cluster for a run. When the experiment uses Kubernetes, or --kubeconfig / --context is
 * given, the kubeconfig is read now: a missing or unreadable file, or a context it lacks, is a
 * usage error (exit 64) naming the flag, before a run directory exists. Otherwise nothing reads
 * a kubeconfig.
 */
function clusterFor(spec: ExperimentDoc['spec'], opts: ConnectOptions, env: NodeJS.ProcessEnv) {
  if (!opts.kubeconfig && !opts.context && !usesKubernetes(spec)) return lazyCluster(opts)
  try {
    return connectNow(opts, env)
  } catch (err) {
    throw asUsageError('run', err)
  }
}

/** The check phases that did not pass, as "check (phase): result: reason". */
function checkReasons(result: RunResult): string[] {
  const out: string[] = []
  for (const [name, check] of Object.entries(result.journal.checks))
    for (const p of check.phases) if (p.result !== 'pass') out.push(`${name} (${p.phase}): ${p.result}: ${p.reason}`)
  return out
}

/** `faultline run --output json`: what a script needs to decide and to find the evidence. */
export function runResultJson(file: string, result: RunResult): Record<string, unknown> {
  const code = exitCodeOf(result)
  return {
    command: 'run',
    ok: code === 0,
    exitCode: code,
    file: path.resolve(file),
    experiment: result.journal.experiment.metadata.name,
    runId: result.runId,
    dryRun: result.journal.dryRun,
    status: result.status,
    verdict: result.verdict,
    reasons: [...(result.reason ? [result.reason] : []), ...checkReasons(result)],
    checks: Object.entries(result.journal.checks).map(([name, c]) => ({
      name,
      guardrail: c.guardrail,
      result: c.result ?? null,
      phases: c.phases.map((p) => ({
        phase: p.phase,
        result: p.result,
        reason: p.reason,
        ...(p.statistics ? { statistics: p.statistics } : {}),
      })),
    })),
    journal: path.resolve(result.journalPath),
    report: path.resolve(result.reportPath),
    summary: path.resolve(result.markdownPath),
  }
}

function reportText(result: RunResult, out: (line: string) => void): void {
  out(`${result.verdict.toUpperCase()} (${result.status})${result.reason ? `: ${result.reason}` : ''}`)
  // Statistical verdicts say what they rest on, in words (docs/experiments.md).
  for (const [name, c] of Object.entries(result.journal.checks))
    for (const p of c.phases) if (p.statistics) out(`  ${name} (${p.phase}): ${p.result}: ${p.reason}`)
  out(`  journal  ${displayPath(result.journalPath)}`)
  out(`  report   ${displayPath(result.reportPath)}`)
  out(`  summary  ${displayPath(result.markdownPath)}`)
}

export function validateCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const parsed = parseCommandLine(VALIDATE, argv, env)
  if (parsed.help) return printHelp(VALIDATE)
  const file = parsed.args[0]!
  const json = parsed.values.output === 'json'
  let read: ReadExperiment
  try {
    read = loadExperimentFile(file, env, parsed.values.var, 'validate')
  } catch (err) {
    // An invalid document is validate's answer, not a crash: in JSON mode it is the object.
    if (!json || !isFaultlineError(err) || err.code !== 'FL_ERR_EXPERIMENT_INVALID') throw err
    writeJson(validateJson(file, err.issues ?? [{ path: '', message: err.message }]))
    return EXIT.invalid
  }
  const x = read.experiment
  if (json)
    writeJson({
      ...validateJson(file, []),
      format: read.format,
      approximations: read.approximations,
      experiment: x.metadata.name,
      steps: x.spec.method.length,
      checks: x.spec.hypothesis.checks.length,
    })
  else {
    process.stdout.write(
      `${file}: valid (${x.metadata.name}, ${x.spec.method.length} step(s), ${x.spec.hypothesis.checks.length} check(s))\n`,
    )
    for (const line of translationNotes(read)) process.stdout.write(line + '\n')
  }
  return 0
}

function validateJson(file: string, issues: FieldIssue[]): Record<string, unknown> {
  return {
    command: 'validate',
    ok: issues.length === 0,
    exitCode: issues.length ? EXIT.invalid : 0,
    file: path.resolve(file),
    issues,
  }
}

export const STRESS = defineCommand({
  command: 'stress',
  summary: 'burn CPU and/or hold memory for a while (what stress steps run, here or in a pod)',
  flags: {
    cpu: { type: 'string', value: 'N', help: 'busy workers, 1 to 256' },
    load: { type: 'string', value: 'P', help: 'percent of each worker busy, 1 to 100 (default 100)' },
    memory: { type: 'string', value: 'SIZE', help: 'memory to allocate and touch, e.g. 256MiB' },
    duration: { type: 'string', value: 'DURATION', help: 'how long, e.g. 30s (required)' },
  },
  notes: 'give --cpu and/or --memory. SIGTERM ends it early (exit 0).',
})

export async function stressCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(STRESS, argv)
  if (parsed.help) return printHelp(STRESS)
  const { values } = parsed
  // Every problem at once, in one line: the caller is often a driver's log, read after the fact.
  const issues: FieldIssue[] = []
  const int = (flag: 'cpu' | 'load', min: number, max: number) => {
    const v = values[flag]
    if (v === undefined) return undefined
    const n = Number(v)
    if (!/^\d+$/.test(v) || n < min || n > max)
      issues.push({ path: `--${flag}`, message: `must be a number from ${min} to ${max}, got "${v}"` })
    return n
  }
  const cpu = int('cpu', 1, 256)
  const load = int('load', 1, 100)
  const memory = values.memory === undefined ? undefined : parseSize(values.memory)
  if (values.memory !== undefined && memory === undefined)
    issues.push({ path: '--memory', message: 'must be a size such as 256MiB' })
  const durationMs = values.duration === undefined ? undefined : parseDuration(values.duration)
  if (durationMs === undefined) issues.push({ path: '--duration', message: 'is required, a duration such as 30s' })
  if (cpu === undefined && memory === undefined) issues.push({ path: '--cpu', message: 'give --cpu and/or --memory' })
  throwIssues('stress', issues)
  process.on('SIGTERM', () => process.exit(0))
  await runStress({ cpu, load, memoryBytes: memory, durationMs: durationMs! })
  return 0
}

export { EXIT }
