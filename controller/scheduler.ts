/**
 * Schedules: run a stored experiment on a cron expression in a time zone. Each firing is
 * either started or skipped, and a skipped one is recorded with its reason (halted, outside the
 * allowed windows, previous run still running under "forbid", experiment missing). History is
 * trimmed to historyLimit. "replace" aborts (and reverts) the previous run before starting.
 */
import { Cron } from 'croner'
import { errors, type FieldIssue } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import { validateExperiment } from '../src/experiments/schema.ts'
import { array, boolean, choice, type Infer, number, object, required, string } from '../src/schema.ts'
import type { RunManager } from './runs.ts'
import type { ScheduleEvent, ScheduleSpec, Store } from './store/types.ts'

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/

export const scheduleSchema = object({
  name: required(string({ pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/ })),
  experiment: required(
    string({ pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, description: 'name of a stored experiment' }),
  ),
  cron: required(
    string({ maxLength: 128, description: '5 or 6 fields (seconds first when 6), or @hourly, @daily, ...' }),
  ),
  timezone: string({ maxLength: 64, description: 'IANA time zone, default UTC' }),
  concurrencyPolicy: choice(['forbid', 'allow', 'replace'], 'default forbid'),
  windows: array(
    object({
      days: array(choice(DAYS), { minItems: 1 }),
      start: string({ pattern: HHMM, description: 'HH:MM, inclusive' }),
      end: string({ pattern: HHMM, description: 'HH:MM, exclusive' }),
    }),
    { minItems: 1, description: 'runs start only inside one of these (in the schedule time zone)' },
  ),
  historyLimit: number({ integer: true, min: 1, max: 1000, description: 'default 20' }),
  suspended: boolean('paused: no firings until set to false'),
})

export type ScheduleBody = Infer<typeof scheduleSchema>

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** Whether `at` falls inside one of the windows, judged in `timezone`. */
export function inWindows(at: Date, windows: ScheduleSpec['windows'], timezone: string): boolean {
  if (!windows?.length) return true
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })
    .formatToParts(at)
    .reduce<Record<string, string>>((acc, p) => ((acc[p.type] = p.value), acc), {})
  const day = parts.weekday!.toLowerCase().slice(0, 3)
  const hhmm = `${parts.hour}:${parts.minute}`
  return windows.some(
    (w) => (!w.days || w.days.includes(day)) && (!w.start || hhmm >= w.start) && (!w.end || hhmm < w.end),
  )
}

/** Why a firing was skipped, as a metric label (the history keeps the full sentence). */
export type SkipReason =
  | 'halted'
  | 'outside_window'
  | 'experiment_unreadable'
  | 'experiment_missing'
  | 'experiment_invalid'
  | 'concurrency_forbid'
  | 'start_refused'

/** Told about every firing (the controller's metrics count them). */
export interface ScheduleObserver {
  armed(schedule: string): void
  fired(schedule: string, skipped: SkipReason | undefined): void
}

export class Scheduler {
  readonly #store: Store
  readonly #runs: RunManager
  readonly #log: Logger
  readonly #jobs = new Map<string, Cron>()
  readonly #observers: ScheduleObserver[] = []

  constructor(opts: { store: Store; runs: RunManager; log: Logger }) {
    this.#store = opts.store
    this.#runs = opts.runs
    this.#log = opts.log.child({ component: 'scheduler' })
  }

  /**
   * The checks a schedule body (already checked against scheduleSchema, bodies.ts) needs beyond
   * its shape: time zone, cron expression, the experiment exists, windows in order. Every issue
   * with its path; the result has its defaults filled in.
   */
  async validate(spec: ScheduleBody): Promise<ScheduleSpec> {
    const issues: FieldIssue[] = []
    const tz = spec.timezone ?? 'UTC'
    if (!validTimeZone(tz)) issues.push({ path: '/timezone', message: `"${tz}" is not an IANA time zone` })
    try {
      new Cron(spec.cron, { paused: true, timezone: validTimeZone(tz) ? tz : undefined }).stop()
    } catch (err) {
      issues.push({ path: '/cron', message: `is not a cron expression: ${(err as Error).message}` })
    }
    if (!(await this.#store.getExperiment(spec.experiment)))
      issues.push({ path: '/experiment', message: `no stored experiment "${spec.experiment}"` })
    spec.windows?.forEach((w, i) => {
      if (w.start && w.end && w.start >= w.end)
        issues.push({ path: `/windows/${i}/end`, message: 'must be after start' })
    })
    if (issues.length) throw errors.FL_ERR_BAD_REQUEST('invalid schedule', { issues })
    return {
      name: spec.name,
      experiment: spec.experiment,
      cron: spec.cron,
      timezone: spec.timezone ?? 'UTC',
      concurrencyPolicy: spec.concurrencyPolicy ?? 'forbid',
      windows: spec.windows,
      historyLimit: spec.historyLimit ?? 20,
      suspended: spec.suspended === true,
    }
  }

  observe(o: ScheduleObserver): void {
    this.#observers.push(o)
  }

  async start(): Promise<void> {
    const { items, unreadable } = await this.#store.listSchedules()
    for (const u of unreadable)
      this.#log.error({ code: u.code, record: u.record, schedule: u.id }, 'schedule unreadable: it will not fire')
    for (const s of items) this.#arm(s)
  }

  #arm(s: ScheduleSpec): void {
    this.#jobs.get(s.name)?.stop()
    if (s.suspended) return void this.#jobs.delete(s.name)
    // A firing that fails (the store is down, say) is logged; it must not become an unhandled rejection.
    const fire = () =>
      void this.fire(s.name).catch((err: unknown) =>
        this.#log.error(
          { schedule: s.name, code: (err as { code?: string }).code, err },
          'scheduled firing failed; the next one will try again',
        ),
      )
    this.#jobs.set(s.name, new Cron(s.cron, { timezone: s.timezone, protect: true }, fire))
    for (const o of this.#observers) o.armed(s.name)
  }

  async put(s: ScheduleSpec): Promise<void> {
    await this.#store.putSchedule(s)
    this.#arm(s)
  }

  async delete(name: string): Promise<boolean> {
    this.#jobs.get(name)?.stop()
    this.#jobs.delete(name)
    return this.#store.deleteSchedule(name)
  }

  nextRun(name: string): string | undefined {
    return this.#jobs.get(name)?.nextRun()?.toISOString()
  }

  /** One firing (from cron, or POST /schedules/:name/trigger): start or record why not. */
  async fire(name: string, at = new Date()): Promise<ScheduleEvent> {
    const s = await this.#store.getSchedule(name)
    if (!s) throw errors.FL_ERR_NOT_FOUND(`schedule ${name}`)
    const { event, skipped } = await this.#decide(s, at)
    for (const o of this.#observers) o.fired(name, skipped)
    await this.#store.addScheduleEvent(name, event, s.historyLimit)
    this.#log.info(
      { schedule: name, ...event },
      event.outcome === 'started' ? 'scheduled run started' : 'scheduled run skipped',
    )
    return event
  }

  async #decide(s: ScheduleSpec, at: Date): Promise<{ event: ScheduleEvent; skipped?: SkipReason }> {
    const skip = (skipped: SkipReason, reason: string) => ({
      event: { at: at.getTime(), outcome: 'skipped', reason } satisfies ScheduleEvent,
      skipped,
    })
    const halt = await this.#store.getHalt()
    if (halt) return skip('halted', `halted: ${halt.reason}`)
    if (!inWindows(at, s.windows, s.timezone))
      return skip('outside_window', `outside the allowed windows (${s.timezone})`)
    let doc
    try {
      doc = await this.#store.getExperiment(s.experiment)
    } catch (err) {
      // Unreadable (logged by the store with its file): a skipped firing that says so.
      if ((err as { code?: string }).code !== errors.FL_ERR_STORE_CORRUPT.code) throw err
      return skip('experiment_unreadable', `experiment ${s.experiment} is unreadable: ${(err as Error).message}`)
    }
    if (!doc) return skip('experiment_missing', `experiment ${s.experiment} not found`)
    const valid = validateExperiment(doc)
    if (!valid.ok)
      return skip(
        'experiment_invalid',
        `experiment ${s.experiment} is no longer valid: ${valid.issues[0]!.path} ${valid.issues[0]!.message}`,
      )
    const mine = this.#runs.active().filter((r) => r.schedule === s.name)
    if (mine.length && s.concurrencyPolicy === 'forbid')
      return skip('concurrency_forbid', `previous run ${mine[0]!.runId} still running (concurrencyPolicy forbid)`)
    if (mine.length && s.concurrencyPolicy === 'replace') for (const r of mine) await this.#runs.abort(r.runId)
    try {
      const { runId } = await this.#runs.start(valid.experiment, { schedule: s.name })
      return { event: { at: at.getTime(), outcome: 'started', runId } }
    } catch (err) {
      return skip('start_refused', (err as Error).message)
    }
  }

  close(): void {
    for (const j of this.#jobs.values()) j.stop()
    this.#jobs.clear()
  }
}
