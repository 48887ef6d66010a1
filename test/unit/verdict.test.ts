import { describe, expect, it } from 'vitest'
import { experimentJsonSchema } from '../../src/experiments/schema.ts'
import { judgeRun, type VerdictInput } from '../../src/experiments/verdict.ts'
import { INJECTORS } from '../../controller/injectors/index.ts'

const base = (over: Partial<VerdictInput> = {}): VerdictInput => ({
  status: 'completed',
  results: { p95: 'pass', errors: 'pass' },
  gateFailed: false,
  dryRun: false,
  landing: { notLanded: [], unproven: [] },
  ...over,
})

describe('judgeRun', () => {
  it.each<[string, Partial<VerdictInput>, string, RegExp | undefined]>([
    ['all pass', {}, 'pass', undefined],
    ['a failed check names it', { results: { p95: 'fail', errors: 'pass' } }, 'fail', /failed: p95/],
    ['no data', { results: { p95: 'inconclusive', errors: 'pass' } }, 'inconclusive', /not enough data/],
    ['no checks at all', { results: {} }, 'inconclusive', /not enough data/],
    ['errored, nothing failed', { status: 'errored', error: 'boom' }, 'inconclusive', /boom/],
    ['errored after a failure', { status: 'errored', error: 'boom', results: { p95: 'fail' } }, 'fail', /boom/],
    [
      'aborted by a guardrail after a failure',
      { status: 'aborted', abortReason: 'guardrail x', results: { p95: 'fail' } },
      'fail',
      /guardrail x/,
    ],
    [
      'the gate failed: not tested',
      { status: 'aborted', gateFailed: true, abortReason: 'gate', results: { p95: 'fail' } },
      'inconclusive',
      /gate/,
    ],
    [
      'an empty target',
      { emptyTarget: 'target app resolved to no sidecars or processes' },
      'inconclusive',
      /^target app resolved to no sidecars or processes$/,
    ],
    ['a dry run passes, and says so', { dryRun: true }, 'pass', /dry run/],
    [
      'a fault that touched nothing',
      { landing: { notLanded: ['s1 injected into 0 requests'], unproven: [] } },
      'inconclusive',
      /did not land/,
    ],
    [
      'unreadable evidence',
      { landing: { notLanded: [], unproven: ['s1: x [FL_ERR_EVIDENCE_UNAVAILABLE]'] } },
      'inconclusive',
      /could not show/,
    ],
    [
      'a failure is a failure even when the fault did not land',
      { results: { p95: 'fail' }, landing: { notLanded: ['s1'], unproven: [] } },
      'fail',
      /failed: p95/,
    ],
  ])('%s', (_name, over, verdict, reason) => {
    const r = judgeRun(base(over))
    expect(r.verdict).toBe(verdict)
    if (reason) expect(r.reason).toMatch(reason)
    else expect(r.reason).toBeUndefined()
  })
})

describe('fault families', () => {
  it('every method step kind in the experiment schema has exactly one injector', () => {
    const stepProps = Object.keys(((experimentJsonSchema() as any).$defs.Step.properties ?? {}) as object).filter(
      // Not faults: waits, groups, calls (http, run: nothing to revert) and step modifiers.
      (k) => !['name', 'wait', 'serial', 'parallel', 'http', 'run', 'continueOnFailure', 'keep'].includes(k),
    )
    expect(INJECTORS.map((i) => i.step).sort()).toEqual(stepProps.sort())
  })
})
