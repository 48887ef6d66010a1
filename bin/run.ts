/** `faultline run`, `faultline validate` and `faultline stress`. */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import { exitCodeOf, EXIT, runExperiment } from '../controller/experiments/runner.ts'
import { parseSize, runStress } from '../controller/drivers/local/stress.ts'
import { parseDuration } from '../src/duration.ts'
import { errors } from '../src/errors.ts'
import { parseExperiment } from '../src/experiments/document.ts'
import type { ExperimentDoc } from '../src/experiments/schema.ts'
import { createLogger, type Logger } from '../src/log.ts'
import { type RandomSource, seededRandom } from '../src/random.ts'
import { lazyCluster, ownNamespace } from '../controller/drivers/kubernetes/connect.ts'
import { abortOnSignals } from './interrupt.ts'

export const DEFAULT_DATA_DIR = '.faultline'

/** The data directory: --data, then FAULTLINE_DATA (as for `faultline controller`), then .faultline. */
export function dataDirOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.FAULTLINE_DATA || undefined) ?? DEFAULT_DATA_DIR
}

/**
 * The runner's log for a CLI run: JSON lines on stderr, so stdout stays the human progress;
 * warnings and up unless FAULTLINE_LOG_LEVEL says otherwise.
 */
export function cliRunLogger(name: string): Logger {
  return createLogger({ name, level: process.env.FAULTLINE_LOG_LEVEL ?? 'warn', destination: process.stderr })
}

function varsFrom(list: string[] | undefined): Record<string, string | undefined> {
  const vars: Record<string, string | undefined> = { ...process.env }
  for (const kv of list ?? []) {
    const i = kv.indexOf('=')
    if (i < 1)
      throw errors.FL_ERR_CONFIG_INVALID(`--var ${kv} must be NAME=value`, {
        issues: [{ path: '--var', message: `"${kv}" is not NAME=value` }],
      })
    vars[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return vars
}

export function loadExperimentFile(file: string, vars: Record<string, string | undefined>): ExperimentDoc {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw errors.FL_ERR_EXPERIMENT_INVALID(`cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
      issues: [{ path: '', message: 'file not readable' }],
    })
  }
  return parseExperiment(text, vars, file)
}

function parse(argv: string[], options: ParseArgsOptionsConfig) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID((err as Error).message, { cause: err })
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    'dry-run': { type: 'boolean' },
    var: { type: 'string', multiple: true },
    data: { type: 'string' },
    quiet: { type: 'boolean' },
    'ttl-margin': { type: 'string' },
    redis: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    seed: { type: 'string' },
  })
  const file = positionals[0]
  if (!file)
    throw errors.FL_ERR_CONFIG_INVALID(
      'usage: faultline run EXPERIMENT.yaml [--dry-run] [--var NAME=value] [--data DIR] [--ttl-margin 10s] [--redis URL] [--kubeconfig FILE] [--context NAME] [--seed N] [--quiet]',
    )
  const experiment = loadExperimentFile(file, varsFrom(values.var as string[] | undefined))
  const margin = values['ttl-margin'] === undefined ? undefined : parseDuration(values['ttl-margin'] as string)
  if (values['ttl-margin'] !== undefined && margin === undefined)
    throw errors.FL_ERR_CONFIG_INVALID('--ttl-margin must be a duration such as 10s', {
      issues: [{ path: '--ttl-margin', message: 'must be a duration' }],
    })
  const out = (line: string) => process.stdout.write(line + '\n')
  // Listen before anything is applied; a signal from here on finishes the journal as aborted.
  const interrupt = abortOnSignals(out)
  try {
    out(`faultline run ${file}${values['dry-run'] ? ' (dry run)' : ''}: ${experiment.spec.hypothesis.title}`)
    const redisUrl = (values.redis as string | undefined) ?? process.env.FAULTLINE_REDIS
    // Redis problems go to stderr, away from the progress lines on stdout.
    const log = createLogger({
      name: 'faultline-run',
      level: process.env.FAULTLINE_LOG_LEVEL ?? 'warn',
      destination: process.stderr,
    })
    const fleet = redisUrl ? new (await import('../controller/bus/fleet.ts')).FleetBus(redisUrl, { log }) : undefined
    const result = await runExperiment(experiment, {
      dataDir: dataDirOf(values.data as string | undefined),
      dryRun: values['dry-run'] === true,
      signal: interrupt.signal,
      progress: values.quiet ? undefined : out,
      ttlMarginMs: margin,
      fleet,
      logger: cliRunLogger('faultline-run'),
      cluster: lazyCluster({
        kubeconfig: values.kubeconfig as string | undefined,
        context: values.context as string | undefined,
      }),
      random: seedOf(values.seed as string | undefined),
      ownNamespace: ownNamespace(),
    })
    await fleet?.close()
    return report(result, out)
  } finally {
    interrupt.dispose()
  }
}

/** `--seed N`: Kubernetes target selection (modes) becomes reproducible. */
export function seedOf(text: string | undefined): RandomSource | undefined {
  if (text === undefined) return undefined
  if (!/^\d{1,10}$/.test(text))
    throw errors.FL_ERR_CONFIG_INVALID('--seed must be a whole number', {
      issues: [{ path: '--seed', message: `"${text}" is not a whole number` }],
    })
  return seededRandom(Number(text))
}

function report(result: Awaited<ReturnType<typeof runExperiment>>, out: (line: string) => void): number {
  out(`${result.verdict.toUpperCase()} (${result.status})${result.reason ? `: ${result.reason}` : ''}`)
  out(`  journal  ${path.relative(process.cwd(), result.journalPath)}`)
  out(`  report   ${path.relative(process.cwd(), result.reportPath)}`)
  out(`  summary  ${path.relative(process.cwd(), result.markdownPath)}`)
  return exitCodeOf(result)
}

export function validateCommand(argv: string[]): number {
  const { values, positionals } = parse(argv, { var: { type: 'string', multiple: true } })
  if (!positionals[0])
    throw errors.FL_ERR_CONFIG_INVALID('usage: faultline validate EXPERIMENT.yaml [--var NAME=value]')
  const x = loadExperimentFile(positionals[0], varsFrom(values.var as string[] | undefined))
  process.stdout.write(
    `${positionals[0]}: valid (${x.metadata.name}, ${x.spec.method.length} step(s), ${x.spec.hypothesis.checks.length} check(s))\n`,
  )
  return 0
}

export async function stressCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    cpu: { type: 'string' },
    load: { type: 'string' },
    memory: { type: 'string' },
    duration: { type: 'string' },
  })
  const issues: { path: string; message: string }[] = []
  const int = (flag: string, min: number, max: number) => {
    const v = values[flag] as string | undefined
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isFinite(n) || n < min || n > max)
      issues.push({ path: `--${flag}`, message: `must be a number from ${min} to ${max}, got "${v}"` })
    return n
  }
  const cpu = int('cpu', 1, 256)
  const load = int('load', 1, 100)
  const memory = values.memory === undefined ? undefined : parseSize(values.memory as string)
  if (values.memory !== undefined && memory === undefined)
    issues.push({ path: '--memory', message: 'must be a size such as 256MiB' })
  const durationMs = values.duration === undefined ? undefined : parseDuration(values.duration as string)
  if (durationMs === undefined) issues.push({ path: '--duration', message: 'is required, a duration such as 30s' })
  if (cpu === undefined && memory === undefined) issues.push({ path: '--cpu', message: 'give --cpu and/or --memory' })
  if (issues.length)
    throw errors.FL_ERR_CONFIG_INVALID(issues.map((i) => `${i.path} ${i.message}`).join('; '), { issues })
  process.on('SIGTERM', () => process.exit(0))
  await runStress({ cpu, load, memoryBytes: memory, durationMs: durationMs! })
  return 0
}

export { EXIT }
