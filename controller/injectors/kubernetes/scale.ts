/**
 * scale: a named Deployment or StatefulSet is scaled to `replicas` for the step's duration, then
 * back to the count it had. The prior count is recorded on the workload itself
 * (`faultline.io/original`) in the same merge patch that changes `spec.replicas`, guarded by the
 * resourceVersion it was read at: there is no moment where the count changed but the workload
 * does not say what to restore, so a restarted controller reverts it from the workload alone.
 *
 * The plan reads the scale subresource (the workload exists and is scalable; the intent says
 * "from N"). Workloads in protected namespaces (kube-system, kube-public, kube-node-lease, the
 * controller's own) are refused: scaling coredns to 0 is not an experiment anyone means.
 * A HorizontalPodAutoscaler on the workload will fight the change; faultline does not pause it.
 */
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import { PROTECTED_NAMESPACES } from '../../../src/experiments/kubernetes-schema.ts'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import type { Cluster } from '../../drivers/kubernetes/cluster.ts'
import type { FaultRecord } from '../../experiments/journal.ts'
import { type Injector, sleep } from '../types.ts'
import { MERGE_PATCH } from '../../drivers/kubernetes/cluster.ts'
import { changeAspect, type ObjectAccess, restoreAspect } from './node-shared.ts'

type Spec = NonNullable<StepSpec['scale']>
type Workload = Spec['workload']

export const REPLICAS = 'replicas'

const describe = (w: Workload) => `${w.kind} ${w.namespace}/${w.name}`

function workloadAccess(cluster: Cluster, w: Workload): ObjectAccess<V1Deployment | V1StatefulSet> {
  const { name, namespace } = w
  return {
    what: describe(w),
    read: () =>
      cluster.maybe(`read ${describe(w)}`, () =>
        w.kind === 'Deployment'
          ? cluster.apps.readNamespacedDeployment({ name, namespace })
          : cluster.apps.readNamespacedStatefulSet({ name, namespace }),
      ),
    patch: (body) =>
      w.kind === 'Deployment'
        ? cluster.apps.patchNamespacedDeployment({ name, namespace, body }, MERGE_PATCH)
        : cluster.apps.patchNamespacedStatefulSet({ name, namespace, body }, MERGE_PATCH),
  }
}

/** The workload a record names (crash recovery has nothing else). */
function workloadOf(record: FaultRecord): Workload | undefined {
  const o = (record.objects ?? []).find((r) => r.kind === 'Deployment' || r.kind === 'StatefulSet')
  return o && o.namespace ? { kind: o.kind as Workload['kind'], namespace: o.namespace, name: o.name } : undefined
}

async function restore(cluster: Cluster, runId: string, w: Workload | undefined): Promise<string | undefined> {
  if (!w) return undefined
  let to: number | undefined
  const r = await restoreAspect<V1Deployment | V1StatefulSet, number>(
    workloadAccess(cluster, w),
    runId,
    REPLICAS,
    (_o, prior) => {
      to = prior
      return { replicas: prior }
    },
  )
  if (r === 'restored') return `${describe(w)} back to ${to} replica(s)`
  return r === 'gone' ? `${describe(w)} no longer exists` : `nothing left to revert on ${describe(w)}`
}

export const scale: Injector<Spec, undefined> = {
  step: 'scale',

  async plan(s, step, ctx) {
    const w = s.workload
    const protectedNs = new Set<string>([...PROTECTED_NAMESPACES, ...(ctx.ownNamespace ? [ctx.ownNamespace] : [])])
    if (protectedNs.has(w.namespace))
      throw errors.FL_ERR_TARGET_PROTECTED(`namespace ${w.namespace} is protected`, {
        issues: [
          { path: '/workload/namespace', message: 'faultline does not scale workloads in protected namespaces' },
        ],
      })
    const cluster = ctx.cluster()
    const current = await cluster.maybe(`read the scale of ${describe(w)}`, () =>
      w.kind === 'Deployment'
        ? cluster.apps.readNamespacedDeploymentScale({ name: w.name, namespace: w.namespace })
        : cluster.apps.readNamespacedStatefulSetScale({ name: w.name, namespace: w.namespace }),
    )
    if (!current)
      throw errors.FL_ERR_TARGET_UNRESOLVED(`${describe(w)} does not exist`, {
        issues: [{ path: '/workload', message: 'no such workload' }],
      })
    // A Scale's replicas is omitted when 0 (omitempty).
    const from = current.spec?.replicas ?? 0
    const record: FaultRecord = {
      id: '',
      kind: 'scale',
      step: step.label,
      target: describe(w),
      on: [`${w.namespace}/${w.name}`],
      objects: [{ kind: w.kind, namespace: w.namespace, name: w.name, uid: current.metadata?.uid }],
      intentAt: Date.now(),
    }
    return [
      {
        record,
        intent: `scale ${describe(w)} from ${from} to ${s.replicas} replica(s) for ${s.duration / 1000}s`,
        data: undefined,
      },
    ]
  },

  async apply({ record }, s, ctx) {
    const w = s.workload
    const r = await changeAspect<V1Deployment | V1StatefulSet, number>(
      workloadAccess(ctx.cluster(), w),
      ctx.runId,
      REPLICAS,
      (o) => {
        const prior = o.spec?.replicas ?? 1
        return prior === s.replicas
          ? { skip: `already at ${prior} replica(s)` }
          : { prior, spec: { replicas: s.replicas } }
      },
    )
    const detail = r.changed
      ? `${describe(w)} scaled from ${r.prior} to ${s.replicas} replica(s)`
      : `${describe(w)} left as it was: ${r.reason}`
    ctx.say(`  [fault] ${record.step}: ${detail} for ${s.duration / 1000}s`)
    return detail
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  revert: ({ record }, s, ctx) => restore(ctx.cluster(), ctx.runId, workloadOf(record) ?? s.workload),

  recover: (record, ctx) => restore(ctx.cluster(), ctx.runId, workloadOf(record)),
}
