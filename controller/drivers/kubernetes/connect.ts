/**
 * Connecting to a cluster exactly as kubectl does: `--kubeconfig FILE` when given, else
 * `KUBECONFIG` (colon-separated files, merged), else `~/.kube/config`, else the in-cluster
 * service account; `--context` picks a context. Nobody should have to pass the API server's
 * address or certificate paths by hand.
 */
import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import { Cluster } from './cluster.ts'

export interface ConnectOptions {
  kubeconfig?: string
  context?: string
}

/** The service account files a pod gets (in-cluster configuration). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/**
 * Whether any source kubectl would read exists. Without one, client-node silently falls back to
 * http://localhost:8080, and the first API call fails far from the cause: say so up front.
 */
function anyKubeconfigSource(env: NodeJS.ProcessEnv): boolean {
  if (env.KUBECONFIG) return true
  if (existsSync(path.join(env.HOME ?? os.homedir(), '.kube', 'config'))) return true
  return Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(path.join(SERVICE_ACCOUNT_DIR, 'token'))
}

/** The namespace this process runs in, in a cluster (FAULTLINE_NAMESPACE wins); undefined outside one. */
export function ownNamespace(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FAULTLINE_NAMESPACE) return env.FAULTLINE_NAMESPACE
  const file = path.join(SERVICE_ACCOUNT_DIR, 'namespace')
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined
}

export function loadKubeConfig(opts: ConnectOptions = {}, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  if (!opts.kubeconfig && !anyKubeconfigSource(env))
    throw errors.FL_ERR_CONFIG_INVALID('no kubeconfig: nothing says which cluster to use', {
      issues: [
        {
          path: '--kubeconfig',
          message: 'give --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a cluster',
        },
      ],
    })
  const kc = new KubeConfig()
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig)
    else kc.loadFromDefault()
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID(`cannot load the kubeconfig: ${(err as Error).message}`, {
      cause: err,
      issues: [{ path: '--kubeconfig', message: (err as Error).message }],
    })
  }
  if (opts.context) {
    const names = kc.getContexts().map((c) => c.name)
    if (!names.includes(opts.context))
      throw errors.FL_ERR_CONFIG_INVALID(`no context "${opts.context}" in the kubeconfig`, {
        issues: [{ path: '--context', message: `must be one of ${names.join(', ') || '(none)'}` }],
      })
    kc.setCurrentContext(opts.context)
  }
  if (!kc.getCurrentCluster())
    throw errors.FL_ERR_CONFIG_INVALID('the kubeconfig names no cluster for its current context', {
      issues: [{ path: '--kubeconfig', message: 'has no cluster for the current context' }],
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
