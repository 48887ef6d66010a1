/**
 * The `faultline` command: parses the subcommand and starts the sidecar or a runner. This is
 * the one place allowed to compose the sidecar and the controller.
 */
import { readFileSync } from 'node:fs'
import { buildSidecar } from '../sidecar/build.ts'
import { closeOnSignals } from './signals.ts'
import { parseSidecarConfig, SIDECAR_FLAGS } from '../src/config.ts'
import { isFaultlineError } from '../src/errors.ts'
import { createLogger } from '../src/log.ts'
import { experimentJsonSchema } from '../src/experiments/schema.ts'
import { ruleSetJsonSchema } from '../src/rules/schema.ts'

const USAGE = `faultline <command> [options]

commands:
  demo        start a sample system of three services behind sidecars and run the example experiments
  run         run an experiment: faultline run EXPERIMENT.yaml [--dry-run] [--var NAME=value] [--data DIR]
              [--ttl-margin 10s] [--redis URL] [--kubeconfig FILE] [--context NAME] [--seed N] [--quiet]
              (--data defaults to $FAULTLINE_DATA, else .faultline)
  validate    check an experiment document and print every problem with its path
  controller  the long-running controller: [--listen HOST:PORT] [--data DIR] [--token TOKEN] [--redis URL]
              [--kubeconfig FILE] [--context NAME] [--namespace NS]
  sidecar     run the fault-injection proxy in front of an app (options below)
  stress      CPU/memory stress: faultline stress --cpu N --load P --memory SIZE --duration D
  injector    the sidecar injection webhook: --listen HOST:PORT --tls-cert FILE --tls-key FILE [--config FILE]
  capture     the pod's init step: iptables redirect of inbound app ports to the sidecar
              --proxy-port P --app-ports A[,B] --sidecar-uid UID [--exclude-ports X,Y] [--uninstall] [--dry-run]
  tour        run one sidecar in front of a sample app and show each fault kind (--keep to stay up)
  schema      print the JSON Schema of a rule set (schema experiment: of an experiment)
  bench       run the proxy benchmark (benchmarks/README.md)
  version     print the version

faultline sidecar options (environment variable in brackets):
${Object.entries(SIDECAR_FLAGS)
  .map(([flag, [env, help]]) => `  --${flag.padEnd(24)} ${help} [${env}]`)
  .join('\n')}
`

async function sidecar(argv: string[]): Promise<void> {
  const config = parseSidecarConfig(argv, process.env)
  const logger = createLogger({ name: 'faultline-sidecar', level: config.logLevel })
  const sc = buildSidecar({ ...config, logger, headerFaults: config.headerFaults || false })
  await sc.listen()
  closeOnSignals(logger, 'draining in-flight requests, then exiting', () => sc.close())
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2)
  switch (command) {
    case 'sidecar':
      return sidecar(rest)
    case 'controller': {
      const { controllerCommand } = await import('./controller.ts')
      return controllerCommand(rest)
    }
    case 'run': {
      const { runCommand } = await import('./run.ts')
      process.exitCode = await runCommand(rest)
      return
    }
    case 'validate': {
      const { validateCommand } = await import('./run.ts')
      process.exitCode = validateCommand(rest)
      return
    }
    case 'stress': {
      const { stressCommand } = await import('./run.ts')
      process.exitCode = await stressCommand(rest)
      return
    }
    case 'demo': {
      const { runDemo } = await import('./demo.ts')
      const results = await runDemo()
      // Like `run`: errored is a failure of the tool (1), an interrupted demo is not a success (2).
      process.exitCode = results.some((r) => r.status === 'errored')
        ? 1
        : results.some((r) => r.status === 'aborted')
          ? 2
          : 0
      return
    }
    case 'tour': {
      const { runTour } = await import('./tour.ts')
      return runTour({ keep: rest.includes('--keep') })
    }
    case 'schema':
      process.stdout.write(
        JSON.stringify(rest[0] === 'experiment' ? experimentJsonSchema() : ruleSetJsonSchema(), null, 2) + '\n',
      )
      return
    case 'injector': {
      const { injectorCommand } = await import('./injector.ts')
      return injectorCommand(rest)
    }
    case 'capture': {
      const { captureCommand } = await import('./capture.ts')
      process.exitCode = await captureCommand(rest)
      return
    }
    case 'bench': {
      const { runBenchmarks } = await import('../benchmarks/run.ts')
      await runBenchmarks(rest)
      return
    }
    case 'version':
    case '--version': {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        version: string
      }
      process.stdout.write(pkg.version + '\n')
      return
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`)
      process.exitCode = 2
  }
}

main().catch((err: unknown) => {
  if (isFaultlineError(err)) {
    process.stderr.write(`faultline: ${err.message} [${err.code}]\n`)
    for (const i of err.issues ?? []) process.stderr.write(`  ${i.path}: ${i.message}\n`)
  } else process.stderr.write(`faultline: ${(err as Error).stack ?? String(err)}\n`)
  // An invalid experiment exits 64 (EX_USAGE) so scripts can tell it from a failed hypothesis.
  process.exit(isFaultlineError(err) && err.code === 'FL_ERR_EXPERIMENT_INVALID' ? 64 : 1)
})
