/** `faultline controller`: flags and environment to buildController, SIGTERM to a clean stop. */
import { buildController } from '../controller/app.ts'
import { connectNow, lazyCluster, ownNamespace } from '../controller/drivers/kubernetes/connect.ts'
import { parseHostPort } from '../src/config.ts'
import type { FieldIssue } from '../src/errors.ts'
import { createLogger } from '../src/log.ts'
import { closeOnSignals } from './signals.ts'
import { asUsageError, defineCommand, flagsFromEnvTable, parseCommandLine, printHelp, throwIssues } from './usage.ts'

export const CONTROLLER_FLAGS = {
  listen: ['FAULTLINE_CONTROLLER_LISTEN', 'API listener HOST:PORT (default 127.0.0.1:8490)'],
  data: ['FAULTLINE_DATA', 'data directory: experiments, runs, schedules (default .faultline)'],
  token: ['FAULTLINE_TOKEN', 'bearer token required on every API call but /healthz and /openapi.json'],
  redis: ['FAULTLINE_REDIS', 'Redis URL: store and fleet bus in Redis instead of files'],
  'log-level': ['FAULTLINE_LOG_LEVEL', 'trace|debug|info|warn|error (default info)'],
  kubeconfig: ['FAULTLINE_KUBECONFIG', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)'],
  context: ['FAULTLINE_KUBE_CONTEXT', 'kubeconfig context (default: its current context)'],
  namespace: ['FAULTLINE_NAMESPACE', "the controller's own namespace, protected like kube-system"],
} as const

export const CONTROLLER = defineCommand({
  command: 'controller',
  summary: 'the long-running controller: REST API, runs, schedules, traffic shaping, halt (docs/controller.md)',
  flags: flagsFromEnvTable(CONTROLLER_FLAGS),
})

/** Starts the controller; resolves once it listens (or after printing --help). SIGTERM/SIGINT stop it. */
export async function controllerCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const parsed = parseCommandLine(CONTROLLER, argv, env)
  if (parsed.help) {
    printHelp(CONTROLLER)
    return
  }
  const get = (k: keyof typeof CONTROLLER_FLAGS) => parsed.values[k] as string | undefined
  const issues: FieldIssue[] = []
  const listen = parseHostPort(get('listen') ?? '127.0.0.1:8490', 'listen', issues)
  throwIssues('controller', issues)
  // A kubeconfig named by a flag is read now: a bad one is a usage error (exit 64) at start, not
  // a failure at the first Kubernetes run. Without one, the cluster is connected on first use,
  // so a controller without Kubernetes experiments never reads a kubeconfig.
  const connect = { kubeconfig: get('kubeconfig'), context: get('context') }
  let cluster
  try {
    cluster = connect.kubeconfig || connect.context ? connectNow(connect, env) : lazyCluster(connect)
  } catch (err) {
    throw asUsageError('controller', err)
  }
  const logger = createLogger({ name: 'faultline-controller', level: get('log-level') })
  const redisUrl = get('redis')
  let store
  let fleet
  if (redisUrl) {
    const { RedisStore } = await import('../controller/store/redis.ts')
    const { FleetBus } = await import('../controller/bus/fleet.ts')
    store = new RedisStore(redisUrl, { log: logger })
    fleet = new FleetBus(redisUrl, { log: logger })
  }
  const controller = buildController({
    dataDir: get('data') ?? '.faultline',
    listen,
    token: get('token'),
    logger,
    store,
    fleet,
    cluster,
    ownNamespace: get('namespace') ?? ownNamespace(env),
  })
  await controller.start()
  closeOnSignals(logger, 'stopping: aborting and reverting running runs', () => controller.close())
}
