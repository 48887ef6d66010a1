/** `faultline injector`: the sidecar-injecting MutatingAdmissionWebhook (docs/injection.md). */
import { existsSync, readFileSync } from 'node:fs'
import { loadInjectorConfig, type InjectorConfig } from '../controller/injector/config.ts'
import { buildInjectorServer, type InjectorServer } from '../controller/injector/server.ts'
import { type HostPort, parseHostPort } from '../src/config.ts'
import type { FieldIssue } from '../src/errors.ts'
import { createLogger } from '../src/log.ts'
import { closeOnSignals } from './signals.ts'
import {
  defineCommand,
  flagsFromEnvTable,
  parseCommandLine,
  printHelp,
  throwIssues,
  unreadableFileIssues,
} from './usage.ts'

/** flag -> [environment variable, description] */
export const INJECTOR_FLAGS = {
  listen: ['FAULTLINE_INJECTOR_LISTEN', 'HTTPS listener HOST:PORT (default 0.0.0.0:8443)'],
  'tls-cert': ['FAULTLINE_TLS_CERT', 'PEM certificate (with its chain), reloaded when it changes (required)'],
  'tls-key': ['FAULTLINE_TLS_KEY', 'PEM private key, reloaded when it changes (required)'],
  config: ['FAULTLINE_INJECTOR_CONFIG', 'YAML or JSON injector configuration (default: every default)'],
  'log-level': ['FAULTLINE_LOG_LEVEL', 'trace|debug|info|warn|error (default info)'],
} as const

/** Where a pod finds its own namespace (the service account mount). */
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace'

export interface InjectorArgs {
  listen: HostPort
  certFile: string
  keyFile: string
  config: InjectorConfig
  logLevel?: string
}

export const INJECTOR = defineCommand({
  command: 'injector',
  summary: 'the sidecar injection webhook (MutatingAdmissionWebhook over HTTPS, docs/injection.md)',
  flags: flagsFromEnvTable(INJECTOR_FLAGS),
  notes: `exit codes: 0 stopped by SIGTERM/SIGINT, 64 usage error (a bad flag, a missing or unreadable
            --tls-cert, --tls-key or --config file), 1 any other error (a file that is not a PEM
            certificate or key, a key that is not the certificate's, an invalid --config)`,
})

/** Flags and environment to the injector's settings; a bad flag is a UsageError naming each. */
export function parseInjectorArgs(argv: string[], env: NodeJS.ProcessEnv): InjectorArgs {
  const parsed = parseCommandLine(INJECTOR, argv, env)
  const get = (k: keyof typeof INJECTOR_FLAGS) => (parsed.help ? undefined : (parsed.values[k] as string | undefined))
  const issues: FieldIssue[] = []
  const listen = parseHostPort(get('listen') ?? '0.0.0.0:8443', 'listen', issues)
  const certFile = get('tls-cert')
  const keyFile = get('tls-key')
  const configFile = get('config')
  if (!certFile) issues.push({ path: '--tls-cert', message: 'is required (or set FAULTLINE_TLS_CERT)' })
  if (!keyFile) issues.push({ path: '--tls-key', message: 'is required (or set FAULTLINE_TLS_KEY)' })
  // A missing or unreadable file is a usage error too (exit 64); what the files hold is checked on reading.
  issues.push(
    ...unreadableFileIssues([
      ['--tls-cert', certFile],
      ['--tls-key', keyFile],
      ['--config', configFile],
    ]),
  )
  throwIssues('injector', issues)
  const config = loadInjectorConfig(configFile)
  // The injector never injects its own namespace: from the file, else as the controller learns it.
  config.ownNamespace ??=
    env.FAULTLINE_NAMESPACE ||
    (existsSync(SERVICE_ACCOUNT_NAMESPACE) ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() : undefined)
  return { listen: listen!, certFile: certFile!, keyFile: keyFile!, config, logLevel: get('log-level') }
}

/** Starts the injector; resolves once it listens (or after printing --help). SIGTERM/SIGINT close it. */
export async function injectorCommand(argv: string[]): Promise<void> {
  if (parseCommandLine(INJECTOR, argv, {}).help) {
    printHelp(INJECTOR)
    return
  }
  const args = parseInjectorArgs(argv, process.env)
  const logger = createLogger({ name: 'faultline-injector', level: args.logLevel })
  const server: InjectorServer = buildInjectorServer({
    listen: args.listen,
    certFile: args.certFile,
    keyFile: args.keyFile,
    config: args.config,
    logger,
  })
  await server.listen()
  closeOnSignals(logger, 'injector stopping', () => server.close())
}
