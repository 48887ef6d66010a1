/**
 * Metric definitions (DESIGN §5). Label sets are fixed and low-cardinality: methods outside the
 * standard set become OTHER and raw paths never become label values. Label children are cached
 * because prom-client hashes label values on every `labels()` call and this runs per request.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** 0.5 ms .. 10 s: fine enough to see a 1 ms regression and a 5 s injected delay alike. */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,
  1.5, 2, 3, 5, 7.5, 10,
]

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE'])

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER'
}

export interface SidecarMetrics {
  /** HOT PATH: one finished exchange. `code` is the status sent, or 0 when the connection was cut. */
  observeRequest(method: string, code: number, fault: string, seconds: number): void
  observeUpstream(seconds: number): void
  faultInjected(rule: string, kind: string): void
  faultSkipped(rule: string, reason: string): void
  setRules(active: number, generation: number): void
  /** An exchange that failed inside the sidecar and was ended with a 500 or a reset. */
  exchangeFailed(): void
  activeFaults: Gauge
}

export function createSidecarMetrics(registry: Registry, service: string): SidecarMetrics {
  const requests = new Counter({
    name: 'faultline_requests_total',
    help: 'Requests handled by the sidecar, by method, status code and the fault applied (none when unfaulted).',
    labelNames: ['service', 'method', 'code', 'fault'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'faultline_request_duration_seconds',
    help: 'Time from request arrival to the end of the response, injected delays included.',
    labelNames: ['service', 'method', 'fault'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  })
  const upstream = new Histogram({
    name: 'faultline_upstream_duration_seconds',
    help: 'Time from forwarding a request to the upstream response headers.',
    labelNames: ['service'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  })
  const injected = new Counter({
    name: 'faultline_faults_injected_total',
    help: 'Fault actions applied, by rule id and fault kind.',
    labelNames: ['rule', 'kind'] as const,
    registers: [registry],
  })
  const skipped = new Counter({
    name: 'faultline_faults_skipped_total',
    help: 'Matching rules not applied, by rule id and reason (not_sampled, max_active, patch_not_json, ...).',
    labelNames: ['rule', 'reason'] as const,
    registers: [registry],
  })
  const rulesActive = new Gauge({
    name: 'faultline_rules_active',
    help: 'Rules in the live snapshot.',
    registers: [registry],
  })
  const generation = new Gauge({
    name: 'faultline_rules_generation',
    help: 'Generation of the live rule snapshot; increases on every accepted change.',
    registers: [registry],
  })
  const activeFaults = new Gauge({
    name: 'faultline_active_faults',
    help: 'Requests currently held or altered by a fault.',
    registers: [registry],
  })

  const exchangeFailures = new Counter({
    name: 'faultline_exchange_failures_total',
    help: 'Requests the sidecar ended with a 500 FL_ERR_INTERNAL or a reset because handling them failed inside the sidecar.',
    labelNames: ['service'] as const,
    registers: [registry],
  }).labels(service)
  // Exported as 0 from the start, so an alert on any increase works from the first scrape.
  exchangeFailures.inc(0)

  const requestChildren = new Map<string, Counter.Internal>()
  const durationChildren = new Map<string, Histogram.Internal<'service' | 'method' | 'fault'>>()
  const upstreamChild = upstream.labels(service)
  const injectedChildren = new Map<string, Counter.Internal>()
  const skippedChildren = new Map<string, Counter.Internal>()

  return {
    observeRequest(method, code, fault, seconds) {
      const m = methodLabel(method)
      const rk = m + ' ' + code + ' ' + fault
      let r = requestChildren.get(rk)
      if (r === undefined) requestChildren.set(rk, (r = requests.labels(service, m, String(code), fault)))
      r.inc()
      const dk = m + ' ' + fault
      let d = durationChildren.get(dk)
      if (d === undefined) durationChildren.set(dk, (d = duration.labels(service, m, fault)))
      d.observe(seconds)
    },
    observeUpstream(seconds) {
      upstreamChild.observe(seconds)
    },
    faultInjected(rule, kind) {
      const k = rule + ' ' + kind
      let c = injectedChildren.get(k)
      if (c === undefined) injectedChildren.set(k, (c = injected.labels(rule, kind)))
      c.inc()
    },
    faultSkipped(rule, reason) {
      const k = rule + ' ' + reason
      let c = skippedChildren.get(k)
      if (c === undefined) skippedChildren.set(k, (c = skipped.labels(rule, reason)))
      c.inc()
    },
    setRules(active, gen) {
      rulesActive.set(active)
      generation.set(gen)
    },
    exchangeFailed() {
      exchangeFailures.inc()
    },
    activeFaults,
  }
}
