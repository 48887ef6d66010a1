/**
 * The chaosk8s functions people use, mapped to faultline's Kubernetes driver: actions to fault
 * steps (kept applied until the run reverts them, as Chaos Toolkit leaves them until its
 * rollbacks), probes to Kubernetes checks. Any other module or function is refused by name.
 */
import type { CheckSpec, StepSpec, TargetSpec } from '../../experiments/schema.ts'
import type { KubernetesTargetSpec } from '../../experiments/kubernetes-schema.ts'
import { isPlainObject } from '../../schema.ts'
import { at, dur, type Notes } from './notes.ts'

type Obj = Record<string, unknown>

export interface K8sBuild {
  notes: Notes
  /** Adds (or reuses an identical) target; returns its name. */
  target(hint: string, spec: TargetSpec): string
}

const ACTIONS: Record<string, string[]> = {
  terminate_pods: ['chaosk8s.pod.actions'],
  scale_deployment: ['chaosk8s.deployment.actions', 'chaosk8s.actions'],
  cordon_node: ['chaosk8s.node.actions'],
  uncordon_node: ['chaosk8s.node.actions'],
  drain_nodes: ['chaosk8s.node.actions'],
  deny_all_ingress: ['chaosk8s.networking.actions'],
  remove_deny_all_ingress: ['chaosk8s.networking.actions'],
}
const PROBES: Record<string, string[]> = {
  pods_in_phase: ['chaosk8s.pod.probes'],
  pods_not_in_phase: ['chaosk8s.pod.probes'],
  count_pods: ['chaosk8s.pod.probes'],
  deployment_available_and_healthy: ['chaosk8s.deployment.probes', 'chaosk8s.probes'],
  all_microservices_healthy: ['chaosk8s.probes'],
  deployment_fully_available: ['chaosk8s.deployment.probes', 'chaosk8s.probes'],
}
/** chaosk8s functions that undo a method action; in rollbacks they stand for faultline's own revert. */
export const UNDO: Record<string, string[]> = {
  uncordon_node: ['cordon_node', 'drain_nodes'],
  remove_deny_all_ingress: ['deny_all_ingress'],
  scale_deployment: ['scale_deployment'],
}

export const KNOWN_FUNCTIONS = [...Object.keys(ACTIONS), ...Object.keys(PROBES)]

/** The arguments each function takes (chaosk8s's signatures; `secrets` is passed by Chaos Toolkit itself). */
const ARGUMENTS: Record<string, string[]> = {
  terminate_pods: ['label_selector', 'name_pattern', 'all', 'rand', 'mode', 'qty', 'grace_period', 'ns', 'order'],
  scale_deployment: ['name', 'replicas', 'ns'],
  cordon_node: ['name', 'label_selector'],
  uncordon_node: ['name', 'label_selector'],
  drain_nodes: [
    'name',
    'label_selector',
    'delete_pods_with_local_storage',
    'timeout',
    'count',
    'pod_label_selector',
    'pod_namespace',
  ],
  deny_all_ingress: ['label_selectors', 'ns'],
  remove_deny_all_ingress: ['ns'],
  pods_in_phase: ['label_selector', 'phase', 'ns'],
  pods_not_in_phase: ['label_selector', 'phase', 'ns'],
  count_pods: ['label_selector', 'phase', 'ns'],
  deployment_available_and_healthy: ['name', 'ns', 'label_selector', 'raise_on_unavailable'],
  deployment_fully_available: ['name', 'ns', 'label_selector', 'timeout'],
  all_microservices_healthy: ['ns'],
}

/**
 * An argument the function does not take is refused, as Chaos Toolkit's own validation refuses
 * it (it checks arguments against the Python signature); nothing is ignored.
 */
export function checkArguments(func: string, provider: Obj, path: string, notes: Notes): Obj | undefined {
  const args = provider.arguments ?? {}
  if (!isPlainObject(args)) return notes.refuse(at(path, 'arguments'), 'must be an object of keyword arguments')
  const known = ARGUMENTS[func] ?? []
  let ok = true
  for (const k of Object.keys(args))
    if (!known.includes(k)) {
      ok = false
      notes.refuse(at(path, 'arguments', k), `is not an argument of ${func} (it takes ${known.join(', ')})`)
    }
  return ok ? args : undefined
}

/** Checks module and function; refuses anything else by name. Returns the function name. */
export function chaosk8sFunction(
  provider: Obj,
  path: string,
  kind: 'action' | 'probe',
  notes: Notes,
): string | undefined {
  const mod = provider.module
  const func = provider.func
  if (typeof mod !== 'string' || typeof func !== 'string')
    return notes.refuse(path, 'a python provider needs "module" and "func"')
  const table = kind === 'action' ? ACTIONS : PROBES
  const modules = table[func]
  if (!mod.startsWith('chaosk8s'))
    return notes.refuse(
      at(path, 'module'),
      `is ${mod}: faultline runs no Python; of Python providers it maps chaosk8s (${KNOWN_FUNCTIONS.join(', ')}) only`,
    )
  if (!modules || !modules.includes(mod))
    return notes.refuse(
      at(path, 'func'),
      `${mod}.${func} is not a chaosk8s ${kind} faultline maps (${kind}s: ${Object.entries(table)
        .map(([f, m]) => `${m[0]}.${f}`)
        .join(', ')})`,
    )
  return func
}

const str = (a: Obj, k: string, dflt?: string) => (typeof a[k] === 'string' ? (a[k] as string) : dflt)

function podTarget(ns: string, labelSelector: unknown): KubernetesTargetSpec {
  const t: KubernetesTargetSpec = { namespaces: [ns], mode: 'all' }
  if (typeof labelSelector === 'string' && labelSelector) t.labelSelector = labelSelector
  else if (isPlainObject(labelSelector))
    t.labelSelector = { matchLabels: Object.fromEntries(Object.entries(labelSelector).map(([k, v]) => [k, String(v)])) }
  return t
}

function nodeTarget(a: Obj, apath: string, notes: Notes): KubernetesTargetSpec | undefined {
  const name = str(a, 'name')
  const sel = str(a, 'label_selector')
  if (!name && !sel) return notes.refuse(apath, 'needs "name" or "label_selector" (faultline never picks every node)')
  return { kind: 'node', mode: 'all', ...(name ? { nodes: [name] } : {}), ...(sel ? { labelSelector: sel } : {}) }
}

/**
 * A chaosk8s action of the method as a fault step (`keep: true`: it stands until the run
 * reverts everything, after the second hypothesis check). `holdMs` is only what the method
 * plans for it (its progress display).
 */
export function chaosk8sAction(
  func: string,
  args: Obj,
  apath: string,
  holdMs: number,
  b: K8sBuild,
): StepSpec | undefined {
  const { notes } = b
  const duration = dur(Math.max(1000, holdMs))
  switch (func) {
    case 'terminate_pods': {
      const ns = str(args, 'ns', 'default')!
      if (args.name_pattern !== undefined)
        return notes.refuse(at(apath, 'name_pattern'), 'a regex on pod names: faultline selects pods by labels only')
      const t = podTarget(ns, args.label_selector)
      if (args.all !== true) {
        const qty = typeof args.qty === 'number' ? args.qty : 1
        if (args.mode === 'percentage') Object.assign(t, { mode: 'fixed-percent', value: qty })
        else if (args.mode === undefined || args.mode === 'fixed') Object.assign(t, { mode: 'fixed', value: qty })
        else return notes.refuse(at(apath, 'mode'), 'must be fixed or percentage')
        if (args.rand !== true)
          notes.approx(
            at(apath, 'rand'),
            `faultline picks the ${args.mode === 'percentage' ? 'share of' : ''} pods at random; Chaos Toolkit takes them in ${typeof args.order === 'string' ? args.order : 'alphabetic'} order unless rand is true`,
          )
      }
      const grace = typeof args.grace_period === 'number' && args.grace_period >= 0 ? args.grace_period : undefined
      return {
        podKill: {
          target: b.target('pods', { kubernetes: t }),
          ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
        },
        keep: true,
      }
    }
    case 'scale_deployment': {
      const name = str(args, 'name')
      if (!name || typeof args.replicas !== 'number') return notes.refuse(apath, 'needs "name" and "replicas"')
      return {
        scale: {
          workload: { kind: 'Deployment', namespace: str(args, 'ns', 'default')!, name },
          replicas: args.replicas,
          duration,
        },
        keep: true,
      }
    }
    case 'cordon_node': {
      const t = nodeTarget(args, apath, notes)
      return t && { nodeCordon: { target: b.target('nodes', { kubernetes: t }), duration }, keep: true }
    }
    case 'drain_nodes': {
      const t = nodeTarget(args, apath, notes)
      if (!t) return undefined
      for (const k of ['pod_label_selector', 'pod_namespace'])
        if (args[k] !== undefined)
          notes.refuse(at(apath, k), 'faultline drains every pod of the node but DaemonSet and mirror pods')
      if (typeof args.count === 'number') Object.assign(t, { mode: 'fixed', value: args.count })
      if (args.delete_pods_with_local_storage === true)
        notes.approx(
          at(apath, 'delete_pods_with_local_storage'),
          'faultline evicts pods with local storage in any case',
        )
      const timeout = dur(typeof args.timeout === 'number' ? args.timeout * 1000 : 120_000)
      return { nodeDrain: { target: b.target('nodes', { kubernetes: t }), duration, timeout }, keep: true }
    }
    case 'deny_all_ingress': {
      const t = podTarget(str(args, 'ns', 'default')!, args.label_selectors)
      return {
        networkPartition: { target: b.target('pods', { kubernetes: t }), duration, direction: 'ingress' },
        keep: true,
      }
    }
    case 'uncordon_node':
    case 'remove_deny_all_ingress':
      return notes.refuse(apath, `${func} undoes a fault: it belongs in the rollbacks (faultline reverts it itself)`)
  }
  return notes.refuse(apath, `${func} is not an action`)
}

/** Tolerance of a numeric probe (count_pods) as faultline bounds. */
function numericTolerance(t: unknown, tpath: string, notes: Notes): CheckSpec['tolerance'] | undefined {
  const isNum = (v: unknown): v is number => typeof v === 'number'
  if (typeof t === 'number') return { min: t, max: t }
  if (Array.isArray(t) && t.length === 2 && t.every(isNum)) return { min: t[0], max: t[1] }
  if (Array.isArray(t) && t.length && t.every(isNum)) return { oneOf: t }
  if (isPlainObject(t) && t.type === 'range' && Array.isArray(t.range) && t.range.length === 2 && t.range.every(isNum))
    return { min: t.range[0] as number, max: t.range[1] as number }
  return notes.refuse(tpath, 'must be a number, a list of numbers or a range for a count')
}

/** A chaosk8s probe of the hypothesis as a Kubernetes check (the caller adds name and phases). */
export function chaosk8sProbe(
  func: string,
  args: Obj,
  tolerance: unknown,
  apath: string,
  tpath: string,
  b: K8sBuild,
): Pick<CheckSpec, 'kubernetes' | 'tolerance'> | undefined {
  const { notes } = b
  const ns = str(args, 'ns', 'default')!
  const mustBeTrue = () =>
    tolerance === true ? true : notes.refuse(tpath, `${func} returns true or fails: the tolerance must be true`)
  switch (func) {
    case 'pods_in_phase':
    case 'pods_not_in_phase': {
      if (!mustBeTrue()) return undefined
      const target = b.target('pods', { kubernetes: podTarget(ns, args.label_selector) })
      const phase = (str(args, 'phase', 'Running') ?? 'Running') as 'Running'
      return {
        kubernetes: { target, stat: func === 'pods_in_phase' ? 'podsNotInPhase' : 'podsInPhase', phase },
        tolerance: { max: 0 },
      }
    }
    case 'count_pods': {
      const tol = numericTolerance(tolerance, tpath, notes)
      if (!tol) return undefined
      const target = b.target('pods', { kubernetes: podTarget(ns, args.label_selector) })
      const phase = str(args, 'phase') as 'Running' | undefined
      if (!phase)
        notes.approx(apath, 'no pods at all is "no data" in faultline (the check is inconclusive), not a count of 0')
      return { kubernetes: phase ? { target, stat: 'podsInPhase', phase } : { target, stat: 'pods' }, tolerance: tol }
    }
    case 'deployment_available_and_healthy':
    case 'deployment_fully_available': {
      if (!mustBeTrue()) return undefined
      const name = str(args, 'name')
      if (!name) return notes.refuse(at(apath, 'name'), 'is required')
      if (args.label_selector !== undefined)
        return notes.refuse(at(apath, 'label_selector'), 'faultline checks one named Deployment')
      if (func === 'deployment_fully_available')
        notes.approx(apath, 'checked once when the hypothesis is checked; Chaos Toolkit waits up to its timeout for it')
      return {
        kubernetes: { stat: 'unavailableReplicas', workload: { kind: 'Deployment', namespace: ns, name } },
        tolerance: { max: 0 },
      }
    }
    case 'all_microservices_healthy': {
      if (!mustBeTrue()) return undefined
      notes.approx(
        apath,
        'every pod of the namespace must be Running: Succeeded pods count as unhealthy, and a namespace with no pods is "no data" (Chaos Toolkit passes both)',
      )
      const target = b.target('namespace', { kubernetes: { namespaces: [ns], mode: 'all' } })
      return { kubernetes: { target, stat: 'podsNotInPhase', phase: 'Running' }, tolerance: { max: 0 } }
    }
  }
  return notes.refuse(apath, `${func} is not a probe`)
}
