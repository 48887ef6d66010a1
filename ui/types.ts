/**
 * The shapes of the controller's answers the dashboard reads (a subset of /openapi.json). Kept
 * here rather than imported from the controller: the dashboard is a client of the API.
 */

export interface SeriesPoint {
  t: number
  count: number
  rps: number
  errorRate: number | null
  p50: number | null
  p95: number | null
  p99: number | null
  cohorts?: Record<
    'faulted' | 'unfaulted',
    { count: number; errorRate: number | null; p50: number | null; p95: number | null; p99: number | null }
  >
}

export interface Sample {
  at: number
  phase: string
  outcome: string
  value?: number
  baseline?: number
  detail?: string
  from?: number
  [more: string]: unknown
}

export interface PhaseResult {
  phase: string
  result: string
  reason: string
  samples: number
  recoveredAfterMs?: number
  [more: string]: unknown
}

export interface CheckRecord {
  kind: string
  guardrail: boolean
  observation?: boolean
  phases: PhaseResult[]
  samples: Sample[]
  result?: string
  [more: string]: unknown
}

export interface TimelineEvent {
  at: number
  type: string
  detail: string
  code?: string
  step?: string
  fault?: string
}

export interface FaultRecord {
  id: string
  kind: string
  step: string
  target: string
  on: string[]
  service?: string
  ruleIds?: string[]
  ttlMs?: number
  intentAt: number
  appliedAt?: number
  revertedAt?: number
  evidence?: Record<string, Record<string, { matched: number; injected: number }>>
  evidenceUnavailable?: Record<string, { code: string; message: string }>
  selection?: { matched: number; mode: string; value?: number }
  error?: string
}

export interface Tolerance {
  max?: number
  min?: number
  relative?: { to: string; maxIncrease?: number; maxIncreasePercent?: number; [k: string]: unknown }
  [more: string]: unknown
}

export interface CheckSpec {
  name: string
  sidecar?: { target: string; stat: string }
  http?: unknown
  tolerance?: Tolerance
  [more: string]: unknown
}

export interface ExperimentDoc {
  apiVersion: string
  kind: string
  metadata: { name: string; [k: string]: unknown }
  spec: {
    description?: string
    targets: Record<string, unknown>
    hypothesis: { title: string; checks: CheckSpec[] }
    guardrails?: CheckSpec[]
    method: unknown[]
    [more: string]: unknown
  }
}

export interface TargetRecord {
  service?: string
  sidecars: { adminUrl: string; reachable: boolean; generation?: number; instance?: string }[]
  processes: { name: string; pid?: number }[]
  kubernetes?: { matched: number; selected: { kind: string; namespace?: string; name: string }[] }
}

export interface Journal {
  runId: string
  experiment: ExperimentDoc
  dryRun: boolean
  schedule?: string
  startedAt: number
  endedAt?: number
  status: string
  verdict?: string
  reason?: string
  targets: Record<string, TargetRecord>
  timeline: TimelineEvent[]
  faults: FaultRecord[]
  checks: Record<string, CheckRecord>
  series: Record<string, SeriesPoint[]>
}

export interface RunSummary {
  runId: string
  experiment: string
  status: string
  verdict?: string
  reason?: string
  startedAt?: number
  endedAt?: number
  dryRun?: boolean
  schedule?: string
  [more: string]: unknown
}

export interface HaltState {
  halted: boolean
  reason?: string
  since?: number
}

/** The API's error body. */
export interface ApiErrorBody {
  code: string
  error: string
  errors?: { path: string; message: string }[]
}
