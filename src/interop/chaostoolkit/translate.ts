/**
 * A Chaos Toolkit experiment as faultline/v1, with Chaos Toolkit's run order: the hypothesis is
 * checked once before the method (a gate) and once after it (deviation = fail), each probe one
 * sample in declared order stopping at the first miss; the method's activities run in order,
 * a failed one not stopping the rest; faults the method leaves applied stand through the
 * second check (spec.revertAt: after-phase); the rollbacks come last.
 */
import { errors } from '../../errors.ts'
import {
  type CheckSpec,
  type ExperimentDoc,
  type StepSpec,
  type TargetSpec,
  validateExperiment,
} from '../../experiments/schema.ts'
import { isPlainObject } from '../../schema.ts'
import { CTK_ACTIVITIES, CTK_EXPERIMENT, type CtkActivityMap, SOURCE_FORMAT } from '../annotations.ts'
import type { TranslateContext, Translation } from '../types.ts'
import { chaosk8sAction, chaosk8sFunction, chaosk8sProbe, checkArguments, UNDO } from './chaosk8s.ts'
import { at, dur, Notes } from './notes.ts'
import { callStep, httpProbeCheck, processProbeCheck } from './providers.ts'
import { configurationOf, secretsOf, substituteValues, type Values } from './values.ts'

type Obj = Record<string, unknown>

/** Top-level fields of Chaos Toolkit's experiment spec. */
const KNOWN = [
  'version',
  'title',
  'description',
  'tags',
  'configuration',
  'secrets',
  'steady-state-hypothesis',
  'method',
  'rollbacks',
  'controls',
  'extensions',
  'contributions',
  'runtime',
]

const ACTIVITY_FIELDS = ['type', 'name', 'provider', 'tolerance', 'pauses', 'background', 'controls', 'ref']
const PROVIDER_FIELDS: Record<string, string[]> = {
  http: ['type', 'url', 'method', 'headers', 'arguments', 'timeout', 'expected_status', 'verify_tls', 'secrets'],
  process: ['type', 'path', 'arguments', 'timeout', 'secrets'],
  python: ['type', 'module', 'func', 'arguments', 'secrets'],
}

/** Fields an activity or provider has that Chaos Toolkit does not read: listed, never silently dropped. */
function noteUnknown(notes: Notes, activity: Obj, path: string): void {
  for (const k of Object.keys(activity))
    if (!ACTIVITY_FIELDS.includes(k))
      notes.approx(at(path, k), 'not a Chaos Toolkit activity field: ignored (as Chaos Toolkit does)')
  const p = activity.provider
  const known = isPlainObject(p) ? PROVIDER_FIELDS[String(p.type)] : undefined
  if (known && isPlainObject(p))
    for (const k of Object.keys(p))
      if (!known.includes(k))
        notes.approx(
          at(path, 'provider', k),
          `not a field of the ${String(p.type)} provider: ignored (as Chaos Toolkit does)`,
        )
}

/** A faultline name (lower-case, digits, "-", <= 63) from free text. */
export function nameOf(text: string, fallback: string): string {
  const n = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return n || fallback
}

class Builder {
  readonly notes = new Notes()
  readonly targets: Record<string, TargetSpec> = {}
  readonly activities: CtkActivityMap[] = []
  readonly #names = new Set<string>()
  readonly values: Values
  /** Activities by name, for `{ref: name}`. */
  readonly #byName = new Map<string, Obj>()

  constructor(doc: Obj, ctx: TranslateContext) {
    this.values = { ...secretsOf(doc, ctx, this.notes), ...configurationOf(doc, ctx, this.notes) }
    const hyp = isPlainObject(doc['steady-state-hypothesis']) ? doc['steady-state-hypothesis'].probes : undefined
    for (const list of [hyp, doc.method, doc.rollbacks])
      if (Array.isArray(list))
        for (const a of list)
          if (isPlainObject(a) && typeof a.name === 'string' && !('ref' in a)) this.#byName.set(a.name, a)
  }

  unique(base: string): string {
    let n = base
    for (let i = 2; this.#names.has(n); i++) n = `${base.slice(0, 60)}-${i}`
    this.#names.add(n)
    return n
  }

  target(hint: string, spec: TargetSpec): string {
    const json = JSON.stringify(spec)
    const found = Object.entries(this.targets).find(([, t]) => JSON.stringify(t) === json)
    if (found) return found[0]
    const name = this.unique(hint)
    this.targets[name] = spec
    return name
  }

  /** The activity itself, or the one a `{ref}` names. */
  resolve(a: unknown, path: string): Obj | undefined {
    if (!isPlainObject(a)) return this.notes.refuse(path, 'must be an activity object')
    if ('ref' in a) {
      const found = typeof a.ref === 'string' ? this.#byName.get(a.ref) : undefined
      return found ?? this.notes.refuse(at(path, 'ref'), `names no activity (${String(a.ref)})`)
    }
    return a
  }

  /** `pauses.{before,after}` in ms (seconds in the source, maybe substituted from a string). */
  pause(a: Obj, which: 'before' | 'after', path: string): number | undefined {
    const p = isPlainObject(a.pauses) ? a.pauses[which] : undefined
    if (p === undefined) return undefined
    const v = substituteValues(p, this.values)
    const n = typeof v === 'string' ? Number(v) : v
    if (typeof n !== 'number' || Number.isNaN(n) || n < 0)
      return this.notes.refuse(at(path, 'pauses', which), 'must be a number of seconds')
    return n > 0 ? Math.round(n * 1000) : undefined
  }

  controls(list: unknown, path: string): void {
    if (list === undefined) return
    if (!Array.isArray(list)) return void this.notes.refuse(path, 'must be a list')
    list.forEach((c, i) => {
      const p = at(path, i)
      const mod = isPlainObject(c) && isPlainObject(c.provider) ? c.provider.module : undefined
      if (typeof mod === 'string' && mod.startsWith('chaosaddons.controls.safeguards'))
        return void this.notes.refuse(
          p,
          'a safeguards control aborts the run on its probes: faultline cannot run them (use faultline guardrails), and running without them would be unsafe',
        )
      this.notes.approx(
        p,
        `control ${isPlainObject(c) ? String(c.name) : '?'} (${String(mod)}) is not run: faultline has no Python runtime; controls must not change an experiment's outcome, so the run goes on without it`,
      )
    })
  }
}

function hypothesisCheck(b: Builder, raw: unknown, i: number): CheckSpec | undefined {
  const path = at('/steady-state-hypothesis/probes', i)
  const a0 = b.resolve(raw, path)
  if (!a0) return undefined
  noteUnknown(b.notes, a0, path)
  const a = substituteValues(a0, b.values) as Obj
  const provider = a.provider
  if (!isPlainObject(provider)) return b.notes.refuse(at(path, 'provider'), 'is required')
  if (a.type !== 'probe') return b.notes.refuse(at(path, 'type'), 'must be probe in a steady-state hypothesis')
  if (!('tolerance' in a)) return b.notes.refuse(at(path, 'tolerance'), 'is required in a steady-state hypothesis')
  for (const w of ['before', 'after'] as const)
    if (b.pause(a0, w, path) !== undefined)
      b.notes.approx(at(path, 'pauses', w), 'not kept: the hypothesis probes run back to back')
  b.controls(a.controls, at(path, 'controls'))
  const name = b.unique(nameOf(String(a.name ?? ''), `probe-${i + 1}`))
  const base: CheckSpec = { name, phases: ['before', 'after'], once: true }
  const ppath = at(path, 'provider')
  const tpath = at(path, 'tolerance')
  let check: CheckSpec | undefined
  if (provider.type === 'http') {
    const http = httpProbeCheck(provider, a.tolerance, ppath, tpath, b.notes)
    check = http && { ...base, http }
  } else if (provider.type === 'process') {
    const rawPath = isPlainObject(a0.provider) ? a0.provider.path : undefined
    const command = processProbeCheck(provider, rawPath, a.tolerance, ppath, tpath, b.notes)
    check = command && { ...base, command }
  } else if (provider.type === 'python') {
    const func = chaosk8sFunction(provider, ppath, 'probe', b.notes)
    const args = func ? checkArguments(func, provider, ppath, b.notes) : undefined
    const k = func && args ? chaosk8sProbe(func, args, a.tolerance, at(ppath, 'arguments'), tpath, b) : undefined
    check = k && { ...base, ...k }
  } else
    return b.notes.refuse(
      at(ppath, 'type'),
      `is ${JSON.stringify(provider.type)}: faultline maps http, process and python (chaosk8s)`,
    )
  if (check) b.activities.push({ section: 'steady-state-hypothesis', index: i, check: name })
  return check
}

/** Pauses planned after step `i` to the end of the method: what a kept fault is planned to hold. */
function plannedAfter(b: Builder, method: unknown[], i: number): number {
  let ms = 0
  for (const a of method.slice(i)) {
    const r = isPlainObject(a) ? a : undefined
    if (!r) continue
    for (const w of ['before', 'after'] as const) {
      const p = isPlainObject(r.pauses) ? substituteValues(r.pauses[w], b.values) : undefined
      if (typeof p === 'number') ms += p * 1000
    }
  }
  return ms
}

function methodSteps(
  b: Builder,
  method: unknown[],
  raw: unknown,
  i: number,
  section: 'method' | 'rollbacks',
): StepSpec[] {
  const path = at(`/${section}`, i)
  const a0 = b.resolve(raw, path)
  if (!a0) return []
  noteUnknown(b.notes, a0, path)
  const a = substituteValues(a0, b.values) as Obj
  const provider = a.provider
  if (!isPlainObject(provider)) return b.notes.refuse(at(path, 'provider'), 'is required') ?? []
  if (a.type !== 'action' && a.type !== 'probe')
    return b.notes.refuse(at(path, 'type'), 'must be action or probe') ?? []
  if (a.type === 'probe' && 'tolerance' in a)
    b.notes.approx(at(path, 'tolerance'), 'not judged: Chaos Toolkit does not judge tolerances in the method either')
  b.controls(a.controls, at(path, 'controls'))
  const label = String(a.name ?? `${section} ${i + 1}`).slice(0, 128)
  const ppath = at(path, 'provider')
  let step: StepSpec | undefined
  let revertOf: string[] | undefined
  if (provider.type === 'http' || provider.type === 'process') {
    const rawPath = isPlainObject(a0.provider) ? a0.provider.path : undefined
    step = callStep(provider, rawPath, ppath, b.notes)
  } else if (provider.type === 'python') {
    const func = chaosk8sFunction(provider, ppath, a.type === 'probe' ? 'probe' : 'action', b.notes)
    const args = func ? checkArguments(func, provider, ppath, b.notes) : undefined
    if (func && a.type === 'probe')
      return (
        b.notes.refuse(
          ppath,
          `${func} in the ${section}: faultline judges chaosk8s probes in the steady-state hypothesis only`,
        ) ?? []
      )
    if (!func || !args) return []
    if (section === 'rollbacks') {
      revertOf = undoneBy(b, func, args, method, ppath)
      if (!revertOf) return []
    } else step = chaosk8sAction(func, args, at(ppath, 'arguments'), plannedAfter(b, method, i + 1), b)
  } else
    return (
      b.notes.refuse(
        at(ppath, 'type'),
        `is ${JSON.stringify(provider.type)}: faultline maps http, process and python (chaosk8s)`,
      ) ?? []
    )
  if (!step && !revertOf) return []
  b.activities.push({ section, index: i, ...(step ? { step: label } : {}), ...(revertOf ? { revertOf } : {}) })
  const before = b.pause(a0, 'before', path)
  const after = b.pause(a0, 'after', path)
  const out: StepSpec[] = []
  if (before) out.push({ name: `pause before ${label}`.slice(0, 128), wait: dur(before) })
  if (step) out.push({ name: label, ...step })
  if (after) out.push({ name: `pause after ${label}`.slice(0, 128), wait: dur(after) })
  return out
}

/** A chaosk8s undo in the rollbacks: the method actions whose faults faultline's revert undoes. */
function undoneBy(b: Builder, func: string, args: Obj, method: unknown[], path: string): string[] | undefined {
  const undoes = UNDO[func]
  if (!undoes)
    return b.notes.refuse(
      path,
      `${func} in the rollbacks: faultline maps only undo functions there (${Object.keys(UNDO).join(', ')})`,
    )
  const matches = method
    .map((m) => (isPlainObject(m) ? (substituteValues(m, b.values) as Obj) : undefined))
    .filter((m): m is Obj => {
      const p = m && isPlainObject(m.provider) ? m.provider : undefined
      if (!p || p.type !== 'python' || !undoes.includes(String(p.func))) return false
      if (func !== 'scale_deployment') return true
      const a = isPlainObject(p.arguments) ? p.arguments : {}
      return a.name === args.name && (a.ns ?? 'default') === (args.ns ?? 'default')
    })
  if (!matches.length)
    return b.notes.refuse(
      path,
      `${func} undoes nothing the method did (${undoes.join(' or ')}): faultline only reverts its own faults`,
    )
  b.notes.approx(
    path,
    func === 'scale_deployment'
      ? 'played as faultline\'s revert of the method\'s scale_deployment: the replica count recorded before the method is restored, whatever "replicas" says here'
      : `played as faultline's revert of the method's ${undoes.join('/')}: each object goes back to the state recorded before the method`,
  )
  return matches.map((m) => String(m.name ?? ''))
}

function runtimeOf(b: Builder, doc: Obj, hasRollbacks: boolean): { rollbacks: boolean } {
  const rt = doc.runtime
  if (rt === undefined) {
    if (hasRollbacks)
      b.notes.approx(
        '/rollbacks',
        "played after every run (Chaos Toolkit's always strategy); by default Chaos Toolkit skips them when a probe errored",
      )
    return { rollbacks: true }
  }
  if (!isPlainObject(rt)) return { rollbacks: !b.notes.refuse('/runtime', 'must be an object') }
  const hs = isPlainObject(rt.hypothesis) ? rt.hypothesis.strategy : undefined
  if (hs !== undefined && hs !== 'default')
    b.notes.refuse(
      '/runtime/hypothesis/strategy',
      `is ${JSON.stringify(hs)}: faultline maps the default strategy (before and after the method)`,
    )
  const rs = isPlainObject(rt.rollbacks) ? rt.rollbacks.strategy : undefined
  if (rs === 'never') return { rollbacks: false }
  if ((rs === undefined || rs === 'default' || rs === 'deviated') && hasRollbacks)
    b.notes.approx(
      '/runtime/rollbacks/strategy',
      `${String(rs ?? 'default')}: faultline plays the rollbacks after every run (always)`,
    )
  else if (rs !== undefined && rs !== 'always' && rs !== 'default' && rs !== 'deviated')
    b.notes.refuse('/runtime/rollbacks/strategy', `is ${JSON.stringify(rs)}: not a Chaos Toolkit strategy`)
  return { rollbacks: true }
}

/** The translation. Throws FL_ERR_EXPERIMENT_INVALID listing every refused field. */
export function translateChaosToolkit(doc: Obj, ctx: TranslateContext): Translation {
  const b = new Builder(doc, ctx)
  const { notes } = b
  for (const k of Object.keys(doc))
    if (!KNOWN.includes(k)) notes.approx(at('', k), 'not a Chaos Toolkit field: ignored (Chaos Toolkit ignores it too)')
  if (typeof doc.title !== 'string' || !doc.title) notes.refuse('/title', 'is required')
  const title = String(doc.title ?? '')
  for (const k of ['extensions', 'contributions'])
    if (doc[k] !== undefined)
      notes.approx(at('', k), 'kept in the Chaos Toolkit journal only: faultline does not use it')
  b.controls(doc.controls, '/controls')

  const hyp = doc['steady-state-hypothesis']
  const checks: CheckSpec[] = []
  let hypTitle = title
  if (hyp === undefined)
    notes.approx(
      '/steady-state-hypothesis',
      "none: nothing is judged, so faultline's verdict is inconclusive (Chaos Toolkit reports completed)",
    )
  else if (!isPlainObject(hyp)) notes.refuse('/steady-state-hypothesis', 'must be an object')
  else {
    if (typeof hyp.title === 'string' && hyp.title) hypTitle = hyp.title
    b.controls(hyp.controls, '/steady-state-hypothesis/controls')
    const probes = hyp.probes ?? []
    if (!Array.isArray(probes)) notes.refuse('/steady-state-hypothesis/probes', 'must be a list')
    else if (!probes.length)
      notes.approx(
        '/steady-state-hypothesis/probes',
        "none: nothing is judged, so faultline's verdict is inconclusive (Chaos Toolkit reports completed)",
      )
    else
      probes.forEach((p, i) => {
        const c = hypothesisCheck(b, p, i)
        if (c) checks.push(c)
      })
  }

  const method = doc.method
  if (!Array.isArray(method) || !method.length) notes.refuse('/method', 'must be a non-empty list of activities')
  const steps = Array.isArray(method) ? method.flatMap((raw, i) => methodSteps(b, method, raw, i, 'method')) : []
  const background = Array.isArray(method) ? method.findIndex((m) => isPlainObject(m) && m.background === true) : -1
  if (background >= 0)
    notes.refuse(
      at('/method', background, 'background'),
      'faultline runs the method in order; background activities are not mapped',
    )

  const rollbackList = doc.rollbacks ?? []
  const rt = runtimeOf(b, doc, Array.isArray(rollbackList) && rollbackList.length > 0)
  if (!Array.isArray(rollbackList)) notes.refuse('/rollbacks', 'must be a list')
  const rollbacks =
    rt.rollbacks && Array.isArray(rollbackList)
      ? rollbackList.flatMap((raw, i) => methodSteps(b, Array.isArray(method) ? method : [], raw, i, 'rollbacks'))
      : []

  let description = typeof doc.description === 'string' ? doc.description : undefined
  if (description && description.length > 4096) {
    notes.approx('/description', 'cut to 4096 characters')
    description = description.slice(0, 4096)
  }
  const tags = Array.isArray(doc.tags) ? doc.tags.map(String) : []
  if (doc.tags !== undefined && !Array.isArray(doc.tags)) notes.refuse('/tags', 'must be a list')
  notes.throwIfRefused(ctx.file, 'Chaos Toolkit')

  const experiment = {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: {
      name: nameOf(title, 'chaostoolkit-experiment'),
      ...(tags.length ? { labels: Object.fromEntries(tags.map((t) => [t.slice(0, 256), 'true'])) } : {}),
      annotations: {
        [SOURCE_FORMAT]: 'chaostoolkit',
        [CTK_EXPERIMENT]: JSON.stringify(doc),
        [CTK_ACTIVITIES]: JSON.stringify(b.activities),
      },
    },
    spec: {
      ...(description ? { description } : {}),
      targets: b.targets,
      hypothesis: { title: hypTitle.slice(0, 256), checks },
      method: steps,
      revertAt: 'after-phase',
      ...(rollbacks.length ? { rollbacks } : {}),
    },
  }
  const result = validateExperiment(experiment)
  if (!result.ok)
    throw errors.FL_ERR_EXPERIMENT_INVALID(
      `${ctx.file}: the Chaos Toolkit document translates to an invalid faultline/v1 document (a substituted value?)`,
      { issues: result.issues.map((i) => ({ path: `(faultline/v1) ${i.path}`, message: i.message })) },
    )
  return {
    format: 'chaostoolkit',
    experiment: result.experiment as ExperimentDoc,
    approximations: notes.approximations,
  }
}
