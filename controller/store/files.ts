/**
 * The embedded store: JSON files under the data directory, each written atomically (temp file,
 * fsync, rename), so a crash leaves every file either old or new, never torn.
 *
 *   <data>/experiments/<name>.json     <data>/runs/<run-id>/journal.json (+ reports, logs)
 *   <data>/schedules/<name>.json       <data>/schedules/<name>.history.json
 *   <data>/shaping/<id>.json           <data>/halt.json
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { type Journal, writeFileAtomic } from '../experiments/journal.ts'
import type {
  HaltState,
  RunSummary,
  ScheduleEvent,
  ScheduleSpec,
  ShapingRecord,
  Store,
  StoredExperiment,
} from './types.ts'
import { summarize } from './types.ts'

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

function listJson<T>(dir: string, filter: (f: string) => boolean = (f) => f.endsWith('.json')): T[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter(filter)
    .sort()
    .map((f) => readJson<T>(path.join(dir, f)))
    .filter((x): x is T => x !== undefined)
}

const save = (file: string, value: unknown) => writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n')

export class FileStore implements Store {
  readonly kind = 'files' as const
  readonly dir: string

  constructor(dir: string) {
    this.dir = dir
    mkdirSync(dir, { recursive: true })
  }

  #p(...parts: string[]): string {
    return path.join(this.dir, ...parts)
  }

  async putExperiment(doc: StoredExperiment): Promise<void> {
    save(this.#p('experiments', `${doc.metadata.name}.json`), doc)
  }
  async getExperiment(name: string): Promise<StoredExperiment | undefined> {
    return readJson(this.#p('experiments', `${name}.json`))
  }
  async listExperiments(): Promise<StoredExperiment[]> {
    return listJson(this.#p('experiments'))
  }
  async deleteExperiment(name: string): Promise<boolean> {
    const f = this.#p('experiments', `${name}.json`)
    if (!existsSync(f)) return false
    rmSync(f)
    return true
  }

  async saveJournal(journal: Journal): Promise<void> {
    save(this.#p('runs', journal.runId, 'journal.json'), journal)
  }
  async getJournal(runId: string): Promise<Journal | undefined> {
    if (!/^[\w.-]+$/.test(runId)) return undefined
    return readJson(this.#p('runs', runId, 'journal.json'))
  }
  async listRuns(): Promise<RunSummary[]> {
    const dir = this.#p('runs')
    if (!existsSync(dir)) return []
    return readdirSync(dir)
      .map((id) => readJson<Journal>(path.join(dir, id, 'journal.json')))
      .filter((j): j is Journal => j !== undefined)
      .map((j) => summarize(j, (j as Journal & { schedule?: string }).schedule))
      .sort((a, b) => b.startedAt - a.startedAt)
  }

  async getHalt(): Promise<HaltState | undefined> {
    return readJson(this.#p('halt.json'))
  }
  async setHalt(state: HaltState | undefined): Promise<void> {
    if (state) save(this.#p('halt.json'), state)
    else rmSync(this.#p('halt.json'), { force: true })
  }

  async putShaping(rec: ShapingRecord): Promise<void> {
    save(this.#p('shaping', `${rec.id}.json`), rec)
  }
  async listShaping(): Promise<ShapingRecord[]> {
    return listJson(this.#p('shaping'))
  }

  async putSchedule(s: ScheduleSpec): Promise<void> {
    save(this.#p('schedules', `${s.name}.json`), s)
  }
  async getSchedule(name: string): Promise<ScheduleSpec | undefined> {
    return readJson(this.#p('schedules', `${name}.json`))
  }
  async listSchedules(): Promise<ScheduleSpec[]> {
    return listJson(this.#p('schedules'), (f) => f.endsWith('.json') && !f.endsWith('.history.json'))
  }
  async deleteSchedule(name: string): Promise<boolean> {
    const f = this.#p('schedules', `${name}.json`)
    if (!existsSync(f)) return false
    rmSync(f)
    rmSync(this.#p('schedules', `${name}.history.json`), { force: true })
    return true
  }
  async addScheduleEvent(name: string, e: ScheduleEvent, limit: number): Promise<void> {
    const f = this.#p('schedules', `${name}.history.json`)
    const history = [...(readJson<ScheduleEvent[]>(f) ?? []), e].slice(-limit)
    save(f, history)
  }
  async scheduleHistory(name: string): Promise<ScheduleEvent[]> {
    return readJson(this.#p('schedules', `${name}.history.json`)) ?? []
  }

  async close(): Promise<void> {}
}
