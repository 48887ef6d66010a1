/**
 * Label and field selectors with the API server's syntax and semantics (k8s.io/apimachinery
 * pkg/labels and pkg/fields): `=`, `==`, `!=`, `in (…)`, `notin (…)`, `key` (exists), `!key`
 * (does not exist), `>` and `<` for labels; `=`, `==`, `!=` for fields. `!=` and `notin` also match
 * objects without the key, as on a real server. LabelSelector objects (matchLabels /
 * matchExpressions, as in Deployments and PDBs) are matched here too.
 */
import type { KubeObject } from './store.ts'
import { badRequest } from './errors.ts'

export interface LabelRequirement {
  key: string
  op: 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt'
  values: string[]
}

const keyRe =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const valueRe = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/

function checkKey(key: string, selector: string): void {
  if (!keyRe.test(key) || key.length > 317) {
    throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`)
  }
}

function checkValue(value: string, selector: string): void {
  if (!valueRe.test(value) || value.length > 63) {
    throw badRequest(`unable to parse requirement: invalid label value: "${value}" in selector "${selector}"`)
  }
}

/** Splits on commas outside parentheses (commas inside `in (a,b)` belong to the set). */
function splitTopLevel(s: string): string[] {
  const parts: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of s) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(cur)
      cur = ''
    } else cur += ch
  }
  parts.push(cur)
  return parts
}

/** Parses a label selector string; throws a 400 Status error as the API server does for bad syntax. */
export function parseLabelSelector(selector: string | undefined | null): LabelRequirement[] {
  if (!selector || selector.trim() === '') return []
  const reqs: LabelRequirement[] = []
  for (const raw of splitTopLevel(selector)) {
    const part = raw.trim()
    if (part === '') throw badRequest(`unable to parse requirement: found '', expected: identifier in "${selector}"`)
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part)
    if (m) {
      checkKey(m[1]!, selector)
      const values = m[3]!
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
      for (const v of values) checkValue(v, selector)
      if (values.length === 0)
        throw badRequest(`unable to parse requirement: for 'in', 'notin' operators, values set can't be empty`)
      reqs.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values })
      continue
    }
    m = /^(.+?)\s*(==|!=|=|>|<)\s*(.*)$/.exec(part)
    if (m) {
      const key = m[1]!.trim()
      const value = m[3]!.trim()
      checkKey(key, selector)
      const op = m[2]!
      if (op === '>' || op === '<') {
        if (!/^-?\d+$/.test(value))
          throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`)
        reqs.push({ key, op: op === '>' ? 'gt' : 'lt', values: [value] })
        continue
      }
      checkValue(value, selector)
      reqs.push({ key, op: op === '!=' ? '!=' : '=', values: [value] })
      continue
    }
    if (part.startsWith('!')) {
      const key = part.slice(1).trim()
      checkKey(key, selector)
      reqs.push({ key, op: '!exists', values: [] })
      continue
    }
    checkKey(part, selector)
    reqs.push({ key: part, op: 'exists', values: [] })
  }
  return reqs
}

export function matchesLabelRequirements(
  labels: Record<string, string> | undefined,
  reqs: LabelRequirement[],
): boolean {
  const l = labels ?? {}
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key)
    const v = l[r.key]
    switch (r.op) {
      case 'exists':
        return has
      case '!exists':
        return !has
      case '=':
        return has && v === r.values[0]
      case '!=':
        return !has || v !== r.values[0]
      case 'in':
        return has && r.values.includes(v!)
      case 'notin':
        return !has || !r.values.includes(v!)
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v!)) return false
        return r.op === 'gt' ? Number(v) > Number(r.values[0]) : Number(v) < Number(r.values[0])
      }
    }
  })
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: string; values?: string[] }[]
}

/**
 * A LabelSelector object as in Deployment, ReplicaSet, PDB and NetworkPolicy specs. `{}` selects
 * everything; `null`/absent selects nothing (metav1.LabelSelectorAsSelector).
 */
export function matchesLabelSelectorObject(
  labels: Record<string, string> | undefined,
  sel: LabelSelectorObject | null | undefined,
): boolean {
  if (!sel) return false
  const reqs: LabelRequirement[] = []
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, op: '=', values: [value] })
  for (const e of sel.matchExpressions ?? []) {
    const op = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' }[e.operator]
    if (!op) return false
    reqs.push({ key: e.key, op: op as LabelRequirement['op'], values: e.values ?? [] })
  }
  return matchesLabelRequirements(labels, reqs)
}

/** The string form of a LabelSelector object (what a Scale's status.selector carries). */
export function labelSelectorToString(sel: LabelSelectorObject | null | undefined): string {
  if (!sel) return ''
  const parts: string[] = []
  for (const [k, v] of Object.entries(sel.matchLabels ?? {}).sort(([a], [b]) => a.localeCompare(b)))
    parts.push(`${k}=${v}`)
  for (const e of sel.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(',')
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`)
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`)
    else if (e.operator === 'Exists') parts.push(e.key)
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`)
  }
  return parts.join(',')
}

export interface FieldRequirement {
  field: string
  op: '=' | '!='
  value: string
}

/** Parses a field selector; the fields a resource supports are checked by the caller. */
export function parseFieldSelector(selector: string | undefined | null): FieldRequirement[] {
  if (!selector || selector.trim() === '') return []
  return selector.split(',').map((raw) => {
    const m = /^\s*([^=!\s]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(raw)
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`)
    return { field: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! }
  })
}

function str(v: unknown): string {
  if (v === undefined || v === null) return ''
  return typeof v === 'string' ? v : String(v)
}

/**
 * The field values a resource exposes to field selectors (the per-type GetAttrs functions of the
 * API server). Unknown fields are refused with 400, as a real server does.
 */
export function fieldValues(resource: string, namespaced: boolean, obj: KubeObject): Record<string, string> {
  const meta = obj.metadata ?? {}
  const base: Record<string, string> = { 'metadata.name': str(meta.name) }
  if (namespaced) base['metadata.namespace'] = str(meta.namespace)
  const spec = (obj.spec ?? {}) as Record<string, any>
  const status = (obj.status ?? {}) as Record<string, any>
  switch (resource) {
    case 'pods':
      return {
        ...base,
        'spec.nodeName': str(spec.nodeName),
        'spec.restartPolicy': str(spec.restartPolicy),
        'spec.schedulerName': str(spec.schedulerName),
        'spec.serviceAccountName': str(spec.serviceAccountName),
        'spec.hostNetwork': String(spec.hostNetwork === true),
        'status.phase': str(status.phase),
        'status.podIP': str(status.podIP),
        'status.nominatedNodeName': str(status.nominatedNodeName),
      }
    case 'nodes':
      return { ...base, 'spec.unschedulable': String(spec.unschedulable === true) }
    case 'namespaces':
      return { ...base, 'status.phase': str(status.phase) }
    case 'events': {
      const io = (obj.involvedObject ?? {}) as Record<string, any>
      return {
        ...base,
        'involvedObject.kind': str(io.kind),
        'involvedObject.namespace': str(io.namespace),
        'involvedObject.name': str(io.name),
        'involvedObject.uid': str(io.uid),
        'involvedObject.apiVersion': str(io.apiVersion),
        'involvedObject.resourceVersion': str(io.resourceVersion),
        'involvedObject.fieldPath': str(io.fieldPath),
        reason: str(obj.reason),
        reportingComponent: str(obj.reportingComponent),
        source: str((obj.source as Record<string, any> | undefined)?.component),
        type: str(obj.type),
      }
    }
    case 'replicasets':
    case 'replicationcontrollers':
      return { ...base, 'status.replicas': str(status.replicas ?? 0) }
    default:
      return base
  }
}

/** Checks every field is one the resource supports (400 otherwise, like the API server). */
export function checkFieldSelector(resource: string, namespaced: boolean, reqs: FieldRequirement[]): void {
  const supported = fieldValues(resource, namespaced, { metadata: {} })
  for (const r of reqs) {
    if (!Object.hasOwn(supported, r.field)) throw badRequest(`field label not supported: ${r.field}`)
  }
}

export function matchesFieldRequirements(values: Record<string, string>, reqs: FieldRequirement[]): boolean {
  return reqs.every((r) => (r.op === '=' ? values[r.field] === r.value : values[r.field] !== r.value))
}
