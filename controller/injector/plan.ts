/**
 * What to inject into one pod: the configuration, overridden by the pod's annotations, checked
 * against the pod itself. Pure. A problem (a malformed annotation, no port to front, a port the
 * sidecar would collide with) throws FL_ERR_CONFIG_INVALID with the offending path: the server
 * then admits the pod unchanged with a warning (fail-open), never a pod the API server would
 * refuse or a sidecar that cannot start.
 *
 * One sidecar proxies one upstream, so it fronts ONE app port: `faultline.io/app-port` (a number
 * or a containerPort name), else the first TCP containerPort of the app containers, in order,
 * that is not excluded. Only that port is captured; the pod's other ports bypass the sidecar.
 */
import { errors, type FieldIssue } from '../../src/errors.ts'
import { pointer } from '../../src/schema.ts'
import { type InjectorConfig, requestOverLimit, type Resources, serviceNameProblem } from './config.ts'
import {
  ADMIN_PORT_ANNOTATION,
  APP_PORT_ANNOTATION,
  CAPTURE_ANNOTATION,
  EXCLUDE_INBOUND_ANNOTATION,
  POD_SECURITY_ENFORCE_LABEL,
  PROXY_CPU_ANNOTATION,
  PROXY_CPU_LIMIT_ANNOTATION,
  PROXY_MEMORY_ANNOTATION,
  PROXY_MEMORY_LIMIT_ANNOTATION,
  PROXY_PORT_ANNOTATION,
  PROXY_PORT_NAME,
  SERVICE_ANNOTATION,
  SERVICE_LABELS,
} from './names.ts'
import { annotationsOf, labelsOf, type PodJson } from './pod.ts'
import { quantityProblem } from './quantity.ts'

export interface InjectionPlan {
  /** The app port the sidecar forwards to, on 127.0.0.1. */
  appPort: number
  proxyPort: number
  adminPort: number
  capture: 'iptables' | 'none'
  /** Ports never captured (passed to `faultline capture --exclude-ports`). */
  excludeInboundPorts: number[]
  /** The sidecar's --service, when the pod names one. */
  service?: string
  /** Fleet mode: --redis and --advertise-admin are set. */
  fleet: boolean
  resources: Resources
  /** Not problems, but the user should know (returned as AdmissionReview warnings). */
  warnings: string[]
}

const annotationPath = (key: string) => pointer('/metadata/annotations', key)
const PORT_TEXT = /^\d{1,5}$/

function portFrom(text: string): number | undefined {
  const n = PORT_TEXT.test(text) ? Number(text) : 0
  return n >= 1 && n <= 65535 ? n : undefined
}

const isTcp = (p: { protocol?: string }) => p.protocol === undefined || p.protocol === 'TCP'

export interface PlanInput {
  pod: PodJson
  config: InjectorConfig
  /** The namespace's labels when looked up (Pod Security enforcement turns capture off). */
  namespaceLabels?: Record<string, string>
}

export function planInjection({ pod, config, namespaceLabels }: PlanInput): InjectionPlan {
  const ann = annotationsOf(pod)
  const issues: FieldIssue[] = []
  const warnings: string[] = []

  const portAnnotation = (key: string): number | undefined => {
    const text = ann[key]
    if (text === undefined) return undefined
    const port = portFrom(text.trim())
    if (port === undefined) issues.push({ path: annotationPath(key), message: `must be a port 1-65535, got "${text}"` })
    return port
  }
  const proxyPort = portAnnotation(PROXY_PORT_ANNOTATION) ?? config.proxyPort
  const adminPort = portAnnotation(ADMIN_PORT_ANNOTATION) ?? config.adminPort
  if (proxyPort === adminPort)
    issues.push({
      path: annotationPath(ADMIN_PORT_ANNOTATION),
      message: `must differ from the proxy port ${proxyPort}`,
    })

  let excludeInboundPorts = config.excludeInboundPorts
  const excludeText = ann[EXCLUDE_INBOUND_ANNOTATION]
  if (excludeText !== undefined) {
    // The annotation replaces the configured list (as Istio's traffic.sidecar.istio.io annotations do).
    excludeInboundPorts = []
    for (const part of excludeText.split(',').map((s) => s.trim())) {
      if (part === '') continue
      const port = portFrom(part)
      if (port === undefined)
        issues.push({
          path: annotationPath(EXCLUDE_INBOUND_ANNOTATION),
          message: `must be comma-separated ports, got "${part}"`,
        })
      else if (!excludeInboundPorts.includes(port)) excludeInboundPorts.push(port)
    }
  }
  excludeInboundPorts = [...excludeInboundPorts].sort((a, b) => a - b)

  let capture = config.capture
  const captureText = ann[CAPTURE_ANNOTATION]
  if (captureText !== undefined) {
    if (captureText === 'iptables' || captureText === 'none') capture = captureText
    else
      issues.push({
        path: annotationPath(CAPTURE_ANNOTATION),
        message: `must be "iptables" or "none", got "${captureText}"`,
      })
  }
  const enforce = namespaceLabels?.[POD_SECURITY_ENFORCE_LABEL]
  if (capture === 'iptables' && (enforce === 'baseline' || enforce === 'restricted')) {
    // Pod Security admission runs after the mutating webhooks and would refuse the whole pod.
    capture = 'none'
    warnings.push(
      `faultline: namespace enforces Pod Security "${enforce}", which forbids NET_ADMIN: no traffic capture; ` +
        `point the Service's targetPort at ${PROXY_PORT_NAME} (${proxyPort})`,
    )
  }

  const appPort = chooseAppPort(pod, ann[APP_PORT_ANNOTATION], excludeInboundPorts, issues)
  if (appPort !== undefined)
    for (const [port, what, key] of [
      [proxyPort, 'proxy', PROXY_PORT_ANNOTATION],
      [adminPort, 'admin', ADMIN_PORT_ANNOTATION],
    ] as const)
      if (appPort === port)
        issues.push({
          path: annotationPath(key),
          message: `the app port ${appPort} is the sidecar's ${what} port: set ${key} to a free port`,
        })
  portCollisions(pod, proxyPort, adminPort, issues)

  const service = serviceName(pod, issues)
  let fleet = false
  if (config.redisUrl) {
    if (service) fleet = true
    else
      warnings.push(
        `faultline: no service name (annotation ${SERVICE_ANNOTATION}, label ${SERVICE_LABELS.join(' or ')}): ` +
          'the sidecar runs without fleet mode',
      )
  }

  const resources = podResources(config.resources, ann, issues)
  if (issues.length)
    throw errors.FL_ERR_CONFIG_INVALID(`${issues[0]!.path} ${issues[0]!.message}`, {
      issues,
    })
  return { appPort: appPort!, proxyPort, adminPort, capture, excludeInboundPorts, service, fleet, resources, warnings }
}

function chooseAppPort(
  pod: PodJson,
  annotation: string | undefined,
  excluded: number[],
  issues: FieldIssue[],
): number | undefined {
  const path = annotationPath(APP_PORT_ANNOTATION)
  const tcpPorts = pod.spec.containers.flatMap((c) => (c.ports ?? []).filter(isTcp))
  if (annotation !== undefined) {
    const text = annotation.trim()
    // A number need not be declared (apps often listen on undeclared ports); a name must be.
    const port = PORT_TEXT.test(text) ? portFrom(text) : tcpPorts.find((p) => p.name === text)?.containerPort
    if (port === undefined)
      return void issues.push({
        path,
        message: PORT_TEXT.test(text)
          ? `must be a port 1-65535, got "${annotation}"`
          : `names no TCP containerPort of the app containers: "${annotation}"`,
      })
    if (excluded.includes(port))
      return void issues.push({ path, message: `port ${port} is also in ${EXCLUDE_INBOUND_ANNOTATION}` })
    return port
  }
  const first = tcpPorts.find((p) => !excluded.includes(p.containerPort))
  if (!first)
    return void issues.push({
      path: '/spec/containers',
      message: `no TCP containerPort to front${excluded.length ? ' that is not excluded' : ''}: annotate ${APP_PORT_ANNOTATION}`,
    })
  return first.containerPort
}

/** A declared port equal to the sidecar's would make one of the two fail to bind. */
function portCollisions(pod: PodJson, proxyPort: number, adminPort: number, issues: FieldIssue[]): void {
  const kinds = [
    ['containers', pod.spec.containers],
    ['initContainers', pod.spec.initContainers ?? []],
  ] as const
  for (const [kind, list] of kinds)
    list.forEach((c, i) =>
      (c.ports ?? []).forEach((p, j) => {
        const what = p.containerPort === proxyPort ? 'proxy' : p.containerPort === adminPort ? 'admin' : undefined
        if (what)
          issues.push({
            path: `/spec/${kind}/${i}/ports/${j}/containerPort`,
            message: `${p.containerPort} is the sidecar's ${what} port: set ${what === 'proxy' ? PROXY_PORT_ANNOTATION : ADMIN_PORT_ANNOTATION}`,
          })
      }),
    )
}

function serviceName(pod: PodJson, issues: FieldIssue[]): string | undefined {
  const fromAnnotation = annotationsOf(pod)[SERVICE_ANNOTATION]
  if (fromAnnotation !== undefined) {
    const problem = serviceNameProblem(fromAnnotation)
    if (problem) issues.push({ path: annotationPath(SERVICE_ANNOTATION), message: problem })
    return fromAnnotation
  }
  const labels = labelsOf(pod)
  // Label values are always valid names, except the empty value, which names nothing.
  for (const key of SERVICE_LABELS) if (labels[key]) return labels[key]
  return undefined
}

function podResources(base: Resources, ann: Record<string, string>, issues: FieldIssue[]): Resources {
  const out: Resources = {
    ...(base.requests ? { requests: { ...base.requests } } : {}),
    ...(base.limits ? { limits: { ...base.limits } } : {}),
  }
  const overrides = [
    [PROXY_CPU_ANNOTATION, 'requests', 'cpu'],
    [PROXY_MEMORY_ANNOTATION, 'requests', 'memory'],
    [PROXY_CPU_LIMIT_ANNOTATION, 'limits', 'cpu'],
    [PROXY_MEMORY_LIMIT_ANNOTATION, 'limits', 'memory'],
  ] as const
  let bad = false
  for (const [key, list, resource] of overrides) {
    const text = ann[key]
    if (text === undefined) continue
    const problem = quantityProblem(text)
    if (problem) {
      bad = true
      issues.push({ path: annotationPath(key), message: problem })
      continue
    }
    out[list] = { ...out[list], [resource]: text }
  }
  const over = bad ? undefined : requestOverLimit(out)
  if (over) {
    const key = over.resource === 'cpu' ? PROXY_CPU_ANNOTATION : PROXY_MEMORY_ANNOTATION
    issues.push({ path: annotationPath(key), message: `${over.message} (set ${key}-limit too)` })
  }
  return out
}
