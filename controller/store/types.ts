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

/**
 * A record that exists but cannot be read (FL_ERR_STORE_CORRUPT): listings report it beside the
 * readable ones instead of skipping it, and leave it in place for a person to inspect.
 */
export interface Unreadable {
  /** The experiment name, run id, schedule name or shaping id the record is stored under. */
  id: string
  /** The file, or the Redis key (and hash field), that holds it. */
  record: string
  code: string
  error: string
}

/** A listing: every record that could be read, and every one that could not. */
export interface Listing<T> {
  items: T[]
  unreadable: Unreadable[]
}

export interface ScheduleEvent {
  at: number
  outcome: 'started' | 'skipped'
  runId?: string
  reason?: string
}

/**
 * Names and ids passed in must match the name grammar (src/names.ts); a store refuses any other
 * with FL_ERR_NAME_INVALID before it touches a file or key. A record that exists but cannot be
 * parsed is FL_ERR_STORE_CORRUPT from a get, and an `unreadable` entry in a listing; both are
 * logged once with the file or key.
 */
export interface Store {
  readonly kind: 'files' | 'redis'
  putExperiment(doc: StoredExperiment): Promise<void>
  getExperiment(name: string): Promise<StoredExperiment | undefined>
  listExperiments(): Promise<Listing<StoredExperiment>>
  deleteExperiment(name: string): Promise<boolean>

  /** Where a run writes its journal and reports (the runner owns the layout inside). */
  saveJournal(journal: Journal): Promise<void>
  getJournal(runId: string): Promise<Journal | undefined>
  listRuns(): Promise<Listing<RunSummary>>

  getHalt(): Promise<HaltState | undefined>
  setHalt(state: HaltState | undefined): Promise<void>

  putShaping(rec: ShapingRecord): Promise<void>
  listShaping(): Promise<Listing<ShapingRecord>>

  putSchedule(s: ScheduleSpec): Promise<void>
  getSchedule(name: string): Promise<ScheduleSpec | undefined>
  listSchedules(): Promise<Listing<ScheduleSpec>>
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
