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

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'experiments')
export const DEMO_EXPERIMENTS = ['latency-absorbed.yaml', 'dependency-outage.yaml', 'process-kill.yaml']

export async function runDemo(
  opts: { dataDir?: string; out?: NodeJS.WritableStream; quiet?: boolean } = {},
): Promise<RunResult[]> {
  const out = opts.out ?? process.stdout
  const say = (line = '') => out.write(line + '\n')
  const dataDir = opts.dataDir ?? '.faultline'
  say('faultline demo: three services (front -> orders -> inventory), each behind a faultline sidecar')
  const system = await startSampleSystem({ logDir: path.join(dataDir, 'demo-logs') })
  const results: RunResult[] = []
  try {
    say(
      `  front ${system.vars.FRONT_URL}   (sidecar admin APIs: ${system.vars.FRONT_ADMIN}, ${system.vars.ORDERS_ADMIN}, ${system.vars.INVENTORY_ADMIN})`,
    )
    for (const file of DEMO_EXPERIMENTS) {
      const full = path.join(EXAMPLES, file)
      const experiment = parseExperiment(readFileSync(full, 'utf8'), system.vars, full)
      say()
      say(`> ${path.relative(process.cwd(), full)}`)
      say(`  ${experiment.spec.hypothesis.title}`)
      const result = await runExperiment(experiment, {
        dataDir,
        registry: system.registry,
        progress: opts.quiet ? undefined : (line) => say(line),
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
      `  ${r.verdict.padEnd(13)} exit ${exitCodeOf(r)}  ${r.journal.experiment.metadata.name.padEnd(22)} ${path.relative(process.cwd(), r.reportPath)}`,
    )
  say()
  say('Open a report.html in a browser; the journal.json beside it has every sample and fault.')
  say('Write your own: examples/experiments/*.yaml and docs/experiments.md; run it with npx faultline run FILE.')
  return results
}
