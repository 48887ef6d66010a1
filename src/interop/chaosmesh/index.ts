/**
 * Chaos Mesh (apiVersion chaos-mesh.org/v1alpha1) as faultline/v1: one chaos object, a Workflow
 * or a Schedule per file. A Chaos Mesh object states no hypothesis, so the translation is an
 * observation run: the fault is applied for its duration, the selected pods (and, for HTTPChaos,
 * their sidecars' latency and errors) are observed before, during and after, and the verdict is
 * inconclusive by construction.
 */
import { pointer } from '../../schema.ts'
import type { InteropFormat, InteropSchedule, TranslateContext, Translation } from '../types.ts'
import { robfigCron } from '../kube/cron.ts'
import { faultlineName, finish, kindOf, Notes, type Obj, SERVER_METADATA, substituteVars } from '../kube/notes.ts'
import { type Build, chaosSteps, embeddedKey, REFUSED_KINDS, SUPPORTED_KINDS } from './faults.ts'
import { placeChecks } from './status-check.ts'
import { workflowSteps } from './workflow.ts'

const API_GROUP = 'chaos-mesh.org/'

function metadataOf(doc: Obj, notes: Notes): { name: string; namespace?: string; labels?: Record<string, string> } {
  const meta = notes.object(doc, 'metadata', '') ?? {}
  notes.only(
    meta,
    '/metadata',
    ['name', 'generateName', 'namespace', 'labels', 'annotations', ...SERVER_METADATA],
    'metadata',
  )
  notes.serverMetadata(meta, '/metadata')
  const annotations = notes.stringMap(meta, 'annotations', '/metadata')
  for (const [k, v] of Object.entries(annotations ?? {})) {
    const path = pointer(pointer('/metadata', 'annotations'), k)
    if (k === 'experiment.chaos-mesh.org/pause' && v === 'true')
      notes.refuse(path, 'a paused chaos object injects nothing: remove the annotation to run it')
    else notes.approx(path, 'ignored: annotations configure Chaos Mesh itself, not the fault')
  }
  const raw = notes.string(meta, 'name', '/metadata') ?? notes.string(meta, 'generateName', '/metadata')
  if (meta.name !== undefined && meta.generateName !== undefined)
    notes.approx('/metadata/generateName', 'ignored: the object has a name')
  if (!raw) notes.refuse('/metadata/name', 'is required')
  const name = faultlineName(raw ?? 'chaos')
  if (raw && name !== raw)
    notes.approx('/metadata/name', `"${raw}" becomes "${name}" (faultline names: lower-case letters, digits and "-")`)
  const labels = notes.stringMap(meta, 'labels', '/metadata')
  return {
    name,
    namespace: notes.string(meta, 'namespace', '/metadata'),
    ...(labels && Object.keys(labels).length ? { labels } : {}),
  }
}

function sidecarFrom(ctx: TranslateContext, notes: Notes): Build['sidecar'] {
  const portText = ctx.vars.SIDECAR_ADMIN_PORT ?? ctx.env.FAULTLINE_SIDECAR_ADMIN_PORT
  const port = portText === undefined ? undefined : Number(portText)
  if (portText !== undefined && (!Number.isInteger(port) || port! < 1 || port! > 65535))
    notes.refuse('--var SIDECAR_ADMIN_PORT', 'must be a port number')
  const token = ctx.vars.SIDECAR_TOKEN ?? ctx.env.FAULTLINE_SIDECAR_TOKEN
  return { ...(port ? { adminPort: port } : {}), ...(token ? { adminToken: token } : {}) }
}

/** A Schedule's cron and policies as the controller's schedule; its embedded object as the steps. */
function schedule(spec: Obj, b: Build, name: string): { steps: Obj[]; schedule?: InteropSchedule } {
  const { notes } = b
  const type = notes.string(spec, 'type', '/spec')
  const key = type ? embeddedKey(type) : ''
  notes.only(
    spec,
    '/spec',
    ['schedule', 'startingDeadlineSeconds', 'concurrencyPolicy', 'historyLimit', 'type', ...(key ? [key] : [])],
    `a Schedule of type ${type}`,
  )
  const cronText = notes.string(spec, 'schedule', '/spec')
  const cron = cronText === undefined ? { problem: 'is required' } : robfigCron(cronText)
  if ('problem' in cron) notes.refuse('/spec/schedule', cron.problem)
  else if (cron.approximation) notes.approx('/spec/schedule', cron.approximation)
  if (cronText !== undefined && !('problem' in cron) && !cron.timezone)
    notes.approx('/spec/schedule', "Chaos Mesh reads the cron in its controller's time zone; faultline in UTC")
  const policy = notes.string(spec, 'concurrencyPolicy', '/spec') ?? 'Forbid'
  if (policy !== 'Forbid' && policy !== 'Allow') notes.refuse('/spec/concurrencyPolicy', 'must be Forbid or Allow')
  if (spec.startingDeadlineSeconds !== undefined)
    notes.approx(
      '/spec/startingDeadlineSeconds',
      'faultline never starts a missed firing late: a firing the controller was down for is skipped',
    )
  const history = spec.historyLimit === undefined ? undefined : Number(spec.historyLimit)
  if (history !== undefined && (!Number.isInteger(history) || history < 1))
    notes.refuse('/spec/historyLimit', 'must be a whole number above 0')
  let steps: Obj[] = []
  if (!type) notes.refuse('/spec/type', 'is required: the kind of object the schedule creates')
  else if (type === 'Workflow') {
    const wf = notes.object(spec, 'workflow', '/spec')
    steps = wf ? workflowSteps(wf, '/spec/workflow', b) : (notes.refuse('/spec/workflow', 'is required') ?? [])
  } else {
    const chaos = notes.object(spec, key, '/spec')
    if (!chaos && !REFUSED_KINDS[type]) notes.refuse(pointer('/spec', key), `is required for type ${type}`)
    else
      steps = chaosSteps(
        type,
        chaos ?? {},
        chaos ? pointer('/spec', key) : '/spec/type',
        b,
        name,
        undefined,
        '/spec/type',
      )
  }
  if ('problem' in cron) return { steps }
  return {
    steps,
    schedule: {
      name,
      experiment: name,
      cron: cron.cron,
      ...(cron.timezone ? { timezone: cron.timezone } : {}),
      concurrencyPolicy: policy === 'Allow' ? 'allow' : 'forbid',
      ...(history ? { historyLimit: history } : {}),
    },
  }
}

function translate(source: unknown[], ctx: TranslateContext): Translation {
  const notes = new Notes()
  const docs = source.map((d, i) => substituteVars(d, ctx.vars, notes, source.length > 1 ? `/${i}` : ''))
  if (docs.length !== 1)
    notes.refuse(
      '',
      `holds ${docs.length} documents: faultline runs one Chaos Mesh object per file (a Workflow runs several faults)`,
    )
  const doc = docs[0] as Obj
  notes.only(doc, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status'], 'a Chaos Mesh object')
  if (doc.status !== undefined) notes.approx('/status', 'ignored: written by Chaos Mesh, not part of the experiment')
  const meta = metadataOf(doc, notes)
  const kind = String(doc.kind)
  const spec = notes.object(doc, 'spec', '') ?? notes.refuse('/spec', 'is required') ?? {}
  const b: Build = {
    notes,
    pending: [],
    faults: 0,
    defaultNamespace: meta.namespace,
    targets: {},
    observations: [],
    sidecar: sidecarFrom(ctx, notes),
  }
  let steps: Obj[] = []
  let sched: InteropSchedule | undefined
  if (kind === 'Workflow') steps = workflowSteps(spec, '/spec', b)
  else if (kind === 'Schedule') ({ steps, schedule: sched } = schedule(spec, b, meta.name))
  else if ((SUPPORTED_KINDS as readonly string[]).includes(kind) || REFUSED_KINDS[kind])
    steps = chaosSteps(kind, spec, '/spec', b, meta.name)
  else
    notes.refuse(
      '/kind',
      `${kind} is not a Chaos Mesh kind faultline runs (${[...SUPPORTED_KINDS, 'Workflow', 'Schedule'].join(', ')})`,
    )
  const { checks, guardrails } = placeChecks(b.pending, b.faults, notes)
  const judged = checks.length > 0
  const experiment: Obj = {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name: meta.name, ...(meta.labels ? { labels: meta.labels } : {}) },
    spec: {
      description: `Chaos Mesh ${kind} ${meta.name}, translated from ${ctx.file}${judged ? '' : ': an observation run (Chaos Mesh objects state no hypothesis)'}`,
      targets: b.targets,
      hypothesis: {
        title: judged
          ? `${kind} ${meta.name}: its status checks pass (${checks.map((c) => String(c.name)).join(', ')})`
          : `Observe ${kind} ${meta.name}: no hypothesis (a Chaos Mesh object states none)`,
        checks,
      },
      ...(guardrails.length ? { guardrails } : {}),
      observations: b.observations,
      method: steps,
    },
  }
  return finish('chaosmesh', ctx.file, experiment, notes, sched)
}

export const chaosMesh: InteropFormat = {
  name: 'chaosmesh',
  title: 'Chaos Mesh',
  detect: (docs) => docs.length > 0 && docs.every((d) => kindOf(d)?.apiVersion.startsWith(API_GROUP) === true),
  translate,
}
