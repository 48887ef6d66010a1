/**
 * Connecting to a cluster exactly as kubectl does: `--kubeconfig FILE` when given, else
 * `KUBECONFIG` (colon-separated files, merged), else `~/.kube/config`, else the in-cluster
 * service account; `--context` picks a context. Nobody should have to pass the API server's
 * address or certificate paths by hand.
 */
import { KubeConfig } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import { Cluster } from './cluster.ts'

export interface ConnectOptions {
  kubeconfig?: string
  context?: string
}

export function loadKubeConfig(opts: ConnectOptions = {}): KubeConfig {
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
