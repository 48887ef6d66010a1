/**
 * The injector's configuration file (YAML or JSON), checked like every other document in the
 * project: unknown fields are refused with a suggestion, and every problem is reported with its
 * JSON pointer, so a typo never silently injects something else. Absent fields take the
 * defaults below; no file at all means every default.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { errors, type FieldIssue } from '../../src/errors.ts'
import { NAME_PATTERN } from '../../src/names.ts'
import { array, boolean, choice, type Infer, number, object, required, string } from '../../src/schema.ts'
import { DEFAULT_ADMIN_PORT, DEFAULT_PROXY_PORT, DEFAULT_SIDECAR_UID, DEFAULT_SYSTEM_NAMESPACES } from './names.ts'
import { parseQuantity, quantityProblem } from './quantity.ts'
import { DEFAULT_IMAGE } from './image.ts'

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/

const quantity = (description: string) => string({ refine: quantityProblem, description })
const resourceList = object({
  cpu: quantity('CPU, e.g. "100m"'),
  memory: quantity('memory, e.g. "128Mi"'),
})

export interface Resources {
  requests?: { cpu?: string; memory?: string }
  limits?: { cpu?: string; memory?: string }
}

/** The first request above its limit, as a message (the API server would refuse the pod). */
export function requestOverLimit(r: Resources): { resource: 'cpu' | 'memory'; message: string } | undefined {
  for (const resource of ['cpu', 'memory'] as const) {
    const request = r.requests?.[resource]
    const limit = r.limits?.[resource]
    if (request === undefined || limit === undefined) continue
    if (parseQuantity(request)! > parseQuantity(limit)!)
      return { resource, message: `${resource} request ${request} is more than its limit ${limit}` }
  }
  return undefined
}

const resources = object(
  { requests: resourceList, limits: resourceList },
  {
    description: 'container resources; a request may not exceed its limit',
    refine(v, path, issues) {
      const over = requestOverLimit(v)
      if (over) issues.push({ path: `${path}/requests/${over.resource}`, message: over.message })
    },
  },
)

const port = (description: string) => number({ integer: true, min: 1, max: 65535, description })

export const injectorConfigSchema = object(
  {
    image: string({ minLength: 1, description: 'the faultline image, for the sidecar and the capture container' }),
    imagePullPolicy: choice(['Always', 'IfNotPresent', 'Never'], 'default IfNotPresent'),
    ownNamespace: string({
      pattern: DNS_LABEL,
      description: "the injector's own namespace, never injected (default $FAULTLINE_NAMESPACE, else the pod's own)",
    }),
    excludeNamespaces: array(string({ pattern: DNS_LABEL }), {
      description: `never injected, besides ownNamespace; default ${DEFAULT_SYSTEM_NAMESPACES.join(', ')}`,
    }),
    proxyPort: port(`the sidecar's proxy port; default ${DEFAULT_PROXY_PORT}`),
    adminPort: port(`the sidecar's admin port (the driver's sidecarAdminPort); default ${DEFAULT_ADMIN_PORT}`),
    sidecarUid: number({
      integer: true,
      min: 1,
      max: 2_147_483_647,
      description: `the sidecar's user id, exempted by the capture rules; default ${DEFAULT_SIDECAR_UID}`,
    }),
    adminTokenSecret: object(
      {
        name: required(string({ pattern: DNS_SUBDOMAIN, description: "a Secret in the pod's namespace" })),
        key: string({ pattern: /^[-._a-zA-Z0-9]+$/, maxLength: 253, description: 'default "token"' }),
        optional: boolean(
          'default true: a missing Secret starts the sidecar without a token (it proxies, and refuses every admin change); false: the pod waits for the Secret',
        ),
      },
      { description: "the sidecar's admin token, as env FAULTLINE_ADMIN_TOKEN from this Secret" },
    ),
    redisUrl: string({ pattern: /^rediss?:\/\/\S+$/, description: 'fleet mode: the sidecars follow this Redis' }),
    logLevel: choice(['trace', 'debug', 'info', 'warn', 'error'], "the sidecar's log level"),
    resources,
    capture: choice(['iptables', 'none'], 'default iptables; the pod annotation faultline.io/capture overrides'),
    excludeInboundPorts: array(port('a port'), {
      description: 'never captured nor picked as the app port; the pod annotation overrides',
    }),
    captureResources: resources,
    namespaceLookup: boolean(
      "read the pod's namespace labels through the Kubernetes API (needs get on namespaces); default false",
    ),
  },
  {
    refine(v, path, issues) {
      const proxy = v.proxyPort ?? DEFAULT_PROXY_PORT
      if (proxy === (v.adminPort ?? DEFAULT_ADMIN_PORT))
        issues.push({ path: `${path}/adminPort`, message: `must differ from proxyPort ${proxy}` })
    },
  },
)

export type InjectorConfigDoc = Infer<typeof injectorConfigSchema>

/** The configuration with every default filled in. */
export interface InjectorConfig {
  image: string
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never'
  ownNamespace?: string
  excludeNamespaces: string[]
  proxyPort: number
  adminPort: number
  sidecarUid: number
  adminTokenSecret: { name: string; key: string; optional: boolean }
  redisUrl?: string
  logLevel?: string
  resources: Resources
  capture: 'iptables' | 'none'
  excludeInboundPorts: number[]
  captureResources: Resources
  namespaceLookup: boolean
}

/** What an empty configuration means. */
export function defaultInjectorConfig(): InjectorConfig {
  return {
    image: DEFAULT_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    excludeNamespaces: [...DEFAULT_SYSTEM_NAMESPACES],
    proxyPort: DEFAULT_PROXY_PORT,
    adminPort: DEFAULT_ADMIN_PORT,
    sidecarUid: DEFAULT_SIDECAR_UID,
    // Optional: a namespace without a copy of the Secret must not block its pods (fail-open). The
    // sidecar always gets --admin-token-required, so without the token it refuses every change.
    adminTokenSecret: { name: 'faultline-admin-token', key: 'token', optional: true },
    // No CPU limit would be kinder to a proxy's latency, but namespaces with a ResourceQuota on
    // limits refuse containers without one; 1 CPU is far above what the proxy needs.
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    capture: 'iptables',
    excludeInboundPorts: [],
    // The capture container is a short-lived Node process: enough memory to start Node.
    captureResources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    namespaceLookup: false,
  }
}

/**
 * Checks a parsed document and fills in the defaults; throws FL_ERR_CONFIG_INVALID listing
 * every problem with its path. `source` names the file in the message.
 */
export function resolveInjectorConfig(doc: unknown, source = 'injector configuration'): InjectorConfig {
  const issues: FieldIssue[] = []
  const v = injectorConfigSchema.check(doc ?? {}, '', issues)
  if (!v)
    throw errors.FL_ERR_CONFIG_INVALID(`${source}: ${issues.map((i) => `${i.path || '/'} ${i.message}`).join('; ')}`, {
      issues,
    })
  const d = defaultInjectorConfig()
  return {
    image: v.image ?? d.image,
    imagePullPolicy: v.imagePullPolicy ?? d.imagePullPolicy,
    ownNamespace: v.ownNamespace,
    excludeNamespaces: v.excludeNamespaces ?? d.excludeNamespaces,
    proxyPort: v.proxyPort ?? d.proxyPort,
    adminPort: v.adminPort ?? d.adminPort,
    sidecarUid: v.sidecarUid ?? d.sidecarUid,
    adminTokenSecret: v.adminTokenSecret
      ? {
          name: v.adminTokenSecret.name,
          key: v.adminTokenSecret.key ?? 'token',
          optional: v.adminTokenSecret.optional ?? d.adminTokenSecret.optional,
        }
      : d.adminTokenSecret,
    redisUrl: v.redisUrl,
    logLevel: v.logLevel,
    resources: v.resources ?? d.resources,
    capture: v.capture ?? d.capture,
    excludeInboundPorts: v.excludeInboundPorts ?? d.excludeInboundPorts,
    captureResources: v.captureResources ?? d.captureResources,
    namespaceLookup: v.namespaceLookup ?? d.namespaceLookup,
  }
}

/** Reads and checks a configuration file; no file means every default. */
export function loadInjectorConfig(file?: string): InjectorConfig {
  if (file === undefined) return resolveInjectorConfig({})
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID(`cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
      issues: [{ path: '--config', message: (err as Error).message }],
    })
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID(`${file} is not valid YAML or JSON: ${(err as Error).message}`, {
      cause: err,
      issues: [{ path: '--config', message: (err as Error).message }],
    })
  }
  return resolveInjectorConfig(doc, file)
}

/** A fleet service name the sidecar accepts (it becomes part of Redis keys). */
export function serviceNameProblem(name: string): string | undefined {
  return NAME_PATTERN.test(name) ? undefined : 'must be letters, digits, ".", "_" and "-" (at most 128)'
}
