import { describe, expect, it } from 'vitest'
import { judgeValue, PhaseTracker, type Sample, worst } from '../../src/experiments/judge.ts'
import { jsonPathGet } from '../../controller/experiments/checks.ts'

const s = (outcome: Sample['outcome'], at = 0, phase: Sample['phase'] = 'during'): Sample => ({
  at,
  phase,
  outcome,
  detail: outcome,
})

describe('judgeValue', () => {
  it.each([
    [90, { max: 100 }, undefined, 'pass'],
    [110, { max: 100 }, undefined, 'fail'],
    [5, { min: 10 }, undefined, 'fail'],
    [150, { relative: { to: 'before' as const, maxRatio: 2 } }, 100, 'pass'],
    [250, { relative: { to: 'before' as const, maxRatio: 2 } }, 100, 'fail'],
    [0.05, { relative: { to: 'unfaulted' as const, maxIncrease: 0.01 } }, 0.01, 'fail'],
    [0.015, { relative: { to: 'unfaulted' as const, maxIncrease: 0.01 } }, 0.01, 'pass'],
    [1, { relative: { to: 'before' as const, maxRatio: 2 } }, undefined, 'nodata'],
    [0.01, { relative: { to: 'before' as const, maxRatio: 2 } }, 0, 'fail'],
    [0, { relative: { to: 'before' as const, maxRatio: 2 } }, 0, 'pass'],
  ])('%d with %j (baseline %s) is %s', (value, tol, baseline, outcome) => {
    expect(judgeValue(value, tol, baseline).outcome).toBe(outcome)
  })
  it.each([NaN, null, undefined])('a missing value (%s) is nodata, never a pass', (value) => {
    expect(judgeValue(value as unknown as number, { max: 100 }).outcome).toBe('nodata')
    expect(judgeValue(value as unknown as number, { min: 0 }).outcome).toBe('nodata')
  })
})

describe('phases', () => {
  it('during fails only on consecutive failures; nodata does not break a streak', () => {
    const t = new PhaseTracker('during', 3, 0)
    for (const o of ['fail', 'fail', 'pass', 'fail', 'nodata', 'fail'] as const) t.add(s(o))
    expect(t.result().result).toBe('pass')
    t.add(s('fail'))
    expect(t.breached).toBe(true)
    expect(t.result().result).toBe('fail')
  })
  it('a during phase without conclusive samples is inconclusive', () => {
    const t = new PhaseTracker('during', 2, 0)
    t.add(s('nodata'))
    t.add(s('error'))
    expect(t.result()).toMatchObject({ result: 'inconclusive', reason: 'error: error' })
  })
  it('before is decided by the first pass', () => {
    const t = new PhaseTracker('before', 2, 0)
    expect(t.add(s('fail', 0, 'before'))).toBe(false)
    expect(t.add(s('pass', 1, 'before'))).toBe(true)
    expect(t.result().result).toBe('pass')
  })
  it('after records the recovery time, or fails', () => {
    const t = new PhaseTracker('after', 1, 1000)
    t.add(s('fail', 1200, 'after'))
    expect(t.add(s('pass', 1700, 'after'))).toBe(true)
    expect(t.result()).toMatchObject({ result: 'pass', recoveredAfterMs: 700 })
    const u = new PhaseTracker('after', 1, 0)
    u.add(s('fail', 5, 'after'))
    expect(u.result().result).toBe('fail')
  })
  it('an after phase cut short by an abort is inconclusive, not "did not recover"', () => {
    const t = new PhaseTracker('after', 1, 0)
    t.add(s('fail', 100, 'after'))
    expect(t.result({ interrupted: true })).toMatchObject({ result: 'inconclusive' })
    expect(t.result({ interrupted: true }).reason).toMatch(/^interrupted before it recovered/)
    expect(t.result().result).toBe('fail') // the deadline passed
  })
  it('after times recovery to where the passing data begins, not to when the sample was taken', () => {
    // Reverted at 1000; the sample at 3000 judged requests completed from 1400 on.
    const t = new PhaseTracker('after', 1, 1000)
    t.add({ ...s('pass', 3000, 'after'), from: 1400 })
    expect(t.result()).toMatchObject({ recoveredAfterMs: 400, recoveryWindow: { from: 1400, to: 3000 } })
    // Data from before the revert can never make recovery look earlier than the revert.
    const u = new PhaseTracker('after', 1, 1000)
    u.add({ ...s('pass', 1200, 'after'), from: 0 })
    expect(u.result()).toMatchObject({ recoveredAfterMs: 0, recoveryWindow: { from: 1000, to: 1200 } })
  })
  it('the verdict is the worst result; no checks is inconclusive', () => {
    expect(worst(['pass', 'inconclusive', 'pass'])).toBe('inconclusive')
    expect(worst(['pass', 'fail', 'inconclusive'])).toBe('fail')
    expect(worst([])).toBe('inconclusive')
  })
})

describe('JSONPath subset', () => {
  const doc = { a: { b: [{ c: 1 }, { 'd-e': 'x' }] } }
  it.each([
    ['$.a.b[0].c', true, 1],
    ["$.a.b[1]['d-e']", true, 'x'],
    ['$.a.z', false, undefined],
    ['$.a.b[5]', false, undefined],
  ])('%s', (path, found, value) => expect(jsonPathGet(doc, path)).toEqual(found ? { found, value } : { found }))
})

describe('planned method duration', () => {
  it('adds serial steps and takes the longest parallel branch', async () => {
    const { plannedDuration } = await import('../../controller/experiments/runner.ts')
    expect(
      plannedDuration([
        { wait: 1000 },
        { parallel: [{ wait: 500 }, { serial: [{ wait: 2000 }, { stress: { cpu: 1, duration: 1000 } }] }] },
        { kill: { target: 'x' } },
      ]),
    ).toBe(4000)
  })
})
