/**
 * The store in Redis (ioredis), for controllers that share state or run without a disk.
 * Every key is built in keys(); values are JSON.
 */
import { Redis } from 'ioredis'
import type { Journal } from '../experiments/journal.ts'
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

export const keys = {
  experiments: 'faultline:experiments',
  runs: 'faultline:runs',
  run: (id: string) => `faultline:run:${id}`,
  halt: 'faultline:halt',
  shaping: 'faultline:shaping',
  schedules: 'faultline:schedules',
  history: (name: string) => `faultline:schedule-history:${name}`,
}

const parse = <T>(text: string | null | undefined): T | undefined => (text ? (JSON.parse(text) as T) : undefined)

export class RedisStore implements Store {
  readonly kind = 'redis' as const
  readonly redis: Redis

  constructor(url: string) {
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 })
    // Errors surface on the commands; a separate listener keeps ioredis from crashing the process.
    this.redis.on('error', () => {})
  }

  /** Every value of a hash, parsed, in key order. */
  async #values<T>(key: string): Promise<T[]> {
    const all = await this.redis.hgetall(key)
    return Object.keys(all)
      .sort()
      .map((k) => JSON.parse(all[k]!) as T)
  }

  async putExperiment(doc: StoredExperiment): Promise<void> {
    await this.redis.hset(keys.experiments, doc.metadata.name, JSON.stringify(doc))
  }
  async getExperiment(name: string): Promise<StoredExperiment | undefined> {
    return parse(await this.redis.hget(keys.experiments, name))
  }
  async listExperiments(): Promise<StoredExperiment[]> {
    return this.#values(keys.experiments)
  }
  async deleteExperiment(name: string): Promise<boolean> {
    return (await this.redis.hdel(keys.experiments, name)) > 0
  }

  async saveJournal(j: Journal): Promise<void> {
    await this.redis.multi().set(keys.run(j.runId), JSON.stringify(j)).zadd(keys.runs, j.startedAt, j.runId).exec()
  }
  async getJournal(runId: string): Promise<Journal | undefined> {
    return parse(await this.redis.get(keys.run(runId)))
  }
  async listRuns(): Promise<RunSummary[]> {
    const ids = await this.redis.zrevrange(keys.runs, 0, -1)
    if (ids.length === 0) return []
    const docs = await this.redis.mget(ids.map(keys.run))
    return docs
      .map((d) => parse<Journal>(d))
      .filter((j): j is Journal => j !== undefined)
      .map((j) => summarize(j, j.schedule))
  }

  async getHalt(): Promise<HaltState | undefined> {
    return parse(await this.redis.get(keys.halt))
  }
  async setHalt(state: HaltState | undefined): Promise<void> {
    if (state) await this.redis.set(keys.halt, JSON.stringify(state))
    else await this.redis.del(keys.halt)
  }

  async putShaping(rec: ShapingRecord): Promise<void> {
    await this.redis.hset(keys.shaping, rec.id, JSON.stringify(rec))
  }
  async listShaping(): Promise<ShapingRecord[]> {
    return this.#values(keys.shaping)
  }

  async putSchedule(s: ScheduleSpec): Promise<void> {
    await this.redis.hset(keys.schedules, s.name, JSON.stringify(s))
  }
  async getSchedule(name: string): Promise<ScheduleSpec | undefined> {
    return parse(await this.redis.hget(keys.schedules, name))
  }
  async listSchedules(): Promise<ScheduleSpec[]> {
    return this.#values(keys.schedules)
  }
  async deleteSchedule(name: string): Promise<boolean> {
    const [[, n]] = (await this.redis.multi().hdel(keys.schedules, name).del(keys.history(name)).exec()) as [
      [Error | null, number],
    ]
    return n > 0
  }
  async addScheduleEvent(name: string, e: ScheduleEvent, limit: number): Promise<void> {
    await this.redis.multi().rpush(keys.history(name), JSON.stringify(e)).ltrim(keys.history(name), -limit, -1).exec()
  }
  async scheduleHistory(name: string): Promise<ScheduleEvent[]> {
    return (await this.redis.lrange(keys.history(name), 0, -1)).map((v) => JSON.parse(v) as ScheduleEvent)
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}
