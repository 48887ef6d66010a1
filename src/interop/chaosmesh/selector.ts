/**
 * Chaos Mesh's pod selector (`selector` + `mode`/`value`, api/v1alpha1/selector.go) as a
 * faultline Kubernetes pod target. The fields and the modes are faultline's own, so most map
 * exactly; what the Kubernetes API cannot filter in one list call is refused with its reason.
 */
import { MODES, type Mode, modeValueProblem } from '../../kubernetes/modes.ts'
import { parseLabelSelector } from '../../kubernetes/label-selector.ts'
import { isPlainObject, pointer } from '../../schema.ts'
import type { Notes, Obj } from '../kube/notes.ts'

const SELECTOR_FIELDS = [
  'namespaces',
  'labelSelectors',
  'expressionSelectors',
  'annotationSelectors',
  'fieldSelectors',
  'podPhaseSelectors',
  'nodes',
  'nodeSelectors',
  'pods',
] as const

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']

/** `key=value,...` from a map, each pair checked against the label grammar. */
function pairsSelector(map: Record<string, string>, path: string, notes: Notes, what: string): string | undefined {
  const pairs: string[] = []
  for (const [k, v] of Object.entries(map)) {
    try {
      parseLabelSelector(`${k}=${v}`)
      pairs.push(`${k}=${v}`)
    } catch (err) {
      notes.refuse(
        pointer(path, k),
        `${what} "${k}=${v}" cannot be evaluated by faultline (it uses the label-selector grammar): ${(err as Error).message}`,
      )
    }
  }
  return pairs.length ? pairs.join(',') : undefined
}

/** `selector` alone (no mode): the pod-target fields. Shared by chaos objects and NetworkChaos targets. */
export function selectorFields(sel: Obj, path: string, notes: Notes, defaultNamespace: string | undefined): Obj {
  notes.only(sel, path, SELECTOR_FIELDS, 'a Chaos Mesh selector')
  const out: Obj = {}
  const namespaces = notes.list(sel, 'namespaces', path)
  if (namespaces?.length) out.namespaces = namespaces
  const labels = notes.stringMap(sel, 'labelSelectors', path)
  const expressions = notes.list(sel, 'expressionSelectors', path)
  if ((labels && Object.keys(labels).length) || expressions?.length) {
    out.labelSelector = {
      ...(labels && Object.keys(labels).length ? { matchLabels: labels } : {}),
      ...(expressions?.length ? { matchExpressions: expressions } : {}),
    }
  }
  const annotations = notes.stringMap(sel, 'annotationSelectors', path)
  if (annotations && Object.keys(annotations).length) {
    const text = pairsSelector(annotations, pointer(path, 'annotationSelectors'), notes, 'annotation')
    if (text) out.annotationSelector = text
  }
  const fields = notes.stringMap(sel, 'fieldSelectors', path)
  const fieldTerms = Object.entries(fields ?? {}).map(([k, v]) => `${k}=${v}`)
  const phases = notes.list(sel, 'podPhaseSelectors', path)
  if (phases?.length) {
    phases.forEach((p, i) => {
      if (typeof p !== 'string' || !PHASES.includes(p))
        notes.refuse(pointer(pointer(path, 'podPhaseSelectors'), i), `must be one of ${PHASES.join(', ')}`)
    })
    out.podPhases = phases
  }
  const nodes = notes.list(sel, 'nodes', path)
  if (nodes?.length === 1 && typeof nodes[0] === 'string') fieldTerms.push(`spec.nodeName=${nodes[0]}`)
  else if (nodes && nodes.length > 1)
    notes.refuse(
      pointer(path, 'nodes'),
      'pods on more than one node: faultline filters pods with one field selector, which cannot say "on node a or b" (select one node, or select by labels)',
    )
  if (fieldTerms.length) out.fieldSelector = fieldTerms.join(',')
  const nodeSelectors = notes.object(sel, 'nodeSelectors', path)
  if (nodeSelectors && Object.keys(nodeSelectors).length)
    notes.refuse(
      pointer(path, 'nodeSelectors'),
      "pods on nodes with these labels: faultline selects pods by their own labels and fields, not by their node's labels (use `nodes` with one node name)",
    )
  const pods = notes.object(sel, 'pods', path)
  if (pods && Object.keys(pods).length) out.pods = pods
  if (!out.namespaces && !out.pods) {
    if (defaultNamespace) out.namespaces = [defaultNamespace]
    else {
      out.namespaces = ['default']
      notes.approx(
        pointer(path, 'namespaces'),
        'no namespace: Chaos Mesh uses the namespace the object is created in; faultline uses "default"',
      )
    }
  }
  return out
}

/** `mode` and `value` (a string in Chaos Mesh) as faultline's. */
export function modeFields(spec: Obj, path: string, notes: Notes): Obj | undefined {
  const mode = notes.string(spec, 'mode', path)
  if (mode === undefined) return notes.refuse(pointer(path, 'mode'), `is required (one of ${MODES.join(', ')})`)
  if (!(MODES as readonly string[]).includes(mode))
    return notes.refuse(pointer(path, 'mode'), `must be one of ${MODES.join(', ')}`)
  const raw = notes.string(spec, 'value', path)
  const value = raw === undefined || raw === '' ? undefined : Number(raw)
  if (value !== undefined && Number.isNaN(value)) return notes.refuse(pointer(path, 'value'), 'must be a number')
  // Chaos Mesh ignores `value` with one and all; faultline refuses it there, so it is left out.
  if ((mode === 'one' || mode === 'all') && value !== undefined) {
    notes.approx(pointer(path, 'value'), `has no meaning with mode "${mode}" (Chaos Mesh ignores it too)`)
    return { mode }
  }
  const problem = modeValueProblem(mode as Mode, value)
  if (problem) return notes.refuse(pointer(path, 'value'), problem)
  return value === undefined ? { mode } : { mode, value }
}

/** A chaos object's `selector` + `mode` + `value` (+ `containerNames`) as a Kubernetes pod target. */
export function podTarget(
  spec: Obj,
  path: string,
  notes: Notes,
  defaultNamespace: string | undefined,
  opts: { containers?: boolean } = {},
): Obj {
  const sel = spec.selector
  if (!isPlainObject(sel)) {
    notes.refuse(pointer(path, 'selector'), 'is required: which pods the fault hits')
    return {}
  }
  const target: Obj = {
    ...selectorFields(sel, pointer(path, 'selector'), notes, defaultNamespace),
    ...modeFields(spec, path, notes),
  }
  const containers = notes.list(spec, 'containerNames', path)
  if (containers?.length) {
    if (opts.containers) target.containers = containers
    else notes.approx(pointer(path, 'containerNames'), 'ignored: this action acts on whole pods (so does Chaos Mesh)')
  }
  return target
}
