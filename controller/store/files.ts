/**
 * The embedded store: JSON files under the data directory, each written atomically (temp file,
 * fsync, rename), so a crash leaves every file either old or new, never torn.
 *
 *   <data>/experiments/<name>.json     <data>/runs/<run-id>/journal.json (+ reports, logs)
 *   <data>/schedules/<name>.json       <data>/schedules/<name>.history.json
 *   <data>/shaping/<id>.json           <data>/halt.json
 *
 * Names become file names, so each is checked against the name grammar, and every path is
 * resolved and refused unless it stays inside the data directory (a second line of defence
 * behind the API's own checks). A file that exists but does not parse is FL_ERR_STORE_CORRUPT,
 * never "absent": crash recovery must not skip a journal it cannot read.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { errors, isFaultlineError } from '../../src/errors.ts'
import { createLogger, type Logger } from '../../src/log.ts'
import { assertName } from '../../src/names.ts'
import { type Journal, writeFileAtomic } from '../experiments/journal.ts'
import { CorruptRecords } from './corrupt.ts'
import type {
  HaltState,
  Listing,
  RunSummary,
  ScheduleEvent,
  ScheduleSpec,
  ShapingRecord,
  Store,
  StoredExperiment,
} from './types.ts'
import { summarize } from './types.ts'

/** Errors that mean "no such record" rather than "a record we cannot read". */
const ABSENT = new Set(['ENOENT', 'ENOTDIR'])

/**
 * `parts` resolved under `root` (an absolute, resolved directory), or FL_ERR_NAME_INVALID when
 * the result is not `root` or inside it. Exported so this line of defence is tested on its own,
 * without the name grammar in front of it.
 */
export function pathInside(root: string, ...parts: string[]): string {
  const p = path.resolve(root, ...parts)
  if (p !== root && !p.startsWith(root + path.sep))
    throw errors.FL_ERR_NAME_INVALID(`${parts.join('/')} resolves outside the data directory`, {
      issues: [{ path: '', message: 'resolves outside the data directory' }],
    })
  return p
}

export class FileStore implements Store {
  readonly kind = 'files' as const
  readonly dir: string
  readonly #root: string
  readonly #corrupt: CorruptRecords

  constructor(dir: string, opts: { log?: Logger } = {}) {
    this.dir = dir
    this.#root = path.resolve(dir)
    const log = opts.log ?? createLogger({ name: 'faultline-controller' })
    this.#corrupt = new CorruptRecords(log.child({ component: 'store', store: 'files' }))
    mkdirSync(dir, { recursive: true })
  }

  /** A path under the data directory; anything that resolves outside it is refused. */
  #p(...parts: string[]): string {
    return pathInside(this.#root, ...parts)
  }

  #read<T>(file: string): T | undefined {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return undefined
      throw this.#corrupt.error(file, err)
    }
    try {
      const value = JSON.parse(text) as T
      this.#corrupt.clear(file)
      return value
    } catch (err) {
      throw this.#corrupt.error(file, err)
    }
  }

  #save(file: string, value: unknown): void {
    this.#write(file, () => writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n'))
    this.#corrupt.clear(file)
  }

  /** A file system failure is the environment's (disk full, read-only), never a 500. */
  #write(file: string, op: () => void): void {
    try {
      op()
    } catch (err) {
      if (isFaultlineError(err)) throw err
      throw errors.FL_ERR_STORE_UNAVAILABLE(`${file}: ${(err as Error).message}`, {
        cause: err,
        details: { record: file },
      })
    }
  }

  /** Reads every `<id>.json` in a directory; unreadable ones are reported, not dropped. */
  #list<T>(dir: string, filter: (f: string) => boolean = (f) => f.endsWith('.json')): Listing<T> {
    const out: Listing<T> = { items: [], unreadable: [] }
    if (!existsSync(dir)) return out
    for (const f of readdirSync(dir).filter(filter).sort()) {
      const file = path.join(dir, f)
      try {
        const value = this.#read<T>(file)
        if (value !== undefined) out.items.push(value)
      } catch (err) {
        if (!isFaultlineError(err)) throw err
        out.unreadable.push(CorruptRecords.entry(f.replace(/\.json$/, ''), file, err))
      }
    }
    return out
  }

  async putExperiment(doc: StoredExperiment): Promise<void> {
    this.#save(this.#p('experiments', `${assertName(doc.metadata.name, '/metadata/name')}.json`), doc)
  }
  async getExperiment(name: string): Promise<StoredExperiment | undefined> {
    return this.#read(this.#p('experiments', `${assertName(name, '/name')}.json`))
  }
  async listExperiments(): Promise<Listing<StoredExperiment>> {
    return this.#list(this.#p('experiments'))
  }
  async deleteExperiment(name: string): Promise<boolean> {
    const f = this.#p('experiments', `${assertName(name, '/name')}.json`)
    if (!existsSync(f)) return false
    this.#write(f, () => rmSync(f))
    return true
  }

  async saveJournal(journal: Journal): Promise<void> {
    this.#save(this.#p('runs', assertName(journal.runId, '/runId'), 'journal.json'), journal)
  }
  async getJournal(runId: string): Promise<Journal | undefined> {
    return this.#read(this.#p('runs', assertName(runId, '/runId'), 'journal.json'))
  }
  async listRuns(): Promise<Listing<RunSummary>> {
    const dir = this.#p('runs')
    const out: Listing<RunSummary> = { items: [], unreadable: [] }
    if (!existsSync(dir)) return out
    for (const id of readdirSync(dir).sort()) {
      const file = path.join(dir, id, 'journal.json')
      try {
        const j = this.#read<Journal>(file)
        if (j) out.items.push(summarize(j, j.schedule))
      } catch (err) {
        if (!isFaultlineError(err)) throw err
        out.unreadable.push(CorruptRecords.entry(id, file, err))
      }
    }
    out.items.sort((a, b) => b.startedAt - a.startedAt)
    return out
  }

  async getHalt(): Promise<HaltState | undefined> {
    return this.#read(this.#p('halt.json'))
  }
  async setHalt(state: HaltState | undefined): Promise<void> {
    if (state) this.#save(this.#p('halt.json'), state)
    else this.#write(this.#p('halt.json'), () => rmSync(this.#p('halt.json'), { force: true }))
  }

  async putShaping(rec: ShapingRecord): Promise<void> {
    this.#save(this.#p('shaping', `${assertName(rec.id, '/id')}.json`), rec)
  }
  async listShaping(): Promise<Listing<ShapingRecord>> {
    return this.#list(this.#p('shaping'))
  }

  async putSchedule(s: ScheduleSpec): Promise<void> {
    this.#save(this.#p('schedules', `${assertName(s.name, '/name')}.json`), s)
  }
  async getSchedule(name: string): Promise<ScheduleSpec | undefined> {
    return this.#read(this.#p('schedules', `${assertName(name, '/name')}.json`))
  }
  async listSchedules(): Promise<Listing<ScheduleSpec>> {
    return this.#list(this.#p('schedules'), (f) => f.endsWith('.json') && !f.endsWith('.history.json'))
  }
  async deleteSchedule(name: string): Promise<boolean> {
    const f = this.#p('schedules', `${assertName(name, '/name')}.json`)
    if (!existsSync(f)) return false
    this.#write(f, () => {
      rmSync(f)
      rmSync(this.#p('schedules', `${name}.history.json`), { force: true })
    })
    return true
  }
  async addScheduleEvent(name: string, e: ScheduleEvent, limit: number): Promise<void> {
    const f = this.#p('schedules', `${assertName(name, '/name')}.history.json`)
    // A corrupt history throws here rather than being replaced by a fresh one.
    const history = [...(this.#read<ScheduleEvent[]>(f) ?? []), e].slice(-limit)
    this.#save(f, history)
  }
  async scheduleHistory(name: string): Promise<ScheduleEvent[]> {
    return this.#read(this.#p('schedules', `${assertName(name, '/name')}.history.json`)) ?? []
  }

  async close(): Promise<void> {}
}
