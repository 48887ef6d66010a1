/**
 * The Kubernetes parts of an experiment (DESIGN §9): targets that select pods or nodes with
 * Chaos Mesh's selector fields and modes, fault steps (pod, node, network, scale, stress), and
 * checks on cluster state. Checked here like the rest of the document: every problem with its
 * path, nothing starts on a selector the API server would refuse.
 */
import { parseLabelSelector } from '../kubernetes/label-selector.ts'
import { MODES, modeValueProblem } from '../kubernetes/modes.ts'
import {
  array,
  boolean,
  choice,
  duration,
  type Infer,
  number,
  object,
  oneOfTypes,
  record,
  required,
  type Schema,
  string,
} from '../schema.ts'

/** RFC 1123 label: namespaces, and the names objects are usually given. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
/** RFC 1123 subdomain: pod, node and workload names. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/

const namespace = string({ pattern: DNS_LABEL, description: 'a namespace' })
const objectName = string({ pattern: DNS_SUBDOMAIN, description: 'an object name' })

/** Namespaces faultline refuses to touch unless a target says `allowProtectedNamespaces: true`. */
export const PROTECTED_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const

const selectorString = string({
  maxLength: 4096,
  description: 'label selector, e.g. "app=web,tier in (a,b),!canary"',
  refine(v) {
    try {
      parseLabelSelector(v)
      return undefined
    } catch (err) {
      return `is not a label selector: ${(err as Error).message}`
    }
  },
})

const selectorObject = object({
  matchLabels: record(string({ maxLength: 63 })),
  matchExpressions: array(
    object({
      key: required(string({ maxLength: 317 })),
      operator: required(choice(['In', 'NotIn', 'Exists', 'DoesNotExist'])),
      values: array(string({ maxLength: 63 })),
    }),
  ),
})

export const labelSelector = oneOfTypes<string | Infer<typeof selectorObject>>([
  selectorString as Schema<string | Infer<typeof selectorObject>>,
  selectorObject as Schema<string | Infer<typeof selectorObject>>,
])

const FIELD_SELECTOR = /^([a-zA-Z.]+(==|=|!=)[^,]*)(,[a-zA-Z.]+(==|=|!=)[^,]*)*$/

export const kubernetesTarget = object(
  {
    kind: choice(['pod', 'node'], 'what the selector selects; default pod'),
    namespaces: array(namespace, { minItems: 1, description: 'pods: the namespaces to select in' }),
    labelSelector,
    fieldSelector: string({ pattern: FIELD_SELECTOR, description: 'e.g. "status.phase=Running"' }),
    annotationSelector: selectorString,
    pods: record(array(objectName, { minItems: 1 }), { key: DNS_LABEL, description: 'namespace -> pod names' }),
    podPhases: array(choice(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']), { minItems: 1 }),
    containers: array(string({ pattern: DNS_LABEL }), { minItems: 1, description: 'pods: the containers to act on' }),
    nodes: array(objectName, { minItems: 1, description: 'nodes: names' }),
    mode: choice(MODES, 'which of the matches: default one'),
    value: number({ min: 0, description: 'fixed: a count; fixed-percent, random-max-percent: a percentage' }),
    maxTargets: number({ integer: true, min: 1, description: 'refuse a step that would hit more objects' }),
    allowProtectedNamespaces: boolean(`allow ${PROTECTED_NAMESPACES.join(', ')} and the controller's own namespace`),
    requireOptIn: boolean('only namespaces annotated faultline.io/chaos=enabled'),
    sidecarAdminPort: number({
      integer: true,
      min: 1,
      max: 65535,
      description: 'sidecar faults on selected pods: the admin port on the pod IP; default 8481',
    }),
  },
  {
    description: 'pods or nodes of a Kubernetes cluster, selected once per step and journalled',
    refine(v, path, issues) {
      const kind = v.kind ?? 'pod'
      if (kind === 'pod' && !v.namespaces && !v.pods)
        issues.push({ path, message: 'a pod target needs "namespaces" or "pods"' })
      if (kind === 'node')
        for (const f of ['namespaces', 'pods', 'podPhases', 'containers', 'annotationSelector'] as const)
          if (v[f] !== undefined) issues.push({ path: `${path}/${f}`, message: 'applies to pod targets only' })
      if (kind === 'pod' && v.nodes) issues.push({ path: `${path}/nodes`, message: 'applies to node targets only' })
      const problem = modeValueProblem(v.mode ?? 'one', v.value)
      if (problem) issues.push({ path: `${path}/value`, message: problem })
    },
  },
)
export type KubernetesTargetSpec = Infer<typeof kubernetesTarget>

// ── steps ────────────────────────────────────────────────────────────────────

const target = required(string({ pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, description: 'a kubernetes target' }))
const stepDuration = required(duration({ min: 1, max: 86_400_000 }))
const gracePeriodSeconds = number({
  integer: true,
  min: 0,
  description: "seconds; default the pod's own; 0 deletes at once (force)",
})

const cidr = string({ pattern: /^[0-9a-fA-F:.]+\/\d{1,3}$/, description: 'e.g. 10.0.0.0/8' })

export const kubernetesSteps = {
  podKill: object(
    {
      target,
      gracePeriodSeconds,
      recoverWithin: duration({
        min: 1,
        description: 'wait this long for each replacement pod to be Ready (recovery time, from a watch); default 60s',
      }),
    },
    { description: 'delete the selected pods' },
  ),
  podEvict: object(
    {
      target,
      gracePeriodSeconds,
      timeout: duration({ min: 1, description: 'keep retrying while a PodDisruptionBudget blocks; default 60s' }),
    },
    { description: 'evict the selected pods through the Eviction API (PodDisruptionBudgets respected)' },
  ),
  podFailure: object(
    {
      target,
      duration: stepDuration,
      pauseImage: string({ maxLength: 512, description: 'default registry.k8s.io/pause:3.10' }),
    },
    { description: "swap the selected pods' container images for a pause image; restored at the end" },
  ),
  nodeCordon: object({ target, duration: stepDuration }, { description: 'mark the selected nodes unschedulable' }),
  nodeDrain: object(
    {
      target,
      duration: stepDuration,
      timeout: duration({ min: 1, description: 'for the evictions; default 120s' }),
      force: boolean('also evict pods no controller owns (they are not recreated)'),
      gracePeriodSeconds,
    },
    { description: 'cordon, then evict every pod but DaemonSet and mirror pods' },
  ),
  nodeTaint: object(
    {
      target,
      duration: stepDuration,
      taints: required(
        array(
          object({
            key: required(string({ maxLength: 317 })),
            value: string({ maxLength: 63 }),
            effect: required(choice(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])),
          }),
          { minItems: 1 },
        ),
      ),
    },
    { description: 'add taints to the selected nodes' },
  ),
  networkPartition: object(
    {
      target,
      duration: stepDuration,
      direction: choice(['ingress', 'egress', 'both'], 'default both'),
      to: object(
        {
          podSelector: labelSelector,
          namespaces: array(namespace, { minItems: 1 }),
          cidrs: array(cidr, { minItems: 1 }),
          ports: array(
            object({
              port: required(number({ integer: true, min: 1, max: 65535 })),
              protocol: choice(['TCP', 'UDP', 'SCTP']),
            }),
            { minItems: 1 },
          ),
        },
        { description: 'cut only traffic to/from these peers; default everything (DNS stays open)' },
      ),
    },
    { description: 'a NetworkPolicy that cuts the selected pods off (needs a CNI that enforces policies)' },
  ),
  scale: object(
    {
      workload: required(
        object({
          kind: required(choice(['Deployment', 'StatefulSet'])),
          namespace: required(namespace),
          name: required(objectName),
        }),
      ),
      replicas: required(number({ integer: true, min: 0, max: 10_000 })),
      duration: stepDuration,
    },
    { description: 'scale a workload; restored to the recorded replica count' },
  ),
  podStress: object(
    {
      target,
      duration: stepDuration,
      cpu: number({ integer: true, min: 1, max: 256 }),
      load: number({ min: 1, max: 100 }),
      memory: string({ pattern: /^\d+(\.\d+)?(B|KiB|MiB|GiB|KB|MB|GB)$/ }),
      image: string({ maxLength: 512, description: "the faultline image; default the controller's own" }),
    },
    {
      description: 'CPU/memory stress inside the selected pods, from an ephemeral container',
      refine(v, path, issues) {
        if (v.cpu === undefined && v.memory === undefined) issues.push({ path, message: 'must have "cpu" or "memory"' })
      },
    },
  ),
}
export type KubernetesStepKind = keyof typeof kubernetesSteps

// ── checks ───────────────────────────────────────────────────────────────────

export const KUBERNETES_STATS = [
  'readyPods',
  'readyRatio',
  'pods',
  'podsInPhase',
  'podsNotInPhase',
  'restarts',
  'availableReplicas',
  'unavailableReplicas',
] as const

export const kubernetesCheck = object(
  {
    target: string({ pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, description: 'a kubernetes pod target' }),
    stat: required(
      choice(
        KUBERNETES_STATS,
        'over every pod the target selects (not just the ones a step hit); availableReplicas, unavailableReplicas (desired - available): of `workload`',
      ),
    ),
    phase: choice(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'], 'for podsInPhase and podsNotInPhase'),
    workload: object({
      kind: required(choice(['Deployment', 'StatefulSet'])),
      namespace: required(namespace),
      name: required(objectName),
    }),
  },
  {
    refine(v, path, issues) {
      const ofWorkload = v.stat === 'availableReplicas' || v.stat === 'unavailableReplicas'
      if (ofWorkload && !v.workload) issues.push({ path: `${path}/workload`, message: `is required for ${v.stat}` })
      if (!ofWorkload && !v.target) issues.push({ path: `${path}/target`, message: `is required for ${v.stat}` })
      if ((v.stat === 'podsInPhase' || v.stat === 'podsNotInPhase') && !v.phase)
        issues.push({ path: `${path}/phase`, message: `is required for ${v.stat}` })
    },
  },
)
export type KubernetesCheckSpec = Infer<typeof kubernetesCheck>
