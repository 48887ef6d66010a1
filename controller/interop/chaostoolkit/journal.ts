/**
 * Chaos Toolkit's journal.json shape, built from faultline's journal of a run translated from
 * a Chaos Toolkit experiment, so Chaos Toolkit's reporting tools (`chaos report`) can read it.
 * The activity map in the document's annotations says which check or step each activity became.
 */
import os from 'node:os'
import type { Sample } from '../../../src/experiments/judge.ts'
import { CTK_ACTIVITIES, CTK_EXPERIMENT, type CtkActivityMap } from '../../../src/interop/annotations.ts'
import type { Journal } from '../../experiments/journal.ts'

type Obj = Record<string, unknown>

/** Chaos Toolkit writes naive UTC ISO timestamps. */
const iso = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '')
const seconds = (a: number, b: number) => Math.max(0, (b - a) / 1000)

function entry(activity: unknown, status: 'succeeded' | 'failed', start: number, end: number, extra: Obj): Obj {
  return { activity, status, ...extra, start: iso(start), end: iso(end), duration: seconds(start, end) }
}

function activitiesOf(experiment: Obj, section: CtkActivityMap['section']): unknown[] {
  if (section === 'steady-state-hypothesis') {
    const h = experiment['steady-state-hypothesis'] as Obj | undefined
    return (h?.probes as unknown[] | undefined) ?? []
  }
  return (experiment[section] as unknown[] | undefined) ?? []
}

/** One hypothesis check, before or after: the probes run until the first miss. */
function steadyState(j: Journal, map: CtkActivityMap[], experiment: Obj, phase: 'before' | 'after'): Obj | null {
  const probes = activitiesOf(experiment, 'steady-state-hypothesis')
  const runs: Obj[] = []
  let met = true
  for (const m of map.filter((x) => x.section === 'steady-state-hypothesis')) {
    const rec = j.checks[m.check!]
    const sample: Sample | undefined = rec?.samples.find((s) => s.phase === phase)
    if (!sample) break
    // A probe that got no answer (no connection, a timeout) failed in Chaos Toolkit's terms;
    // faultline's http check counts it as a failing sample, and says so in its detail.
    const broken =
      sample.outcome === 'error' || sample.outcome === 'nodata' || /^request failed/.test(sample.detail ?? '')
    runs.push(
      entry(probes[m.index], broken ? 'failed' : 'succeeded', sample.at, sample.at, {
        output: sample.value ?? sample.detail ?? null,
        ...(broken ? { exception: [sample.detail ?? sample.outcome] } : {}),
        tolerance_met: sample.outcome === 'pass',
      }),
    )
    if (sample.outcome !== 'pass') {
      met = false
      break
    }
  }
  if (!runs.length) return null
  return { steady_state_met: met, probes: runs }
}

/** What a method step or rollback did: its call record, or its faults. */
function activityRun(j: Journal, m: CtkActivityMap, activity: unknown): Obj | undefined {
  const key = `${m.section}/`
  const call = j.calls?.find((c) => c.step === m.step && c.key.startsWith(key))
  if (call)
    return entry(activity, call.status, call.startedAt, call.endedAt, {
      output: call.output ?? null,
      ...(call.error ? { exception: [call.error] } : {}),
    })
  const steps = m.revertOf ?? (m.step ? [m.step] : [])
  const faults = j.faults.filter((f) => steps.includes(f.step))
  if (!faults.length) return undefined
  const failed = faults.some((f) => f.error)
  if (m.revertOf) {
    const at = Math.max(...faults.map((f) => f.revertedAt ?? f.intentAt))
    return entry(activity, failed || faults.some((f) => !f.revertedAt) ? 'failed' : 'succeeded', at, at, {
      output: `reverted by faultline: ${faults.map((f) => f.id).join(', ')}`,
    })
  }
  const start = Math.min(...faults.map((f) => f.intentAt))
  const end = Math.max(...faults.map((f) => f.appliedAt ?? f.intentAt))
  return entry(activity, failed ? 'failed' : 'succeeded', start, end, {
    output: faults.map((f) => ({ fault: f.id, on: f.on, objects: f.objects ?? [] })),
    ...(failed ? { exception: faults.filter((f) => f.error).map((f) => f.error) } : {}),
  })
}

/** completed | failed | aborted | interrupted, and deviated, as chaostoolkit-lib decides them. */
function statusOf(j: Journal, before: Obj | null, after: Obj | null): { status: string; deviated: boolean } {
  const errored = (s: Obj | null) => ((s?.probes as Obj[] | undefined) ?? []).some((p) => p.status === 'failed')
  if (j.status === 'errored' || errored(before) || errored(after)) return { status: 'failed', deviated: false }
  if (j.status === 'aborted' && /interrupted|signal/.test(j.reason ?? ''))
    return { status: 'interrupted', deviated: false }
  if (j.status === 'aborted' && before?.steady_state_met !== false) return { status: 'aborted', deviated: false }
  return { status: 'completed', deviated: after !== null && after.steady_state_met === false }
}

export function chaosToolkitJournal(j: Journal): Obj {
  const annotations = j.experiment.metadata.annotations ?? {}
  const experiment = JSON.parse(annotations[CTK_EXPERIMENT] ?? '{}') as Obj
  const map = JSON.parse(annotations[CTK_ACTIVITIES] ?? '[]') as CtkActivityMap[]
  const before = steadyState(j, map, experiment, 'before')
  const after = steadyState(j, map, experiment, 'after')
  const runs = (section: 'method' | 'rollbacks') => {
    const list = activitiesOf(experiment, section)
    return map
      .filter((m) => m.section === section)
      .map((m) => activityRun(j, m, list[m.index]))
      .filter((r): r is Obj => r !== undefined)
  }
  const end = j.endedAt ?? Date.now()
  return {
    'chaoslib-version': `faultline ${j.faultline}`,
    platform: `${os.type()}-${os.release()}-${os.arch()}`,
    node: os.hostname(),
    experiment,
    start: iso(j.startedAt),
    end: iso(end),
    duration: seconds(j.startedAt, end),
    ...statusOf(j, before, after),
    steady_states: { before, after, during: [] },
    run: runs('method'),
    rollbacks: runs('rollbacks'),
  }
}
