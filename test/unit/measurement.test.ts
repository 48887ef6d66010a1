import { describe, expect, it } from 'vitest'
import { landing } from '../../controller/experiments/evidence.ts'
import type { FaultRecord, Journal, SeriesPoint } from '../../controller/experiments/journal.ts'
import { latencyChart, phaseSummary, renderMarkdown } from '../../controller/experiments/report.ts'
import { progressFigures } from '../../controller/experiments/series.ts'
import { coverage, latencyOf, rateOf, secondsSince } from '../../controller/experiments/windows.ts'

describe('statistics windows', () => {
  it('an N-second window read 250 ms into a second covers N - 1 whole seconds and 250 ms', () => {
    expect(coverage(2, 10_250)).toEqual({ from: 9000, coveredMs: 1250 })
    expect(coverage(10, 10_000)).toEqual({ from: 1000, coveredMs: 9000 })
    expect(rateOf(125, 1250)).toBe(100)
    expect(rateOf(5, 0)).toBeUndefined()
  })
  it('counts the statistics seconds that began at or after a moment', () => {
    expect(secondsSince(4300, 4900)).toBe(0) // the current second began before the revert
    expect(secondsSince(4300, 5000)).toBe(1)
    expect(secondsSince(4000, 4000)).toBe(1) // a second that begins at the revert counts
    expect(secondsSince(4300, 7999)).toBe(3)
  })
  it('a latency figure without requests is missing, whether the sidecar says 0 or null', () => {
    expect(latencyOf({ count: 0, latencyMs: { p95: 0 } }, 'p95')).toBeUndefined()
    expect(latencyOf({ count: 0, latencyMs: { p95: null } }, 'p95')).toBeUndefined()
    expect(latencyOf({ count: 3, latencyMs: { p95: 12.5 } }, 'p95')).toBe(12.5)
  })
})

describe('the console progress line', () => {
  it('shows missing figures as missing, never as 0 ms', () => {
    const empty: SeriesPoint = { t: 0, count: 0, rps: 0, errorRate: null, p50: null, p95: null, p99: null }
    expect(progressFigures(empty)).toBe('p95 - (no requests), err -, 0 req/s')
    const busy: SeriesPoint = { t: 0, count: 200, rps: 100, errorRate: 0.01, p50: 2, p95: 12.34, p99: 20 }
    expect(progressFigures(busy)).toBe('p95 12.3 ms, err 1.0%, 100 req/s')
  })
})

describe('fault evidence', () => {
  const fault = (over: Partial<FaultRecord>): FaultRecord => ({
    id: 'fault-1',
    kind: 'sidecar',
    step: 'slow',
    target: 'app',
    on: ['http://a', 'http://b'],
    intentAt: 0,
    appliedAt: 1,
    ...over,
  })
  const unavailable = { code: 'FL_ERR_EVIDENCE_UNAVAILABLE', message: 'could not read fault evidence: x' }
  it('landed when any sidecar shows injected requests', () => {
    const f = fault({
      evidence: { 'http://a': { r: { matched: 9, injected: 9 } } },
      evidenceUnavailable: { 'http://b': unavailable },
    })
    expect(landing([f])).toEqual({ notLanded: [], unproven: [] })
  })
  it('unreadable evidence is not "landed", with the code in the reason', () => {
    const f = fault({
      evidence: { 'http://a': { r: { matched: 0, injected: 0 } } },
      evidenceUnavailable: { 'http://b': unavailable },
    })
    expect(landing([f]).unproven).toEqual([`slow: ${unavailable.message} [FL_ERR_EVIDENCE_UNAVAILABLE]`])
  })
  it('no evidence at all is not "landed" either; zero everywhere did not land; unapplied faults do not count', () => {
    expect(landing([fault({})]).unproven).toEqual(['slow: no evidence was collected'])
    const zero = fault({ evidence: { 'http://a': { r: { matched: 0, injected: 0 } } } })
    expect(landing([zero]).notLanded).toEqual(['slow injected into 0 requests'])
    expect(landing([fault({ appliedAt: undefined })])).toEqual({ notLanded: [], unproven: [] })
  })
})

describe('reports', () => {
  const journal = (series: SeriesPoint[]): Journal =>
    ({
      faultline: 'test',
      runId: 'r',
      experimentHash: 'h',
      experiment: { metadata: { name: 'x' }, spec: { hypothesis: { title: 't' } } },
      dryRun: false,
      startedAt: 0,
      endedAt: 10_000,
      status: 'completed',
      verdict: 'pass',
      targets: {},
      timeline: [],
      faults: [],
      checks: {
        p95: {
          kind: 'sidecar',
          guardrail: false,
          samples: [],
          result: 'pass',
          phases: [
            {
              phase: 'after',
              result: 'pass',
              reason: 'recovered',
              samples: 3,
              recoveredAfterMs: 700,
              recoveryWindow: { from: 5000, to: 5500 },
            },
          ],
        },
      },
      series: { app: series },
    }) as unknown as Journal
  it('say how recovery was measured and on which data', () => {
    const j = journal([])
    expect(phaseSummary(j.checks.p95!.phases[0]!)).toBe(
      'after: pass (recovered, after 700 ms: passed on data from 0.7 s to 1.2 s after the revert)',
    )
    expect(
      phaseSummary({ ...j.checks.p95!.phases[0]!, recoveredAfterMs: 40, recoveryWindow: { from: 1040, to: 1040 } }),
    ).toBe('after: pass (recovered, after 40 ms: the first passing sample after the revert)')
    const md = renderMarkdown(j)
    expect(md).toContain('passed on data from 0.7 s to 1.2 s after the revert')
    expect(md).toContain(
      'Recovery is measured from the moment every fault was reverted, on requests completed after it only',
    )
  })
  it('break the latency line where there were no requests instead of drawing 0 ms', () => {
    const pt = (t: number, p: number | null): SeriesPoint => ({
      t,
      count: p === null ? 0 : 10,
      rps: 0,
      errorRate: null,
      p50: p,
      p95: p,
      p99: p,
    })
    const svg = latencyChart(journal([]), 'app', [
      pt(1000, 10),
      pt(2000, 12),
      pt(3000, null),
      pt(4000, 11),
      pt(5000, 9),
    ])
    const p95Lines = [...svg.matchAll(/<polyline class="series p95"[^>]*points="([^"]*)"/g)].map(
      (m) => m[1]!.split(' ').length,
    )
    expect(p95Lines).toEqual([2, 2])
  })
})
