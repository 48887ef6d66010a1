/**
 * A run's live events, derived from its journal: what was added or changed since a cursor.
 * Deriving events from the journal (rather than having every part of the runner emit them)
 * keeps one truth: the stream says exactly what GET /runs/:id would say, and a finished run's
 * stream is the same derivation over its stored journal, so a replay has the same events in
 * the same order as a live run diffed in one pass.
 */
import type { Journal } from './experiments/journal.ts'

export type RunEventType = 'status' | 'target' | 'timeline' | 'fault' | 'sample' | 'check' | 'phase' | 'end'

export interface RunEvent {
  type: RunEventType
  data: Record<string, unknown>
}

/** How far a journal has been turned into events. */
export interface JournalCursor {
  status?: string
  targets: Map<string, string>
  timeline: number
  faults: Map<string, string>
  series: Map<string, number>
  samples: Map<string, number>
  phases: Map<string, number>
  ended: boolean
}

export function newCursor(): JournalCursor {
  return {
    targets: new Map(),
    timeline: 0,
    faults: new Map(),
    series: new Map(),
    samples: new Map(),
    phases: new Map(),
    ended: false,
  }
}

/**
 * The events that bring a reader at `cursor` up to `journal`, and advances the cursor. Order:
 * status, targets, timeline, faults, series samples, check samples, phase results, then `end`
 * once the run is `final` (its runner returned: the journal will not change again), last, so a
 * reader that sees `end` has everything.
 */
export function journalEvents(journal: Journal, cursor: JournalCursor, final: boolean): RunEvent[] {
  const out: RunEvent[] = []
  const runId = journal.runId
  const status = `${journal.status}|${journal.verdict ?? ''}|${journal.reason ?? ''}`
  if (cursor.status !== status) {
    cursor.status = status
    out.push({
      type: 'status',
      data: {
        runId,
        experiment: journal.experiment.metadata.name,
        status: journal.status,
        verdict: journal.verdict,
        reason: journal.reason,
        startedAt: journal.startedAt,
        endedAt: journal.endedAt,
        dryRun: journal.dryRun,
      },
    })
  }
  for (const [name, t] of Object.entries(journal.targets)) {
    const text = JSON.stringify(t)
    if (cursor.targets.get(name) === text) continue
    cursor.targets.set(name, text)
    out.push({ type: 'target', data: { runId, target: name, ...t } })
  }
  for (; cursor.timeline < journal.timeline.length; cursor.timeline++)
    out.push({ type: 'timeline', data: { runId, index: cursor.timeline, ...journal.timeline[cursor.timeline]! } })
  // Faults change in place (applied, evidence, reverted): each change is a new event with the whole record.
  for (const f of journal.faults) {
    const text = JSON.stringify(f)
    if (cursor.faults.get(f.id) === text) continue
    cursor.faults.set(f.id, text)
    out.push({ type: 'fault', data: { runId, fault: f } })
  }
  for (const [target, points] of Object.entries(journal.series)) {
    let i = cursor.series.get(target) ?? 0
    for (; i < points.length; i++) out.push({ type: 'sample', data: { runId, target, index: i, point: points[i]! } })
    cursor.series.set(target, i)
  }
  for (const [name, c] of Object.entries(journal.checks)) {
    let i = cursor.samples.get(name) ?? 0
    for (; i < c.samples.length; i++)
      out.push({
        type: 'check',
        data: {
          runId,
          check: name,
          kind: c.kind,
          guardrail: c.guardrail,
          observation: c.observation ?? false,
          index: i,
          sample: c.samples[i]!,
        },
      })
    cursor.samples.set(name, i)
    let p = cursor.phases.get(name) ?? 0
    for (; p < c.phases.length; p++)
      out.push({ type: 'phase', data: { runId, check: name, index: p, ...c.phases[p]! } })
    cursor.phases.set(name, p)
  }
  if (final && !cursor.ended) {
    cursor.ended = true
    out.push({
      type: 'end',
      data: {
        runId,
        status: journal.status,
        verdict: journal.verdict,
        reason: journal.reason,
        endedAt: journal.endedAt,
        results: Object.fromEntries(Object.entries(journal.checks).map(([n, c]) => [n, c.result])),
      },
    })
  }
  return out
}
