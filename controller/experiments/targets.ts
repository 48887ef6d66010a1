/**
 * Resolves an experiment's targets once, before anything is injected: the sidecars (listed, or
 * a fleet service's live instances) with the bus their rules travel on, and the local processes
 * (already supervised by the host, or started here). What was resolved is journalled.
 */
import { withContext } from '../../src/errors.ts'
import type { ExperimentDoc, StepSpec, TargetSpec } from '../../src/experiments/schema.ts'
import type { Cluster } from '../drivers/kubernetes/cluster.ts'
import { selectNodes, selectPods } from '../drivers/kubernetes/select.ts'
import type { FleetBus } from '../bus/fleet.ts'
import { ruleBusFor } from '../bus/index.ts'
import { type ProcessRegistry, SupervisedProcess } from '../drivers/local/supervisor.ts'
import type { ResolvedTarget } from '../injectors/index.ts'
import { SidecarClient } from '../sidecar-client.ts'
import type { Journal } from './journal.ts'

export interface Resolution {
  targets: Map<string, ResolvedTarget>
  /** Processes started for this run, to stop when it ends. */
  owned: SupervisedProcess[]
  /** Why a target resolved to nothing to act on (the first such target), in words for the verdict. */
  empty?: string
}

export interface ResolveOptions {
  fleet?: FleetBus
  registry: ProcessRegistry
  logDir: string
  say: (line: string) => void
  /** The cluster; asked for only when a target selects Kubernetes objects. */
  cluster: () => Cluster
  random: () => number
  ownNamespace?: string
}

/** Sidecar admin port on a pod's IP, when a Kubernetes target's sidecars are reached directly. */
const DEFAULT_SIDECAR_ADMIN_PORT = 8481

export async function resolveTargets(
  spec: ExperimentDoc['spec'],
  journal: Journal,
  opts: ResolveOptions,
): Promise<Resolution> {
  const out: Resolution = { targets: new Map(), owned: [] }
  for (const [name, t] of Object.entries(spec.targets)) {
    const entry: Journal['targets'][string] = { sidecars: [], processes: [] }
    journal.targets[name] = entry
    const sidecars: SidecarClient[] = []
    // A Kubernetes pod target without a fleet service reaches its pods' sidecars by pod IP, but
    // only when the experiment uses them: nothing is sent to a pod IP for a pod kill alone.
    const sidecarsUsed = usesSidecars(spec, name)
    const urls = t.kubernetes ? await resolveKubernetes(name, t, entry, opts, sidecarsUsed) : []
    const podSidecars = t.kubernetes && !t.service && sidecarsUsed ? urls : undefined
    let bus
    try {
      bus = ruleBusFor(
        { service: t.service, sidecars: podSidecars ?? t.sidecars, adminToken: t.adminToken },
        opts.fleet,
      )
    } catch (err) {
      throw withContext(err, `target ${name}`)
    }
    for (const url of podSidecars ?? []) {
      entry.sidecars.push({ adminUrl: url, reachable: true })
      sidecars.push(new SidecarClient(url, t.adminToken))
    }
    if (t.service) {
      entry.service = t.service
      for (const i of await opts.fleet!.instances(t.service)) {
        entry.sidecars.push({ adminUrl: i.adminUrl, reachable: true, generation: i.generation, instance: i.id })
        sidecars.push(new SidecarClient(i.adminUrl, t.adminToken))
      }
    }
    for (const url of t.sidecars ?? []) {
      const client = new SidecarClient(url, t.adminToken)
      try {
        const { generation } = await client.rules()
        entry.sidecars.push({ adminUrl: url, reachable: true, generation })
        sidecars.push(client)
      } catch (err) {
        entry.sidecars.push({ adminUrl: url, reachable: false })
        throw withContext(err, `target ${name}`)
      }
    }
    const processes: SupervisedProcess[] = []
    for (const p of t.processes ?? []) {
      let proc = opts.registry.get(p.name)
      if (!proc) {
        if (!p.command)
          throw new Error(`target ${name}: process "${p.name}" has no command and is not running under this host`)
        proc = new SupervisedProcess(p, opts.logDir)
        opts.say(`  starting process ${p.name}: ${p.command.join(' ')}`)
        await proc.start()
        out.owned.push(proc)
        opts.registry.register(proc)
      }
      processes.push(proc)
      entry.processes.push({ name: p.name, pid: proc.pid })
    }
    const matchedObjects = entry.kubernetes?.matched ?? 0
    if (sidecars.length === 0 && processes.length === 0 && matchedObjects === 0) out.empty ??= emptyReason(name, t)
    out.targets.set(name, { name, bus, sidecars, processes, kubernetes: t.kubernetes })
  }
  return out
}

/**
 * Why a target that resolved to nothing is empty, naming what it looked for: a Kubernetes target
 * selects no pods or nodes (with its selector, so the reader sees what to check); any other
 * target found no sidecars or processes.
 */
export function emptyReason(name: string, t: TargetSpec): string {
  const k = t.kubernetes
  if (!k) return `target ${name} resolved to no sidecars or processes`
  const labels =
    typeof k.labelSelector === 'string' ? k.labelSelector : k.labelSelector && JSON.stringify(k.labelSelector)
  const by = [
    k.namespaces && `namespaces ${k.namespaces.join(', ')}`,
    k.pods &&
      `pods ${Object.entries(k.pods)
        .flatMap(([ns, pods]) => pods.map((p) => `${ns}/${p}`))
        .join(', ')}`,
    k.nodes && `nodes ${k.nodes.join(', ')}`,
    labels && `labelSelector ${labels}`,
    k.fieldSelector && `fieldSelector ${k.fieldSelector}`,
    k.annotationSelector && `annotationSelector ${k.annotationSelector}`,
    k.podPhases && `podPhases ${k.podPhases.join(', ')}`,
  ].filter(Boolean)
  const what = (k.kind ?? 'pod') === 'node' ? 'nodes' : 'pods'
  return `target ${name} resolved to no ${what}${by.length ? ` (${by.join('; ')})` : ''}: nothing was touched`
}

/** Whether a sidecar fault or a sidecar check names this target. */
export function usesSidecars(spec: ExperimentDoc['spec'], target: string): boolean {
  const checks = [...spec.hypothesis.checks, ...(spec.guardrails ?? []), ...(spec.observations ?? [])]
  if (checks.some((c) => c.sidecar?.target === target)) return true
  const walk = (steps: StepSpec[]): boolean =>
    steps.some((s) => s.sidecarFault?.target === target || walk(s.parallel ?? []) || walk(s.serial ?? []))
  return walk(spec.method)
}

/**
 * Selects a Kubernetes target's objects once for the run (journalled), and returns the admin
 * URLs of the selected pods' sidecars. Steps select again, each once, when they are planned.
 */
async function resolveKubernetes(
  name: string,
  t: TargetSpec,
  entry: Journal['targets'][string],
  opts: ResolveOptions,
  forSidecars: boolean,
): Promise<string[]> {
  const k = t.kubernetes!
  const cluster = opts.cluster()
  const select = { random: opts.random, ownNamespace: opts.ownNamespace }
  try {
    if ((k.kind ?? 'pod') === 'node') {
      const nodes = await selectNodes(cluster, k, select)
      entry.kubernetes = { matched: nodes.matched, selected: nodes.refs }
      return []
    }
    // Only sidecar faults and checks pick pods for the whole run; fault steps pick their own, so
    // for them the run records how many match, and each step journals what it hit.
    const all = { ...k, mode: 'all' as const, value: undefined, maxTargets: undefined }
    const pods = await selectPods(cluster, forSidecars ? k : all, select)
    entry.kubernetes = { matched: pods.matched, selected: forSidecars ? pods.refs : [] }
    const port = k.sidecarAdminPort ?? DEFAULT_SIDECAR_ADMIN_PORT
    // An IPv6 address needs brackets in a URL.
    const host = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip)
    return pods.selected.filter((p) => p.status?.podIP).map((p) => `http://${host(p.status!.podIP!)}:${port}`)
  } catch (err) {
    throw withContext(err, `target ${name}`)
  }
}
