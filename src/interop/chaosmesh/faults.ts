/**
 * One Chaos Mesh chaos object (its kind and spec) as faultline method steps, a pod target and
 * the observations that show what it did. Kinds and actions that need Chaos Mesh's privileged
 * node agent are refused with the reason; faultline acts through the Kubernetes API and its
 * sidecars only.
 */
import { formatDuration, parseDuration } from '../../duration.ts'
import { pointer } from '../../schema.ts'
import type { Notes, Obj } from '../kube/notes.ts'
import { readyPodsObservation, sidecarObservations } from '../kube/observe.ts'
import { httpChaosRule } from './http.ts'
import type { PendingCheck } from './status-check.ts'
import { podTarget, selectorFields } from './selector.ts'

export interface Build {
  notes: Notes
  /** The namespace of the chaos object: Chaos Mesh's default for `selector.namespaces`. */
  defaultNamespace: string | undefined
  targets: Record<string, Obj>
  observations: Obj[]
  /** Where the selected pods' sidecars answer (`--var SIDECAR_ADMIN_PORT`, `SIDECAR_TOKEN`). */
  sidecar: { adminPort?: number; adminToken?: string }
  /** Workflow StatusCheck nodes, placed in phases once the whole workflow is walked. */
  pending: PendingCheck[]
  /** Chaos nodes translated so far (where a StatusCheck sits among them decides its phase). */
  faults: number
}

const NODE_AGENT =
  "it needs Chaos Mesh's privileged node agent (chaos-daemon); faultline acts through the Kubernetes API and its sidecars only"

/** Chaos kinds faultline cannot run, with why. */
export const REFUSED_KINDS: Record<string, string> = {
  IOChaos: `filesystem faults through a FUSE mount: ${NODE_AGENT}`,
  TimeChaos: `clock skew through ptrace and the vDSO: ${NODE_AGENT}`,
  KernelChaos: `kernel faults through BPF: ${NODE_AGENT}`,
  DNSChaos: `DNS errors through Chaos Mesh's DNS server and rewritten resolv.conf: ${NODE_AGENT}`,
  JVMChaos: `a Java agent attached to the process: ${NODE_AGENT}`,
  BlockChaos: `block-device latency: ${NODE_AGENT}`,
  PhysicalMachineChaos: 'faults on machines through chaosd: faultline has no machine agent',
  AWSChaos: 'cloud API faults: faultline has no cloud driver',
  GCPChaos: 'cloud API faults: faultline has no cloud driver',
  AzureChaos: 'cloud API faults: faultline has no cloud driver',
}

export const SUPPORTED_KINDS = ['PodChaos', 'NetworkChaos', 'StressChaos', 'HTTPChaos'] as const

/** The spec key a kind has inside a Schedule or a Workflow template: PodChaos -> podChaos. */
export const embeddedKey = (kind: string) => kind.charAt(0).toLowerCase() + kind.slice(1)

/**
 * The fault's duration as a faultline duration string. `override` is a Workflow node's
 * `deadline`, which bounds the chaos there.
 */
function holdFor(spec: Obj, path: string, notes: Notes, override?: { ms: number; path: string }): string | undefined {
  const own = notes.string(spec, 'duration', path)
  const ownMs = own === undefined ? undefined : parseDuration(own)
  if (own !== undefined && ownMs === undefined)
    return notes.refuse(pointer(path, 'duration'), 'must be a duration such as "30s" or "1m30s"')
  if (override) {
    if (ownMs !== undefined && ownMs < override.ms) return formatDuration(ownMs)
    if (ownMs !== undefined && ownMs > override.ms)
      notes.approx(
        pointer(path, 'duration'),
        `cut to the node's deadline, ${formatDuration(override.ms)}, as Chaos Mesh does`,
      )
    return formatDuration(override.ms)
  }
  if (ownMs === undefined)
    return notes.refuse(
      pointer(path, 'duration'),
      'is required: without one Chaos Mesh keeps the fault until the object is deleted, and faultline holds no fault without an end',
    )
  return formatDuration(ownMs)
}

function addTarget(b: Build, name: string, target: Obj, withSidecars = false): void {
  // A Workflow may reference one template twice: one target, observed once.
  if (b.targets[name]) return
  b.targets[name] = {
    kubernetes: {
      ...target,
      ...(withSidecars && b.sidecar.adminPort ? { sidecarAdminPort: b.sidecar.adminPort } : {}),
    },
    ...(withSidecars && b.sidecar.adminToken ? { adminToken: b.sidecar.adminToken } : {}),
  }
  b.observations.push(...(withSidecars ? sidecarObservations(name) : [readyPodsObservation(name)]))
}

/** Steps for one chaos object. `name` names its target and steps; `deadline` comes from a Workflow node. */
export function chaosSteps(
  kind: string,
  spec: Obj,
  path: string,
  b: Build,
  name: string,
  deadline?: { ms: number; path: string },
  kindPath = '/kind',
): Obj[] {
  const { notes } = b
  if (REFUSED_KINDS[kind]) return notes.refuse(kindPath, `${kind}: ${REFUSED_KINDS[kind]}`) ?? []
  if (spec.remoteCluster !== undefined)
    notes.refuse(pointer(path, 'remoteCluster'), 'faultline acts on the cluster of its kubeconfig only')
  switch (kind) {
    case 'PodChaos':
      return podChaos(spec, path, b, name, deadline)
    case 'NetworkChaos':
      return networkChaos(spec, path, b, name, deadline)
    case 'StressChaos':
      return stressChaos(spec, path, b, name, deadline)
    case 'HTTPChaos': {
      const rule = httpChaosRule(spec, path, notes, name)
      const target = podTarget({ ...spec, containerNames: undefined }, path, notes, b.defaultNamespace)
      addTarget(b, name, target, true)
      const duration = holdFor(spec, path, notes, deadline)
      return rule && duration
        ? [{ name: `HTTPChaos ${name}`, sidecarFault: { target: name, duration, rules: [rule] } }]
        : []
    }
    default:
      return (
        notes.refuse(
          path,
          `${kind} is not a Chaos Mesh kind faultline knows (it runs ${SUPPORTED_KINDS.join(', ')})`,
        ) ?? []
      )
  }
}

function podChaos(spec: Obj, path: string, b: Build, name: string, deadline?: { ms: number; path: string }): Obj[] {
  const { notes } = b
  notes.only(
    spec,
    path,
    ['action', 'selector', 'mode', 'value', 'duration', 'gracePeriod', 'containerNames', 'remoteCluster'],
    'PodChaos',
  )
  const action = notes.string(spec, 'action', path)
  if (action === 'container-kill')
    return (
      notes.refuse(
        pointer(path, 'action'),
        `container-kill kills a container through the container runtime on its node: ${NODE_AGENT} (use pod-kill or pod-failure)`,
      ) ?? []
    )
  if (action !== 'pod-kill' && action !== 'pod-failure')
    return notes.refuse(pointer(path, 'action'), 'must be pod-kill, pod-failure or container-kill') ?? []
  addTarget(b, name, podTarget(spec, path, notes, b.defaultNamespace))
  if (action === 'pod-kill') {
    const grace = spec.gracePeriod === undefined ? 0 : Number(spec.gracePeriod)
    if (!Number.isInteger(grace) || grace < 0)
      return notes.refuse(pointer(path, 'gracePeriod'), 'must be a whole number of seconds >= 0') ?? []
    const steps: Obj[] = [{ name: `pod-kill ${name}`, podKill: { target: name, gracePeriodSeconds: grace } }]
    // pod-kill is one-shot in Chaos Mesh too; a duration (or deadline) keeps the run observing that long.
    const own = notes.string(spec, 'duration', path)
    const ms = deadline?.ms ?? (own === undefined ? undefined : parseDuration(own))
    if (own !== undefined && parseDuration(own) === undefined)
      notes.refuse(pointer(path, 'duration'), 'must be a duration such as "30s"')
    if (ms) {
      steps.push({ name: `observe ${name}`, wait: formatDuration(ms) })
      notes.approx(
        deadline ? deadline.path : pointer(path, 'duration'),
        'pod-kill is one-shot: faultline kills once, waits for the replacements, then keeps observing for this long',
      )
    }
    return steps
  }
  if (spec.gracePeriod !== undefined)
    notes.approx(
      pointer(path, 'gracePeriod'),
      'ignored: it applies to pod-kill only (Chaos Mesh ignores it for pod-failure too)',
    )
  const duration = holdFor(spec, path, notes, deadline)
  return duration ? [{ name: `pod-failure ${name}`, podFailure: { target: name, duration } }] : []
}

const NETEM_ACTIONS = ['netem', 'delay', 'loss', 'duplicate', 'corrupt', 'bandwidth']

function networkChaos(spec: Obj, path: string, b: Build, name: string, deadline?: { ms: number; path: string }): Obj[] {
  const { notes } = b
  const action = notes.string(spec, 'action', path)
  if (action && NETEM_ACTIONS.includes(action))
    return (
      notes.refuse(
        pointer(path, 'action'),
        `${action} shapes packets with tc netem in the pod's network namespace: ${NODE_AGENT}. For HTTP traffic, an HTTPChaos delay or abort runs in faultline's sidecar`,
      ) ?? []
    )
  if (action !== 'partition')
    return (
      notes.refuse(
        pointer(path, 'action'),
        `must be partition (or ${NETEM_ACTIONS.join(', ')}, which faultline refuses)`,
      ) ?? []
    )
  notes.only(
    spec,
    path,
    [
      'action',
      'selector',
      'mode',
      'value',
      'direction',
      'target',
      'externalTargets',
      'device',
      'targetDevice',
      'duration',
      'remoteCluster',
    ],
    'a NetworkChaos partition',
  )
  addTarget(b, name, podTarget(spec, path, notes, b.defaultNamespace))
  const direction = notes.string(spec, 'direction', path) ?? 'to'
  const directions: Record<string, string> = { to: 'egress', from: 'ingress', both: 'both' }
  if (!directions[direction]) notes.refuse(pointer(path, 'direction'), 'must be to, from or both')
  for (const dev of ['device', 'targetDevice'])
    if (spec[dev] !== undefined)
      notes.refuse(
        pointer(path, dev),
        'a NetworkPolicy cuts pods off on every interface; it cannot pick one network device',
      )
  const to: Obj = {}
  const peer = notes.object(spec, 'target', path)
  if (peer) {
    const ppath = pointer(path, 'target')
    notes.only(peer, ppath, ['selector', 'mode', 'value'], 'a NetworkChaos target')
    const sel = notes.object(peer, 'selector', ppath)
    if (sel) {
      const spath = pointer(ppath, 'selector')
      const allowed = ['namespaces', 'labelSelectors', 'expressionSelectors']
      for (const key of Object.keys(sel))
        if (!allowed.includes(key))
          notes.refuse(
            pointer(spath, key),
            `a partition's peers are a label selector in namespaces; ${key} cannot be written in a NetworkPolicy peer`,
          )
      const fields = selectorFields(
        Object.fromEntries(Object.entries(sel).filter(([k]) => allowed.includes(k))),
        spath,
        notes,
        b.defaultNamespace,
      )
      if (fields.labelSelector) to.podSelector = fields.labelSelector
      else to.podSelector = ''
      if (Array.isArray(sel.namespaces) && sel.namespaces.length) to.namespaces = sel.namespaces
    }
    if (peer.mode !== undefined && peer.mode !== 'all')
      notes.approx(
        pointer(ppath, 'mode'),
        `faultline cuts every pod the target selector matches; Chaos Mesh picked "${String(peer.mode)}" of them`,
      )
  }
  const external = notes.list(spec, 'externalTargets', path)
  if (external?.length) {
    const cidrs: string[] = []
    external.forEach((e, i) => {
      const text = String(e)
      if (/^[0-9.]+(\/\d{1,2})?$/.test(text)) cidrs.push(text.includes('/') ? text : `${text}/32`)
      else if (/^[0-9a-fA-F:]+(\/\d{1,3})?$/.test(text) && text.includes(':'))
        cidrs.push(text.includes('/') ? text : `${text}/128`)
      else
        notes.refuse(
          pointer(pointer(path, 'externalTargets'), i),
          'a domain name: a NetworkPolicy takes addresses (CIDRs), not names',
        )
    })
    if (cidrs.length) to.cidrs = cidrs
  }
  if (to.podSelector === '') delete to.podSelector
  notes.approx(
    pointer(path, 'action'),
    'partition as a NetworkPolicy: it needs a CNI that enforces policies, is stateful (replies to connections the other side opened pass), and keeps DNS open',
  )
  const duration = holdFor(spec, path, notes, deadline)
  if (!duration) return []
  return [
    {
      name: `partition ${name}`,
      networkPartition: {
        target: name,
        duration,
        direction: directions[direction] ?? 'egress',
        ...(Object.keys(to).length ? { to } : {}),
      },
    },
  ]
}

function stressChaos(spec: Obj, path: string, b: Build, name: string, deadline?: { ms: number; path: string }): Obj[] {
  const { notes } = b
  notes.only(
    spec,
    path,
    ['selector', 'mode', 'value', 'stressors', 'stressngStressors', 'containerNames', 'duration', 'remoteCluster'],
    'StressChaos',
  )
  addTarget(b, name, podTarget(spec, path, notes, b.defaultNamespace, { containers: true }))
  if (spec.stressngStressors !== undefined)
    notes.refuse(
      pointer(path, 'stressngStressors'),
      'raw stress-ng arguments: faultline stress takes CPU workers, load and memory only',
    )
  const stressors = notes.object(spec, 'stressors', path)
  if (!stressors) return notes.refuse(pointer(path, 'stressors'), 'is required (cpu and/or memory)') ?? []
  const spath = pointer(path, 'stressors')
  notes.only(stressors, spath, ['cpu', 'memory'], 'StressChaos stressors')
  const step: Obj = { target: name }
  const cpu = notes.object(stressors, 'cpu', spath)
  if (cpu) {
    const cpath = pointer(spath, 'cpu')
    notes.only(cpu, cpath, ['workers', 'load', 'options'], 'a CPU stressor')
    step.cpu = Number(cpu.workers)
    if (cpu.load !== undefined) {
      if (Number(cpu.load) === 0) notes.refuse(pointer(cpath, 'load'), '0 puts no load (faultline needs 1..100)')
      else step.load = Number(cpu.load)
    }
    if (Array.isArray(cpu.options) && cpu.options.length)
      notes.refuse(pointer(cpath, 'options'), 'stress-ng options: faultline stress has none')
  }
  const mem = notes.object(stressors, 'memory', spath)
  if (mem) {
    const mpath = pointer(spath, 'memory')
    notes.only(mem, mpath, ['workers', 'size', 'options', 'oomScoreAdj'], 'a memory stressor')
    const size = notes.string(mem, 'size', mpath)
    if (size === undefined) notes.refuse(pointer(mpath, 'size'), 'is required')
    else if (size.endsWith('%'))
      notes.refuse(pointer(mpath, 'size'), "a share of the node's memory: faultline takes an amount such as 256MB")
    else step.memory = size
    if (mem.workers !== undefined && Number(mem.workers) > 1)
      notes.approx(
        pointer(mpath, 'workers'),
        `faultline allocates ${size ?? 'the size'} once, in one process; Chaos Mesh runs ${String(mem.workers)} workers`,
      )
    if (mem.oomScoreAdj !== undefined)
      notes.approx(
        pointer(mpath, 'oomScoreAdj'),
        "ignored: faultline's stress runs with the ephemeral container's default OOM score",
      )
    if (Array.isArray(mem.options) && mem.options.length)
      notes.refuse(pointer(mpath, 'options'), 'stress-ng options: faultline stress has none')
  }
  notes.approx(
    spath,
    "stress runs in an ephemeral container, in the pod's cgroup rather than the target container's, and cannot be stopped before its duration",
  )
  const duration = holdFor(spec, path, notes, deadline)
  return duration ? [{ name: `stress ${name}`, podStress: { ...step, duration } }] : []
}
