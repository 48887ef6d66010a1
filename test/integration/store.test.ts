import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Journal } from '../../controller/experiments/journal.ts'
import { FileStore } from '../../controller/store/files.ts'
import { RedisStore } from '../../controller/store/redis.ts'
import type { Store } from '../../controller/store/types.ts'
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

const makers: [string, () => Store][] = [
  [
    'files',
    () => {
      const d = mkdtempSync(path.join(tmpdir(), 'faultline-store-'))
      dirs.push(d)
      return new FileStore(d)
    },
  ],
  ['redis', () => new RedisStore(redis.url)],
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

describe.each(makers)('%s store', (_kind, make) => {
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
})
