/**
 * `faultline bench`: load-plus-fault benchmarking of the user's own service through a sidecar.
 * Reads the flags (and a bench document), checks everything before any load, runs the rounds,
 * writes result.json and report.html, and prints the summary table. docs/bench.md.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { runBench } from '../controller/bench/rounds.ts'
import { progressDisplay } from '../controller/bench/progress.ts'
import { benchResult, summaryTable, writeBenchOutputs } from '../controller/bench/report.ts'
import { buildPlan, type ScenarioInput } from '../src/bench/plan.ts'
import { isFaultlineError, type FieldIssue } from '../src/errors.ts'
import { substitute } from '../src/experiments/document.ts'
import { abortOnSignals } from './interrupt.ts'
import { dataDirOf } from './run.ts'
import {
  asUsageError,
  defineCommand,
  displayPath,
  EXIT_USAGE,
  isUsageError,
  parseCommandLine,
  printHelp,
  UsageError,
  usageLine,
} from './usage.ts'

export const BENCH = defineCommand({
  command: 'bench',
  summary:
    'load-plus-fault benchmark of your service: a baseline and fault scenarios in interleaved rounds, through a sidecar',
  flags: {
    target: {
      type: 'string',
      value: 'URL',
      help: "where load is sent: the service's URL through the sidecar's proxy port",
    },
    sidecar: { type: 'string', value: 'ADMIN_URL', help: "the sidecar's admin URL, where each scenario's rules go" },
    token: {
      type: 'string',
      value: 'TOKEN',
      env: 'FAULTLINE_TOKEN',
      help: "the sidecar's admin bearer token (--admin-token)",
    },
    scenario: {
      type: 'list',
      value: 'SPEC|FILE',
      help: 'a fault scenario (repeatable): a spec such as "503:10%", "delay:50ms", "reset:1%", "NAME=SPEC", or a YAML/JSON file of named scenarios',
    },
    file: {
      type: 'string',
      value: 'FILE',
      help: 'a bench document (YAML/JSON) with target, sidecar, load, rounds, scenarios; flags win',
    },
    rate: {
      type: 'string',
      value: 'N',
      help: 'requests per second across all connections (default: as fast as they go)',
    },
    connections: { type: 'string', value: 'N', help: 'concurrent connections (default 10)' },
    duration: { type: 'string', value: 'DURATION', help: 'load per scenario per round (default 10s)' },
    warmup: {
      type: 'string',
      value: 'DURATION',
      help: 'unmeasured load before the first round (default 2s; 0s for none)',
    },
    rounds: { type: 'string', value: 'N', help: 'rounds of baseline + every scenario (default 3)' },
    method: { type: 'string', value: 'METHOD', help: 'HTTP method of the load (default GET)' },
    header: { type: 'list', value: '"NAME: VALUE"', help: 'a request header of the load (repeatable)' },
    body: { type: 'string', value: 'TEXT', help: 'request body of the load' },
    out: { type: 'string', value: 'DIR', help: 'write result.json and report.html here (default DATA/bench/<id>)' },
    data: { type: 'string', value: 'DIR', env: 'FAULTLINE_DATA', help: 'data directory (default .faultline)' },
    quiet: { type: 'boolean', help: 'no progress display on stderr' },
  },
  notes: `scenario spec:  [NAME=]FAULT[+FAULT...]   FAULT: ACTION[:PERCENT%][@PATH]
  ACTION: an HTTP status (503) | delay:DURATION[~JITTER] | reset | close | throttle:N(b|kb|mb)/s
  e.g. "503:10%"  "delay:50ms"  "reset:1%"  "slow=delay:200ms~50ms:25%@/api/**"  (docs/bench.md)
exit codes: 0 done, 2 interrupted (rules removed, partial results written), 1 failed,
            3 the sidecar or the target cannot be reached, 64 usage error`,
})

/** Exit code when the sidecar, the target, or the app behind the sidecar cannot be reached. */
export const EXIT_UNREACHABLE = 3
const UNREACHABLE = new Set(['FL_ERR_SIDECAR_UNREACHABLE', 'FL_ERR_UPSTREAM_UNAVAILABLE'])

/** A YAML/JSON file as data, `${NAME}` substituted from the environment; unreadable is a usage error. */
function readDocument(file: string, flag: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError('bench', `${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
      cause: err,
    })
  }
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw new UsageError('bench', `${flag} ${file}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, {
      cause: err,
    })
  }
  const issues: FieldIssue[] = []
  const doc = substitute(raw, process.env, issues)
  if (issues.length) throw new UsageError('bench', `${file}:${issues[0]!.path} ${issues[0]!.message}`, { issues })
  return doc
}

/** A --scenario value names a file when one exists there, or when it looks like one. */
function scenarioInput(value: string): ScenarioInput {
  if (existsSync(value) && statSync(value).isFile()) return { file: value, value: readDocument(value, '--scenario') }
  if (/\.(ya?ml|json)$/i.test(value)) throw new UsageError('bench', `--scenario ${value}: no such file`)
  return { spec: value }
}

async function bench(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(BENCH, argv)
  if (parsed.help) return printHelp(BENCH)
  const v = parsed.values
  const planned = buildPlan({
    flags: {
      target: v.target,
      sidecar: v.sidecar,
      rate: v.rate,
      connections: v.connections,
      duration: v.duration,
      warmup: v.warmup,
      rounds: v.rounds,
      method: v.method,
      header: v.header,
      body: v.body,
    },
    ...(v.file ? { doc: { source: v.file, value: readDocument(v.file, '--file') } } : {}),
    scenarios: v.scenario.map(scenarioInput),
  })
  if (!planned.ok) {
    const first = planned.issues[0]!
    const more = planned.issues.length > 1 ? ` (and ${planned.issues.length - 1} more problem(s), listed below)` : ''
    throw new UsageError('bench', `${first.path}: ${first.message}${more}`, { issues: planned.issues })
  }
  const plan = planned.plan
  const progress = progressDisplay(process.stderr, v.quiet)
  const interrupt = abortOnSignals((line) => progress.line(line))
  let run
  try {
    progress.line(
      `faultline bench: ${plan.load.url} via ${plan.sidecar}, ${plan.rounds} round(s) of baseline + ${plan.scenarios.map((s) => s.name).join(', ')}`,
    )
    run = await runBench({ plan, token: v.token, progress, signal: interrupt.signal })
  } finally {
    interrupt.dispose()
  }
  const result = benchResult(plan, run)
  const dir = v.out ?? plan.out ?? path.join(dataDirOf(v.data), 'bench', run.id)
  const files = writeBenchOutputs(dir, result)
  process.stdout.write(summaryTable(result))
  for (const n of run.notes) process.stdout.write(`note: ${n}\n`)
  process.stdout.write(`result: ${displayPath(files.json)}\nreport: ${displayPath(files.html)}\n`)
  if (run.status === 'interrupted') {
    process.stderr.write(
      `faultline bench: interrupted after ${run.results.length} round result(s); every rule removed\n`,
    )
    return 2
  }
  return 0
}

/**
 * The command: returns its exit code, having printed any problem itself (one line for a usage
 * error; the code and every field issue otherwise).
 */
export async function benchCommand(argv: string[]): Promise<number> {
  try {
    return await bench(argv)
  } catch (thrown) {
    const err = asUsageError('bench', thrown)
    if (isUsageError(err)) {
      process.stderr.write(usageLine(err) + '\n')
      for (const i of (err.issues ?? []).slice(1)) process.stderr.write(`  ${i.path}: ${i.message}\n`)
      return EXIT_USAGE
    }
    if (!isFaultlineError(err)) throw err
    process.stderr.write(`faultline bench: ${err.message} [${err.code}]\n`)
    for (const i of err.issues ?? []) process.stderr.write(`  ${i.path}: ${i.message}\n`)
    return UNREACHABLE.has(err.code) ? EXIT_UNREACHABLE : 1
  }
}
