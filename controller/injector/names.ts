/**
 * The names the injector reads and writes on pods: the labels and annotations of DESIGN §9 (the
 * contract with users and with the chart), the containers and volume it adds, and the defaults
 * the sidecar and the driver already agree on (proxy 8480, admin 8481, uid 65532).
 */

/** Namespace label `enabled` or pod label `"true"` / `"false"`: opt in or out. */
export const INJECT_LABEL = 'faultline.io/inject'
/** Pod annotation: JSON of what the injector added; its presence makes a second pass a no-op. */
export const STATUS_ANNOTATION = 'faultline.io/status'
/** Pod annotation: `iptables` (default) or `none`. */
export const CAPTURE_ANNOTATION = 'faultline.io/capture'
/** Pod annotation: the app port the sidecar fronts, a number or a containerPort name. */
export const APP_PORT_ANNOTATION = 'faultline.io/app-port'
/** Pod annotation: the fleet service name (else label app.kubernetes.io/name, else app). */
export const SERVICE_ANNOTATION = 'faultline.io/service'
/** Pod annotation: comma-separated inbound ports never captured nor picked as the app port. */
export const EXCLUDE_INBOUND_ANNOTATION = 'faultline.io/exclude-inbound-ports'
export const PROXY_PORT_ANNOTATION = 'faultline.io/proxy-port'
export const ADMIN_PORT_ANNOTATION = 'faultline.io/admin-port'
export const PROXY_CPU_ANNOTATION = 'faultline.io/proxy-cpu'
export const PROXY_MEMORY_ANNOTATION = 'faultline.io/proxy-memory'
export const PROXY_CPU_LIMIT_ANNOTATION = 'faultline.io/proxy-cpu-limit'
export const PROXY_MEMORY_LIMIT_ANNOTATION = 'faultline.io/proxy-memory-limit'

/** Every annotation the injector reads, for the docs and for "did you mean" on typos. */
export const POD_ANNOTATIONS = [
  CAPTURE_ANNOTATION,
  APP_PORT_ANNOTATION,
  SERVICE_ANNOTATION,
  EXCLUDE_INBOUND_ANNOTATION,
  PROXY_PORT_ANNOTATION,
  ADMIN_PORT_ANNOTATION,
  PROXY_CPU_ANNOTATION,
  PROXY_MEMORY_ANNOTATION,
  PROXY_CPU_LIMIT_ANNOTATION,
  PROXY_MEMORY_LIMIT_ANNOTATION,
] as const

/** Recommended and legacy app-name labels, in the order they are tried for the service name. */
export const SERVICE_LABELS = ['app.kubernetes.io/name', 'app'] as const

/** Pod Security admission's namespace label: baseline and restricted forbid NET_ADMIN. */
export const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce'
/** Set by the API server on every namespace (1.22+); the webhook's namespaceSelector uses it. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name'

export const SIDECAR_CONTAINER = 'faultline-proxy'
export const CAPTURE_CONTAINER = 'faultline-capture'
/** emptyDir at /run in the capture container: iptables' lock file on a read-only root. */
export const XTABLES_VOLUME = 'faultline-xtables-lock'
/** Container port names (IANA service names: at most 15 characters). */
export const PROXY_PORT_NAME = 'faultline-proxy'
export const ADMIN_PORT_NAME = 'faultline-admin'
/** Env var the pod IP is put in, for `--advertise-admin http://$(FAULTLINE_POD_IP):<admin>`. */
export const POD_IP_ENV = 'FAULTLINE_POD_IP'
/** The sidecar reads its admin token from this variable (src/config.ts SIDECAR_FLAGS). */
export const ADMIN_TOKEN_ENV = 'FAULTLINE_ADMIN_TOKEN'
/** The sidecar container's memory limit in MiB (resourceFieldRef); bin/faultline.js sizes the heap from it. */
export const MEMORY_LIMIT_ENV = 'FAULTLINE_MEMORY_LIMIT_MB'

export const DEFAULT_PROXY_PORT = 8480
/** The driver reaches pod sidecars at this admin port by default (experiment sidecarAdminPort). */
export const DEFAULT_ADMIN_PORT = 8481
/** The image's non-root user; the capture rules exempt its traffic. */
export const DEFAULT_SIDECAR_UID = 65532
export const DEFAULT_SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const
