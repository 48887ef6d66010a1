/**
 * Litmus's generic experiments (litmus-go chaoslib, chaos-charts defaults) as faultline steps.
 * Each reads its environment variables through `Env`, so a variable it does not know is refused.
 *
 *   pod-delete              rounds of podKill + wait (CHAOS_INTERVAL) for TOTAL_CHAOS_DURATION
 *   pod-cpu-hog / -memory-  podStress
 *   node-drain / node-taint nodeDrain (force, as kubectl drain --force) / nodeTaint
 *   pod-network-partition   networkPartition (a NetworkPolicy, as Litmus)
 *   pod-http-*              a sidecarFault on the selected pods (Litmus injects toxiproxy)
 */
import { formatDuration } from '../../duration.ts'
import { pointer } from '../../schema.ts'
import type { Notes, Obj } from '../kube/notes.ts'
import { readyPodsObservation, sidecarObservations } from '../kube/observe.ts'
import type { Env } from './env.ts'

/** chaos-charts defaults (faults/kubernetes/<name>/fault.yaml), where the chart sets one. */
export const DEFAULTS: Record<string, Record<string, string>> = {
  'pod-delete': { TOTAL_CHAOS_DURATION: '15', CHAOS_INTERVAL: '5', FORCE: 'true', SEQUENCE: 'parallel' },
  'pod-cpu-hog': { TOTAL_CHAOS_DURATION: '60', CPU_CORES: '1', CPU_LOAD: '100', SEQUENCE: 'parallel' },
  'pod-memory-hog': {
    TOTAL_CHAOS_DURATION: '60',
    MEMORY_CONSUMPTION: '500',
    NUMBER_OF_WORKERS: '1',
    SEQUENCE: 'parallel',
  },
  'node-drain': { TOTAL_CHAOS_DURATION: '60' },
  'node-taint': { TOTAL_CHAOS_DURATION: '60' },
  'pod-network-partition': { TOTAL_CHAOS_DURATION: '60', POLICY_TYPES: 'all' },
  'pod-http-latency': { TOTAL_CHAOS_DURATION: '60', LATENCY: '6000', TARGET_SERVICE_PORT: '80', TOXICITY: '100' },
  'pod-http-status-code': {
    TOTAL_CHAOS_DURATION: '60',
    MODIFY_RESPONSE_BODY: 'true',
    TARGET_SERVICE_PORT: '80',
    TOXICITY: '100',
    CONTENT_TYPE: 'text/plain',
  },
  'pod-http-modify-header': {
    TOTAL_CHAOS_DURATION: '60',
    HEADER_MODE: 'response',
    TARGET_SERVICE_PORT: '80',
    TOXICITY: '100',
  },
  'pod-http-modify-body': {
    TOTAL_CHAOS_DURATION: '60',
    TARGET_SERVICE_PORT: '80',
    TOXICITY: '100',
    CONTENT_TYPE: 'text/plain',
  },
  'pod-http-reset-peer': { TOTAL_CHAOS_DURATION: '60', RESET_TIMEOUT: '0', TARGET_SERVICE_PORT: '80', TOXICITY: '100' },
}

/** Litmus experiments faultline refuses, with why. */
export const REFUSED: Record<string, string> = {
  'container-kill':
    'kills a container through the container runtime socket on its node (a privileged helper pod): use pod-delete',
  'pod-network-latency':
    'tc netem in the pod network namespace from a privileged helper pod: use pod-http-latency for HTTP traffic',
  'pod-network-loss': 'tc netem from a privileged helper pod',
  'pod-network-corruption': 'tc netem from a privileged helper pod',
  'pod-network-duplication': 'tc netem from a privileged helper pod',
  'pod-network-rate-limit': 'tc tbf from a privileged helper pod',
  'pod-dns-error': 'rewrites DNS answers from a privileged helper pod',
  'pod-dns-spoof': 'rewrites DNS answers from a privileged helper pod',
  'pod-io-stress': "stresses the container's filesystem from a privileged helper pod",
  'disk-fill': "fills the container's filesystem from a privileged helper pod",
  'pod-cpu-hog-exec':
    "runs a command inside the app's container (pods/exec): faultline's podStress runs its own container",
  'pod-memory-hog-exec':
    "runs a command inside the app's container (pods/exec): faultline's podStress runs its own container",
  'pod-autoscaler': "scales a workload until the cluster's capacity: use a faultline scale step",
  'node-cpu-hog': 'stresses a node from a privileged helper pod',
  'node-memory-hog': 'stresses a node from a privileged helper pod',
  'node-io-stress': 'stresses a node from a privileged helper pod',
  'node-restart': 'restarts a node over ssh',
  'node-poweroff': 'powers a node off over ssh',
  'kubelet-service-kill': 'stops the kubelet from a privileged helper pod',
  'docker-service-kill': 'stops the container runtime from a privileged helper pod',
}
const CLOUD = /^(ec2|ebs|gcp|azure|vm|aws|redfish|vmware|spring-boot|kafka|cassandra|openebs|k6|time-chaos|load)/

export function refusalFor(name: string): string | undefined {
  if (REFUSED[name]) return REFUSED[name]
  if (CLOUD.test(name)) return 'a cloud, VM or application fault: faultline has no driver for it'
  return undefined
}

export interface ExperimentBuild {
  notes: Notes
  env: Env
  /** Path of the experiment's env list, for variables that come from defaults. */
  envPath: string
  /** Path of the experiment entry (its `name`). */
  path: string
  /** The application's pods, from appinfo or selectors (namespaces, labelSelector, pods). */
  app: Obj | undefined
  appPath: string
  targets: Record<string, Obj>
  observations: Obj[]
  sidecar: { adminPort?: number; adminToken?: string }
  /** `statusCheckTimeouts.timeout`: how long pod-delete waits for replacements. */
  statusTimeoutMs?: number
  /** Observe instead of judge: the engine has no probes. */
  observe: boolean
}

const APP = 'app'
const NODES = 'nodes'

/** TOTAL_CHAOS_DURATION in ms (at least 1 ms: faultline refuses a zero-length fault). */
function total(b: ExperimentBuild): number {
  return Math.max(1, b.env.seconds('TOTAL_CHAOS_DURATION', b.envPath) ?? 0)
}

/** The app's pods with PODS_AFFECTED_PERC and TARGET_PODS applied: a faultline pod target. */
function podTarget(b: ExperimentBuild): Obj | undefined {
  const { notes, env } = b
  if (!b.app)
    return notes.refuse(b.appPath, 'this experiment needs the application: give spec.appinfo or spec.selectors')
  const target: Obj = { ...b.app }
  if (env.get('NODE_LABEL'))
    notes.refuse(
      env.path('NODE_LABEL', b.envPath),
      "NODE_LABEL keeps pods on nodes with this label: faultline selects pods by their own labels and fields, not their node's",
    )
  const pods = env.get('TARGET_PODS')
  if (pods) {
    const ns = (target.namespaces as string[] | undefined)?.[0]
    if (!ns) return notes.refuse(env.path('TARGET_PODS', b.envPath), 'needs the application namespace (appinfo.appns)')
    target.pods = {
      [ns]: pods
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    }
    delete target.labelSelector
    target.mode = 'all'
    if (env.get('PODS_AFFECTED_PERC'))
      notes.approx(
        env.path('PODS_AFFECTED_PERC', b.envPath),
        'ignored with TARGET_PODS: the named pods are the targets (as in Litmus)',
      )
    return target
  }
  const perc = env.get('PODS_AFFECTED_PERC')
  const p = perc === '' ? 0 : Number(perc)
  if (!Number.isFinite(p) || p < 0 || p > 100)
    return notes.refuse(env.path('PODS_AFFECTED_PERC', b.envPath), 'must be a percentage from 0 to 100')
  if (p === 0) target.mode = 'one'
  else if (p === 100) target.mode = 'all'
  else {
    target.mode = 'fixed-percent'
    target.value = Math.ceil(p)
    notes.approx(
      env.path('PODS_AFFECTED_PERC', b.envPath),
      `Litmus picks max(1, floor(${p}% of the pods)), faultline ceil(${p}% of the pods): they differ by one pod when ${p}% is not a whole number of pods`,
    )
  }
  return target
}

/** A node target from TARGET_NODE or NODE_LABEL. */
function nodeTarget(b: ExperimentBuild): Obj | undefined {
  const node = b.env.get('TARGET_NODE')
  const label = b.env.get('NODE_LABEL')
  if (node) {
    if (label) b.notes.approx(b.env.path('NODE_LABEL', b.envPath), 'ignored: TARGET_NODE names the node (as in Litmus)')
    return { kind: 'node', nodes: node.split(',').map((n) => n.trim()), mode: 'all' }
  }
  if (label) return { kind: 'node', labelSelector: label, mode: 'one' }
  return b.notes.refuse(b.env.path('TARGET_NODE', b.envPath), 'TARGET_NODE or NODE_LABEL is required')
}

function addPodTarget(b: ExperimentBuild, withSidecars = false): boolean {
  const t = podTarget(b)
  if (!t) return false
  b.targets[APP] = {
    kubernetes: { ...t, ...(withSidecars && b.sidecar.adminPort ? { sidecarAdminPort: b.sidecar.adminPort } : {}) },
    ...(withSidecars && b.sidecar.adminToken ? { adminToken: b.sidecar.adminToken } : {}),
  }
  if (b.observe) b.observations.push(...(withSidecars ? sidecarObservations(APP) : [readyPodsObservation(APP)]))
  return true
}

/** The method for experiment `name`; undefined when refused. */
export function experimentSteps(name: string, b: ExperimentBuild): Obj[] | undefined {
  const { notes, env } = b
  const refusal = refusalFor(name)
  if (refusal) return notes.refuse(pointer(b.path, 'name'), `${name}: ${refusal}`)
  if (!DEFAULTS[name])
    return notes.refuse(
      pointer(b.path, 'name'),
      `${name} is not a Litmus experiment faultline knows (it runs ${Object.keys(DEFAULTS).join(', ')})`,
    )
  const ramp = env.seconds('RAMP_TIME', b.envPath)
  const chaos = chaosSteps(name, b)
  if (!chaos) return undefined
  if (!ramp) return chaos
  const wait = { name: 'ramp time', wait: formatDuration(ramp) }
  return [wait, ...chaos, { ...wait }]
}

function chaosSteps(name: string, b: ExperimentBuild): Obj[] | undefined {
  const { notes, env } = b
  if (name === 'pod-delete') return podDelete(b)
  if (name === 'pod-cpu-hog' || name === 'pod-memory-hog') {
    sequence(b)
    if (!addPodTarget(b)) return undefined
    // The stress shares the process namespace of this container (Litmus stresses its cgroup).
    const container = env.get('TARGET_CONTAINER')
    if (container) (b.targets[APP]!.kubernetes as Obj).containers = [container]
    const step: Obj = { target: APP, duration: formatDuration(total(b)) }
    if (name === 'pod-cpu-hog') {
      const cores = Number(env.get('CPU_CORES'))
      if (!Number.isInteger(cores) || cores < 1)
        return notes.refuse(
          env.path('CPU_CORES', b.envPath),
          'must be a whole number above 0 (0 means every core of the node in Litmus; faultline needs a count)',
        )
      step.cpu = cores
      const load = Number(env.get('CPU_LOAD'))
      if (!(load >= 1 && load <= 100)) return notes.refuse(env.path('CPU_LOAD', b.envPath), 'must be 1 to 100')
      step.load = load
    } else {
      const mib = Number(env.get('MEMORY_CONSUMPTION'))
      if (!Number.isInteger(mib) || mib < 1)
        return notes.refuse(env.path('MEMORY_CONSUMPTION', b.envPath), 'must be whole MiB above 0')
      step.memory = `${mib}MiB`
      const workers = Number(env.get('NUMBER_OF_WORKERS') || '1')
      if (workers > 1)
        notes.approx(
          env.path('NUMBER_OF_WORKERS', b.envPath),
          `faultline allocates the memory in one process; Litmus splits it over ${workers} stress-ng workers`,
        )
    }
    notes.approx(
      pointer(b.path, 'name'),
      "stress runs in an ephemeral container, in the pod's cgroup rather than the target container's, and cannot be stopped before its duration",
    )
    return [{ name, podStress: step }]
  }
  if (name === 'node-drain' || name === 'node-taint') {
    const t = nodeTarget(b)
    if (!t) return undefined
    b.targets[NODES] = { kubernetes: t }
    if (b.observe && b.app) {
      b.targets[APP] = { kubernetes: { ...b.app, mode: 'all' } }
      b.observations.push(readyPodsObservation(APP))
    }
    const duration = formatDuration(total(b))
    if (name === 'node-drain') return [{ name, nodeDrain: { target: NODES, duration, force: true } }]
    const taints = parseTaints(env.get('TAINTS'), env.path('TAINTS', b.envPath), notes)
    return taints ? [{ name, nodeTaint: { target: NODES, duration, taints } }] : undefined
  }
  if (name === 'pod-network-partition') return partition(b)
  return httpChaos(name, b)
}

function sequence(b: ExperimentBuild): 'serial' | 'parallel' {
  const s = b.env.get('SEQUENCE') || 'parallel'
  if (s !== 'serial' && s !== 'parallel') {
    b.notes.refuse(b.env.path('SEQUENCE', b.envPath), 'must be serial or parallel')
    return 'parallel'
  }
  if (s === 'serial')
    b.notes.approx(
      b.env.path('SEQUENCE', b.envPath),
      'serial: faultline acts on the selected pods together, not one after another',
    )
  return s
}

/**
 * pod-delete: Litmus deletes, waits CHAOS_INTERVAL, waits for the workload to run again, and
 * starts another round while less than TOTAL_CHAOS_DURATION has passed. faultline writes the
 * rounds out: ceil(duration / interval) of them, each a podKill that waits for the replacements.
 */
function podDelete(b: ExperimentBuild): Obj[] | undefined {
  const { notes, env } = b
  sequence(b)
  if (!addPodTarget(b)) return undefined
  const totalMs = total(b)
  const intervalMs = env.seconds('CHAOS_INTERVAL', b.envPath) ?? 0
  const force = env.get('FORCE')
  if (force !== 'true' && force !== 'false' && force !== '')
    return notes.refuse(env.path('FORCE', b.envPath), 'must be true or false')
  const randomness = env.get('RANDOMNESS')
  if (randomness === 'true')
    notes.approx(
      env.path('RANDOMNESS', b.envPath),
      'faultline waits exactly CHAOS_INTERVAL between rounds (Litmus draws a random interval up to it)',
    )
  // Litmus 1.x/2.x wrote the replacement timeout as a variable; statusCheckTimeouts wins.
  const statusTimeout = env.seconds('STATUS_CHECK_TIMEOUT', b.envPath)
  const rounds = intervalMs > 0 ? Math.max(1, Math.ceil(totalMs / intervalMs)) : 1
  notes.approx(
    env.path('TOTAL_CHAOS_DURATION', b.envPath),
    `${rounds} round(s) of delete, wait for the replacements, wait ${formatDuration(intervalMs)}; Litmus starts rounds while less than TOTAL_CHAOS_DURATION has passed, so slow replacements give it fewer`,
  )
  const kill: Obj = {
    target: APP,
    ...(force === 'false' ? {} : { gracePeriodSeconds: 0 }),
    recoverWithin: formatDuration(b.statusTimeoutMs ?? statusTimeout ?? 180_000),
  }
  const steps: Obj[] = []
  for (let i = 1; i <= rounds; i++) {
    steps.push({ name: `delete pods (round ${i})`, podKill: { ...kill } })
    if (intervalMs > 0) steps.push({ wait: formatDuration(intervalMs) })
  }
  return steps
}

function parseTaints(text: string, path: string, notes: Notes): Obj[] | undefined {
  if (!text) return notes.refuse(path, 'TAINTS is required: "key=value:Effect"')
  const out: Obj[] = []
  for (const part of text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)) {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(part)
    if (!m)
      return notes.refuse(path, `"${part}" is not key=value:Effect (Effect NoSchedule, PreferNoSchedule or NoExecute)`)
    out.push({ key: m[1], ...(m[2] ? { value: m[2] } : {}), effect: m[3] })
  }
  return out
}

/**
 * pod-network-partition: Litmus writes a NetworkPolicy that allows traffic with POD_SELECTOR,
 * NAMESPACE_SELECTOR and PORTS and with every address but DESTINATION_IPS, and cuts the rest.
 * faultline's `to` names what to cut: DESTINATION_IPS map exactly; the allow-lists would invert.
 */
function partition(b: ExperimentBuild): Obj[] | undefined {
  const { notes, env } = b
  if (!addPodTarget(b)) return undefined
  const types: Record<string, string> = { all: 'both', ingress: 'ingress', egress: 'egress' }
  const policy = env.get('POLICY_TYPES').toLowerCase() || 'all'
  const direction = types[policy]
  if (!direction) return notes.refuse(env.path('POLICY_TYPES', b.envPath), 'must be all, ingress or egress')
  for (const name of ['POD_SELECTOR', 'NAMESPACE_SELECTOR', 'PORTS'])
    if (env.get(name))
      notes.refuse(
        env.path(name, b.envPath),
        `${name}: Litmus's policy keeps this traffic and cuts the rest, while faultline's partition cuts the peers it names; translating it would invert it (leave it empty to cut everything, or use DESTINATION_IPS)`,
      )
  if (env.get('DESTINATION_HOSTS'))
    notes.refuse(
      env.path('DESTINATION_HOSTS', b.envPath),
      'host names: a NetworkPolicy takes addresses (give DESTINATION_IPS)',
    )
  const ips = env.get('DESTINATION_IPS')
  const to: Obj = {}
  if (ips) {
    const cidrs: string[] = []
    for (const ip of ips
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (/^[0-9.]+$/.test(ip)) cidrs.push(`${ip}/32`)
      else if (/^[0-9a-fA-F:]+$/.test(ip)) cidrs.push(`${ip}/128`)
      else if (/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(ip)) cidrs.push(ip)
      else notes.refuse(env.path('DESTINATION_IPS', b.envPath), `"${ip}" is not an IP address or CIDR`)
    }
    to.cidrs = cidrs
  } else
    notes.approx(
      env.path('POLICY_TYPES', b.envPath),
      'everything is cut except DNS, which faultline keeps open (Litmus cuts DNS too)',
    )
  notes.approx(
    pointer(b.path, 'name'),
    'a NetworkPolicy needs a CNI that enforces policies and is stateful (replies to connections the other side opened pass), as in Litmus',
  )
  return [
    {
      name: 'pod-network-partition',
      networkPartition: {
        target: APP,
        duration: formatDuration(total(b)),
        direction,
        ...(Object.keys(to).length ? { to } : {}),
      },
    },
  ]
}

/** The pod-http-* experiments as one sidecar rule on the selected pods. */
function httpChaos(name: string, b: ExperimentBuild): Obj[] | undefined {
  const { notes, env } = b
  sequence(b)
  if (!addPodTarget(b, true)) return undefined
  const toxicity = Number(env.get('TOXICITY'))
  if (!(toxicity >= 0 && toxicity <= 100))
    return notes.refuse(env.path('TOXICITY', b.envPath), 'must be a percentage 0-100')
  notes.approx(
    env.path('TARGET_SERVICE_PORT', b.envPath),
    `the rule applies to the traffic through each pod's faultline sidecar, which fronts the app port it was injected for; port ${env.get('TARGET_SERVICE_PORT')} is not matched separately`,
  )
  const rule: Obj = { id: name, ...(toxicity < 100 ? { percent: toxicity } : {}) }
  const bodyOf = (text: string): Obj => {
    const encoding = env.get('CONTENT_ENCODING')
    if (encoding)
      notes.refuse(
        env.path('CONTENT_ENCODING', b.envPath),
        'faultline sends the replacement body as given, without encoding it',
      )
    return { body: text, headers: { 'content-type': env.get('CONTENT_TYPE') || 'text/plain' } }
  }
  switch (name) {
    case 'pod-http-latency': {
      const ms = Number(env.get('LATENCY'))
      if (!Number.isFinite(ms) || ms < 0) return notes.refuse(env.path('LATENCY', b.envPath), 'must be milliseconds')
      Object.assign(rule, { phase: 'response', delay: { ms } })
      break
    }
    case 'pod-http-status-code': {
      const codes = env
        .get('STATUS_CODE')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean)
      if (!codes.length)
        return notes.refuse(
          env.path('STATUS_CODE', b.envPath),
          'is required: Litmus picks one at random when it is empty; name the code',
        )
      const code = Number(codes[0])
      if (!Number.isInteger(code) || code < 200 || code > 599)
        return notes.refuse(env.path('STATUS_CODE', b.envPath), 'must be an HTTP status 200-599')
      if (codes.length > 1)
        notes.approx(
          env.path('STATUS_CODE', b.envPath),
          `faultline answers ${code} every time; Litmus picks one of ${codes.join(', ')} at random`,
        )
      const replace: Obj = { status: code }
      const modify = env.get('MODIFY_RESPONSE_BODY')
      if (modify === 'true') {
        const body = env.get('RESPONSE_BODY')
        Object.assign(replace, bodyOf(body || `${code}`))
        if (!body)
          notes.approx(
            env.path('MODIFY_RESPONSE_BODY', b.envPath),
            `the body becomes "${code}" (Litmus writes its own default page for the code)`,
          )
      } else if (modify !== 'false')
        return notes.refuse(env.path('MODIFY_RESPONSE_BODY', b.envPath), 'must be true or false')
      else if (env.get('RESPONSE_BODY'))
        notes.approx(env.path('RESPONSE_BODY', b.envPath), 'ignored: MODIFY_RESPONSE_BODY is false (as in Litmus)')
      Object.assign(rule, { phase: 'response', replace })
      break
    }
    case 'pod-http-modify-header': {
      let headers: unknown
      try {
        headers = JSON.parse(env.get('HEADERS_MAP') || '{}')
      } catch (err) {
        return notes.refuse(env.path('HEADERS_MAP', b.envPath), `is not JSON: ${(err as Error).message}`)
      }
      if (!headers || typeof headers !== 'object' || Array.isArray(headers) || !Object.keys(headers).length)
        return notes.refuse(env.path('HEADERS_MAP', b.envPath), 'must be a JSON object of header names to values')
      const mode = env.get('HEADER_MODE') || 'response'
      if (mode !== 'request' && mode !== 'response')
        return notes.refuse(env.path('HEADER_MODE', b.envPath), 'must be request or response')
      Object.assign(rule, {
        phase: mode,
        replace: { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])) },
      })
      break
    }
    case 'pod-http-modify-body':
      Object.assign(rule, { phase: 'response', replace: bodyOf(env.get('RESPONSE_BODY')) })
      break
    case 'pod-http-reset-peer': {
      const after = Number(env.get('RESET_TIMEOUT') || '0')
      if (!Number.isFinite(after) || after < 0)
        return notes.refuse(env.path('RESET_TIMEOUT', b.envPath), 'must be milliseconds')
      Object.assign(rule, {
        phase: 'request',
        ...(after > 0 ? { delay: { ms: after } } : {}),
        abort: { mode: 'reset' },
      })
      break
    }
  }
  return [{ name, sidecarFault: { target: APP, duration: formatDuration(total(b)), rules: [rule] } }]
}
