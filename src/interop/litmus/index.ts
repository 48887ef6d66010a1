/**
 * Litmus (apiVersion litmuschaos.io/v1alpha1) as faultline/v1: a ChaosEngine, or a ChaosSchedule
 * (its engineTemplateSpec, run on the controller's schedule). A file may also carry the
 * ChaosExperiment (its env defaults apply, as in Litmus) and RBAC objects for the experiment's
 * service account (noted: faultline acts with its own identity).
 */
import { isPlainObject, pointer } from '../../schema.ts'
import type { InteropFormat, InteropSchedule, TranslateContext, Translation } from '../types.ts'
import { faultlineName, finish, kindOf, Notes, type Obj, SERVER_METADATA, substituteVars } from '../kube/notes.ts'
import { engineDocument, type ExperimentEnvs } from './engine.ts'
import { chaosSchedule } from './schedule.ts'

const API = 'litmuschaos.io/'
const RBAC_KINDS = ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']

function metadata(
  doc: Obj,
  base: string,
  notes: Notes,
): { name?: string; namespace?: string; labels?: Record<string, string> } {
  const mpath = `${base}/metadata`
  const meta = notes.object(doc, 'metadata', base) ?? {}
  notes.only(meta, mpath, ['name', 'namespace', 'labels', 'annotations', ...SERVER_METADATA], 'metadata')
  notes.serverMetadata(meta, mpath)
  const annotations = notes.stringMap(meta, 'annotations', mpath)
  for (const k of Object.keys(annotations ?? {}))
    notes.approx(
      pointer(pointer(mpath, 'annotations'), k),
      'ignored: annotations configure Litmus itself (probeRef probes live in ChaosCenter, not in the file)',
    )
  const labels = notes.stringMap(meta, 'labels', mpath)
  return {
    name: notes.string(meta, 'name', mpath),
    namespace: notes.string(meta, 'namespace', mpath),
    ...(labels && Object.keys(labels).length ? { labels } : {}),
  }
}

function sidecarFrom(ctx: TranslateContext, notes: Notes): { adminPort?: number; adminToken?: string } {
  const portText = ctx.vars.SIDECAR_ADMIN_PORT ?? ctx.env.FAULTLINE_SIDECAR_ADMIN_PORT
  const port = portText === undefined ? undefined : Number(portText)
  if (portText !== undefined && (!Number.isInteger(port) || port! < 1 || port! > 65535))
    notes.refuse('--var SIDECAR_ADMIN_PORT', 'must be a port number')
  const token = ctx.vars.SIDECAR_TOKEN ?? ctx.env.FAULTLINE_SIDECAR_TOKEN
  return { ...(port ? { adminPort: port } : {}), ...(token ? { adminToken: token } : {}) }
}

function translate(source: unknown[], ctx: TranslateContext): Translation {
  const notes = new Notes()
  const docs = source.map((d, i) => substituteVars(d, ctx.vars, notes, source.length > 1 ? `/${i}` : ''))
  const experimentEnvs: ExperimentEnvs = new Map()
  let main: { doc: Obj; base: string } | undefined
  docs.forEach((d, i) => {
    const base = docs.length > 1 ? `/${i}` : ''
    const k = kindOf(d)
    if (!k || !isPlainObject(d)) return void notes.refuse(base || '/', 'is not a Kubernetes object')
    if (RBAC_KINDS.includes(k.kind))
      return void notes.approx(base || '/', `${k.kind}: ignored, faultline acts with its kubeconfig's identity`)
    if (!k.apiVersion.startsWith(API))
      return void notes.refuse(`${base}/apiVersion`, `${k.apiVersion} ${k.kind} is not a Litmus object`)
    if (k.kind === 'ChaosExperiment') {
      const spec = isPlainObject(d.spec) ? d.spec : {}
      const def = isPlainObject(spec.definition) ? spec.definition : {}
      const name = isPlainObject(d.metadata) ? String(d.metadata.name) : ''
      experimentEnvs.set(name, { env: Array.isArray(def.env) ? def.env : [], path: `${base}/spec/definition/env` })
      notes.approx(
        base || '/',
        "ChaosExperiment: its env gives the defaults; the rest (image, permissions, args) describes Litmus's experiment pod",
      )
      return
    }
    if (k.kind !== 'ChaosEngine' && k.kind !== 'ChaosSchedule')
      return void notes.refuse(`${base}/kind`, `${k.kind}: faultline runs a ChaosEngine or a ChaosSchedule`)
    if (main) return void notes.refuse(base, 'a second ChaosEngine or ChaosSchedule: one per file')
    main = { doc: d, base }
  })
  if (!main) {
    notes.refuse('', 'holds no ChaosEngine or ChaosSchedule')
    return finish('litmus', ctx.file, {}, notes)
  }
  const { doc, base } = main
  notes.only(doc, base, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], `a ${String(doc.kind)}`)
  if (doc.status !== undefined) notes.approx(`${base}/status`, 'ignored: written by Litmus, not part of the experiment')
  const meta = metadata(doc, base, notes)
  if (!meta.name) notes.refuse(`${base}/metadata/name`, 'is required')
  const name = faultlineName(meta.name ?? 'litmus')
  if (meta.name && name !== meta.name) notes.approx(`${base}/metadata/name`, `"${meta.name}" becomes "${name}"`)
  const spec = notes.object(doc, 'spec', base) ?? {}
  const c = {
    notes,
    name,
    namespace: meta.namespace,
    labels: meta.labels,
    file: ctx.file,
    sidecar: sidecarFrom(ctx, notes),
    experimentEnvs,
  }
  let schedule: InteropSchedule | undefined
  let experiment: Obj
  if (doc.kind === 'ChaosEngine') experiment = engineDocument(spec, `${base}/spec`, c)
  else ({ experiment, schedule } = chaosSchedule(spec, `${base}/spec`, c))
  return finish('litmus', ctx.file, experiment, notes, schedule)
}

export const litmus: InteropFormat = {
  name: 'litmus',
  title: 'Litmus',
  detect: (docs) =>
    docs.some((d) => kindOf(d)?.apiVersion.startsWith(API) === true) &&
    docs.every((d) => {
      const k = kindOf(d)
      return k !== undefined && (k.apiVersion.startsWith(API) || RBAC_KINDS.includes(k.kind))
    }),
  translate,
}
