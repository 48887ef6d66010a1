/**
 * What the controller persists. The embedded default keeps files under the data directory
 * (crash-safe writes); with --redis the same interface is backed by Redis.
 */
import type { Journal } from '../experiments/journal.ts'

/** An experiment as written (durations still strings), which is what is stored and validated on use. */
export type StoredExperiment = Record<string, unknown> & { metadata: { name: string } }

export interface RunSummary {
  runId: string
  experiment: string
  status: Journal['status']
  verdict?: Journal['verdict']
  reason?: string
  dryRun: boolean
  startedAt: number
  endedAt?: number
  schedule?: string
}

export interface HaltState {
  reason: string
  since: number
  by?: string
}

export interface ShapingRecord {
  id: string
  name?: string
  /** Sidecar admin URLs the rules went to (direct), or none when `service` is set (fleet). */
  sidecars: string[]
  service?: string
  adminToken?: string
  rules: Record<string, unknown>[]
  source: string
  createdAt: number
  expiresAt: number
  revertedAt?: number
  acknowledged: Record<string, number>
}

export interface ScheduleSpec {
  name: string
  experiment: string
  cron: string
  timezone: string
  concurrencyPolicy: 'forbid' | 'allow' | 'replace'
  windows?: { days?: string[]; start?: string; end?: string }[]
  historyLimit: number
  suspended?: boolean
}

export interface ScheduleEvent {
  at: number
  outcome: 'started' | 'skipped'
  runId?: string
  reason?: string
}

export interface Store {
  readonly kind: 'files' | 'redis'
  putExperiment(doc: StoredExperiment): Promise<void>
  getExperiment(name: string): Promise<StoredExperiment | undefined>
  listExperiments(): Promise<StoredExperiment[]>
  deleteExperiment(name: string): Promise<boolean>

  /** Where a run writes its journal and reports (the runner owns the layout inside). */
  saveJournal(journal: Journal): Promise<void>
  getJournal(runId: string): Promise<Journal | undefined>
  listRuns(): Promise<RunSummary[]>

  getHalt(): Promise<HaltState | undefined>
  setHalt(state: HaltState | undefined): Promise<void>

  putShaping(rec: ShapingRecord): Promise<void>
  listShaping(): Promise<ShapingRecord[]>

  putSchedule(s: ScheduleSpec): Promise<void>
  getSchedule(name: string): Promise<ScheduleSpec | undefined>
  listSchedules(): Promise<ScheduleSpec[]>
  deleteSchedule(name: string): Promise<boolean>
  addScheduleEvent(name: string, e: ScheduleEvent, limit: number): Promise<void>
  scheduleHistory(name: string): Promise<ScheduleEvent[]>

  close(): Promise<void>
}

export function summarize(j: Journal, schedule?: string): RunSummary {
  return {
    runId: j.runId,
    experiment: j.experiment.metadata.name,
    status: j.status,
    verdict: j.verdict,
    reason: j.reason,
    dryRun: j.dryRun,
    startedAt: j.startedAt,
    endedAt: j.endedAt,
    schedule,
  }
}
