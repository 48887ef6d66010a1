/**
 * Metric definitions (DESIGN §5) of the sidecar, and what both services export: build info and
 * the process and Node metrics (process-metrics.ts). Label sets are fixed and low-cardinality: methods
 * outside the standard set become OTHER, raw paths never become label values, and the series of
 * a rule go away when the rule does. Per-request recording goes through lean-metrics.ts (a
 * cached series object, no hashing, no allocation); the series are cached here in nested maps,
 * so a request looks up method, fault and code without building a key string.
 */
import pkg from '../package.json' with { type: 'json' }
import {
  CounterFamily,
  GaugeFamily,
  HistogramFamily,
  type HistogramSeries,
  type MetricSpec,
  type Series,
} from './lean-metrics.ts'
import type { Exposable, MetricSink } from './metrics-registry.ts'
import { processMetrics } from './process-metrics.ts'

/**
 * 0.5 ms .. 60 s: fine enough to see a 1 ms regression and a 5 s injected delay alike, and up
 * to the 60 s upstream timeout (a request that waits for it lands in a bucket, not only +Inf).
 * Kept short: every bucket is a series per label set.
 */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,
  1.5, 2, 3, 5, 7.5, 10, 15, 30, 60,
]

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE'])

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER'
}

/** Every sidecar metric: name, help and labels (docs/metrics.md lists each; a test checks). */
export const SIDECAR_METRICS = {
  requests: {
    name: 'faultline_requests_total',
    type: 'counter',
    help: 'Requests handled by the sidecar, by method, status code, the fault applied (none when unfaulted) and, for gRPC calls, the gRPC status (go-grpc-prometheus names; absent for other requests).',
    labels: ['service', 'method', 'code', 'fault', 'grpc_code'],
  },
  duration: {
    name: 'faultline_request_duration_seconds',
    type: 'histogram',
    help: 'Time from request arrival to the end of the response, injected delays included.',
    labels: ['service', 'method', 'fault'],
  },
  upstream: {
    name: 'faultline_upstream_duration_seconds',
    type: 'histogram',
    help: 'Time from forwarding a request to the upstream response headers.',
    labels: ['service'],
  },
  injected: {
    name: 'faultline_faults_injected_total',
    type: 'counter',
    help: 'Fault actions that took effect, by rule id and fault kind. The series of a rule go away when the rule does.',
    labels: ['service', 'rule', 'kind'],
  },
  skipped: {
    name: 'faultline_faults_skipped_total',
    type: 'counter',
    help: 'Matching rules not applied, by rule id and reason (not_sampled, max_active, patch_not_json, ...).',
    labels: ['service', 'rule', 'reason'],
  },
  ruleActive: {
    name: 'faultline_rule_active',
    type: 'gauge',
    help: '1 for each loaded rule and fault kind it carries; the series disappears when the rule is removed, replaced away or expires (Grafana shades fault windows with it).',
    labels: ['service', 'rule', 'kind'],
  },
  rulesActive: {
    name: 'faultline_rules_active',
    type: 'gauge',
    help: 'Rules in the live snapshot.',
    labels: ['service'],
  },
  generation: {
    name: 'faultline_rules_generation',
    type: 'gauge',
    help: 'Generation of the live rule snapshot; increases on every accepted change.',
    labels: ['service'],
  },
  activeFaults: {
    name: 'faultline_active_faults',
    type: 'gauge',
    help: 'Requests currently held or altered by a fault.',
    labels: ['service'],
  },
  exchangeFailures: {
    name: 'faultline_exchange_failures_total',
    type: 'counter',
    help: 'Requests the sidecar ended with a 500 FL_ERR_INTERNAL or a reset because handling them failed inside the sidecar.',
    labels: ['service'],
  },
} as const satisfies Record<string, MetricSpec>

export const BUILD_INFO: MetricSpec = {
  name: 'faultline_build_info',
  type: 'gauge',
  help: 'Always 1; the labels say which faultline, on which Node.js, in which role (sidecar or controller).',
  labels: ['version', 'node_version', 'component'],
}

/** The faultline version (package.json). */
export const FAULTLINE_VERSION: string = pkg.version

/**
 * The process metrics are created once per process and shared into each service's registry:
 * they describe the process, and creating them once avoids a second GC observer and event-loop
 * monitor when a test or the demo runs several services in one process.
 */
let shared: Exposable[] | undefined
/**
 * The event-loop delay monitor wakes the process this often (prom-client's default is 10 ms):
 * measured on an idle sidecar, 10 ms cost 60 ms of CPU per 20 s (0.3%, in every injected pod),
 * 100 ms about 10 ms per 20 s. A blocked loop still shows in the lag figures.
 */
const EVENT_LOOP_SAMPLE_MS = 100

/** `faultline_build_info{version,node_version,component} 1` and the process metrics, in `registry`. */
export function registerCommonMetrics(registry: MetricSink, component: 'sidecar' | 'controller'): void {
  new GaugeFamily(BUILD_INFO, registry).series(FAULTLINE_VERSION, process.version, component).set(1)
  shared ??= processMetrics({ eventLoopSampleMs: EVENT_LOOP_SAMPLE_MS })
  for (const m of shared) registry.registerMetric(m)
}

/** The part of a compiled rule the metrics need (CompiledRule satisfies it). */
export interface RuleShape {
  readonly id: string
  readonly actions: readonly { readonly fault: { readonly kind: string } }[]
}

export interface SidecarMetrics {
  /**
   * HOT PATH: one finished exchange. `code` is the status sent, or 0 when the connection was cut;
   * `grpcCode` the gRPC status label (grpc.ts grpcCodeLabel) of a gRPC call, else undefined.
   */
  observeRequest(method: string, code: number, fault: string, seconds: number, grpcCode?: string): void
  observeUpstream(seconds: number): void
  faultInjected(rule: string, kind: string): void
  faultSkipped(rule: string, reason: string): void
  /** The live rules changed: per-rule series of rules that are gone are dropped. */
  setRules(rules: readonly RuleShape[], generation: number): void
  /** An exchange that failed inside the sidecar and was ended with a 500 or a reset. */
  exchangeFailed(): void
  activeFaults: { inc(n?: number): void; dec(n?: number): void }
}

/** Series of one method: per fault label, the duration histogram and a counter per status code. */
interface FaultRow {
  duration: HistogramSeries
  codes: Map<number, Series>
  /** gRPC calls, by `${code} ${grpc_code}`; created on the first gRPC call only. */
  grpc?: Map<string, Series>
}

/** A rule's series, kept while the rule is loaded. */
interface RuleRow {
  kinds: readonly string[]
  injected: Map<string, Series>
  skipped: Map<string, Series>
}

/** How many removed rule ids are remembered, so a late fault of a removed rule does not bring its series back. */
const GONE_MEMORY = 1024

export function createSidecarMetrics(registry: MetricSink, service: string): SidecarMetrics {
  const S = SIDECAR_METRICS
  const requests = new CounterFamily(S.requests, registry)
  const duration = new HistogramFamily(S.duration, registry, DURATION_BUCKETS)
  const upstream = new HistogramFamily(S.upstream, registry, DURATION_BUCKETS)
  const injected = new CounterFamily(S.injected, registry)
  const skipped = new CounterFamily(S.skipped, registry)
  const ruleActive = new GaugeFamily(S.ruleActive, registry)
  const rulesActive = new GaugeFamily(S.rulesActive, registry).series(service)
  const generation = new GaugeFamily(S.generation, registry).series(service)
  const activeFaults = new GaugeFamily(S.activeFaults, registry).series(service)
  // Exported as 0 from the start, so an alert on any increase works from the first scrape.
  const exchangeFailures = new CounterFamily(S.exchangeFailures, registry).series(service)
  const upstreamSeries = upstream.series(service)
  registerCommonMetrics(registry, 'sidecar')

  /** By the method as received (a bounded set: Node's parser knows ~35), then by fault label. */
  const byMethod = new Map<string, Map<string, FaultRow>>()
  const methodRows = (method: string): Map<string, FaultRow> => {
    const label = methodLabel(method)
    let rows = byMethod.get(label)
    if (rows === undefined) byMethod.set(label, (rows = new Map()))
    byMethod.set(method, rows)
    return rows
  }

  const loaded = new Map<string, RuleRow>()
  /** Rules that were never loaded (header-driven faults) count into series of their own. */
  const unlisted = new Map<string, RuleRow>()
  const gone = new Set<string>()
  const ruleRow = (rule: string): RuleRow | undefined => {
    const r = loaded.get(rule) ?? unlisted.get(rule)
    if (r !== undefined || gone.has(rule)) return r
    const row: RuleRow = { kinds: [], injected: new Map(), skipped: new Map() }
    unlisted.set(rule, row)
    return row
  }

  const dropRule = (id: string, row: RuleRow) => {
    for (const kind of row.injected.keys()) injected.remove(service, id, kind)
    for (const reason of row.skipped.keys()) skipped.remove(service, id, reason)
    for (const kind of row.kinds) ruleActive.remove(service, id, kind)
    loaded.delete(id)
    gone.add(id)
    if (gone.size > GONE_MEMORY) gone.delete(gone.values().next().value!)
  }

  const loadRule = (rule: RuleShape) => {
    const kinds = [...new Set(rule.actions.map((a) => a.fault.kind))]
    const prev = loaded.get(rule.id)
    const row: RuleRow = prev ? { ...prev, kinds } : { kinds, injected: new Map(), skipped: new Map() }
    // Replaced by a rule of the same id without this kind: the kind's series go, like a removed rule's.
    for (const kind of prev?.kinds ?? [])
      if (!kinds.includes(kind)) {
        ruleActive.remove(service, rule.id, kind)
        injected.remove(service, rule.id, kind)
        row.injected.delete(kind)
      }
    for (const kind of kinds) {
      ruleActive.series(service, rule.id, kind).set(1)
      // At 0 from the start, so increase() sees the first injection.
      if (!row.injected.has(kind)) row.injected.set(kind, injected.series(service, rule.id, kind))
    }
    loaded.set(rule.id, row)
    gone.delete(rule.id)
  }

  return {
    observeRequest(method, code, fault, seconds, grpcCode) {
      const rows = byMethod.get(method) ?? methodRows(method)
      let row = rows.get(fault)
      if (row === undefined)
        rows.set(fault, (row = { duration: duration.series(service, methodLabel(method), fault), codes: new Map() }))
      let c: Series | undefined
      if (grpcCode === undefined) {
        c = row.codes.get(code)
        if (c === undefined) {
          c = requests.series(service, methodLabel(method), String(code), fault, '')
          // An empty label is an absent one to Prometheus: the series reads exactly as before gRPC.
          delete c.labels.grpc_code
          row.codes.set(code, c)
        }
      } else {
        const grpc = (row.grpc ??= new Map())
        const key = `${code} ${grpcCode}`
        c = grpc.get(key)
        if (c === undefined)
          grpc.set(key, (c = requests.series(service, methodLabel(method), String(code), fault, grpcCode)))
      }
      c.value++
      row.duration.observe(seconds)
    },
    observeUpstream(seconds) {
      upstreamSeries.observe(seconds)
    },
    faultInjected(rule, kind) {
      const r = ruleRow(rule)
      if (r === undefined) return // removed while this request was in flight: its series are gone
      let c = r.injected.get(kind)
      if (c === undefined) r.injected.set(kind, (c = injected.series(service, rule, kind)))
      c.value++
    },
    faultSkipped(rule, reason) {
      const r = ruleRow(rule)
      if (r === undefined) return
      let c = r.skipped.get(reason)
      if (c === undefined) r.skipped.set(reason, (c = skipped.series(service, rule, reason)))
      c.value++
    },
    setRules(rules, gen) {
      const ids = new Set(rules.map((r) => r.id))
      for (const [id, row] of loaded) if (!ids.has(id)) dropRule(id, row)
      for (const r of rules) loadRule(r)
      rulesActive.set(rules.length)
      generation.set(gen)
    },
    exchangeFailed() {
      exchangeFailures.value++
    },
    activeFaults,
  }
}
