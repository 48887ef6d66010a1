/**
 * The store in Redis (ioredis), for controllers that share state or run without a disk.
 * Every key is built in keys(); values are JSON.
 *
 * Names become parts of keys, so each is checked against the name grammar (no ':' or '*' can
 * reach a key, so nothing escapes the `faultline:` prefix). A Redis that cannot be reached is
 * FL_ERR_REDIS (503) on the command that needed it, and logged once per outage; a value that
 * does not parse is FL_ERR_STORE_CORRUPT naming its key.
 */
import { Redis } from 'ioredis'
import { errors, isFaultlineError } from '../../src/errors.ts'
import { createLogger, type Logger } from '../../src/log.ts'
import { assertName } from '../../src/names.ts'
import { RedisOutage } from '../../src/redis-outage.ts'
import type { Journal } from '../experiments/journal.ts'
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

export const keys = {
  experiments: 'faultline:experiments',
  runs: 'faultline:runs',
  run: (id: string) => `faultline:run:${assertName(id, '/runId')}`,
  halt: 'faultline:halt',
  shaping: 'faultline:shaping',
  schedules: 'faultline:schedules',
  history: (name: string) => `faultline:schedule-history:${assertName(name, '/name')}`,
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const
  readonly redis: Redis
  readonly outage: RedisOutage
  readonly #corrupt: CorruptRecords

  constructor(url: string, opts: { log?: Logger } = {}) {
    const log = (opts.log ?? createLogger({ name: 'faultline-controller' })).child({
      component: 'store',
      store: 'redis',
    })
    this.#corrupt = new CorruptRecords(log)
    this.outage = new RedisOutage(log)
    this.redis = this.outage.watch(new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 }))
  }

  /** Runs Redis commands; a connection failure becomes FL_ERR_REDIS with its cause. */
  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.outage.assertUp(what, this.redis)
    try {
      return await fn()
    } catch (err) {
      if (isFaultlineError(err)) throw err
      throw errors.FL_ERR_REDIS(`${what}: ${(err as Error).message}`, { cause: err })
    }
  }

  #parse<T>(record: string, text: string | null | undefined): T | undefined {
    if (text === null || text === undefined) return undefined
    try {
      const value = JSON.parse(text) as T
      this.#corrupt.clear(record)
      return value
    } catch (err) {
      throw this.#corrupt.error(record, err)
    }
  }

  /** Every value of a hash, parsed, in key order; unparsable ones reported, not dropped. */
  async #values<T>(key: string): Promise<Listing<T>> {
    const all = await this.#run(`read ${key}`, () => this.redis.hgetall(key))
    const out: Listing<T> = { items: [], unreadable: [] }
    for (const field of Object.keys(all).sort()) {
      const record = `${key} ${field}`
      try {
        out.items.push(this.#parse<T>(record, all[field])!)
      } catch (err) {
        if (!isFaultlineError(err)) throw err
        out.unreadable.push(CorruptRecords.entry(field, record, err))
      }
    }
    return out
  }

  async putExperiment(doc: StoredExperiment): Promise<void> {
    const name = assertName(doc.metadata.name, '/metadata/name')
    await this.#run('store experiment', () => this.redis.hset(keys.experiments, name, JSON.stringify(doc)))
  }
  async getExperiment(name: string): Promise<StoredExperiment | undefined> {
    assertName(name, '/name')
    const text = await this.#run('read experiment', () => this.redis.hget(keys.experiments, name))
    return this.#parse(`${keys.experiments} ${name}`, text)
  }
  async listExperiments(): Promise<Listing<StoredExperiment>> {
    return this.#values(keys.experiments)
  }
  async deleteExperiment(name: string): Promise<boolean> {
    assertName(name, '/name')
    return (await this.#run('delete experiment', () => this.redis.hdel(keys.experiments, name))) > 0
  }

  async saveJournal(j: Journal): Promise<void> {
    const key = keys.run(j.runId)
    await this.#run('save journal', () =>
      this.redis.multi().set(key, JSON.stringify(j)).zadd(keys.runs, j.startedAt, j.runId).exec(),
    )
  }
  async getJournal(runId: string): Promise<Journal | undefined> {
    const key = keys.run(runId)
    return this.#parse(key, await this.#run('read journal', () => this.redis.get(key)))
  }
  async listRuns(): Promise<Listing<RunSummary>> {
    const out: Listing<RunSummary> = { items: [], unreadable: [] }
    const ids = await this.#run('list runs', () => this.redis.zrevrange(keys.runs, 0, -1))
    if (ids.length === 0) return out
    const docs = await this.#run('read journals', () => this.redis.mget(ids.map(keys.run)))
    docs.forEach((d, i) => {
      const key = keys.run(ids[i]!)
      try {
        const j = this.#parse<Journal>(key, d)
        if (j) out.items.push(summarize(j, j.schedule))
      } catch (err) {
        if (!isFaultlineError(err)) throw err
        out.unreadable.push(CorruptRecords.entry(ids[i]!, key, err))
      }
    })
    return out
  }

  async getHalt(): Promise<HaltState | undefined> {
    return this.#parse(keys.halt, await this.#run('read halt', () => this.redis.get(keys.halt)))
  }
  async setHalt(state: HaltState | undefined): Promise<void> {
    await this.#run('write halt', async () => {
      if (state) await this.redis.set(keys.halt, JSON.stringify(state))
      else await this.redis.del(keys.halt)
    })
  }

  async putShaping(rec: ShapingRecord): Promise<void> {
    const id = assertName(rec.id, '/id')
    await this.#run('store shaping', () => this.redis.hset(keys.shaping, id, JSON.stringify(rec)))
  }
  async listShaping(): Promise<Listing<ShapingRecord>> {
    return this.#values(keys.shaping)
  }

  async putSchedule(s: ScheduleSpec): Promise<void> {
    const name = assertName(s.name, '/name')
    await this.#run('store schedule', () => this.redis.hset(keys.schedules, name, JSON.stringify(s)))
  }
  async getSchedule(name: string): Promise<ScheduleSpec | undefined> {
    assertName(name, '/name')
    const text = await this.#run('read schedule', () => this.redis.hget(keys.schedules, name))
    return this.#parse(`${keys.schedules} ${name}`, text)
  }
  async listSchedules(): Promise<Listing<ScheduleSpec>> {
    return this.#values(keys.schedules)
  }
  async deleteSchedule(name: string): Promise<boolean> {
    const history = keys.history(name)
    const done = (await this.#run('delete schedule', () =>
      this.redis.multi().hdel(keys.schedules, name).del(history).exec(),
    )) as [[Error | null, number]]
    return done[0][1] > 0
  }
  async addScheduleEvent(name: string, e: ScheduleEvent, limit: number): Promise<void> {
    const key = keys.history(name)
    await this.#run('record schedule event', () =>
      this.redis.multi().rpush(key, JSON.stringify(e)).ltrim(key, -limit, -1).exec(),
    )
  }
  async scheduleHistory(name: string): Promise<ScheduleEvent[]> {
    const key = keys.history(name)
    const list = await this.#run('read schedule history', () => this.redis.lrange(key, 0, -1))
    return list.map((v, i) => this.#parse<ScheduleEvent>(`${key} [${i}]`, v)!)
  }

  async close(): Promise<void> {
    // While Redis is away QUIT would wait in the offline queue: just drop the socket then.
    if (this.redis.status !== 'ready') return this.redis.disconnect()
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}
