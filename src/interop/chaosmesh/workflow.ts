/**
 * A Chaos Mesh Workflow (api/v1alpha1/workflow_types.go) as a faultline method: Serial and
 * Parallel nodes are serial and parallel groups, Suspend is a wait, and a chaos node is its
 * fault held for the node's `deadline` (Chaos Mesh bounds chaos inside a workflow that way),
 * and a StatusCheck an HTTP check placed in the phase its position gives it (status-check.ts).
 */
import { parseDuration } from '../../duration.ts'
import { isPlainObject, pointer } from '../../schema.ts'
import { faultlineName, type Obj } from '../kube/notes.ts'
import { type Build, chaosSteps, embeddedKey, REFUSED_KINDS, SUPPORTED_KINDS } from './faults.ts'
import { statusCheck } from './status-check.ts'

const TEMPLATE_FIELDS = [
  'name',
  'templateType',
  'deadline',
  'children',
  'task',
  'conditionalBranches',
  'statusCheck',
  'abortWithStatusCheck',
  'schedule',
]

export function workflowSteps(spec: Obj, path: string, b: Build): Obj[] {
  const { notes } = b
  notes.only(spec, path, ['entry', 'templates'], 'a Workflow spec')
  const templates = notes.list(spec, 'templates', path) ?? []
  const byName = new Map<string, { t: Obj; path: string }>()
  templates.forEach((t, i) => {
    const tpath = pointer(pointer(path, 'templates'), i)
    if (!isPlainObject(t) || typeof t.name !== 'string')
      return void notes.refuse(tpath, 'must be a template with a name')
    byName.set(t.name, { t, path: tpath })
  })
  const entry = notes.string(spec, 'entry', path)
  if (!entry || !byName.has(entry)) return notes.refuse(pointer(path, 'entry'), 'must name one of the templates') ?? []
  const used = new Set<string>()
  const visit = (name: string, from: string, stack: string[], inParallel: boolean): Obj[] => {
    const found = byName.get(name)
    if (!found) return notes.refuse(from, `names no template "${name}"`) ?? []
    if (stack.includes(name)) return notes.refuse(from, `"${name}" contains itself`) ?? []
    return node(found.t, found.path, [...stack, name], inParallel)
  }
  const node = (t: Obj, tpath: string, stack: string[], inParallel: boolean): Obj[] => {
    const type = notes.string(t, 'templateType', tpath)
    const key = type ? embeddedKey(type) : ''
    notes.only(
      t,
      tpath,
      [
        ...TEMPLATE_FIELDS,
        ...(type && ((SUPPORTED_KINDS as readonly string[]).includes(type) || REFUSED_KINDS[type]) ? [key] : []),
      ],
      `a Workflow template of type ${type}`,
    )
    for (const f of ['task', 'conditionalBranches'] as const)
      if (t[f] !== undefined)
        notes.refuse(
          pointer(tpath, f),
          'Task nodes and conditional branches run containers of their own: faultline runs no workload in the cluster',
        )
    if (type !== 'StatusCheck' && t.abortWithStatusCheck !== undefined)
      notes.approx(pointer(tpath, 'abortWithStatusCheck'), 'ignored: it applies to StatusCheck nodes only')
    if (t.schedule !== undefined)
      notes.refuse(
        pointer(tpath, 'schedule'),
        'a Schedule inside a Workflow: faultline schedules whole experiments (a controller schedule)',
      )
    const deadlineText = notes.string(t, 'deadline', tpath)
    const deadlineMs = deadlineText === undefined ? undefined : parseDuration(deadlineText)
    if (deadlineText !== undefined && deadlineMs === undefined)
      notes.refuse(pointer(tpath, 'deadline'), 'must be a duration such as "30s"')
    const name = String(t.name)
    used.add(name)
    const children = (parallel: boolean) =>
      (notes.list(t, 'children', tpath) ?? []).flatMap((c, i) =>
        visit(String(c), pointer(pointer(tpath, 'children'), i), stack, parallel),
      )
    switch (type) {
      case 'Serial':
      case 'Parallel': {
        if (deadlineMs !== undefined)
          notes.approx(
            pointer(tpath, 'deadline'),
            `not enforced on a ${type} group: its children run to their own durations`,
          )
        const checksBefore = b.pending.length
        const steps = children(inParallel || type === 'Parallel')
        // A group of status checks alone runs no step: its checks are placed in phases.
        if (!steps.length && b.pending.length > checksBefore) return []
        if (!steps.length)
          return notes.refuse(pointer(tpath, 'children'), 'needs at least one child faultline can run') ?? []
        return [{ name: `${type} ${name}`, [type === 'Serial' ? 'serial' : 'parallel']: steps }]
      }
      case 'StatusCheck': {
        const sc = isPlainObject(t.statusCheck) ? t.statusCheck : undefined
        if (!sc) return notes.refuse(pointer(tpath, 'statusCheck'), 'is required for a StatusCheck node') ?? []
        const found = statusCheck(name, sc, pointer(tpath, 'statusCheck'), notes)
        if (found)
          b.pending.push({
            ...found,
            abort: t.abortWithStatusCheck === true,
            faultsBefore: b.faults,
            inParallel,
            ...(deadlineMs !== undefined ? { deadline: { ms: deadlineMs, path: pointer(tpath, 'deadline') } } : {}),
          })
        return []
      }
      case 'Suspend':
        if (deadlineMs === undefined)
          return notes.refuse(pointer(tpath, 'deadline'), 'is required: how long the workflow waits') ?? []
        return [{ name: `suspend ${name}`, wait: deadlineText }]
      default: {
        if (!type) return notes.refuse(pointer(tpath, 'templateType'), 'is required') ?? []
        if (!(SUPPORTED_KINDS as readonly string[]).includes(type) && !REFUSED_KINDS[type])
          return (
            notes.refuse(
              pointer(tpath, 'templateType'),
              `must be Serial, Parallel, Suspend or a chaos kind (${SUPPORTED_KINDS.join(', ')})`,
            ) ?? []
          )
        const chaos = isPlainObject(t[key]) ? (t[key] as Obj) : undefined
        if (!chaos && !REFUSED_KINDS[type])
          return notes.refuse(pointer(tpath, key), `is required for a ${type} node`) ?? []
        b.faults++
        return chaosSteps(
          type,
          chaos ?? {},
          chaos ? pointer(tpath, key) : tpath,
          b,
          faultlineName(name),
          deadlineMs === undefined ? undefined : { ms: deadlineMs, path: pointer(tpath, 'deadline') },
          pointer(tpath, 'templateType'),
        )
      }
    }
  }
  const steps = visit(entry, pointer(path, 'entry'), [], false)
  for (const [name, { path: tpath }] of byName)
    if (!used.has(name))
      notes.approx(tpath, `template "${name}" is not reachable from the entry: not run (nor by Chaos Mesh)`)
  return steps
}
