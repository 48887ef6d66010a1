/**
 * A tiny control plane: the parts of kube-controller-manager, kube-scheduler and the kubelet the
 * fault tests depend on, run as one reconcile loop after every store change and every timer.
 *
 * - Deployment → ReplicaSet (named `<deploy>-<pod-template-hash>`) → Pods, with ownerReferences;
 *   a template change makes a new ReplicaSet and scales the old ones to 0 at once (no surge
 *   pacing: an approximation of RollingUpdate). A deleted or evicted pod is replaced as soon as it
 *   is terminating (new name, new uid), as the ReplicaSet controller does.
 * - StatefulSet keeps `<name>-0 … <name>-(N-1)`; OrderedReady creates one ordinal at a time once
 *   the lower ones are Running and Ready, and re-creates a deleted ordinal (same name, new uid)
 *   once the old pod is gone; scaling down removes the highest ordinal first.
 * - DaemonSet keeps one pod per eligible node (nodeSelector, taints) with the DaemonSet
 *   tolerations (unschedulable, not-ready, unreachable, pressure), so cordoned nodes keep theirs.
 * - Garbage collection: an object whose owners are all gone is deleted (Background propagation).
 * - Scheduler: a pod without spec.nodeName goes to the Ready, schedulable node whose taints it
 *   tolerates and whose labels match its nodeSelector, with the fewest pods (ties by name); none
 *   → PodScheduled=False, reason Unschedulable.
 * - Kubelet: a bound pod is Pending (ContainerCreating) for `readyDelayMs`, then Running with
 *   every container started and Ready (conditions, containerStatuses[].ready/started/restartCount);
 *   a container whose image contains `pauseImage` runs but is never ready (the pod-failure
 *   fault); an image change restarts that container (restartCount+1) and it is ready again
 *   `readyDelayMs` later; pods on a NotReady node are not ready. Graceful deletion removes the pod
 *   `terminationDelayMs` after it (capped by the grace period); grace 0 removes it at once.
 *   Ephemeral containers start after `readyDelayMs` and run until `terminateEphemeralContainer`.
 * - Node lifecycle: `spec.unschedulable` adds/removes the `node.kubernetes.io/unschedulable:NoSchedule`
 *   taint (TaintNodesByCondition); NoExecute taints evict pods that do not tolerate them
 *   (after tolerationSeconds when given). Mirror pods (annotation `kubernetes.io/config.mirror`)
 *   are re-created by their node's "kubelet" when deleted.
 * - Status of Deployments, ReplicaSets, StatefulSets, DaemonSets and PodDisruptionBudgets
 *   (currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods) is kept current.
 */
import { createHash } from 'node:crypto'
import { type ResourceDef, resourceByKey, resources } from './resources.ts'
import { matchesLabelSelectorObject } from './selectors.ts'
import { type KubeObject, type OwnerReference, type Store, clone, deepEqual, timestamp } from './store.ts'

export const R = {
  namespaces: resourceByKey('namespaces'),
  nodes: resourceByKey('nodes'),
  pods: resourceByKey('pods'),
  events: resourceByKey('events'),
  deployments: resourceByKey('apps/deployments'),
  replicasets: resourceByKey('apps/replicasets'),
  statefulsets: resourceByKey('apps/statefulsets'),
  daemonsets: resourceByKey('apps/daemonsets'),
  pdbs: resourceByKey('policy/poddisruptionbudgets'),
}

export interface ControllerOptions {
  readyDelayMs: number
  terminationDelayMs: number
  pauseImage: string
  nodeLifecycleTaints: boolean
  events: boolean
}

export const mirrorAnnotation = 'kubernetes.io/config.mirror'
/** A pod carrying this annotation ("true") keeps the status a test wrote: the fake kubelet leaves it alone. */
export const staticStatusAnnotation = 'fake-kube.faultline.io/static-status'
const unschedulableTaintKey = 'node.kubernetes.io/unschedulable'
const notReadyTaintKey = 'node.kubernetes.io/not-ready'
const unreachableTaintKey = 'node.kubernetes.io/unreachable'

interface ContainerRuntime {
  image: string
  restartCount: number
  /** When the current instance runs (ms); before that it is waiting in ContainerCreating. */
  startAt: number
  containerID: string
  lastState?: Record<string, unknown>
}

interface EphemeralRuntime {
  startAt: number
  containerID: string
  terminated?: { exitCode: number; finishedAt: string }
}

interface PodRuntime {
  containers: Map<string, ContainerRuntime>
  ephemeral: Map<string, EphemeralRuntime>
  podIP: string
  startTime: string
}

export interface Toleration {
  key?: string
  operator?: string
  value?: string
  effect?: string
  tolerationSeconds?: number
}

export interface Taint {
  key: string
  value?: string
  effect: string
  timeAdded?: string
}

export function tolerates(tolerations: Toleration[] | undefined, taint: Taint): Toleration | undefined {
  return (tolerations ?? []).find((t) => {
    if (t.effect && t.effect !== taint.effect) return false
    if (t.key && t.key !== taint.key) return false
    if ((t.operator ?? 'Equal') === 'Exists') return true
    return (t.value ?? '') === (taint.value ?? '')
  })
}

export function isPodReady(p: KubeObject): boolean {
  return (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
}

export function isTerminating(o: KubeObject): boolean {
  return Boolean(o.metadata.deletionTimestamp)
}

function isActivePod(p: KubeObject): boolean {
  return !isTerminating(p) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed'
}

export function isNodeReady(n: KubeObject | undefined): boolean {
  return Boolean(n && (n.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'))
}

export function controllerOf(o: KubeObject): OwnerReference | undefined {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller)
}

function ownerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion!,
    kind: owner.kind!,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  }
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

/** pod-template-hash: FNV-32a of the template, rand.SafeEncodeString'd, as the Deployment controller does. */
export function templateHash(template: unknown): string {
  let h = 0x811c9dc5
  for (const b of Buffer.from(stableJson(template))) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  return [...String(h)].map((c) => alphabet[c.charCodeAt(0) % alphabet.length]).join('')
}

/** Pod defaults the API server applies on create (defaulting plus the DefaultTolerationSeconds admission plugin). */
export function defaultPod(pod: KubeObject): void {
  const spec = (pod.spec ??= {})
  spec.restartPolicy ??= 'Always'
  spec.terminationGracePeriodSeconds ??= 30
  spec.dnsPolicy ??= 'ClusterFirst'
  spec.schedulerName ??= 'default-scheduler'
  spec.serviceAccountName ??= 'default'
  spec.securityContext ??= {}
  spec.enableServiceLinks ??= true
  spec.priority ??= 0
  spec.preemptionPolicy ??= 'PreemptLowerPriority'
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) defaultContainer(c)
  for (const c of spec.ephemeralContainers ?? []) defaultEphemeralContainer(c)
  const tol: Toleration[] = (spec.tolerations ??= [])
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!tol.some((t) => t.key === key && (t.effect === 'NoExecute' || !t.effect))) {
      tol.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 })
    }
  }
}

export function defaultContainer(c: any): void {
  const image = String(c.image ?? '')
  const tag = image.includes('@') ? 'digest' : (image.split('/').at(-1)!.split(':')[1] ?? 'latest')
  c.imagePullPolicy ??= tag === 'latest' ? 'Always' : 'IfNotPresent'
  c.terminationMessagePath ??= '/dev/termination-log'
  c.terminationMessagePolicy ??= 'File'
  c.resources ??= {}
}

/** Ephemeral containers get the container defaults but no resources (they may not have any). */
export function defaultEphemeralContainer(c: any): void {
  defaultContainer(c)
  if (Object.keys(c.resources).length === 0) delete c.resources
}

const daemonSetTolerations: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: unschedulableTaintKey, operator: 'Exists', effect: 'NoSchedule' },
]

/** GetScaledValueFromIntOrPercent */
function scaled(v: number | string, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v
  const m = /^(\d+)%$/.exec(v)
  if (!m) return Number(v) || 0
  const x = (Number(m[1]) * total) / 100
  return roundUp ? Math.ceil(x) : Math.floor(x)
}

export interface PdbFigures {
  expectedPods: number
  currentHealthy: number
  desiredHealthy: number
  disruptionsAllowed: number
}

export class Controllers {
  private readonly store: Store
  private readonly opts: ControllerOptions
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly runtime = new Map<string, PodRuntime>()
  private readonly mirrors = new Map<string, KubeObject>()
  private readonly taintSeen = new Map<string, number>()
  private readonly ipCounters = new Map<string, number>()
  /** desiredNumberScheduled per DaemonSet uid, from the last DaemonSet pass. */
  private readonly daemonDesired = new Map<string, number>()
  private pending = false
  private running = false
  private closed = false
  private readonly unsubscribe: () => void
  /** PDBs a test forces to refuse evictions: `ns/name`. */
  readonly blockedPdbs = new Set<string>()

  constructor(store: Store, opts: ControllerOptions) {
    this.store = store
    this.opts = { ...opts }
    this.unsubscribe = store.subscribe((e) => {
      if (e.type === 'DELETED' && e.resource === R.pods) this.podRemoved(e.object)
      if (e.type === 'ADDED' && e.resource === R.pods && e.object.metadata.annotations?.[mirrorAnnotation]) {
        this.mirrors.set(`${e.object.metadata.namespace}/${e.object.metadata.name}`, clone(e.object))
      }
      this.schedule()
    })
  }

  /** Changes delays from now on (a pod already waiting keeps its deadline). */
  setDelays(d: { readyDelayMs?: number; terminationDelayMs?: number }): void {
    if (d.readyDelayMs !== undefined) this.opts.readyDelayMs = d.readyDelayMs
    if (d.terminationDelayMs !== undefined) this.opts.terminationDelayMs = d.terminationDelayMs
  }

  close(): void {
    this.closed = true
    this.unsubscribe()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  /** Runs the loop soon (once, however many changes arrive meanwhile). */
  schedule(): void {
    if (this.pending || this.closed) return
    this.pending = true
    setImmediate(() => {
      this.pending = false
      this.reconcile()
    })
  }

  private after(ms: number, fn: () => void): void {
    if (this.closed) return
    const t = setTimeout(
      () => {
        this.timers.delete(t)
        if (!this.closed) fn()
      },
      Math.max(0, ms),
    )
    this.timers.add(t)
  }

  /** Every pass until nothing changes (bounded: a pass that keeps writing is a bug, not a loop). */
  reconcile(): void {
    if (this.closed || this.running) return
    this.running = true
    try {
      for (let i = 0; i < 25; i++) {
        const before = this.store.resourceVersion
        this.nodes()
        this.namespaces()
        this.garbageCollect()
        this.deployments()
        this.replicaSets()
        this.statefulSets()
        this.daemonSets()
        this.scheduler()
        this.taintEviction()
        this.kubelet()
        this.workloadStatus()
        this.pdbStatus()
        if (this.store.resourceVersion === before) break
      }
    } finally {
      this.running = false
    }
  }

  private write(r: ResourceDef, o: KubeObject): boolean {
    const before = this.store.peek(r, o.metadata.namespace, o.metadata.name!)?.metadata.resourceVersion
    const after = this.store.update(r, o).metadata.resourceVersion
    return before !== after
  }

  event(involved: KubeObject, reason: string, message: string, component: string, type = 'Normal'): void {
    if (!this.opts.events) return
    const namespace = involved.metadata.namespace ?? 'default'
    const ns = this.store.peek(R.namespaces, undefined, namespace)
    if (!ns || isTerminating(ns)) return
    const now = timestamp()
    this.store.create(R.events, {
      metadata: { name: `${involved.metadata.name}.${this.store.uid().replace(/-/g, '').slice(0, 16)}`, namespace },
      involvedObject: {
        kind: involved.kind,
        namespace: involved.metadata.namespace,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: involved.apiVersion,
        resourceVersion: involved.metadata.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      reportingComponent: component,
      reportingInstance: '',
    })
  }

  // -------------------------------------------------------------------------------------------
  // Deletion (shared by the API, the controllers and the garbage collector)

  /**
   * Deletes a pod as the API server and kubelet do together: grace 0, an unbound pod or a
   * finished pod go at once; otherwise deletionTimestamp is set and the pod is removed
   * `terminationDelayMs` later (capped by the grace period). Returns the pod's state afterwards.
   */
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): KubeObject | undefined {
    const pod = this.store.peek(R.pods, namespace, name)
    if (!pod) return undefined
    const grace = gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
    if (grace <= 0 || !pod.spec?.nodeName || finished) return this.finalize(R.pods, pod)
    const current = pod.metadata.deletionGracePeriodSeconds
    if (isTerminating(pod) && current !== undefined && current <= grace) return clone(pod)
    const next = clone(pod)
    next.metadata.deletionTimestamp = timestamp(Date.now() + grace * 1000)
    next.metadata.deletionGracePeriodSeconds = grace
    const updated = this.store.update(R.pods, next)
    if (!isTerminating(pod)) {
      for (const c of pod.spec?.containers ?? []) this.event(pod, 'Killing', `Stopping container ${c.name}`, 'kubelet')
    }
    const uid = pod.metadata.uid
    this.after(Math.min(this.opts.terminationDelayMs, grace * 1000), () => {
      const cur = this.store.peek(R.pods, namespace, name)
      if (cur && cur.metadata.uid === uid) this.finalize(R.pods, cur)
    })
    return updated
  }

  /** Removes an object now, unless finalizers hold it (then it keeps a deletionTimestamp). */
  finalize(r: ResourceDef, o: KubeObject): KubeObject | undefined {
    if ((o.metadata.finalizers ?? []).length > 0) {
      if (isTerminating(o)) return clone(o)
      const next = clone(o)
      next.metadata.deletionTimestamp = timestamp()
      next.metadata.deletionGracePeriodSeconds = 0
      return this.store.update(r, next)
    }
    return this.store.delete(r, o.metadata.namespace, o.metadata.name!)
  }

  /** DELETE for any resource: pods via deletePod, namespaces become Terminating, others go now. */
  deleteObject(
    r: ResourceDef,
    namespace: string | undefined,
    name: string,
    opts: { gracePeriodSeconds?: number; propagationPolicy?: string } = {},
  ): KubeObject | undefined {
    const o = this.store.peek(r, namespace, name)
    if (!o) return undefined
    if (opts.propagationPolicy === 'Orphan') this.orphanDependents(o.metadata.uid!)
    if (r === R.pods) return this.deletePod(namespace!, name, opts.gracePeriodSeconds)
    if (r === R.namespaces) {
      if (isTerminating(o)) return clone(o)
      const next = clone(o)
      next.metadata.deletionTimestamp = timestamp()
      next.status = { ...next.status, phase: 'Terminating' }
      const updated = this.store.update(r, next)
      this.schedule()
      return updated
    }
    return this.finalize(r, o)
  }

  private orphanDependents(uid: string): void {
    for (const r of resources) {
      for (const o of this.store.peekList(r)) {
        const refs = o.metadata.ownerReferences ?? []
        if (!refs.some((x) => x.uid === uid)) continue
        const next = clone(o)
        next.metadata.ownerReferences = refs.filter((x) => x.uid !== uid)
        if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences
        this.store.update(r, next)
      }
    }
  }

  /** Kubelet re-creates a deleted mirror pod (static pods cannot be deleted through the API). */
  private podRemoved(pod: KubeObject): void {
    this.runtime.delete(pod.metadata.uid!)
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`
    const template = this.mirrors.get(key)
    if (!template || template.metadata.uid !== pod.metadata.uid) return
    this.after(this.opts.readyDelayMs, () => {
      const node = this.store.peek(R.nodes, undefined, template.spec?.nodeName)
      const ns = this.store.peek(R.namespaces, undefined, template.metadata.namespace!)
      if (!node || !ns || isTerminating(ns)) return
      if (this.store.peek(R.pods, template.metadata.namespace, template.metadata.name!)) return
      const fresh = clone(template)
      fresh.metadata = {
        name: template.metadata.name,
        namespace: template.metadata.namespace,
        labels: template.metadata.labels,
        annotations: template.metadata.annotations,
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Node', name: node.metadata.name!, uid: node.metadata.uid!, controller: true },
        ],
      }
      fresh.status = { phase: 'Pending', qosClass: template.status?.qosClass ?? 'BestEffort' }
      this.store.create(R.pods, fresh)
    })
  }

  // -------------------------------------------------------------------------------------------
  // Nodes and namespaces

  private nodes(): void {
    let index = 0
    for (const node of this.store.peekList(R.nodes)) {
      index++
      const next = clone(node)
      const spec = (next.spec ??= {})
      const status = (next.status ??= {})
      next.metadata.labels = {
        'kubernetes.io/hostname': node.metadata.name!,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        ...next.metadata.labels,
      }
      if (!status.conditions?.some((c: any) => c.type === 'Ready')) {
        const now = timestamp()
        status.conditions = [
          ...(status.conditions ?? []),
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'kubelet is posting ready status',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ]
      }
      status.addresses ??= [
        { type: 'InternalIP', address: `10.0.0.${index + 10}` },
        { type: 'Hostname', address: node.metadata.name },
      ]
      status.capacity ??= { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' }
      status.allocatable ??= { ...status.capacity }
      status.nodeInfo ??= {
        architecture: 'amd64',
        operatingSystem: 'linux',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        kernelVersion: '6.1.0',
        containerRuntimeVersion: 'containerd://1.7.0',
        kubeletVersion: 'v1.33.0',
        kubeProxyVersion: 'v1.33.0',
      }
      if (this.opts.nodeLifecycleTaints) {
        // TaintNodesByCondition and the node lifecycle controller: the taints follow spec.unschedulable and Ready.
        const ready = (status.conditions ?? []).find((c: any) => c.type === 'Ready')?.status
        const wanted: Taint[] = []
        if (spec.unschedulable) wanted.push({ key: unschedulableTaintKey, effect: 'NoSchedule' })
        const condKey = ready === 'False' ? notReadyTaintKey : ready === 'Unknown' ? unreachableTaintKey : undefined
        if (condKey) wanted.push({ key: condKey, effect: 'NoSchedule' }, { key: condKey, effect: 'NoExecute' })
        const managed = new Set([unschedulableTaintKey, notReadyTaintKey, unreachableTaintKey])
        const same = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect
        const taints: Taint[] = (spec.taints ?? []).filter(
          (t: Taint) => !managed.has(t.key) || wanted.some((w) => same(w, t)),
        )
        for (const w of wanted) if (!taints.some((t) => same(t, w))) taints.push({ ...w, timeAdded: timestamp() })
        if (taints.length > 0) spec.taints = taints
        else delete spec.taints
      }
      this.write(R.nodes, next)
    }
  }

  private namespaces(): void {
    for (const ns of this.store.peekList(R.namespaces)) {
      if (isTerminating(ns)) {
        this.drainNamespace(ns)
        continue
      }
      const next = clone(ns)
      next.metadata.labels = { ...next.metadata.labels, 'kubernetes.io/metadata.name': ns.metadata.name! }
      next.spec = { finalizers: ['kubernetes'], ...next.spec }
      next.status = { phase: 'Active', ...next.status }
      this.write(R.namespaces, next)
    }
  }

  /** The namespace controller: delete everything inside, then the namespace. */
  private drainNamespace(ns: KubeObject): void {
    const name = ns.metadata.name!
    let remaining = 0
    for (const r of resources) {
      if (!r.namespaced) continue
      for (const o of this.store.peekList(r, name)) {
        remaining++
        if (r === R.pods) this.deletePod(name, o.metadata.name!)
        else if (!isTerminating(o)) this.finalize(r, o)
      }
    }
    if (remaining === 0) this.store.delete(R.namespaces, undefined, name)
  }

  // -------------------------------------------------------------------------------------------
  // Garbage collector

  private garbageCollect(): void {
    const uids = new Set<string>()
    const all: [ResourceDef, KubeObject][] = []
    for (const r of resources) {
      for (const o of this.store.peekList(r)) {
        uids.add(o.metadata.uid!)
        all.push([r, o])
      }
    }
    // PodGC: pods bound to a node that no longer exists are deleted (without its 40 s quarantine).
    const nodes = new Set(this.store.peekList(R.nodes).map((n) => n.metadata.name))
    for (const p of this.store.peekList(R.pods)) {
      if (p.spec?.nodeName && !nodes.has(p.spec.nodeName)) this.finalize(R.pods, p)
    }
    for (const [r, o] of all) {
      if (!this.store.peek(r, o.metadata.namespace, o.metadata.name!)) continue
      const refs = o.metadata.ownerReferences ?? []
      if (refs.length === 0 || refs.some((x) => uids.has(x.uid)) || isTerminating(o)) continue
      if (r === R.pods) this.deletePod(o.metadata.namespace!, o.metadata.name!)
      else this.finalize(r, o)
    }
  }

  private owned(r: ResourceDef, namespace: string, ownerUid: string): KubeObject[] {
    return this.store.peekList(r, namespace).filter((o) => controllerOf(o)?.uid === ownerUid)
  }

  // -------------------------------------------------------------------------------------------
  // Deployments and ReplicaSets

  private deployments(): void {
    for (const d of this.store.peekList(R.deployments)) {
      if (isTerminating(d)) continue
      const ns = d.metadata.namespace!
      const template = stripNulls(clone(d.spec?.template ?? {}))
      const hash = templateHash(template)
      const replicas = d.spec?.replicas ?? 1
      const owned = this.owned(R.replicasets, ns, d.metadata.uid!)
      const revision = Math.max(0, ...owned.map(revisionOf))
      let current = currentReplicaSet(d, owned)
      if (!current) {
        template.metadata = {
          ...template.metadata,
          labels: { ...template.metadata?.labels, 'pod-template-hash': hash },
        }
        const rsName = `${d.metadata.name}-${hash}`
        current = this.store.create(R.replicasets, {
          metadata: {
            name: rsName,
            namespace: ns,
            labels: template.metadata.labels,
            annotations: {
              'deployment.kubernetes.io/desired-replicas': String(replicas),
              'deployment.kubernetes.io/max-replicas': String(replicas),
              'deployment.kubernetes.io/revision': String(revision + 1),
            },
            ownerReferences: [ownerRef(d)],
          },
          spec: {
            replicas,
            selector: {
              ...d.spec?.selector,
              matchLabels: { ...d.spec?.selector?.matchLabels, 'pod-template-hash': hash },
            },
            template,
          },
        })
        this.event(
          d,
          'ScalingReplicaSet',
          `Scaled up replica set ${rsName} from 0 to ${replicas}`,
          'deployment-controller',
        )
      } else if (revisionOf(current) < revision) {
        // A rollback to an older template re-uses its ReplicaSet as the newest revision.
        const next = clone(current)
        next.metadata.annotations = {
          ...next.metadata.annotations,
          'deployment.kubernetes.io/revision': String(revision + 1),
        }
        current = this.store.update(R.replicasets, next)
      }
      const name = current.metadata.name!
      const rev = current.metadata.annotations?.['deployment.kubernetes.io/revision']
      for (const rs of [...owned.filter((x) => x.metadata.name !== name), current]) {
        const isCurrent = rs.metadata.name === name
        const want = isCurrent ? replicas : 0
        const from = rs.spec?.replicas ?? 0
        const next = clone(rs)
        next.spec = { ...next.spec, replicas: want }
        if (isCurrent) {
          next.metadata.annotations = {
            ...next.metadata.annotations,
            'deployment.kubernetes.io/desired-replicas': String(replicas),
            'deployment.kubernetes.io/max-replicas': String(replicas),
          }
        }
        if (this.write(R.replicasets, next) && from !== want) {
          const verb = want > from ? 'up' : 'down'
          this.event(
            d,
            'ScalingReplicaSet',
            `Scaled ${verb} replica set ${rs.metadata.name} from ${from} to ${want}`,
            'deployment-controller',
          )
        }
      }
      if (rev && d.metadata.annotations?.['deployment.kubernetes.io/revision'] !== rev) {
        const next = clone(d)
        next.metadata.annotations = { ...next.metadata.annotations, 'deployment.kubernetes.io/revision': rev }
        this.write(R.deployments, next)
      }
    }
  }

  private replicaSets(): void {
    for (const rs of this.store.peekList(R.replicasets)) {
      if (isTerminating(rs)) continue
      const ns = rs.metadata.namespace!
      const active = this.owned(R.pods, ns, rs.metadata.uid!).filter(isActivePod)
      const want = rs.spec?.replicas ?? 1
      for (let i = active.length; i < want; i++) {
        const pod = this.podFromTemplate(rs, { generateName: `${rs.metadata.name}-` })
        const created = this.store.create(R.pods, pod)
        this.event(rs, 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, 'replicaset-controller')
      }
      if (active.length > want) {
        // controller.ActivePods ordering: unscheduled, pending, not ready, then the newest first.
        const rank = (p: KubeObject) =>
          (p.spec?.nodeName ? 0 : 4) + (p.status?.phase === 'Pending' ? 2 : 0) + (isPodReady(p) ? 0 : 1)
        const victims = [...active]
          .sort(
            (a, b) =>
              rank(b) - rank(a) ||
              (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') ||
              Number(b.metadata.resourceVersion) - Number(a.metadata.resourceVersion),
          )
          .slice(0, active.length - want)
        for (const p of victims) {
          this.deletePod(ns, p.metadata.name!)
          this.event(rs, 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, 'replicaset-controller')
        }
      }
    }
  }

  private podFromTemplate(owner: KubeObject, meta: { name?: string; generateName?: string }): KubeObject {
    const template = clone(owner.spec?.template ?? {})
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...meta,
        namespace: owner.metadata.namespace,
        labels: template.metadata?.labels,
        annotations: template.metadata?.annotations,
        ownerReferences: [ownerRef(owner)],
      },
      spec: template.spec ?? { containers: [] },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    }
    if (!pod.metadata.labels) delete pod.metadata.labels
    if (!pod.metadata.annotations) delete pod.metadata.annotations
    defaultPod(pod)
    return pod
  }

  // -------------------------------------------------------------------------------------------
  // StatefulSets

  private statefulSets(): void {
    for (const sts of this.store.peekList(R.statefulsets)) {
      if (isTerminating(sts)) continue
      const ns = sts.metadata.namespace!
      const name = sts.metadata.name!
      const want = sts.spec?.replicas ?? 1
      const parallel = sts.spec?.podManagementPolicy === 'Parallel'
      const revision = `${name}-${templateHash(sts.spec?.template ?? {})}`
      const pods = this.owned(R.pods, ns, sts.metadata.uid!)
      const byOrdinal = new Map<number, KubeObject>()
      for (const p of pods) {
        const m = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`).exec(p.metadata.name!)
        if (m) byOrdinal.set(Number(m[1]), p)
      }
      for (let i = 0; i < want; i++) {
        const p = byOrdinal.get(i)
        if (p) {
          if (!parallel && (isTerminating(p) || !isPodReady(p))) break
          continue
        }
        if (this.store.peek(R.pods, ns, `${name}-${i}`)) break // someone else's pod holds the name
        const pod = this.podFromTemplate(sts, { name: `${name}-${i}` })
        pod.metadata.labels = {
          ...pod.metadata.labels,
          'apps.kubernetes.io/pod-index': String(i),
          'controller-revision-hash': revision,
          'statefulset.kubernetes.io/pod-name': `${name}-${i}`,
        }
        pod.spec.hostname = `${name}-${i}`
        if (sts.spec?.serviceName) pod.spec.subdomain = sts.spec.serviceName
        this.store.create(R.pods, pod)
        this.event(
          sts,
          'SuccessfulCreate',
          `create Pod ${name}-${i} in StatefulSet ${name} successful`,
          'statefulset-controller',
        )
        if (!parallel) break
      }
      const extra = [...byOrdinal.entries()].filter(([i]) => i >= want).sort(([a], [b]) => b - a)
      for (const [, p] of extra) {
        if (isTerminating(p)) {
          if (!parallel) break
          continue
        }
        this.deletePod(ns, p.metadata.name!)
        this.event(
          sts,
          'SuccessfulDelete',
          `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`,
          'statefulset-controller',
        )
        if (!parallel) break
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // DaemonSets

  private daemonSets(): void {
    const nodes = this.store.peekList(R.nodes)
    for (const ds of this.store.peekList(R.daemonsets)) {
      if (isTerminating(ds)) continue
      const ns = ds.metadata.namespace!
      const template = ds.spec?.template?.spec ?? {}
      const tolerations: Toleration[] = [...(template.tolerations ?? []), ...daemonSetTolerations]
      // nodeShouldRunDaemonPod: a new pod needs NoSchedule and NoExecute taints tolerated; a running
      // one stays unless a NoExecute taint is not tolerated (a NoSchedule taint added later keeps it).
      const tolerated = (n: KubeObject, effects: string[]) =>
        ((n.spec?.taints ?? []) as Taint[])
          .filter((t) => effects.includes(t.effect))
          .every((t) => tolerates(tolerations, t))
      const selected = nodes.filter((n) => matchesNodeSelector(n, template.nodeSelector))
      const eligible = new Set(
        selected.filter((n) => tolerated(n, ['NoSchedule', 'NoExecute'])).map((n) => n.metadata.name!),
      )
      const keep = new Set(selected.filter((n) => tolerated(n, ['NoExecute'])).map((n) => n.metadata.name!))
      const pods = this.owned(R.pods, ns, ds.metadata.uid!)
      const desired = [...keep].filter((n) => eligible.has(n) || pods.some((p) => p.spec?.nodeName === n))
      this.daemonDesired.set(ds.metadata.uid!, desired.length)
      for (const node of keep) {
        const here = pods.filter((p) => p.spec?.nodeName === node)
        if (here.length > 0 || !eligible.has(node)) {
          for (const p of here.filter(isActivePod).slice(1)) this.deletePod(ns, p.metadata.name!)
          continue
        }
        const pod = this.podFromTemplate(ds, { generateName: `${ds.metadata.name}-` })
        pod.spec.nodeName = node
        pod.spec.tolerations = [
          ...(pod.spec.tolerations ?? []).filter((t: Toleration) => !daemonSetTolerations.some((d) => d.key === t.key)),
          ...daemonSetTolerations,
        ]
        pod.metadata.labels = {
          ...pod.metadata.labels,
          'controller-revision-hash': templateHash(ds.spec?.template ?? {}),
        }
        const created = this.store.create(R.pods, pod)
        this.event(ds, 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, 'daemonset-controller')
      }
      for (const p of pods) {
        if (!keep.has(p.spec?.nodeName) && !isTerminating(p)) this.deletePod(ns, p.metadata.name!)
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Scheduler, taint eviction, kubelet

  private scheduler(): void {
    const nodes = this.store.peekList(R.nodes)
    const load = new Map<string, number>()
    for (const p of this.store.peekList(R.pods)) {
      if (p.spec?.nodeName && !isTerminating(p)) load.set(p.spec.nodeName, (load.get(p.spec.nodeName) ?? 0) + 1)
    }
    for (const pod of this.store.peekList(R.pods)) {
      if (pod.spec?.nodeName || isTerminating(pod)) continue
      const tolerations: Toleration[] = pod.spec?.tolerations ?? []
      const fits = nodes.filter((n) => {
        if (!isNodeReady(n)) return false
        if (n.spec?.unschedulable && !tolerates(tolerations, { key: unschedulableTaintKey, effect: 'NoSchedule' })) {
          return false
        }
        const blocking = ((n.spec?.taints ?? []) as Taint[]).filter(
          (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute',
        )
        return blocking.every((t) => tolerates(tolerations, t)) && matchesNodeSelector(n, pod.spec?.nodeSelector)
      })
      const next = clone(pod)
      const status = (next.status ??= {})
      if (fits.length === 0) {
        const message = `0/${nodes.length} nodes are available: ${nodes.length} node(s) didn't match Pod's node affinity/selector, were unschedulable or had untolerated taints.`
        status.conditions = [
          {
            type: 'PodScheduled',
            status: 'False',
            lastProbeTime: null,
            lastTransitionTime:
              pod.status?.conditions?.find((c: any) => c.type === 'PodScheduled')?.lastTransitionTime ?? timestamp(),
            reason: 'Unschedulable',
            message,
          },
        ]
        status.phase = 'Pending'
        this.write(R.pods, next)
        continue
      }
      fits.sort(
        (a, b) =>
          (load.get(a.metadata.name!) ?? 0) - (load.get(b.metadata.name!) ?? 0) ||
          a.metadata.name!.localeCompare(b.metadata.name!),
      )
      const node = fits[0]!.metadata.name!
      load.set(node, (load.get(node) ?? 0) + 1)
      next.spec.nodeName = node
      status.conditions = [
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: timestamp() },
      ]
      this.write(R.pods, next)
      this.event(
        next,
        'Scheduled',
        `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`,
        'default-scheduler',
      )
    }
  }

  private taintEviction(): void {
    const now = Date.now()
    const nodes = new Map(this.store.peekList(R.nodes).map((n) => [n.metadata.name!, n]))
    for (const pod of this.store.peekList(R.pods)) {
      if (!pod.spec?.nodeName || isTerminating(pod)) continue
      const node = nodes.get(pod.spec.nodeName)
      if (!node) continue
      for (const taint of ((node.spec?.taints ?? []) as Taint[]).filter((t) => t.effect === 'NoExecute')) {
        const tol = tolerates(pod.spec?.tolerations, taint)
        if (tol && tol.tolerationSeconds === undefined) continue
        let deadline = now
        if (tol) {
          const key = `${pod.metadata.uid}|${taint.key}|${taint.value ?? ''}`
          const since = taint.timeAdded ? Date.parse(taint.timeAdded) : (this.taintSeen.get(key) ?? now)
          this.taintSeen.set(key, since)
          deadline = since + Math.max(0, tol.tolerationSeconds!) * 1000
        }
        if (deadline <= now) {
          this.event(
            pod,
            'TaintManagerEviction',
            `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`,
            'taint-eviction-controller',
          )
          this.deletePod(pod.metadata.namespace!, pod.metadata.name!)
          break
        }
        this.after(deadline - now, () => this.schedule())
      }
    }
  }

  private isPause(image: string | undefined): boolean {
    return Boolean(image && this.opts.pauseImage && image.includes(this.opts.pauseImage))
  }

  private allocateIp(node: KubeObject | undefined): string {
    const nodes = this.store.peekList(R.nodes)
    const subnet =
      Math.max(
        0,
        nodes.findIndex((n) => n.metadata.name === node?.metadata.name),
      ) + 1
    const n = (this.ipCounters.get(String(subnet)) ?? 1) + 1
    this.ipCounters.set(String(subnet), n)
    // Loopback, not the usual 10.244.0.0/16: tests may only ever send traffic to 127.0.0.0/8, so
    // code that wrongly connects to a pod IP fails fast and harmlessly on this machine.
    return `127.244.${subnet}.${n % 254 || 254}`
  }

  private containerID(): string {
    return `containerd://${createHash('sha256').update(this.store.uid()).digest('hex')}`
  }

  /** Marks an ephemeral container as exited (the fake cannot run its command). */
  terminateEphemeralContainer(namespace: string, pod: string, container: string, exitCode: number): void {
    const p = this.store.peek(R.pods, namespace, pod)
    const e = p && this.runtime.get(p.metadata.uid!)?.ephemeral.get(container)
    if (!e) throw new Error(`fake-kube: pod ${namespace}/${pod} has no started ephemeral container ${container}`)
    e.terminated = { exitCode, finishedAt: timestamp() }
    this.schedule()
  }

  private kubelet(): void {
    const now = Date.now()
    const nodes = new Map(this.store.peekList(R.nodes).map((n) => [n.metadata.name!, n]))
    for (const pod of this.store.peekList(R.pods)) {
      if (!pod.spec?.nodeName || isTerminating(pod)) continue
      if (pod.metadata.annotations?.[staticStatusAnnotation] === 'true') continue
      const node = nodes.get(pod.spec.nodeName)
      if (!node) continue
      const nodeReady = isNodeReady(node)
      let rt = this.runtime.get(pod.metadata.uid!)
      if (!rt) {
        rt = {
          containers: new Map(),
          ephemeral: new Map(),
          podIP: pod.status?.podIP ?? this.allocateIp(node),
          startTime: pod.status?.startTime ?? timestamp(),
        }
        this.runtime.set(pod.metadata.uid!, rt)
      }
      const containerStatus = (c: any, init: boolean) => {
        let cr = rt.containers.get(c.name)
        if (!cr) {
          cr = {
            image: c.image,
            restartCount: 0,
            startAt: now + this.opts.readyDelayMs,
            containerID: this.containerID(),
          }
          rt.containers.set(c.name, cr)
          this.after(this.opts.readyDelayMs, () => this.schedule())
        } else if (cr.image !== c.image) {
          const finishedAt = timestamp()
          cr.lastState = {
            terminated: {
              exitCode: 137,
              reason: 'Error',
              startedAt: timestamp(cr.startAt),
              finishedAt,
              containerID: cr.containerID,
            },
          }
          cr.image = c.image
          cr.restartCount++
          cr.startAt = now + this.opts.readyDelayMs
          cr.containerID = this.containerID()
          this.after(this.opts.readyDelayMs, () => this.schedule())
        }
        const running = now >= cr.startAt
        const sidecar = init && c.restartPolicy === 'Always'
        const status: Record<string, unknown> = {
          name: c.name,
          image: c.image,
          imageID: running
            ? `docker.io/library/${String(c.image).split(':')[0]}@sha256:${createHash('sha256').update(String(c.image)).digest('hex')}`
            : '',
          containerID: running ? cr.containerID : undefined,
          ready: running && nodeReady && !this.isPause(c.image) && (!init || sidecar),
          restartCount: cr.restartCount,
          started: running && (!init || sidecar),
          lastState: cr.lastState ?? {},
          state: running
            ? init && !sidecar
              ? {
                  terminated: {
                    exitCode: 0,
                    reason: 'Completed',
                    startedAt: timestamp(cr.startAt),
                    finishedAt: timestamp(cr.startAt),
                    containerID: cr.containerID,
                  },
                }
              : { running: { startedAt: timestamp(cr.startAt) } }
            : { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } },
        }
        if (status.containerID === undefined) delete status.containerID
        return status
      }
      const initContainers: any[] = pod.spec.initContainers ?? []
      const initStatuses: Record<string, any>[] = initContainers.map((c) => containerStatus(c, true))
      const statuses: Record<string, any>[] = (pod.spec.containers ?? []).map((c: any) => containerStatus(c, false))
      const ephemeral = (pod.spec.ephemeralContainers ?? []).map((c: any) => {
        let er = rt.ephemeral.get(c.name)
        if (!er) {
          er = { startAt: now + this.opts.readyDelayMs, containerID: this.containerID() }
          rt.ephemeral.set(c.name, er)
          this.after(this.opts.readyDelayMs, () => this.schedule())
        }
        const running = now >= er.startAt
        const state = er.terminated
          ? {
              terminated: {
                exitCode: er.terminated.exitCode,
                reason: er.terminated.exitCode === 0 ? 'Completed' : 'Error',
                startedAt: timestamp(er.startAt),
                finishedAt: er.terminated.finishedAt,
                containerID: er.containerID,
              },
            }
          : running
            ? { running: { startedAt: timestamp(er.startAt) } }
            : { waiting: { reason: 'ContainerCreating' } }
        return { name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, state, lastState: {} }
      })
      const everyStarted = statuses.every((s) => s.started === true)
      const sidecars = initStatuses.filter((_, i) => initContainers[i].restartPolicy === 'Always')
      const everyReady = [...statuses, ...sidecars].every((s) => s.ready === true)
      const initsDone = initStatuses.every((s) => s.state.terminated || s.started)
      const old = pod.status ?? {}
      const cond = (type: string, ok: boolean) => {
        const prev = (old.conditions ?? []).find((c: any) => c.type === type)
        const status = ok ? 'True' : 'False'
        const c: Record<string, unknown> = {
          type,
          status,
          lastProbeTime: null,
          lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : timestamp(),
        }
        if (!ok && (type === 'Ready' || type === 'ContainersReady')) {
          const notReady = statuses.filter((s) => !s.ready).map((s) => s.name)
          c.reason = 'ContainersNotReady'
          c.message = `containers with unready status: [${notReady.join(' ')}]`
        }
        return c
      }
      const wasRunning = old.phase === 'Running'
      const status: Record<string, any> = {
        ...old,
        phase: wasRunning || (everyStarted && statuses.length > 0) ? 'Running' : 'Pending',
        conditions: [
          cond('PodReadyToStartContainers', true),
          cond('Initialized', initsDone),
          cond('Ready', everyStarted && everyReady),
          cond('ContainersReady', everyStarted && everyReady),
          cond('PodScheduled', true),
        ],
        hostIP: node.status?.addresses?.find((a: any) => a.type === 'InternalIP')?.address,
        hostIPs: [{ ip: node.status?.addresses?.find((a: any) => a.type === 'InternalIP')?.address }],
        podIP: rt.podIP,
        podIPs: [{ ip: rt.podIP }],
        startTime: rt.startTime,
        containerStatuses: statuses,
        qosClass: old.qosClass ?? 'BestEffort',
      }
      if (initStatuses.length) status.initContainerStatuses = initStatuses
      else delete status.initContainerStatuses
      if (ephemeral.length) status.ephemeralContainerStatuses = ephemeral
      else delete status.ephemeralContainerStatuses
      if (pod.spec.hostNetwork) {
        status.podIP = status.hostIP
        status.podIPs = status.hostIPs
      }
      if (deepEqual(status, old)) continue
      const next = clone(pod)
      next.status = status
      this.write(R.pods, next)
    }
  }

  // -------------------------------------------------------------------------------------------
  // Workload and PDB status

  private workloadStatus(): void {
    for (const rs of this.store.peekList(R.replicasets)) {
      const pods = this.owned(R.pods, rs.metadata.namespace!, rs.metadata.uid!).filter(isActivePod)
      const ready = pods.filter(isPodReady).length
      const next = clone(rs)
      next.status = {
        replicas: pods.length,
        fullyLabeledReplicas: pods.filter((p) => matchesLabelSelectorObject(p.metadata.labels, rs.spec?.selector))
          .length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: rs.metadata.generation,
      }
      this.write(R.replicasets, next)
    }
    for (const d of this.store.peekList(R.deployments)) {
      const owned = this.owned(R.replicasets, d.metadata.namespace!, d.metadata.uid!)
      const current = currentReplicaSet(d, owned)
      const sum = (f: string) => owned.reduce((n, rs) => n + (rs.status?.[f] ?? 0), 0)
      const replicas = d.spec?.replicas ?? 1
      const available = sum('availableReplicas')
      const maxUnavailable = scaled(d.spec?.strategy?.rollingUpdate?.maxUnavailable ?? '25%', replicas, false)
      const complete = (current?.status?.availableReplicas ?? 0) >= replicas && sum('replicas') === replicas
      const old = d.status ?? {}
      const cond = (type: string, ok: boolean, reason: string, message: string) => {
        const prev = (old.conditions ?? []).find((c: any) => c.type === type)
        const status = ok ? 'True' : 'False'
        const same = prev && prev.status === status && prev.reason === reason
        return {
          type,
          status,
          lastUpdateTime: same ? prev.lastUpdateTime : timestamp(),
          lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : timestamp(),
          reason,
          message,
        }
      }
      const status: Record<string, unknown> = {
        observedGeneration: d.metadata.generation,
        replicas: sum('replicas'),
        updatedReplicas: current?.status?.replicas ?? 0,
        readyReplicas: sum('readyReplicas'),
        availableReplicas: available,
        unavailableReplicas: Math.max(0, replicas - available),
        conditions: [
          available >= replicas - maxUnavailable
            ? cond('Available', true, 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
            : cond('Available', false, 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
          complete
            ? cond(
                'Progressing',
                true,
                'NewReplicaSetAvailable',
                `ReplicaSet "${current?.metadata.name}" has successfully progressed.`,
              )
            : cond('Progressing', true, 'ReplicaSetUpdated', `ReplicaSet "${current?.metadata.name}" is progressing.`),
        ],
      }
      for (const k of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']) {
        if (status[k] === 0) delete status[k] // omitempty, as the Go type serialises
      }
      const next = clone(d)
      next.status = status
      this.write(R.deployments, next)
    }
    for (const sts of this.store.peekList(R.statefulsets)) {
      const pods = this.owned(R.pods, sts.metadata.namespace!, sts.metadata.uid!)
      const ready = pods.filter((p) => !isTerminating(p) && isPodReady(p)).length
      const revision = `${sts.metadata.name}-${templateHash(sts.spec?.template ?? {})}`
      const next = clone(sts)
      next.status = {
        observedGeneration: sts.metadata.generation,
        replicas: pods.length,
        readyReplicas: ready,
        currentReplicas: pods.length,
        updatedReplicas: pods.length,
        availableReplicas: ready,
        currentRevision: revision,
        updateRevision: revision,
        collisionCount: 0,
      }
      this.write(R.statefulsets, next)
    }
    for (const ds of this.store.peekList(R.daemonsets)) {
      const pods = this.owned(R.pods, ds.metadata.namespace!, ds.metadata.uid!).filter((p) => !isTerminating(p))
      const ready = pods.filter(isPodReady).length
      const next = clone(ds)
      next.status = {
        currentNumberScheduled: pods.length,
        numberMisscheduled: 0,
        desiredNumberScheduled: this.daemonDesired.get(ds.metadata.uid!) ?? pods.length,
        numberReady: ready,
        observedGeneration: ds.metadata.generation,
        updatedNumberScheduled: pods.length,
        numberAvailable: ready,
        numberUnavailable: (this.daemonDesired.get(ds.metadata.uid!) ?? pods.length) - ready,
      }
      if (next.status.numberUnavailable === 0) delete next.status.numberUnavailable
      this.write(R.daemonsets, next)
    }
  }

  /** The controller's scale for a pod (getExpectedScale): a Deployment's or StatefulSet's replicas. */
  private expectedScale(pods: KubeObject[]): number {
    const seen = new Map<string, number>()
    for (const p of pods) {
      const ref = controllerOf(p)
      if (!ref) {
        seen.set(p.metadata.uid!, 1)
        continue
      }
      const owner = this.store.findByUid(ref.uid)?.object
      if (!owner) continue
      const top =
        owner.kind === 'ReplicaSet' && controllerOf(owner)
          ? (this.store.findByUid(controllerOf(owner)!.uid)?.object ?? owner)
          : owner
      const n = top.kind === 'DaemonSet' ? (top.status?.desiredNumberScheduled ?? 0) : (top.spec?.replicas ?? 1)
      seen.set(top.metadata.uid!, n)
    }
    return [...seen.values()].reduce((a, b) => a + b, 0)
  }

  /** The disruption controller's arithmetic for one PDB, computed from the live pods. */
  pdbFigures(pdb: KubeObject): PdbFigures {
    const pods = this.store
      .peekList(R.pods, pdb.metadata.namespace)
      .filter((p) => matchesLabelSelectorObject(p.metadata.labels, pdb.spec?.selector ?? null))
    const currentHealthy = pods.filter((p) => !isTerminating(p) && isPodReady(p)).length
    let expectedPods: number
    let desiredHealthy: number
    if (pdb.spec?.maxUnavailable !== undefined) {
      expectedPods = this.expectedScale(pods)
      desiredHealthy = Math.max(0, expectedPods - scaled(pdb.spec.maxUnavailable, expectedPods, true))
    } else if (pdb.spec?.minAvailable !== undefined && typeof pdb.spec.minAvailable === 'string') {
      expectedPods = this.expectedScale(pods)
      desiredHealthy = scaled(pdb.spec.minAvailable, expectedPods, true)
    } else {
      expectedPods = pods.length
      desiredHealthy = pdb.spec?.minAvailable ?? 0
    }
    return {
      expectedPods,
      currentHealthy,
      desiredHealthy,
      disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy),
    }
  }

  private pdbStatus(): void {
    for (const pdb of this.store.peekList(R.pdbs)) {
      const f = this.pdbFigures(pdb)
      const blocked = this.blockedPdbs.has(`${pdb.metadata.namespace}/${pdb.metadata.name}`)
      const allowed = blocked ? 0 : f.disruptionsAllowed
      const prev = (pdb.status?.conditions ?? []).find((c: any) => c.type === 'DisruptionAllowed')
      const condStatus = allowed > 0 ? 'True' : 'False'
      const next = clone(pdb)
      next.status = {
        observedGeneration: pdb.metadata.generation,
        disruptionsAllowed: allowed,
        currentHealthy: f.currentHealthy,
        desiredHealthy: f.desiredHealthy,
        expectedPods: f.expectedPods,
        conditions: [
          {
            type: 'DisruptionAllowed',
            status: condStatus,
            reason: allowed > 0 ? 'SufficientPods' : 'InsufficientPods',
            message: '',
            observedGeneration: pdb.metadata.generation,
            lastTransitionTime: prev && prev.status === condStatus ? prev.lastTransitionTime : timestamp(),
          },
        ],
      }
      this.write(R.pdbs, next)
    }
  }
}

/** JSON without null values (the Go types drop them), for comparing and hashing templates. */
function stripNulls<T>(v: T): T {
  if (Array.isArray(v)) return v.map(stripNulls) as T
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null && x !== undefined)
        .map(([k, x]) => [k, stripNulls(x)]),
    ) as T
  }
  return v
}

function withoutHashLabel(template: any): unknown {
  const t = stripNulls(clone(template ?? {}))
  if (t.metadata?.labels) {
    delete t.metadata.labels['pod-template-hash']
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels
  }
  if (t.metadata && Object.keys(t.metadata).length === 0) delete t.metadata
  return t
}

function revisionOf(rs: KubeObject): number {
  return Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0)
}

/** The owned ReplicaSet whose template equals the Deployment's, pod-template-hash aside (EqualIgnoreHash). */
function currentReplicaSet(d: KubeObject, owned: KubeObject[]): KubeObject | undefined {
  const want = withoutHashLabel(d.spec?.template)
  return owned.find((rs) => deepEqual(withoutHashLabel(rs.spec?.template), want))
}

export function matchesNodeSelector(node: KubeObject, selector: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => node.metadata.labels?.[k] === v)
}
