/**
 * The run journal: everything needed to audit a run, or to revert its faults after a crash.
 * Written whole and atomically (temp file, fsync, rename) at every step that matters, intent
 * before every fault, so a crash leaves the last complete journal, never a torn one.
 */
import type { KubernetesStepKind } from '../../src/experiments/kubernetes-schema.ts'
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { PhaseResult, Sample, Verdict } from '../../src/experiments/judge.ts'
import type { ExperimentDoc } from '../../src/experiments/schema.ts'
import type { LoadSummary } from './load.ts'

export type RunStatus = 'running' | 'completed' | 'aborted' | 'errored'

export interface TimelineEvent {
  at: number
  type:
    | 'run'
    | 'phase'
    | 'intent'
    | 'applied'
    | 'reverted'
    | 'revert-failed'
    | 'evidence-unavailable'
    | 'step'
    | 'guardrail'
    | 'error'
  detail: string
  /** The error code of an 'error' event, when it has one (e.g. FL_ERR_SIDECAR_UNREACHABLE). */
  code?: string
  step?: string
  fault?: string
}

/** A Kubernetes object a fault selected or changed (journalled before it is changed). */
export interface ObjectRef {
  kind: 'Pod' | 'Node' | 'NetworkPolicy' | 'Deployment' | 'StatefulSet'
  namespace?: string
  name: string
  uid?: string
}

export interface FaultRecord {
  id: string
  /** `sidecar`, `kill`, `restart`, `stress`, or a Kubernetes step kind (`podKill`, `nodeDrain`, ...). */
  kind: 'sidecar' | 'kill' | 'restart' | 'stress' | KubernetesStepKind
  step: string
  target: string
  /** Rule source tag on the sidecars, for sidecar faults (what a crashed run's faults are found by). */
  source?: string
  /** Sidecar admin URLs (sidecar faults) or process names. */
  on: string[]
  /** Fleet mode: the service whose desired rules carry this fault (reverted through Redis). */
  service?: string
  ruleIds?: string[]
  ttlMs?: number
  intentAt: number
  appliedAt?: number
  revertedAt?: number
  /** Per sidecar: the generation that acknowledged the rules. */
  acknowledged?: Record<string, number>
  /** Per sidecar, per rule: matched and injected requests while the fault was on. */
  evidence?: Record<string, Record<string, { matched: number; injected: number }>>
  /**
   * Per sidecar whose evidence could not be read: the error (code FL_ERR_EVIDENCE_UNAVAILABLE).
   * Missing evidence is never read as "landed".
   */
  evidenceUnavailable?: Record<string, { code: string; message: string }>
  /** Kubernetes faults: the objects selected (once, before anything changed) or created. */
  objects?: ObjectRef[]
  /** Kubernetes faults: how the objects were picked among how many matches. */
  selection?: { matched: number; mode: string; value?: number }
  /** Kills: ms until the process was ready again. */
  recoveryMs?: number | null
  error?: string
}

/** One point of a target's per-second series. Figures are null when there were no requests. */
export interface SeriesPoint {
  t: number
  count: number
  /** Requests in the last whole second (see series.ts): a real 0 when there were none. */
  rps: number
  errorRate: number | null
  p50: number | null
  p95: number | null
  p99: number | null
  /** The same figures for the requests a fault rule matched (faulted) and the others (unfaulted). */
  cohorts?: Record<'faulted' | 'unfaulted', CohortPoint>
}

/** One cohort's figures in a series point (null when the cohort had no requests). */
export interface CohortPoint {
  count: number
  errorRate: number | null
  p50: number | null
  p95: number | null
  p99: number | null
}

/** An http or run step (method or rollback): what it did and what came back. */
export interface CallRecord {
  step: string
  /** Where the step is: `method/2`, `rollbacks/0`. */
  key: string
  kind: 'http' | 'run'
  startedAt: number
  endedAt: number
  status: 'succeeded' | 'failed'
  /** http: `{status, headers, body}`; run: `{status, stdout, stderr}` (exit code as status). */
  output?: unknown
  error?: string
}

export interface CheckRecord {
  kind: string
  guardrail: boolean
  /** An observation: recorded, never judged, never part of the verdict. */
  observation?: boolean
  phases: PhaseResult[]
  samples: Sample[]
  result?: Verdict
}

export interface Journal {
  faultline: string
  runId: string
  experimentHash: string
  experiment: ExperimentDoc
  dryRun: boolean
  /** The schedule that started this run, if any. */
  schedule?: string
  startedAt: number
  endedAt?: number
  status: RunStatus
  verdict?: Verdict
  reason?: string
  /** The error code behind an errored run, when there is one (the sidecar's, kept across the wrap). */
  errorCode?: string
  targets: Record<
    string,
    {
      service?: string
      sidecars: { adminUrl: string; reachable: boolean; generation?: number; instance?: string }[]
      processes: { name: string; pid?: number }[]
      /** Kubernetes targets: how many objects matched, and the pods whose sidecars the run reaches. */
      kubernetes?: { matched: number; selected: ObjectRef[] }
    }
  >
  timeline: TimelineEvent[]
  faults: FaultRecord[]
  checks: Record<string, CheckRecord>
  series: Record<string, SeriesPoint[]>
  /** http and run steps of the method and the rollbacks, in the order they ended. */
  calls?: CallRecord[]
  /** Client-side load summary, or why there is none. */
  load?: { url: string } & (LoadSummary | { error: string })
}

/** Writes `data` to `file` so that the file is always either the old or the new content. */
export function writeFileAtomic(file: string, data: string): void {
  mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  const fd = openSync(tmp, 'w')
  try {
    writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
}

export class JournalWriter {
  readonly file: string
  readonly journal: Journal
  readonly #sink: ((j: Journal) => Promise<void>) | undefined
  readonly #onSinkError: (err: unknown) => void

  /**
   * `sink` also receives every save (a shared store); the local file is always written. A sink
   * that fails is reported to `onSinkError` (most saves are not awaited, and an unhandled
   * rejection would end the process); a save that is awaited still rejects.
   */
  constructor(
    dir: string,
    journal: Journal,
    sink?: (j: Journal) => Promise<void>,
    onSinkError: (err: unknown) => void = () => undefined,
  ) {
    this.file = path.join(dir, 'journal.json')
    this.journal = journal
    this.#sink = sink
    this.#onSinkError = onSinkError
    void this.save()
  }

  event(e: Omit<TimelineEvent, 'at'>, at = Date.now()): void {
    this.journal.timeline.push({ at, ...e })
  }

  /** Resolves once the journal is durable everywhere it goes: await it before applying a fault. */
  save(): Promise<void> {
    writeFileAtomic(this.file, JSON.stringify(this.journal, null, 2) + '\n')
    const shared = this.#sink?.(this.journal) ?? Promise.resolve()
    shared.catch(this.#onSinkError)
    return shared
  }
}
