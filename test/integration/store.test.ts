import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { capturedLogger } from '../helpers/log.ts'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Journal } from '../../controller/experiments/journal.ts'
import { FileStore } from '../../controller/store/files.ts'
import { keys, RedisStore } from '../../controller/store/redis.ts'
import type { Store } from '../../controller/store/types.ts'
import { type Logger, silentLogger } from '../../src/log.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'

let redis: RedisServer
const dirs: string[] = []
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

interface Maker {
  make(log?: Logger): Store
  /** Writes a record that does not parse, behind the store's back; returns its file or key. */
  corrupt(store: Store, kind: 'experiment' | 'run', id: string): Promise<string>
}

const makers: [string, Maker][] = [
  [
    'files',
    {
      make: (log = silentLogger()) => {
        const d = mkdtempSync(path.join(tmpdir(), 'faultline-store-'))
        dirs.push(d)
        return new FileStore(path.join(d, 'data'), { log })
      },
      async corrupt(store, kind, id) {
        const dir = (store as FileStore).dir
        const file =
          kind === 'experiment'
            ? path.join(dir, 'experiments', `${id}.json`)
            : path.join(dir, 'runs', id, 'journal.json')
        mkdirSync(path.dirname(file), { recursive: true })
        writeFileSync(file, '{"torn": ')
        return file
      },
    },
  ],
  [
    'redis',
    {
      make: (log = silentLogger()) => new RedisStore(redis.url, { log }),
      async corrupt(store, kind, id) {
        const r = (store as RedisStore).redis
        if (kind === 'experiment') {
          await r.hset(keys.experiments, id, '{"torn": ')
          return `${keys.experiments} ${id}`
        }
        await r.multi().set(keys.run(id), '{"torn": ').zadd(keys.runs, 1, id).exec()
        return keys.run(id)
      },
    },
  ],
]

const journal = (runId: string, startedAt: number, status: Journal['status'] = 'completed'): Journal =>
  ({
    faultline: 'test',
    runId,
    experimentHash: 'x',
    experiment: { metadata: { name: 'exp' } },
    dryRun: false,
    startedAt,
    status,
    verdict: status === 'running' ? undefined : 'pass',
    targets: {},
    timeline: [],
    faults: [],
    checks: {},
    series: {},
  }) as unknown as Journal

describe.each(makers)('%s store', (_kind, { make, corrupt }) => {
  it('keeps experiments, runs, halt, shaping and schedules', async () => {
    const store = make()
    try {
      if (store instanceof RedisStore) await store.redis.flushall()
      await store.putExperiment({ metadata: { name: 'b' }, spec: { x: '1s' } })
      await store.putExperiment({ metadata: { name: 'a' } })
      expect((await store.listExperiments()).items.map((e) => e.metadata.name)).toEqual(['a', 'b'])
      expect(await store.getExperiment('b')).toEqual({ metadata: { name: 'b' }, spec: { x: '1s' } })
      expect(await store.deleteExperiment('a')).toBe(true)
      expect(await store.deleteExperiment('a')).toBe(false)

      await store.saveJournal(journal('r1', 1000))
      await store.saveJournal(journal('r2', 2000, 'running'))
      await store.saveJournal({ ...journal('r2', 2000), status: 'aborted' })
      expect((await store.listRuns()).items.map((r) => [r.runId, r.status])).toEqual([
        ['r2', 'aborted'],
        ['r1', 'completed'],
      ])
      expect((await store.getJournal('r1'))!.verdict).toBe('pass')
      expect(await store.getJournal('nope')).toBeUndefined()

      expect(await store.getHalt()).toBeUndefined()
      await store.setHalt({ reason: 'r', since: 1 })
      expect(await store.getHalt()).toEqual({ reason: 'r', since: 1 })
      await store.setHalt(undefined)
      expect(await store.getHalt()).toBeUndefined()

      const shaping = {
        id: 's1',
        sidecars: [],
        rules: [],
        source: 'shaping/s1',
        createdAt: 1,
        expiresAt: 2,
        acknowledged: {},
      }
      await store.putShaping(shaping)
      await store.putShaping({ ...shaping, revertedAt: 3 })
      expect((await store.listShaping()).items).toEqual([{ ...shaping, revertedAt: 3 }])

      const s = {
        name: 'n',
        experiment: 'b',
        cron: '* * * * *',
        timezone: 'UTC',
        concurrencyPolicy: 'forbid' as const,
        historyLimit: 2,
      }
      await store.putSchedule(s)
      expect((await store.listSchedules()).items).toEqual([s])
      for (let i = 0; i < 3; i++) await store.addScheduleEvent('n', { at: i, outcome: 'skipped', reason: `r${i}` }, 2)
      expect((await store.scheduleHistory('n')).map((e) => e.at)).toEqual([1, 2])
      expect(await store.deleteSchedule('n')).toBe(true)
      expect(await store.scheduleHistory('n')).toEqual([])
    } finally {
      await store.close()
    }
  })

  it('refuses names outside the grammar before touching a file or key', async () => {
    const store = make()
    try {
      const refused = { code: 'FL_ERR_NAME_INVALID' }
      for (const bad of ['../x', '../../victim', 'a/b', 'a:b', '*', '', '.hidden', 'x'.repeat(129)]) {
        await expect(store.getExperiment(bad), bad).rejects.toMatchObject(refused)
        await expect(store.deleteExperiment(bad)).rejects.toMatchObject(refused)
        await expect(store.putExperiment({ metadata: { name: bad } })).rejects.toMatchObject(refused)
        await expect(store.getJournal(bad)).rejects.toMatchObject(refused)
        await expect(store.saveJournal(journal(bad, 1))).rejects.toMatchObject(refused)
        await expect(store.getSchedule(bad)).rejects.toMatchObject(refused)
        await expect(store.scheduleHistory(bad)).rejects.toMatchObject(refused)
        await expect(store.addScheduleEvent(bad, { at: 1, outcome: 'skipped' }, 5)).rejects.toMatchObject(refused)
        await expect(store.deleteSchedule(bad)).rejects.toMatchObject(refused)
      }
      if (store instanceof FileStore) expect(readdirSync(path.dirname(store.dir))).toEqual(['data'])
      if (store instanceof RedisStore)
        expect((await store.redis.keys('*')).filter((k) => !k.startsWith('faultline:'))).toEqual([])
    } finally {
      await store.close()
    }
  })

  it('reports a record it cannot parse (logged once, left in place) instead of hiding it', async () => {
    const { log, lines } = capturedLogger()
    const store = make(log)
    try {
      if (store instanceof RedisStore) await store.redis.flushall()
      await store.putExperiment({ metadata: { name: 'good' } })
      const badExperiment = await corrupt(store, 'experiment', 'bad')
      const badRun = await corrupt(store, 'run', 'torn-run')
      await store.saveJournal(journal('fine-run', 5))
      for (let i = 0; i < 2; i++) {
        const experiments = await store.listExperiments()
        expect(experiments.items.map((e) => e.metadata.name)).toEqual(['good'])
        expect(experiments.unreadable).toEqual([
          { id: 'bad', record: badExperiment, code: 'FL_ERR_STORE_CORRUPT', error: expect.any(String) },
        ])
        const runs = await store.listRuns()
        expect(runs.items.map((r) => r.runId)).toEqual(['fine-run'])
        expect(runs.unreadable).toMatchObject([{ id: 'torn-run', record: badRun, code: 'FL_ERR_STORE_CORRUPT' }])
      }
      await expect(store.getExperiment('bad')).rejects.toMatchObject({
        code: 'FL_ERR_STORE_CORRUPT',
        details: { record: badExperiment },
      })
      await expect(store.getJournal('torn-run')).rejects.toMatchObject({ code: 'FL_ERR_STORE_CORRUPT' })
      const logged = lines.filter((l) => l.code === 'FL_ERR_STORE_CORRUPT')
      expect(logged.map((l) => l.record).sort()).toEqual([badExperiment, badRun].sort())
      expect(logged.every((l) => l.component === 'store')).toBe(true)
      // Left in place: still there, still unreadable.
      expect((await store.listExperiments()).unreadable).toHaveLength(1)
    } finally {
      await store.close()
    }
  })
})
