/**
 * Small factories for the objects tests create most (plain JSON in the API's shapes, to pass to
 * `fake.create()`, `fake.put()` or a real client).
 */
import type { KubeObject } from './store.ts'

interface WorkloadOptions {
  name: string
  namespace?: string
  replicas?: number
  /** Pod labels, also the selector (default `{ app: name }`). */
  labels?: Record<string, string>
  image?: string
  /** Containers instead of the single `app` container running `image`. */
  containers?: Record<string, unknown>[]
  terminationGracePeriodSeconds?: number
}

function template(o: WorkloadOptions) {
  const labels = o.labels ?? { app: o.name }
  const spec: Record<string, unknown> = {
    containers: o.containers ?? [{ name: 'app', image: o.image ?? 'nginx:1.27', ports: [{ containerPort: 8080 }] }],
  }
  if (o.terminationGracePeriodSeconds !== undefined)
    spec.terminationGracePeriodSeconds = o.terminationGracePeriodSeconds
  return { labels, template: { metadata: { labels }, spec } }
}

export function deployment(o: WorkloadOptions): KubeObject {
  const t = template(o)
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: o.name, namespace: o.namespace ?? 'default', labels: t.labels },
    spec: { replicas: o.replicas ?? 3, selector: { matchLabels: t.labels }, template: t.template },
  }
}

export function statefulSet(o: WorkloadOptions & { podManagementPolicy?: 'OrderedReady' | 'Parallel' }): KubeObject {
  const t = template(o)
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: o.name, namespace: o.namespace ?? 'default', labels: t.labels },
    spec: {
      replicas: o.replicas ?? 3,
      serviceName: o.name,
      podManagementPolicy: o.podManagementPolicy ?? 'OrderedReady',
      selector: { matchLabels: t.labels },
      template: t.template,
    },
  }
}

export function daemonSet(o: Omit<WorkloadOptions, 'replicas'>): KubeObject {
  const t = template(o)
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: o.name, namespace: o.namespace ?? 'default', labels: t.labels },
    spec: { selector: { matchLabels: t.labels }, template: t.template },
  }
}

/** A pod without an owner (unmanaged); `mirror` makes it a static pod's mirror on `nodeName`. */
export function pod(o: {
  name: string
  namespace?: string
  labels?: Record<string, string>
  image?: string
  nodeName?: string
  mirror?: boolean
  containers?: Record<string, unknown>[]
}): KubeObject {
  const metadata: KubeObject['metadata'] = { name: o.name, namespace: o.namespace ?? 'default' }
  if (o.labels) metadata.labels = o.labels
  if (o.mirror)
    metadata.annotations = { 'kubernetes.io/config.mirror': `mirror-${o.name}`, 'kubernetes.io/config.source': 'file' }
  const spec: Record<string, unknown> = {
    containers: o.containers ?? [{ name: 'app', image: o.image ?? 'nginx:1.27' }],
  }
  if (o.nodeName) spec.nodeName = o.nodeName
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec }
}

export function pdb(o: {
  name: string
  namespace?: string
  matchLabels: Record<string, string>
  minAvailable?: number | string
  maxUnavailable?: number | string
  unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow'
}): KubeObject {
  const spec: Record<string, unknown> = { selector: { matchLabels: o.matchLabels } }
  if (o.minAvailable !== undefined) spec.minAvailable = o.minAvailable
  if (o.maxUnavailable !== undefined) spec.maxUnavailable = o.maxUnavailable
  if (o.unhealthyPodEvictionPolicy) spec.unhealthyPodEvictionPolicy = o.unhealthyPodEvictionPolicy
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: o.name, namespace: o.namespace ?? 'default' },
    spec,
  }
}

export function namespace(
  name: string,
  labels?: Record<string, string>,
  annotations?: Record<string, string>,
): KubeObject {
  const metadata: KubeObject['metadata'] = { name }
  if (labels) metadata.labels = labels
  if (annotations) metadata.annotations = annotations
  return { apiVersion: 'v1', kind: 'Namespace', metadata }
}

export function node(name: string, labels?: Record<string, string>): KubeObject {
  const metadata: KubeObject['metadata'] = { name }
  if (labels) metadata.labels = labels
  return { apiVersion: 'v1', kind: 'Node', metadata, spec: {} }
}
