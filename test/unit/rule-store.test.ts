import { describe, expect, it } from 'vitest'
import { type RuleChange, RuleStore } from '../../sidecar/rule-store.ts'
import { ManualClock } from '../helpers/manual-clock.ts'

const rule = (id: string, extra: object = {}) => ({ id, delay: { ms: 1 }, ...extra })

describe('rule store', () => {
  it('increases the generation on every accepted change', () => {
    const store = new RuleStore(new ManualClock())
    expect(store.generation).toBe(0)
    expect(store.replace({ rules: [rule('a')] })).toBe(1)
    expect(store.add(rule('b'))).toBe(2)
    expect(store.remove('a')).toBe(3)
    expect(store.reset()).toBe(4)
    expect(store.list()).toEqual([])
  })

  it('keeps maxActive counts across every kind of recompile (replace, add, delete, expiry)', () => {
    const clock = new ManualClock()
    const store = new RuleStore(clock)
    store.replace({ rules: [rule('capped', { maxActive: 1, ttl: '10s' }), rule('other')] })
    // A request in flight holds the rule object of the generation it started on.
    const held = store.snapshot.rules[0]!
    held.live.active++
    store.replace({ rules: [rule('capped', { maxActive: 1 }), rule('other')] })
    expect(store.snapshot.rules[0]!.live.active).toBe(1)
    store.add(rule('third'))
    store.remove('other')
    expect(store.snapshot.rules.find((r) => r.id === 'capped')!.live.active).toBe(1)
    // The old generation's request finishes: the new generation sees the slot free.
    held.live.active--
    expect(store.snapshot.rules.find((r) => r.id === 'capped')!.live.active).toBe(0)
    expect(Object.isFrozen(store.snapshot.rules[0])).toBe(true)
  })

  it('rejects duplicates and unknown ids without a change', () => {
    const store = new RuleStore(new ManualClock())
    store.replace({ rules: [rule('a')] })
    expect(() => store.add(rule('a'))).toThrow(
      expect.objectContaining({ code: 'FL_ERR_RULE_DUPLICATE', statusCode: 409 }),
    )
    expect(() => store.remove('zzz')).toThrow(expect.objectContaining({ code: 'FL_ERR_RULE_NOT_FOUND' }))
    expect(() => store.add({ id: 'b', delay: { ms: -1 } })).toThrow(
      expect.objectContaining({ issues: [expect.objectContaining({ path: '/delay/ms' })] }),
    )
    expect(store.generation).toBe(1)
  })

  it('removes by source and leaves other owners alone', () => {
    const store = new RuleStore(new ManualClock())
    store.replace({
      rules: [rule('a', { source: 'exp-1' }), rule('b', { source: 'exp-2' }), rule('c', { source: 'exp-1' })],
    })
    expect(store.removeBySource('exp-1')).toEqual({ generation: 2, removed: ['a', 'c'] })
    expect(store.list().map((r) => r.id)).toEqual(['b'])
    expect(store.removeBySource('nobody')).toEqual({ generation: 2, removed: [] })
  })

  it('expires rules by itself at their ttl, on its own timer', () => {
    const clock = new ManualClock()
    const store = new RuleStore(clock)
    const changes: RuleChange[] = []
    store.onChange((c) => changes.push(c))
    store.replace({ rules: [rule('short', { ttl: '5s' }), rule('long', { ttl: '1m' }), rule('forever')] })
    clock.advance(4999)
    expect(store.snapshot.rules).toHaveLength(3)
    clock.advance(1)
    expect(store.snapshot.rules.map((r) => r.id)).toEqual(['long', 'forever'])
    clock.advance(55_000)
    expect(store.snapshot.rules.map((r) => r.id)).toEqual(['forever'])
    expect(changes.filter((c) => c.reason === 'expire').map((c) => c.removed)).toEqual([['short'], ['long']])
    expect(clock.pendingTimers).toBe(0)
  })

  it('keeps in-flight snapshots immutable across swaps', () => {
    const store = new RuleStore(new ManualClock())
    store.replace({ rules: [rule('a')] })
    const held = store.snapshot
    store.replace({ rules: [rule('b')] })
    expect(held.rules.map((r) => r.id)).toEqual(['a'])
    expect(Object.isFrozen(held.rules)).toBe(true)
  })
})
