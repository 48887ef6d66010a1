/**
 * `npm run demo:grpc`: starts the gRPC example system (gateway -> echo, each behind a sidecar)
 * and runs unavailable-retried.yaml against it, as `faultline demo` runs its examples. Exit code
 * as `faultline run`: 0 pass, 1 fail/error, 2 aborted.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { exitCodeOf, runExperiment } from '../../controller/experiments/runner.ts'
import { ProcessRegistry } from '../../controller/drivers/local/supervisor.ts'
import { parseExperiment } from '../../src/experiments/document.ts'
import { cliRunLogger, dataDirOf } from '../../bin/run.ts'
import { startGrpcSystem } from './system.ts'

const FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'unavailable-retried.yaml')

export async function runGrpcExample(dataDir = dataDirOf(undefined)): Promise<number> {
  const say = (line = '') => process.stdout.write(line + '\n')
  say('faultline gRPC example: gateway (HTTP) -> echo (gRPC), each behind a faultline sidecar')
  const system = await startGrpcSystem()
  try {
    const experiment = parseExperiment(readFileSync(FILE, 'utf8'), system.vars, FILE)
    say(`> ${experiment.spec.hypothesis.title}`)
    const result = await runExperiment(experiment, {
      dataDir,
      registry: new ProcessRegistry(),
      progress: (line) => say(line),
      logger: cliRunLogger('faultline-demo-grpc'),
    })
    say(`=> ${result.verdict.toUpperCase()} (${result.status})${result.reason ? `: ${result.reason}` : ''}`)
    say(`report: ${result.reportPath}`)
    return exitCodeOf(result)
  } finally {
    await system.close()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]))
  process.exitCode = await runGrpcExample()
