/**
 * `faultline demo`: the whole loop on one machine. Starts the sample system (three services
 * calling each other, each behind a sidecar), then runs the example experiments in
 * examples/experiments against it: one that passes, one that fails its hypothesis, and one that
 * kills a process and measures recovery. Ends with the verdicts and where the reports are.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { exitCodeOf, type RunResult, runExperiment } from '../controller/experiments/runner.ts'
import { startSampleSystem } from '../examples/system.ts'
import { parseExperiment } from '../src/experiments/document.ts'
import { abortOnSignals } from './interrupt.ts'
import { cliRunLogger, dataDirOf, DEFAULT_DATA_DIR } from './run.ts'
import { defineCommand, displayPath, parseCommandLine, printHelp } from './usage.ts'

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'experiments')
export const DEMO_EXPERIMENTS = ['latency-absorbed.yaml', 'dependency-outage.yaml', 'process-kill.yaml']

export const DEMO = defineCommand({
  command: 'demo',
  summary: 'start three sample services behind sidecars and run the example experiments (about 25 s)',
  flags: {
    data: {
      type: 'string',
      value: 'DIR',
      env: 'FAULTLINE_DATA',
      help: `where the runs and the services' logs are written; default ${DEFAULT_DATA_DIR}`,
    },
    quiet: { type: 'boolean', env: 'FAULTLINE_QUIET', help: 'no progress lines, only each verdict' },
  },
  notes: 'exit codes: 0 every run completed, 1 a run errored, 2 the demo was interrupted, 64 usage error',
})

/** `faultline demo [--data DIR] [--quiet]`: the exit code says whether the demo itself worked. */
export async function demoCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseCommandLine(DEMO, argv, env)
  if (parsed.help) return printHelp(DEMO)
  const results = await runDemo({ dataDir: dataDirOf(parsed.values.data, env), quiet: parsed.values.quiet })
  // A failing verdict is part of the demo; an errored run is a failure of the tool (1), an
  // interrupted demo is not a success (2).
  return results.some((r) => r.status === 'errored') ? 1 : results.some((r) => r.status === 'aborted') ? 2 : 0
}

/**
 * `signal` stops the demo (the current run is aborted, its faults reverted, its journal finished);
 * without one, SIGINT/SIGTERM do that. The data directory is `dataDir`, else FAULTLINE_DATA, else
 * .faultline, as for `faultline run`.
 */
export async function runDemo(
  opts: { dataDir?: string; out?: NodeJS.WritableStream; quiet?: boolean; signal?: AbortSignal } = {},
): Promise<RunResult[]> {
  const out = opts.out ?? process.stdout
  const say = (line = '') => out.write(line + '\n')
  const interrupt = opts.signal ? undefined : abortOnSignals(say)
  try {
    return await demo(opts.dataDir ?? dataDirOf(undefined), opts.signal ?? interrupt!.signal, say, opts.quiet)
  } finally {
    interrupt?.dispose()
  }
}

async function demo(
  dataDir: string,
  signal: AbortSignal,
  say: (line?: string) => void,
  quiet: boolean | undefined,
): Promise<RunResult[]> {
  say('faultline demo: three services (front -> orders -> inventory), each behind a faultline sidecar')
  const system = await startSampleSystem({ logDir: path.join(dataDir, 'demo-logs') })
  const results: RunResult[] = []
  try {
    say(
      `  front ${system.vars.FRONT_URL}   (sidecar admin APIs: ${system.vars.FRONT_ADMIN}, ${system.vars.ORDERS_ADMIN}, ${system.vars.INVENTORY_ADMIN})`,
    )
    for (const file of DEMO_EXPERIMENTS) {
      if (signal.aborted) break
      const full = path.join(EXAMPLES, file)
      const experiment = parseExperiment(readFileSync(full, 'utf8'), system.vars, full)
      say()
      say(`> ${displayPath(full)}`)
      say(`  ${experiment.spec.hypothesis.title}`)
      const result = await runExperiment(experiment, {
        dataDir,
        registry: system.registry,
        signal,
        progress: quiet ? undefined : (line) => say(line),
        logger: cliRunLogger('faultline-demo'),
      })
      results.push(result)
      say(`  => ${result.verdict.toUpperCase()} (${result.status})${result.reason ? `: ${result.reason}` : ''}`)
    }
  } finally {
    await system.close()
  }
  say()
  say('verdicts')
  for (const r of results)
    say(
      `  ${r.verdict.padEnd(13)} exit ${exitCodeOf(r)}  ${r.journal.experiment.metadata.name.padEnd(22)} ${displayPath(r.reportPath)}`,
    )
  say()
  say('Open a report.html in a browser; the journal.json beside it has every sample and fault.')
  say('Write your own: examples/experiments/*.yaml and docs/experiments.md; run it with npx faultline run FILE.')
  return results
}
