/**
 * Kubernetes state as a check measures it: over every pod the target selects (the mode is
 * ignored here: "2 of the web pods Ready" counts all of them), or a workload's available
 * replicas. No pods at all is "no data", never a count of 0 Ready out of 0.
 */
import type { V1Pod } from '@kubernetes/client-node'
import type { KubernetesCheckSpec, KubernetesTargetSpec } from '../../../src/experiments/kubernetes-schema.ts'
import type { Cluster } from './cluster.ts'
import { selectPods } from './select.ts'

export function podReady(p: V1Pod): boolean {
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

export type Measured = { value: number; detail: string } | { nodata: string }

export async function measure(
  cluster: Cluster,
  check: KubernetesCheckSpec,
  target: KubernetesTargetSpec | undefined,
): Promise<Measured> {
  if (check.stat === 'availableReplicas' || check.stat === 'unavailableReplicas') {
    const w = check.workload!
    const obj = await cluster.maybe(`read ${w.kind} ${w.namespace}/${w.name}`, () =>
      w.kind === 'Deployment'
        ? cluster.apps.readNamespacedDeployment({ name: w.name, namespace: w.namespace })
        : cluster.apps.readNamespacedStatefulSet({ name: w.name, namespace: w.namespace }),
    )
    if (!obj) return { nodata: `${w.kind} ${w.namespace}/${w.name} does not exist` }
    const available = (obj.status as { availableReplicas?: number } | undefined)?.availableReplicas ?? 0
    const detail = `${available} of ${obj.spec?.replicas ?? '?'} replicas available`
    if (check.stat === 'unavailableReplicas') {
      // Desired replicas default to 1, as the API server defaults them.
      return { value: Math.max(0, (obj.spec?.replicas ?? 1) - available), detail }
    }
    return { value: available, detail }
  }
  const { selected: pods } = await selectPods(
    cluster,
    { ...target!, mode: 'all', value: undefined, maxTargets: undefined },
    { random: () => 0 },
  )
  if (pods.length === 0) return { nodata: 'the target selects no pods' }
  const ready = pods.filter(podReady).length
  switch (check.stat) {
    case 'readyPods':
      return { value: ready, detail: `${ready} of ${pods.length} pods Ready` }
    case 'readyRatio':
      return { value: ready / pods.length, detail: `${ready} of ${pods.length} pods Ready` }
    case 'pods':
      return { value: pods.length, detail: `${pods.length} pods` }
    case 'podsInPhase': {
      const n = pods.filter((p) => p.status?.phase === check.phase).length
      return { value: n, detail: `${n} of ${pods.length} pods ${check.phase}` }
    }
    case 'podsNotInPhase': {
      const n = pods.filter((p) => p.status?.phase !== check.phase).length
      return { value: n, detail: `${n} of ${pods.length} pods not ${check.phase}` }
    }
    case 'restarts': {
      const n = pods.reduce(
        (sum, p) => sum + (p.status?.containerStatuses ?? []).reduce((s, c) => s + (c.restartCount ?? 0), 0),
        0,
      )
      return { value: n, detail: `${n} container restarts across ${pods.length} pods` }
    }
  }
}
