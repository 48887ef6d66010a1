/**
 * A run's events derived from its journal: a reader that applies them (as the dashboard does,
 * ui/run-state.ts) holds the journal; live diffs and a one-pass replay carry the same events;
 * `end` comes once, last, and only when the run is final; applying an event twice changes nothing.
 */
import { describe, expect, it } from 'vitest'
import { journalEvents, newCursor, type RunEvent } from '../../controller/events-journal.ts'
import type { Journal } from '../../controller/experiments/journal.ts'
import { applyRunEvent } from '../../ui/run-state.ts'
import type { Journal as UiJournal } from '../../ui/types.ts'

const T = 1_800_000_000_000

function journal(): Journal {
  return {
    faultline: 'dev',
    runId: 'x-1',
    experimentHash: 'h',
    experiment: { apiVersion: 'faultline/v1', kind: 'Experiment', metadata: { name: 'x' }, spec: {} } as never,
    dryRun: false,
    startedAt: T,
    status: 'running',
    targets: {},
    timeline: [],
    faults: [],
    checks: { p95: { kind: 'sidecar', guardrail: false, phases: [], samples: [] } },
    series: {},
  }
}

const point = (i: number) => ({ t: T + i * 1000, count: 10, rps: 10, errorRate: 0, p50: 1, p95: 2 + i, p99: 3 })

/** The run's life in steps; each mutates the journal as the runner does. */
const steps: ((j: Journal) => void)[] = [
  (j) => j.timeline.push({ at: T, type: 'run', detail: 'started' }),
  (j) => (j.targets.app = { sidecars: [{ adminUrl: 'http://a', reachable: true }], processes: [] }),
  (j) => ((j.series.app = [point(0)]), j.timeline.push({ at: T + 1, type: 'phase', detail: 'during' })),
  (j) => j.faults.push({ id: 'f1', kind: 'sidecar', step: 's', target: 'app', on: ['http://a'], intentAt: T + 2 }),
  (j) => ((j.faults[0]!.appliedAt = T + 3), j.series.app!.push(point(1), point(2))),
  (j) => j.checks.p95!.samples.push({ at: T + 4, phase: 'during', outcome: 'pass', value: 3 }),
  (j) => (
    (j.faults[0]!.evidence = { 'http://a': { r: { matched: 5, injected: 5 } } }),
    (j.faults[0]!.revertedAt = T + 5)
  ),
  (j) => j.checks.p95!.phases.push({ phase: 'during', result: 'pass', reason: 'ok', samples: 1 }),
  (j) => ((j.status = 'completed'), (j.verdict = 'pass'), (j.checks.p95!.result = 'pass'), (j.endedAt = T + 6)),
  (j) => j.timeline.push({ at: T + 6, type: 'run', detail: 'completed, verdict pass' }),
]

function live(): { events: RunEvent[]; final: Journal } {
  const j = journal()
  const cursor = newCursor()
  const events: RunEvent[] = []
  for (const step of steps) {
    step(j)
    events.push(...journalEvents(j, cursor, false))
  }
  events.push(...journalEvents(j, cursor, true))
  return { events, final: j }
}

const empty = (j: Journal): UiJournal =>
  ({
    ...structuredClone(j),
    status: 'running',
    verdict: undefined,
    reason: undefined,
    targets: {},
    timeline: [],
    faults: [],
    checks: {},
    series: {},
  }) as UiJournal

describe('journal events', () => {
  it('rebuild the journal when applied, live or replayed in one pass', () => {
    const { events, final } = live()
    const replay = journalEvents(final, newCursor(), true)
    for (const evs of [events, replay]) {
      const j = empty(final)
      for (const e of evs) applyRunEvent(j, e.type, e.data)
      expect(j.series).toEqual(final.series)
      expect(j.timeline).toEqual(final.timeline)
      expect(j.faults).toEqual(final.faults)
      expect(j.targets).toEqual(final.targets)
      expect(j.checks.p95).toMatchObject({
        samples: final.checks.p95!.samples,
        phases: final.checks.p95!.phases,
        result: 'pass',
      })
      expect([j.status, j.verdict, j.endedAt]).toEqual(['completed', 'pass', T + 6])
    }
    // The same events, only in another order: a live fault change is an event of its own.
    const count = (evs: RunEvent[], type: string) => evs.filter((e) => e.type === type).length
    for (const type of ['sample', 'check', 'phase', 'timeline', 'target', 'end'])
      expect(count(replay, type), type).toBe(count(events, type))
    expect(count(events, 'fault')).toBe(3)
    expect(count(replay, 'fault')).toBe(1)
  })

  it('end once, last, and only when the run is final (the last timeline entry comes before it)', () => {
    const { events } = live()
    expect(events.filter((e) => e.type === 'end')).toHaveLength(1)
    expect(events.at(-1)!.type).toBe('end')
    expect(events.at(-2)).toMatchObject({ type: 'timeline', data: { detail: 'completed, verdict pass' } })
    const j = journal()
    j.status = 'completed'
    expect(journalEvents(j, newCursor(), false).some((e) => e.type === 'end')).toBe(false)
  })

  it('change nothing when applied twice (a reconnect that overlaps)', () => {
    const { events, final } = live()
    const j = empty(final)
    for (const e of [...events, ...events.slice(3)]) applyRunEvent(j, e.type, e.data)
    expect(j.series.app).toHaveLength(3)
    expect(j.timeline).toHaveLength(final.timeline.length)
    expect(j.faults).toHaveLength(1)
    expect(j.checks.p95!.samples).toHaveLength(1)
  })
})
