/**
 * A run as the dashboard holds it: the journal (GET /runs/:id), kept current by the run's event
 * stream. Every event carries its place (`index`, fault id, target name), so applying one twice
 * changes nothing: a replay after a reconnect or a poll can never double a sample.
 */
import type { FaultRecord, Journal, PhaseResult, Sample, SeriesPoint, TargetRecord, TimelineEvent } from './types.ts'

type Data = Record<string, unknown>

/** Applies one event to `j` in place; true if it changed anything the page shows. */
export function applyRunEvent(j: Journal, type: string, d: Data): boolean {
  switch (type) {
    case 'status':
    case 'end':
      j.status = d.status as string
      j.verdict = d.verdict as string | undefined
      j.reason = d.reason as string | undefined
      if (d.endedAt !== undefined) j.endedAt = d.endedAt as number
      for (const [name, result] of Object.entries((d.results ?? {}) as Record<string, string>))
        if (j.checks[name]) j.checks[name].result = result
      return true
    case 'target': {
      const { runId: _r, target, ...rest } = d
      j.targets[target as string] = rest as unknown as TargetRecord
      return true
    }
    case 'timeline': {
      const { runId: _r, index, ...rest } = d
      j.timeline[index as number] = rest as unknown as TimelineEvent
      return true
    }
    case 'fault': {
      const f = d.fault as FaultRecord
      const i = j.faults.findIndex((x) => x.id === f.id)
      if (i >= 0) j.faults[i] = f
      else j.faults.push(f)
      return true
    }
    case 'sample': {
      const points = (j.series[d.target as string] ??= [])
      points[d.index as number] = d.point as SeriesPoint
      return true
    }
    case 'check': {
      const c = (j.checks[d.check as string] ??= {
        kind: d.kind as string,
        guardrail: d.guardrail as boolean,
        observation: d.observation as boolean,
        phases: [],
        samples: [],
      })
      c.samples[d.index as number] = d.sample as Sample
      return true
    }
    case 'phase': {
      const c = j.checks[d.check as string]
      if (!c) return false
      const { runId: _r, check: _c, index, ...rest } = d
      c.phases[index as number] = rest as unknown as PhaseResult
      return true
    }
    default:
      return false
  }
}
