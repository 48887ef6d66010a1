/**
 * Target selection on a cluster, Chaos Mesh style: everything the server can filter goes in the
 * list call (namespace, label selector, field selector); the rest is filtered here (annotations,
 * explicit names, phases); then the mode picks among the matches. Guards run before anything is
 * returned: protected namespaces, the optional namespace opt-in, and `maxTargets`. The result is
 * journalled by the runner before any change, and never re-rolled.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import { type KubernetesTargetSpec, PROTECTED_NAMESPACES } from '../../../src/experiments/kubernetes-schema.ts'
import {
  formatSelector,
  matchesSelector,
  parseLabelSelector,
  type Requirement,
  selectorFromObject,
} from '../../../src/kubernetes/label-selector.ts'
import { selectByMode } from '../../../src/kubernetes/modes.ts'
import type { ObjectRef } from '../../experiments/journal.ts'
import type { Cluster } from './cluster.ts'

/** Namespace annotation a namespace opts in with, when a target says `requireOptIn: true`. */
export const OPT_IN_ANNOTATION = 'faultline.io/chaos'

export interface SelectOptions {
  random: () => number
  /** The controller's own namespace, protected like kube-system. */
  ownNamespace?: string
}

export interface Selection<T> {
  matched: number
  selected: T[]
  refs: ObjectRef[]
}

function labelRequirements(spec: KubernetesTargetSpec): Requirement[] {
  const s = spec.labelSelector
  if (s === undefined) return []
  return typeof s === 'string' ? parseLabelSelector(s) : selectorFromObject(s)
}

function guardCount(spec: KubernetesTargetSpec, n: number, what: string): void {
  if (spec.maxTargets !== undefined && n > spec.maxTargets)
    throw errors.FL_ERR_TARGET_PROTECTED(`the step would hit ${n} ${what}, more than maxTargets ${spec.maxTargets}`, {
      issues: [{ path: '/maxTargets', message: `${n} ${what} selected` }],
    })
}

async function guardNamespaces(
  cluster: Cluster,
  spec: KubernetesTargetSpec,
  namespaces: string[],
  opts: SelectOptions,
) {
  const protectedNs = new Set<string>([...PROTECTED_NAMESPACES, ...(opts.ownNamespace ? [opts.ownNamespace] : [])])
  const hit = namespaces.filter((n) => protectedNs.has(n))
  if (hit.length && !spec.allowProtectedNamespaces)
    throw errors.FL_ERR_TARGET_PROTECTED(`namespace ${hit.join(', ')} is protected`, {
      issues: [{ path: '/namespaces', message: 'protected: set allowProtectedNamespaces: true to allow it' }],
    })
  if (!spec.requireOptIn) return
  for (const name of namespaces) {
    const ns = await cluster.call(`read namespace ${name}`, () => cluster.core.readNamespace({ name }))
    if (ns.metadata?.annotations?.[OPT_IN_ANNOTATION] !== 'enabled')
      throw errors.FL_ERR_TARGET_PROTECTED(`namespace ${name} has not opted in`, {
        issues: [
          { path: '/requireOptIn', message: `namespace ${name} lacks the annotation ${OPT_IN_ANNOTATION}: enabled` },
        ],
      })
  }
}

const byName = (a: { metadata?: { namespace?: string; name?: string } }, b: typeof a) =>
  `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`)

/** The pods a step acts on. A pod already going away (deletionTimestamp) is never picked. */
export async function selectPods(
  cluster: Cluster,
  spec: KubernetesTargetSpec,
  opts: SelectOptions,
): Promise<Selection<V1Pod>> {
  const labels = labelRequirements(spec)
  const annotations = spec.annotationSelector ? parseLabelSelector(spec.annotationSelector) : undefined
  const namespaces = [...new Set([...(spec.namespaces ?? []), ...Object.keys(spec.pods ?? {})])]
  await guardNamespaces(cluster, spec, namespaces, opts)
  const query = {
    labelSelector: labels.length ? formatSelector(labels) : undefined,
    fieldSelector: spec.fieldSelector,
  }
  const found: V1Pod[] = []
  for (const ns of namespaces) found.push(...(await cluster.listPods(ns, query)))
  const matched = found
    .filter((p) => !p.metadata?.deletionTimestamp)
    .filter((p) => !annotations || matchesSelector(annotations, p.metadata?.annotations))
    .filter((p) => !spec.pods || (spec.pods[p.metadata!.namespace!] ?? []).includes(p.metadata!.name!))
    .filter((p) => !spec.podPhases || spec.podPhases.includes((p.status?.phase ?? 'Unknown') as never))
    .sort(byName)
  const selected = selectByMode(matched, spec.mode ?? 'one', spec.value, opts.random)
  guardCount(spec, selected.length, 'pods')
  return {
    matched: matched.length,
    selected,
    refs: selected.map((p) => ({
      kind: 'Pod',
      namespace: p.metadata!.namespace,
      name: p.metadata!.name!,
      uid: p.metadata!.uid,
    })),
  }
}

export async function selectNodes(
  cluster: Cluster,
  spec: KubernetesTargetSpec,
  opts: SelectOptions,
): Promise<Selection<V1Node>> {
  const labels = labelRequirements(spec)
  let found: V1Node[]
  if (spec.nodes) {
    found = []
    for (const name of spec.nodes) {
      const n = await cluster.maybe(`read node ${name}`, () => cluster.core.readNode({ name }))
      if (n && matchesSelector(labels, n.metadata?.labels)) found.push(n)
    }
  } else found = await cluster.listNodes({ labelSelector: labels.length ? formatSelector(labels) : undefined })
  const matched = found.sort(byName)
  const selected = selectByMode(matched, spec.mode ?? 'one', spec.value, opts.random)
  guardCount(spec, selected.length, 'nodes')
  return {
    matched: matched.length,
    selected,
    refs: selected.map((n) => ({ kind: 'Node', name: n.metadata!.name!, uid: n.metadata!.uid })),
  }
}
