/**
 * The resources the fake serves and the discovery documents that describe them (`/api`,
 * `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`), with the same names, kinds,
 * short names, verbs and subresources as a v1.33 API server (trimmed to these resources).
 */

export interface SubresourceDef {
  name: string
  kind: string
  /** Group/version of the subresource's own kind when it differs (pods/eviction is policy/v1). */
  group?: string
  version?: string
  verbs: string[]
}

export interface ResourceDef {
  group: string
  version: string
  plural: string
  singular: string
  kind: string
  listKind: string
  namespaced: boolean
  shortNames?: string[]
  categories?: string[]
  verbs: string[]
  subresources: SubresourceDef[]
  /** Objects carry a status the main resource does not write (there is a /status subresource). */
  hasStatus: boolean
}

const crud = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']
const statusSub = (kind: string): SubresourceDef => ({ name: 'status', kind, verbs: ['get', 'patch', 'update'] })
const scaleSub: SubresourceDef = {
  name: 'scale',
  kind: 'Scale',
  group: 'autoscaling',
  version: 'v1',
  verbs: ['get', 'patch', 'update'],
}

function def(
  group: string,
  plural: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceDef> = {},
): ResourceDef {
  return {
    group,
    version: 'v1',
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    verbs: crud,
    subresources: [],
    hasStatus: false,
    ...extra,
  }
}

export const resources: ResourceDef[] = [
  def('', 'namespaces', 'Namespace', false, {
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [statusSub('Namespace')],
    hasStatus: true,
  }),
  def('', 'nodes', 'Node', false, {
    shortNames: ['no'],
    subresources: [statusSub('Node')],
    hasStatus: true,
  }),
  def('', 'pods', 'Pod', true, {
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
      { name: 'ephemeralcontainers', kind: 'Pod', verbs: ['get', 'patch', 'update'] },
      statusSub('Pod'),
    ],
    hasStatus: true,
  }),
  def('', 'events', 'Event', true, { shortNames: ['ev'] }),
  def('', 'services', 'Service', true, {
    shortNames: ['svc'],
    categories: ['all'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [statusSub('Service')],
    hasStatus: true,
  }),
  def('', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  def('apps', 'deployments', 'Deployment', true, {
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [scaleSub, statusSub('Deployment')],
    hasStatus: true,
  }),
  def('apps', 'replicasets', 'ReplicaSet', true, {
    shortNames: ['rs'],
    categories: ['all'],
    subresources: [scaleSub, statusSub('ReplicaSet')],
    hasStatus: true,
  }),
  def('apps', 'statefulsets', 'StatefulSet', true, {
    shortNames: ['sts'],
    categories: ['all'],
    subresources: [scaleSub, statusSub('StatefulSet')],
    hasStatus: true,
  }),
  def('apps', 'daemonsets', 'DaemonSet', true, {
    shortNames: ['ds'],
    categories: ['all'],
    subresources: [statusSub('DaemonSet')],
    hasStatus: true,
  }),
  def('policy', 'poddisruptionbudgets', 'PodDisruptionBudget', true, {
    shortNames: ['pdb'],
    subresources: [statusSub('PodDisruptionBudget')],
    hasStatus: true,
  }),
  def('networking.k8s.io', 'networkpolicies', 'NetworkPolicy', true, { shortNames: ['netpol'] }),
]

/** Store key of a resource: `pods`, `apps/deployments`. */
export function resourceKey(r: ResourceDef): string {
  return r.group ? `${r.group}/${r.plural}` : r.plural
}

export function apiVersionOf(r: ResourceDef): string {
  return r.group ? `${r.group}/${r.version}` : r.version
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return resources.find((r) => r.group === group && r.version === version && r.plural === plural)
}

/** Looks a resource up by store key (`pods`, `apps/deployments`) or by plural alone when unambiguous. */
export function resourceByKey(key: string): ResourceDef {
  const r = resources.find((d) => resourceKey(d) === key) ?? resources.find((d) => d.plural === key)
  if (!r) throw new Error(`fake-kube: unknown resource "${key}" (known: ${resources.map(resourceKey).join(', ')})`)
  return r
}

export function resourceForObject(apiVersion: string | undefined, kind: string | undefined): ResourceDef {
  const [group, version] = (apiVersion ?? '').includes('/') ? apiVersion!.split('/') : ['', apiVersion]
  const r = resources.find((d) => d.group === group && d.version === version && d.kind === kind)
  if (!r) throw new Error(`fake-kube: no resource for apiVersion "${apiVersion}" kind "${kind}"`)
  return r
}

export const groupVersions = (): { group: string; version: string }[] => {
  const seen = new Map<string, { group: string; version: string }>()
  for (const r of resources) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version })
  return [...seen.values()]
}

/** `/api` */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  }
}

function groupDoc(group: string): Record<string, unknown> {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: `${group}/${gv.version}`, version: gv.version }))
  return { name: group, versions, preferredVersion: versions[0] }
}

/** `/apis` */
export function apiGroupList(): Record<string, unknown> {
  const groups = [...new Set(resources.map((r) => r.group).filter((g) => g !== ''))]
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupDoc) }
}

/** `/apis/<group>` */
export function apiGroup(group: string): Record<string, unknown> | undefined {
  if (!resources.some((r) => r.group === group && group !== '')) return undefined
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group) }
}

/** `/api/v1` or `/apis/<group>/<version>`: one entry per resource and per subresource. */
export function apiResourceList(group: string, version: string): Record<string, unknown> | undefined {
  const rs = resources.filter((r) => r.group === group && r.version === version)
  if (rs.length === 0) return undefined
  const list: Record<string, unknown>[] = []
  for (const r of rs) {
    const entry: Record<string, unknown> = {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
    }
    if (r.shortNames) entry.shortNames = r.shortNames
    if (r.categories) entry.categories = r.categories
    entry.storageVersionHash = Buffer.from(`${group}/${version}/${r.kind}`).toString('base64').slice(0, 11)
    list.push(entry)
    for (const s of r.subresources) {
      const sub: Record<string, unknown> = {
        name: `${r.plural}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: s.kind,
        verbs: s.verbs,
      }
      if (s.group !== undefined) sub.group = s.group
      if (s.version !== undefined) sub.version = s.version
      list.push(sub)
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: list,
  }
}
