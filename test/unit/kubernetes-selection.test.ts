import { describe, expect, it } from 'vitest'
import {
  formatSelector,
  matchesSelector,
  parseLabelSelector,
  selectorFromObject,
} from '../../src/kubernetes/label-selector.ts'
import { modeValueProblem, selectByMode } from '../../src/kubernetes/modes.ts'
import { seededRandom } from '../../src/random.ts'

describe('label selectors', () => {
  it.each<[string, Record<string, string>, boolean]>([
    ['app=web', { app: 'web' }, true],
    ['app==web', { app: 'api' }, false],
    ['app!=web', {}, true],
    ['tier in (a, b)', { tier: 'b' }, true],
    ['tier notin (a,b)', { tier: 'a' }, false],
    ['canary', { canary: '' }, true],
    ['!canary', { canary: 'x' }, false],
    ['app=web,tier in (a,b),!canary', { app: 'web', tier: 'a' }, true],
    ['example.com/team=x', { 'example.com/team': 'x' }, true],
  ])('%s on %j is %s', (text, labels, expected) => {
    expect(matchesSelector(parseLabelSelector(text), labels)).toBe(expected)
  })

  it('round-trips to the string form the API server takes', () => {
    const reqs = selectorFromObject({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['a', 'b'] },
        { key: 'canary', operator: 'DoesNotExist' },
      ],
    })
    expect(formatSelector(reqs)).toBe('app=web,tier in (a,b),!canary')
    expect(parseLabelSelector(formatSelector(reqs))).toEqual(reqs)
  })

  it.each(['app=we b', 'tier in ()', '=x', 'a b c'])('refuses %j', (text) => {
    expect(() => parseLabelSelector(text)).toThrow()
  })
})

describe('modes (Chaos Mesh semantics)', () => {
  const items = Array.from({ length: 10 }, (_, i) => `pod-${i}`)
  it('one, all, fixed, fixed-percent', () => {
    const r = seededRandom(7)
    expect(selectByMode(items, 'one', undefined, r)).toHaveLength(1)
    expect(selectByMode(items, 'all', undefined, r)).toEqual(items)
    expect(selectByMode(items, 'fixed', 3, r)).toHaveLength(3)
    expect(selectByMode(items, 'fixed', 30, r)).toHaveLength(10)
    expect(selectByMode(items, 'fixed-percent', 25, r)).toHaveLength(3) // ceil(2.5)
    expect(selectByMode(items, 'fixed-percent', 100, r)).toHaveLength(10)
    expect(new Set(selectByMode(items, 'fixed', 5, r)).size).toBe(5)
  })
  it('random-max-percent: a whole percentage in [0, value], rounded up (none at 0)', () => {
    const r = seededRandom(1)
    const sizes = Array.from({ length: 2000 }, () => selectByMode(items, 'random-max-percent', 50, r).length)
    expect(new Set(sizes)).toEqual(new Set([0, 1, 2, 3, 4, 5]))
    // p = 0 is one of 51 equally likely percentages: about 2% of picks select nothing.
    const none = sizes.filter((n) => n === 0).length / sizes.length
    expect(none).toBeGreaterThan(0.005)
    expect(none).toBeLessThan(0.05)
    expect(selectByMode(['only'], 'random-max-percent', 100, () => 0.999)).toEqual(['only'])
  })
  it('a seed reproduces the selection', () => {
    expect(selectByMode(items, 'fixed', 4, seededRandom(42))).toEqual(selectByMode(items, 'fixed', 4, seededRandom(42)))
  })
  it('nothing matched is nothing selected', () => {
    expect(selectByMode([], 'one', undefined, Math.random)).toEqual([])
  })
  it.each<[Parameters<typeof modeValueProblem>[0], number | undefined, boolean]>([
    ['one', undefined, true],
    ['one', 2, false],
    ['fixed', 0, false],
    ['fixed', 2.5, false],
    ['fixed', 2, true],
    ['fixed-percent', 0, false],
    ['fixed-percent', 101, false],
    ['fixed-percent', 12.5, false],
    ['random-max-percent', undefined, false],
  ])('%s with value %j is valid: %s', (mode, value, ok) => {
    expect(modeValueProblem(mode, value) === undefined).toBe(ok)
  })
})
