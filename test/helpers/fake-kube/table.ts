/**
 * Server-side printing: the meta.k8s.io/v1 `Table` kubectl asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns and cell text follow the API
 * server's printers (pkg/printers/internalversion) for the resources kubectl tests print: pods,
 * nodes, namespaces, deployments, replicasets, statefulsets, daemonsets, PDBs, NetworkPolicies,
 * events, services, configmaps. Wide-only columns carry priority 1.
 */
import type { ResourceDef } from './resources.ts'
import type { KubeObject } from './store.ts'
import { labelSelectorToString } from './selectors.ts'

interface Column {
  name: string
  type: string
  format?: string
  priority?: number
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 0) return '0s'
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
  return `${Math.floor(hours / 24 / 365)}y`
}

function age(ts: string | undefined): string {
  return ts ? humanDuration(Date.now() - Date.parse(ts)) : '<unknown>'
}

const nameCol: Column = { name: 'Name', type: 'string', format: 'name' }
const ageCol: Column = { name: 'Age', type: 'string' }

function podRow(p: KubeObject): unknown[] {
  const statuses: any[] = p.status?.containerStatuses ?? []
  const total = (p.spec?.containers ?? []).length
  const ready = statuses.filter((s) => s.ready).length
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0)
  let reason: string = p.status?.reason ?? p.status?.phase ?? 'Unknown'
  for (const s of statuses) {
    if (s.state?.waiting?.reason) reason = s.state.waiting.reason
    else if (s.state?.terminated?.reason) reason = s.state.terminated.reason
  }
  if (p.metadata.deletionTimestamp) reason = 'Terminating'
  return [
    p.metadata.name,
    `${ready}/${total}`,
    reason,
    String(restarts),
    age(p.metadata.creationTimestamp),
    p.status?.podIP ?? '<none>',
    p.spec?.nodeName || '<none>',
    p.status?.nominatedNodeName ?? '<none>',
    '<none>',
  ]
}

function nodeRow(n: KubeObject): unknown[] {
  const readyCond = (n.status?.conditions ?? []).find((c: any) => c.type === 'Ready')
  const status = [readyCond?.status === 'True' ? 'Ready' : readyCond ? 'NotReady' : 'Unknown']
  if (n.spec?.unschedulable) status.push('SchedulingDisabled')
  const roles = Object.keys(n.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
  const ip = (n.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address ?? '<none>'
  const info = n.status?.nodeInfo ?? {}
  return [
    n.metadata.name,
    status.join(','),
    roles.length ? roles.join(',') : '<none>',
    age(n.metadata.creationTimestamp),
    info.kubeletVersion ?? '',
    ip,
    '<none>',
    info.osImage ?? '<unknown>',
    info.kernelVersion ?? '<unknown>',
    info.containerRuntimeVersion ?? '<unknown>',
  ]
}

function containersAndImages(template: any): [string, string] {
  const cs: any[] = template?.spec?.containers ?? []
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(',')]
}

const printers: Record<string, { columns: Column[]; row: (o: KubeObject) => unknown[] }> = {
  pods: {
    columns: [
      nameCol,
      { name: 'Ready', type: 'string' },
      { name: 'Status', type: 'string' },
      { name: 'Restarts', type: 'string' },
      ageCol,
      { name: 'IP', type: 'string', priority: 1 },
      { name: 'Node', type: 'string', priority: 1 },
      { name: 'Nominated Node', type: 'string', priority: 1 },
      { name: 'Readiness Gates', type: 'string', priority: 1 },
    ],
    row: podRow,
  },
  nodes: {
    columns: [
      nameCol,
      { name: 'Status', type: 'string' },
      { name: 'Roles', type: 'string' },
      ageCol,
      { name: 'Version', type: 'string' },
      { name: 'Internal-IP', type: 'string', priority: 1 },
      { name: 'External-IP', type: 'string', priority: 1 },
      { name: 'OS-Image', type: 'string', priority: 1 },
      { name: 'Kernel-Version', type: 'string', priority: 1 },
      { name: 'Container-Runtime', type: 'string', priority: 1 },
    ],
    row: nodeRow,
  },
  namespaces: {
    columns: [nameCol, { name: 'Status', type: 'string' }, ageCol],
    row: (n) => [n.metadata.name, n.status?.phase ?? 'Active', age(n.metadata.creationTimestamp)],
  },
  deployments: {
    columns: [
      nameCol,
      { name: 'Ready', type: 'string' },
      { name: 'Up-to-date', type: 'integer' },
      { name: 'Available', type: 'integer' },
      ageCol,
      { name: 'Containers', type: 'string', priority: 1 },
      { name: 'Images', type: 'string', priority: 1 },
      { name: 'Selector', type: 'string', priority: 1 },
    ],
    row: (d) => [
      d.metadata.name,
      `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
      d.status?.updatedReplicas ?? 0,
      d.status?.availableReplicas ?? 0,
      age(d.metadata.creationTimestamp),
      ...containersAndImages(d.spec?.template),
      labelSelectorToString(d.spec?.selector),
    ],
  },
  replicasets: {
    columns: [
      nameCol,
      { name: 'Desired', type: 'integer' },
      { name: 'Current', type: 'integer' },
      { name: 'Ready', type: 'integer' },
      ageCol,
      { name: 'Containers', type: 'string', priority: 1 },
      { name: 'Images', type: 'string', priority: 1 },
      { name: 'Selector', type: 'string', priority: 1 },
    ],
    row: (r) => [
      r.metadata.name,
      r.spec?.replicas ?? 0,
      r.status?.replicas ?? 0,
      r.status?.readyReplicas ?? 0,
      age(r.metadata.creationTimestamp),
      ...containersAndImages(r.spec?.template),
      labelSelectorToString(r.spec?.selector),
    ],
  },
  statefulsets: {
    columns: [
      nameCol,
      { name: 'Ready', type: 'string' },
      ageCol,
      { name: 'Containers', type: 'string', priority: 1 },
      { name: 'Images', type: 'string', priority: 1 },
    ],
    row: (s) => [
      s.metadata.name,
      `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}`,
      age(s.metadata.creationTimestamp),
      ...containersAndImages(s.spec?.template),
    ],
  },
  daemonsets: {
    columns: [
      nameCol,
      { name: 'Desired', type: 'integer' },
      { name: 'Current', type: 'integer' },
      { name: 'Ready', type: 'integer' },
      { name: 'Up-to-date', type: 'integer' },
      { name: 'Available', type: 'integer' },
      { name: 'Node Selector', type: 'string' },
      ageCol,
    ],
    row: (d) => {
      const sel = Object.entries(d.spec?.template?.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`)
      return [
        d.metadata.name,
        d.status?.desiredNumberScheduled ?? 0,
        d.status?.currentNumberScheduled ?? 0,
        d.status?.numberReady ?? 0,
        d.status?.updatedNumberScheduled ?? 0,
        d.status?.numberAvailable ?? 0,
        sel.length ? sel.join(',') : '<none>',
        age(d.metadata.creationTimestamp),
      ]
    },
  },
  poddisruptionbudgets: {
    columns: [
      nameCol,
      { name: 'Min Available', type: 'string' },
      { name: 'Max Unavailable', type: 'string' },
      { name: 'Allowed Disruptions', type: 'integer' },
      ageCol,
    ],
    row: (p) => [
      p.metadata.name,
      p.spec?.minAvailable !== undefined ? String(p.spec.minAvailable) : 'N/A',
      p.spec?.maxUnavailable !== undefined ? String(p.spec.maxUnavailable) : 'N/A',
      p.status?.disruptionsAllowed ?? 0,
      age(p.metadata.creationTimestamp),
    ],
  },
  networkpolicies: {
    columns: [nameCol, { name: 'Pod-Selector', type: 'string' }, ageCol],
    row: (n) => [
      n.metadata.name,
      labelSelectorToString(n.spec?.podSelector) || '<none>',
      age(n.metadata.creationTimestamp),
    ],
  },
  events: {
    columns: [
      { name: 'Last Seen', type: 'string' },
      { name: 'Type', type: 'string' },
      { name: 'Reason', type: 'string' },
      { name: 'Object', type: 'string' },
      { name: 'Message', type: 'string' },
    ],
    row: (e) => [
      age(e.lastTimestamp ?? e.metadata.creationTimestamp),
      e.type ?? '',
      e.reason ?? '',
      `${String(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
      e.message ?? '',
    ],
  },
  services: {
    columns: [
      nameCol,
      { name: 'Type', type: 'string' },
      { name: 'Cluster-IP', type: 'string' },
      { name: 'External-IP', type: 'string' },
      { name: 'Port(s)', type: 'string' },
      ageCol,
    ],
    row: (s) => [
      s.metadata.name,
      s.spec?.type ?? 'ClusterIP',
      s.spec?.clusterIP ?? '<none>',
      '<none>',
      (s.spec?.ports ?? []).map((p: any) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>',
      age(s.metadata.creationTimestamp),
    ],
  },
  configmaps: {
    columns: [nameCol, { name: 'Data', type: 'integer' }, ageCol],
    row: (c) => [c.metadata.name, Object.keys(c.data ?? {}).length, age(c.metadata.creationTimestamp)],
  },
}

/** PartialObjectMetadata, what a row carries by default (`includeObject=Metadata`). */
function partial(o: KubeObject): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }
}

export function toTable(
  r: ResourceDef,
  objects: KubeObject[],
  resourceVersion: string,
  includeObject: string | null,
  includeColumns = true,
): Record<string, unknown> {
  const printer = printers[r.plural] ?? {
    columns: [nameCol, ageCol],
    row: (o: KubeObject) => [o.metadata.name, age(o.metadata.creationTimestamp)],
  }
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: (includeColumns ? printer.columns : []).map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: '',
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => {
      const row: Record<string, unknown> = { cells: printer.row(o) }
      if (includeObject === 'Object') row.object = o
      else if (includeObject !== 'None') row.object = partial(o)
      return row
    }),
  }
}

/** True when the Accept header asks for a meta.k8s.io Table (any version). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false
  const first = accept.split(',')[0]!
  return /as=Table/.test(first) && /g=meta\.k8s\.io/.test(first)
}
