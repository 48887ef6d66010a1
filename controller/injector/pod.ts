/**
 * The parts of a Pod the injector reads, as raw JSON from the AdmissionReview (not client-node's
 * models, which turn timestamps into Dates). readPod() checks exactly the shape the injector
 * relies on and says where it is wrong; everything else in the pod is passed through untouched.
 */
import { errors, type FieldIssue } from '../../src/errors.ts'
import { isPlainObject, pointer } from '../../src/schema.ts'

export interface ContainerPortJson {
  name?: string
  containerPort: number
  protocol?: string
}

export interface ContainerJson {
  name: string
  ports?: ContainerPortJson[]
  [k: string]: unknown
}

export interface PodJson {
  metadata?: {
    name?: string
    generateName?: string
    namespace?: string
    labels?: Record<string, string> | null
    annotations?: Record<string, string> | null
    [k: string]: unknown
  }
  spec: {
    containers: ContainerJson[]
    initContainers?: ContainerJson[] | null
    ephemeralContainers?: ContainerJson[] | null
    volumes?: { name: string; [k: string]: unknown }[] | null
    hostNetwork?: boolean
    [k: string]: unknown
  }
  [k: string]: unknown
}

function checkStringMap(v: unknown, path: string, issues: FieldIssue[]): void {
  if (v === undefined || v === null) return
  if (!isPlainObject(v)) return void issues.push({ path, message: 'must be an object of strings' })
  for (const [k, x] of Object.entries(v))
    if (typeof x !== 'string') issues.push({ path: pointer(path, k), message: 'must be a string' })
}

function checkContainers(v: unknown, path: string, issues: FieldIssue[], required: boolean): void {
  if (v === undefined || v === null) {
    if (required) issues.push({ path, message: 'is required' })
    return
  }
  if (!Array.isArray(v)) return void issues.push({ path, message: 'must be an array' })
  if (required && v.length === 0) issues.push({ path, message: 'must have at least one container' })
  v.forEach((c, i) => {
    const at = pointer(path, i)
    if (!isPlainObject(c)) return void issues.push({ path: at, message: 'must be an object' })
    if (typeof c.name !== 'string' || c.name === '') issues.push({ path: `${at}/name`, message: 'must be a name' })
    if (c.ports === undefined || c.ports === null) return
    if (!Array.isArray(c.ports)) return void issues.push({ path: `${at}/ports`, message: 'must be an array' })
    c.ports.forEach((p, j) => {
      const pp = pointer(`${at}/ports`, j)
      if (!isPlainObject(p)) return void issues.push({ path: pp, message: 'must be an object' })
      if (!Number.isInteger(p.containerPort))
        issues.push({ path: `${pp}/containerPort`, message: 'must be an integer' })
      if (p.name !== undefined && typeof p.name !== 'string')
        issues.push({ path: `${pp}/name`, message: 'must be a string' })
      if (p.protocol !== undefined && typeof p.protocol !== 'string')
        issues.push({ path: `${pp}/protocol`, message: 'must be a string' })
    })
  })
}

/**
 * `object` as a pod the injector can work on, or FL_ERR_BAD_REQUEST listing what is wrong (paths
 * relative to `path`, e.g. `/request/object`). Fields the injector does not read are not checked.
 */
export function readPod(object: unknown, path: string): PodJson {
  const issues: FieldIssue[] = []
  if (!isPlainObject(object)) issues.push({ path, message: 'must be a Pod object' })
  else {
    const meta = object.metadata
    if (meta !== undefined && !isPlainObject(meta))
      issues.push({ path: `${path}/metadata`, message: 'must be an object' })
    else if (meta) {
      checkStringMap(meta.labels, `${path}/metadata/labels`, issues)
      checkStringMap(meta.annotations, `${path}/metadata/annotations`, issues)
    }
    const spec = object.spec
    if (!isPlainObject(spec)) issues.push({ path: `${path}/spec`, message: 'must be an object' })
    else {
      checkContainers(spec.containers, `${path}/spec/containers`, issues, true)
      checkContainers(spec.initContainers, `${path}/spec/initContainers`, issues, false)
      checkContainers(spec.ephemeralContainers, `${path}/spec/ephemeralContainers`, issues, false)
      const volumes = spec.volumes
      if (volumes !== undefined && volumes !== null && !Array.isArray(volumes))
        issues.push({ path: `${path}/spec/volumes`, message: 'must be an array' })
      if (spec.hostNetwork !== undefined && typeof spec.hostNetwork !== 'boolean')
        issues.push({ path: `${path}/spec/hostNetwork`, message: 'must be true or false' })
    }
  }
  if (issues.length)
    throw errors.FL_ERR_BAD_REQUEST(`not a pod the injector understands: ${issues[0]!.path} ${issues[0]!.message}`, {
      issues,
    })
  return object as PodJson
}

export function labelsOf(pod: PodJson): Record<string, string> {
  return pod.metadata?.labels ?? {}
}

export function annotationsOf(pod: PodJson): Record<string, string> {
  return pod.metadata?.annotations ?? {}
}

/** Every container of the pod, of every kind. */
export function allContainers(pod: PodJson): ContainerJson[] {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? []), ...(pod.spec.ephemeralContainers ?? [])]
}

/** How the pod is named in logs and warnings: its name, or `generateName` + `*` before it has one. */
export function podLabel(pod: PodJson | undefined, namespace: string | undefined): string {
  const name = pod?.metadata?.name || (pod?.metadata?.generateName ? `${pod.metadata.generateName}*` : '(unnamed)')
  return namespace ? `${namespace}/${name}` : name
}
