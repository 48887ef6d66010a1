/**
 * A ChaosEngine spec (chaos-operator api/litmuschaos/v1alpha1/chaosengine_types.go) as a
 * faultline/v1 document: the application (`appinfo` or `selectors`) is a Kubernetes pod target,
 * the experiment its method, and its probes the hypothesis. An engine without probes is an
 * observation run (Litmus 3 refuses one; Litmus 2 passes it), inconclusive by construction.
 */
import { parseLabelSelector } from '../../kubernetes/label-selector.ts'
import { isPlainObject, pointer } from '../../schema.ts'
import { faultlineName, type Notes, type Obj } from '../kube/notes.ts'
import { Env } from './env.ts'
import { DEFAULTS, experimentSteps, type ExperimentBuild } from './experiments.ts'
import { probesToChecks } from './probes.ts'

const ENGINE_FIELDS = [
  'engineState',
  'appinfo',
  'selectors',
  'chaosServiceAccount',
  'jobCleanUpPolicy',
  'annotationCheck',
  'auxiliaryAppInfo',
  'components',
  'experiments',
  'terminationGracePeriodSeconds',
  'defaultHealthCheck',
  'monitoring',
]

/** Engine fields that only configure Litmus's own pods and bookkeeping. */
const ENGINE_IGNORED: Record<string, string> = {
  chaosServiceAccount: "ignored: faultline acts with its kubeconfig's identity (or the controller's service account)",
  jobCleanUpPolicy: 'ignored: faultline creates no experiment job to clean up',
  annotationCheck: 'ignored: Litmus 1.x opt-in annotation (faultline has requireOptIn on targets)',
  components: 'ignored: it configures the chaos runner pod, which faultline does not run',
  terminationGracePeriodSeconds: 'ignored: the grace period of Litmus helper pods',
  monitoring: 'ignored: the Litmus chaos exporter',
  defaultHealthCheck:
    "ignored: faultline judges only the probes (Litmus's default health check waits for the app's pods to run)",
}

/** ChaosExperiment documents in the same file: their `spec.definition.env`, by experiment name. */
export type ExperimentEnvs = Map<string, { env: unknown[]; path: string }>

export interface EngineContext {
  notes: Notes
  name: string
  namespace: string | undefined
  labels?: Record<string, string>
  file: string
  sidecar: { adminPort?: number; adminToken?: string }
  experimentEnvs: ExperimentEnvs
}

/** A label selector Litmus would pass to the API server: refused at its source path when it is not one. */
function checkSelector(text: string, path: string, notes: Notes): void {
  try {
    parseLabelSelector(text)
  } catch (err) {
    notes.refuse(path, `is not a label selector: ${(err as Error).message}`)
  }
}

/** `appinfo` or `selectors` as the pod-target fields (namespaces, labelSelector, pods). */
function application(spec: Obj, path: string, c: EngineContext): { app?: Obj; appPath: string } {
  const { notes } = c
  const appinfo = notes.object(spec, 'appinfo', path)
  const selectors = notes.object(spec, 'selectors', path)
  if (appinfo && selectors) notes.refuse(pointer(path, 'selectors'), 'give appinfo or selectors, not both')
  if (appinfo) {
    const apath = pointer(path, 'appinfo')
    notes.only(appinfo, apath, ['appns', 'applabel', 'appkind'], 'appinfo')
    const ns = notes.string(appinfo, 'appns', apath) || c.namespace
    const label = notes.string(appinfo, 'applabel', apath)
    if (label) checkSelector(label, pointer(apath, 'applabel'), notes)
    const kind = notes.string(appinfo, 'appkind', apath)
    if (kind)
      notes.approx(
        pointer(apath, 'appkind'),
        `faultline selects the pods by label; it does not check that a ${kind} owns them`,
      )
    if (!ns) return { appPath: apath, app: notes.refuse(pointer(apath, 'appns'), 'is required') }
    return { appPath: apath, app: { namespaces: [ns], ...(label ? { labelSelector: label } : {}) } }
  }
  if (selectors) {
    const spath = pointer(path, 'selectors')
    notes.only(selectors, spath, ['pods', 'workloads'], 'selectors')
    const pods = notes.list(selectors, 'pods', spath)
    const workloads = notes.list(selectors, 'workloads', spath)
    if (pods?.length && workloads?.length) notes.refuse(spath, 'give pods or workloads, not both')
    if (pods?.length) {
      const byNs: Record<string, string[]> = {}
      pods.forEach((p, i) => {
        const ppath = pointer(pointer(spath, 'pods'), i)
        if (!isPlainObject(p)) return void notes.refuse(ppath, 'must be {namespace, names}')
        notes.only(p, ppath, ['namespace', 'names'], 'a pods selector')
        const ns = notes.string(p, 'namespace', ppath) ?? c.namespace
        const names = notes.string(p, 'names', ppath) ?? ''
        if (!ns) return void notes.refuse(pointer(ppath, 'namespace'), 'is required')
        byNs[ns] = [
          ...(byNs[ns] ?? []),
          ...names
            .split(',')
            .map((n) => n.trim())
            .filter(Boolean),
        ]
      })
      return { appPath: spath, app: { pods: byNs } }
    }
    if (workloads?.length) {
      const namespaces = new Set<string>()
      const labels = new Set<string>()
      workloads.forEach((w, i) => {
        const wpath = pointer(pointer(spath, 'workloads'), i)
        if (!isPlainObject(w)) return void notes.refuse(wpath, 'must be {kind, namespace, names or labels}')
        notes.only(w, wpath, ['kind', 'namespace', 'names', 'labels'], 'a workloads selector')
        const ns = notes.string(w, 'namespace', wpath) ?? c.namespace
        if (ns) namespaces.add(ns)
        else notes.refuse(pointer(wpath, 'namespace'), 'is required')
        if (w.names !== undefined)
          notes.refuse(pointer(wpath, 'names'), "faultline selects a workload's pods by their labels: give labels")
        const l = notes.string(w, 'labels', wpath)
        if (l) checkSelector(l, pointer(wpath, 'labels'), notes)
        if (l) labels.add(l)
        else if (w.names === undefined) notes.refuse(pointer(wpath, 'labels'), 'is required')
        if (w.kind !== undefined)
          notes.approx(
            pointer(wpath, 'kind'),
            'faultline selects the pods by label; it does not check their owner kind',
          )
      })
      if (labels.size > 1)
        notes.refuse(
          pointer(spath, 'workloads'),
          'workloads with different labels: faultline targets one label selector',
        )
      return {
        appPath: spath,
        app: { namespaces: [...namespaces], ...(labels.size ? { labelSelector: [...labels][0] } : {}) },
      }
    }
  }
  return { appPath: pointer(path, 'appinfo') }
}

/** The faultline document for a ChaosEngine spec at `path`. */
export function engineDocument(spec: Obj, path: string, c: EngineContext): Obj {
  const { notes } = c
  notes.only(spec, path, ENGINE_FIELDS, 'a ChaosEngine spec')
  const state = notes.string(spec, 'engineState', path)
  if (state === 'stop') notes.refuse(pointer(path, 'engineState'), 'a stopped engine runs nothing (set it to active)')
  else if (state !== undefined && state !== 'active')
    notes.refuse(pointer(path, 'engineState'), 'must be active or stop')
  for (const [k, why] of Object.entries(ENGINE_IGNORED)) if (spec[k] !== undefined) notes.approx(pointer(path, k), why)
  if (spec.auxiliaryAppInfo !== undefined && spec.auxiliaryAppInfo !== '')
    notes.refuse(
      pointer(path, 'auxiliaryAppInfo'),
      "Litmus checks these apps' pods are running around the chaos: write that as a k8sProbe",
    )
  const { app, appPath } = application(spec, path, c)
  const experiments = notes.list(spec, 'experiments', path) ?? []
  if (experiments.length !== 1)
    notes.refuse(
      pointer(path, 'experiments'),
      `holds ${experiments.length} experiments: faultline runs one per ChaosEngine, as Litmus 2 and 3 do`,
    )
  const targets: Record<string, Obj> = {}
  const observations: Obj[] = []
  let method: Obj[] = []
  let checks: Obj[] = []
  let guardrails: Obj[] = []
  let expName = 'experiment'
  const exp = experiments[0]
  const epath = pointer(pointer(path, 'experiments'), 0)
  if (isPlainObject(exp)) {
    notes.only(exp, epath, ['name', 'spec'], 'an engine experiment')
    expName = notes.string(exp, 'name', epath) ?? ''
    const espec = notes.object(exp, 'spec', epath) ?? {}
    const spath = pointer(epath, 'spec')
    notes.only(espec, spath, ['components', 'probe', 'rank'], 'an engine experiment spec')
    if (espec.rank !== undefined)
      notes.approx(pointer(spath, 'rank'), 'ignored: the order of experiments in a Litmus workflow')
    const components = notes.object(espec, 'components', spath) ?? {}
    const cpath = pointer(spath, 'components')
    const known = ['env', 'statusCheckTimeouts']
    for (const k of Object.keys(components))
      if (!known.includes(k))
        notes.approx(pointer(cpath, k), "ignored: it configures Litmus's experiment pod, which faultline does not run")
    const env = new Env(notes, DEFAULTS[expName] ?? {})
    const fromDoc = c.experimentEnvs.get(expName)
    if (fromDoc) env.layer(fromDoc.env, fromDoc.path)
    env.layer(notes.list(components, 'env', cpath), pointer(cpath, 'env'))
    const timeouts = notes.object(components, 'statusCheckTimeouts', cpath)
    let statusTimeoutMs: number | undefined
    if (timeouts) {
      const tpath = pointer(cpath, 'statusCheckTimeouts')
      notes.only(timeouts, tpath, ['delay', 'timeout'], 'statusCheckTimeouts')
      if (timeouts.timeout !== undefined) statusTimeoutMs = Number(timeouts.timeout) * 1000
      if (timeouts.delay !== undefined)
        notes.approx(pointer(tpath, 'delay'), 'faultline follows pods with a watch; it has no polling delay')
    }
    const probes = notes.list(espec, 'probe', spath) ?? []
    const build: ExperimentBuild = {
      notes,
      env,
      envPath: pointer(cpath, 'env'),
      path: epath,
      app,
      appPath,
      targets,
      observations,
      sidecar: c.sidecar,
      ...(statusTimeoutMs ? { statusTimeoutMs } : {}),
      observe: probes.length === 0,
    }
    method = experimentSteps(expName, build) ?? []
    // A refused experiment's variables are not worth a refusal each: the experiment is refused.
    if (DEFAULTS[expName]) env.finish(expName)
    const judged = probesToChecks(probes, pointer(spath, 'probe'), notes)
    checks = judged.checks
    guardrails = judged.guardrails
    Object.assign(targets, judged.targets)
  } else if (exp !== undefined) notes.refuse(epath, 'must be {name, spec}')
  const title = checks.length
    ? `Litmus ${expName}: every probe passes (${checks.map((x) => x.name).join(', ')})`
    : `Observe Litmus ${expName}: no probes, so no hypothesis`
  return {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name: faultlineName(c.name), ...(c.labels ? { labels: c.labels } : {}) },
    spec: {
      description: `Litmus ChaosEngine ${c.name} (${expName}), translated from ${c.file}`,
      targets,
      hypothesis: { title, checks },
      ...(guardrails.length ? { guardrails } : {}),
      ...(observations.length ? { observations } : {}),
      method,
    },
  }
}
