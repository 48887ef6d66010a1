/**
 * Connecting to a cluster exactly as kubectl does: `--kubeconfig FILE` when given, else
 * `KUBECONFIG` (colon-separated files, merged, first wins), else `~/.kube/config`, else the
 * in-cluster service account; `--context` picks a context. Nobody should have to pass the API server's
 * address or certificate paths by hand.
 */
import { existsSync, readFileSync } from 'node:fs'
import { isIPv6 } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import { kubernetesSteps } from '../../../src/experiments/kubernetes-schema.ts'
import type { ExperimentDoc, StepSpec } from '../../../src/experiments/schema.ts'
import { Cluster } from './cluster.ts'

export interface ConnectOptions {
  kubeconfig?: string
  context?: string
}

/** The service account files a pod gets (in-cluster configuration). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/** The namespace this process runs in, in a cluster (FAULTLINE_NAMESPACE wins); undefined outside one. */
export function ownNamespace(
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): string | undefined {
  if (env.FAULTLINE_NAMESPACE) return env.FAULTLINE_NAMESPACE
  const file = path.join(serviceAccountDir, 'namespace')
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined
}

type Issue = { path: string; message: string }
const invalid = (message: string, issue: Issue, cause?: unknown) =>
  errors.FL_ERR_CONFIG_INVALID(message, { cause, issues: [issue] })

/** One kubeconfig file, read and parsed; what went wrong names `flag` and the file. */
function readKubeconfig(file: string, flag: string): KubeConfig {
  try {
    readFileSync(file)
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw invalid(
      `cannot read the kubeconfig ${file} (${why})`,
      { path: flag, message: `cannot read ${file}: ${why}` },
      err,
    )
  }
  const kc = new KubeConfig()
  try {
    kc.loadFromFile(file)
  } catch (err) {
    const why = (err as Error).message
    throw invalid(
      `${file} is not a kubeconfig: ${why}`,
      { path: flag, message: `${file} is not a kubeconfig: ${why}` },
      err,
    )
  }
  return kc
}

/**
 * KUBECONFIG as kubectl reads it: a list of files (`:`-separated), missing ones skipped, merged
 * so that the first file to name a cluster, user or context wins, and so does the first
 * current-context (client-node's own merge lets the last one win, and throws on a duplicate).
 */
function mergedKubeconfig(list: string): KubeConfig {
  const files = list.split(path.delimiter).filter((f) => f && existsSync(f))
  if (files.length === 0)
    throw invalid(`KUBECONFIG names no file that exists (${list})`, {
      path: 'KUBECONFIG',
      message: `none of ${list} exists`,
    })
  const out = { clusters: [] as Cluster_[], users: [] as User_[], contexts: [] as Context_[], currentContext: '' }
  const add = <T extends { name: string }>(into: T[], items: readonly T[]) => {
    for (const i of items) if (!into.some((x) => x.name === i.name)) into.push(i)
  }
  for (const file of files) {
    const kc = readKubeconfig(file, 'KUBECONFIG')
    add(out.clusters, kc.getClusters())
    add(out.users, kc.getUsers())
    add(out.contexts, kc.getContexts())
    out.currentContext ||= kc.getCurrentContext() ?? ''
  }
  const kc = new KubeConfig()
  kc.loadFromOptions(out)
  return kc
}

type Cluster_ = ReturnType<KubeConfig['getClusters']>[number]
type User_ = ReturnType<KubeConfig['getUsers']>[number]
type Context_ = ReturnType<KubeConfig['getContexts']>[number]

/**
 * The in-cluster configuration, as kubectl builds it (rest.InClusterConfig): only with
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set and the service account token present;
 * always https, verified against the service account's ca.crt, the token re-read as it rotates.
 */
function inClusterKubeconfig(env: NodeJS.ProcessEnv, dir: string): KubeConfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT
  const tokenFile = path.join(dir, 'token')
  if (!host || !port || !existsSync(tokenFile)) return undefined
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [
      {
        name: 'in-cluster',
        server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
        caFile: path.join(dir, 'ca.crt'),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', namespace: ownNamespace({}, dir) }],
    currentContext: 'in-cluster',
  })
  return kc
}

/**
 * The kubeconfig kubectl would use: `--kubeconfig FILE`, else `KUBECONFIG`, else
 * `~/.kube/config` (HOME from `env`), else the in-cluster service account; then `--context`.
 * Every failure is FL_ERR_CONFIG_INVALID naming the flag or variable to fix. Without any source
 * client-node would silently fall back to http://localhost:8080 and fail far from the cause.
 * `serviceAccountDir` is where a pod's service account files are (a test points it elsewhere).
 */
export function loadKubeConfig(
  opts: ConnectOptions = {},
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): KubeConfig {
  const home = path.join(env.HOME ?? os.homedir(), '.kube', 'config')
  const kc = opts.kubeconfig
    ? readKubeconfig(opts.kubeconfig, '--kubeconfig')
    : env.KUBECONFIG
      ? mergedKubeconfig(env.KUBECONFIG)
      : existsSync(home)
        ? readKubeconfig(home, '--kubeconfig')
        : inClusterKubeconfig(env, serviceAccountDir)
  if (!kc)
    throw invalid('no kubeconfig: nothing says which cluster to use', {
      path: '--kubeconfig',
      message: 'give --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a cluster',
    })
  if (opts.context) {
    const names = kc.getContexts().map((c) => c.name)
    if (!names.includes(opts.context))
      throw invalid(`no context "${opts.context}" in the kubeconfig`, {
        path: '--context',
        message: `no context "${opts.context}" in the kubeconfig: must be one of ${names.join(', ') || '(none)'}`,
      })
    kc.setCurrentContext(opts.context)
  }
  if (!kc.getCurrentCluster())
    throw invalid('the kubeconfig names no cluster for its current context', {
      path: opts.context ? '--context' : '--kubeconfig',
      message: `context "${kc.getCurrentContext() || '(none)'}" names no cluster in the kubeconfig`,
    })
  return kc
}

/**
 * A cluster connected on first use: a run or a controller without Kubernetes targets never
 * reads a kubeconfig, and one that has them fails with FL_ERR_CONFIG_INVALID naming the flag.
 */
export function lazyCluster(opts: ConnectOptions = {}): () => Cluster {
  let cluster: Cluster | undefined
  return () => (cluster ??= new Cluster(loadKubeConfig(opts)))
}

/** A cluster whose kubeconfig is read now, so a bad one fails before anything starts. */
export function connectNow(opts: ConnectOptions = {}, env: NodeJS.ProcessEnv = process.env): () => Cluster {
  const kc = loadKubeConfig(opts, env)
  let cluster: Cluster | undefined
  return () => (cluster ??= new Cluster(kc))
}

/** Whether an experiment needs a cluster: a Kubernetes target, check or fault step. */
export function usesKubernetes(spec: ExperimentDoc['spec']): boolean {
  const targets = Object.values(spec.targets).some((t) => t.kubernetes)
  const checks = [...spec.hypothesis.checks, ...(spec.guardrails ?? []), ...(spec.observations ?? [])].some(
    (c) => c.kubernetes,
  )
  const steps = (list: StepSpec[]): boolean =>
    list.some(
      (s) =>
        Object.keys(kubernetesSteps).some((k) => (s as Record<string, unknown>)[k] !== undefined) ||
        steps(s.parallel ?? []) ||
        steps(s.serial ?? []),
    )
  return targets || checks || steps([...spec.method, ...(spec.rollbacks ?? [])])
}
