/**
 * A namespace's labels, read through the Kubernetes API (`get namespaces`) for the optional
 * re-check of the namespace opt-in and of Pod Security enforcement (`namespaceLookup: true`).
 * Cached briefly: a Deployment scaling to 50 pods costs one read, and a label change is seen
 * within the TTL. Concurrent misses share one request; failures are not cached.
 */
import type { Cluster } from '../drivers/kubernetes/cluster.ts'

export type NamespaceLabels = (namespace: string) => Promise<Record<string, string>>

export interface NamespaceLabelOptions {
  ttlMs?: number
  now?: () => number
}

export function namespaceLabelReader(cluster: () => Cluster, opts: NamespaceLabelOptions = {}): NamespaceLabels {
  const ttlMs = opts.ttlMs ?? 30_000
  const now = opts.now ?? Date.now
  const cache = new Map<string, { at: number; labels: Promise<Record<string, string>> }>()
  return (namespace) => {
    const hit = cache.get(namespace)
    if (hit && now() - hit.at < ttlMs) return hit.labels
    const labels = (async () => {
      // cluster() itself may throw (no kubeconfig): inside the promise, so the caller sees a rejection.
      const c = cluster()
      const ns = await c.call(`read namespace ${namespace}`, () => c.core.readNamespace({ name: namespace }))
      return ns.metadata?.labels ?? {}
    })()
    cache.set(namespace, { at: now(), labels })
    labels.catch(() => {
      // A failure is the caller's to report; dropping the entry makes the next review ask again.
      if (cache.get(namespace)?.labels === labels) cache.delete(namespace)
    })
    return labels
  }
}
