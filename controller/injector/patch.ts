/**
 * The JSONPatch (RFC 6902) that injects a planned sidecar into a pod. Pure: the same pod and plan
 * give the same patch. Linkerd's shape (k8s-faults.md §3.2): a missing map or array is created by
 * an `add` of the whole value (appending to a missing array fails), keys are escaped as RFC 6901
 * pointer tokens (`/` -> `~1`), and the capture container goes first, then the native sidecar, so
 * both precede the pod's own init containers: traffic is redirected before anything listens, and
 * the proxy is up (its startupProbe passed) before the app starts and stops after it.
 */
import type { JsonPatchOp } from '../../src/json-patch.ts'
import type { InjectorConfig } from './config.ts'
import {
  ADMIN_PORT_NAME,
  ADMIN_TOKEN_ENV,
  MEMORY_LIMIT_ENV,
  CAPTURE_CONTAINER,
  POD_IP_ENV,
  PROXY_PORT_NAME,
  SIDECAR_CONTAINER,
  STATUS_ANNOTATION,
  XTABLES_VOLUME,
} from './names.ts'
import type { InjectionPlan } from './plan.ts'
import type { PodJson } from './pod.ts'

export type { JsonPatchOp }

/** What `faultline.io/status` records (as Istio's sidecar.istio.io/status): JSON, version 1. */
export interface InjectionStatus {
  version: 1
  image: string
  initContainers: string[]
  volumes: string[]
  appPort: number
  proxyPort: number
  adminPort: number
  capture: 'iptables' | 'none'
  service?: string
  fleet: boolean
}

/** An RFC 6901 reference token: `~` -> `~0`, `/` -> `~1` (in that order). */
export function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

/** The arguments of `faultline sidecar` (its flags: src/config.ts SIDECAR_FLAGS). */
export function sidecarArgs(plan: InjectionPlan, config: InjectorConfig): string[] {
  const args = [
    'sidecar',
    '--upstream',
    `http://127.0.0.1:${plan.appPort}`,
    '--listen',
    `0.0.0.0:${plan.proxyPort}`,
    // On all addresses: kubelet probes and the controller reach the admin API at the pod IP.
    '--admin',
    `0.0.0.0:${plan.adminPort}`,
    // The token's secretKeyRef may be optional (a namespace without the Secret): then the sidecar
    // still proxies, but refuses every admin change rather than take it from anyone on the pod IP.
    '--admin-token-required',
  ]
  if (plan.service) args.push('--service', plan.service)
  if (plan.fleet)
    // The kubelet expands $(VAR) from the container's env: the controller must reach the pod IP,
    // not the 0.0.0.0 the admin API listens on.
    args.push('--redis', config.redisUrl!, '--advertise-admin', `http://$(${POD_IP_ENV}):${plan.adminPort}`)
  if (config.logLevel) args.push('--log-level', config.logLevel)
  return args
}

/** The arguments of `faultline capture` (the contract with sidecar/capture). */
export function captureArgs(plan: InjectionPlan, config: InjectorConfig): string[] {
  const args = [
    'capture',
    '--proxy-port',
    String(plan.proxyPort),
    '--app-ports',
    String(plan.appPort),
    '--sidecar-uid',
    String(config.sidecarUid),
  ]
  if (plan.excludeInboundPorts.length) args.push('--exclude-ports', plan.excludeInboundPorts.join(','))
  return args
}

export function sidecarContainer(plan: InjectionPlan, config: InjectorConfig): Record<string, unknown> {
  const uid = config.sidecarUid
  const secret = config.adminTokenSecret
  return {
    name: SIDECAR_CONTAINER,
    image: config.image,
    imagePullPolicy: config.imagePullPolicy,
    // A native sidecar (Kubernetes 1.29+): an init container that keeps running.
    restartPolicy: 'Always',
    args: sidecarArgs(plan, config),
    env: [
      { name: POD_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      {
        name: ADMIN_TOKEN_ENV,
        valueFrom: { secretKeyRef: { name: secret.name, key: secret.key, optional: secret.optional } },
      },
      // The sidecar sizes V8's heap from its own memory limit (bin/faultline.js), so a burst
      // ends in garbage collection, not in the kernel's OOM kill of the pod's data plane.
      {
        name: MEMORY_LIMIT_ENV,
        valueFrom: {
          resourceFieldRef: { containerName: SIDECAR_CONTAINER, resource: 'limits.memory', divisor: '1Mi' },
        },
      },
    ],
    ports: [
      { name: PROXY_PORT_NAME, containerPort: plan.proxyPort, protocol: 'TCP' },
      { name: ADMIN_PORT_NAME, containerPort: plan.adminPort, protocol: 'TCP' },
    ],
    // The app starts only once this passes; /healthz, because /readyz needs the app itself up.
    startupProbe: {
      httpGet: { path: '/healthz', port: plan.adminPort },
      periodSeconds: 1,
      timeoutSeconds: 1,
      failureThreshold: 60,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: plan.adminPort },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    resources: plan.resources,
    securityContext: {
      runAsUser: uid,
      runAsGroup: uid,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      // With the above, Pod Security "restricted" admits the sidecar (capture: none).
      seccompProfile: { type: 'RuntimeDefault' },
    },
  }
}

export function captureContainer(plan: InjectionPlan, config: InjectorConfig): Record<string, unknown> {
  return {
    name: CAPTURE_CONTAINER,
    image: config.image,
    imagePullPolicy: config.imagePullPolicy,
    args: captureArgs(plan, config),
    resources: config.captureResources,
    securityContext: {
      // iptables needs root with NET_ADMIN (and NET_RAW for its raw sockets); nothing else.
      runAsUser: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
    // iptables takes its lock in /run/xtables.lock: the only writable path.
    volumeMounts: [{ name: XTABLES_VOLUME, mountPath: '/run' }],
  }
}

export function injectionStatus(plan: InjectionPlan, config: InjectorConfig): InjectionStatus {
  const capture = plan.capture === 'iptables'
  return {
    version: 1,
    image: config.image,
    initContainers: capture ? [CAPTURE_CONTAINER, SIDECAR_CONTAINER] : [SIDECAR_CONTAINER],
    volumes: capture ? [XTABLES_VOLUME] : [],
    appPort: plan.appPort,
    proxyPort: plan.proxyPort,
    adminPort: plan.adminPort,
    capture: plan.capture,
    ...(plan.service ? { service: plan.service } : {}),
    fleet: plan.fleet,
  }
}

export function buildPatch(pod: PodJson, plan: InjectionPlan, config: InjectorConfig): JsonPatchOp[] {
  const ops: JsonPatchOp[] = []
  const status = JSON.stringify(injectionStatus(plan, config))
  // `add` on a member that exists replaces it, so a null map or list is handled like a missing one.
  if (!pod.metadata) ops.push({ op: 'add', path: '/metadata', value: { annotations: { [STATUS_ANNOTATION]: status } } })
  else if (!pod.metadata.annotations)
    ops.push({ op: 'add', path: '/metadata/annotations', value: { [STATUS_ANNOTATION]: status } })
  else ops.push({ op: 'add', path: `/metadata/annotations/${pointerToken(STATUS_ANNOTATION)}`, value: status })

  const capture = plan.capture === 'iptables'
  const added = [...(capture ? [captureContainer(plan, config)] : []), sidecarContainer(plan, config)]
  if (!pod.spec.initContainers) ops.push({ op: 'add', path: '/spec/initContainers', value: added })
  else added.forEach((c, i) => ops.push({ op: 'add', path: `/spec/initContainers/${i}`, value: c }))

  if (capture && !(pod.spec.volumes ?? []).some((v) => v.name === XTABLES_VOLUME)) {
    const volume = { name: XTABLES_VOLUME, emptyDir: {} }
    if (!pod.spec.volumes) ops.push({ op: 'add', path: '/spec/volumes', value: [volume] })
    else ops.push({ op: 'add', path: '/spec/volumes/-', value: volume })
  }
  return ops
}
