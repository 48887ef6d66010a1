/**
 * The live rule set. Every change is validated and compiled off to the side, then swapped in by
 * reference: requests in flight keep the snapshot they started with. A change that fails
 * validation throws and leaves the live snapshot untouched. Expired rules are pruned by a timer
 * set for the earliest expiry (and the matcher ignores them even before the timer fires).
 */
import type { Clock } from '../src/clock.ts'
import { errors } from '../src/errors.ts'
import {
  compileRuleSet,
  emptySnapshot,
  type LiveCount,
  type RuleSnapshot,
  retainRules,
  type StoredRule,
} from '../src/rules/compile.ts'

export type ChangeReason = 'replace' | 'add' | 'delete' | 'reset' | 'expire'

export interface RuleChange {
  reason: ChangeReason
  generation: number
  rules: number
  removed?: string[]
}

export class RuleStore {
  #snapshot: RuleSnapshot = emptySnapshot()
  #timer: unknown
  #timerAt = Infinity
  readonly #clock: Clock
  readonly #listeners: ((change: RuleChange) => void)[] = []
  /** maxActive counters by rule id: they outlive snapshots, because held requests outlive them. */
  readonly #counters = new Map<string, LiveCount>()
  readonly #liveCount = (id: string): LiveCount => {
    let c = this.#counters.get(id)
    if (!c) this.#counters.set(id, (c = { active: 0 }))
    return c
  }

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** HOT PATH: one property read. */
  get snapshot(): RuleSnapshot {
    return this.#snapshot
  }

  get generation(): number {
    return this.#snapshot.generation
  }

  onChange(fn: (change: RuleChange) => void): void {
    this.#listeners.push(fn)
  }

  /** Replaces the whole set (idempotent in content; the generation still moves on). */
  replace(input: unknown): number {
    return this.#install(this.#compile(input), 'replace')
  }

  add(rule: unknown): number {
    return this.addMany([rule], (p) => p.replace(/^\/rules\/\d+/, ''))
  }

  /** Adds several rules atomically: all of them or, on any problem, none. */
  addMany(rules: unknown[], mapPath: (p: string) => string = (p) => p): number {
    const current = this.#live()
    const offset = current.stored.length
    const existing = new Set(current.stored.map((r) => r.id))
    rules.forEach((rule, i) => {
      const id = (rule as { id?: unknown } | null)?.id
      if (typeof id === 'string' && existing.has(id))
        throw errors.FL_ERR_RULE_DUPLICATE(id, {
          issues: [{ path: mapPath(`/rules/${i}/id`), message: `a rule with id "${id}" exists` }],
        })
    })
    // Issues point at the submitted rules, not at their position after the existing ones.
    const renumber = (p: string) =>
      mapPath(p.replace(/^\/rules\/(\d+)/, (_m, n: string) => `/rules/${Number(n) - offset}`))
    const next = this.#compile({ rules: [...current.stored, ...rules] }, renumber)
    return this.#install(next, 'add')
  }

  remove(id: string): number {
    const current = this.#live()
    if (!current.rules.some((r) => r.id === id)) throw errors.FL_ERR_RULE_NOT_FOUND(id)
    return this.#install(
      retainRules(current, (r) => r.id !== id, current.generation + 1),
      'delete',
      [id],
    )
  }

  /** Removes every rule tagged with `source`; returns the ids removed (possibly none). */
  removeBySource(source: string): { generation: number; removed: string[] } {
    const current = this.#live()
    const removed = current.rules.filter((r) => r.source === source).map((r) => r.id)
    if (removed.length === 0) return { generation: current.generation, removed }
    const gen = this.#install(
      retainRules(current, (r) => r.source !== source, current.generation + 1),
      'delete',
      removed,
    )
    return { generation: gen, removed }
  }

  reset(): number {
    const removed = this.#snapshot.rules.map((r) => r.id)
    return this.#install(emptySnapshot(this.#snapshot.generation + 1), 'reset', removed)
  }

  /** Stored rules that have not expired. */
  list(): readonly StoredRule[] {
    return this.#live().stored
  }

  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer = undefined
  }

  #compile(input: unknown, mapPath: (p: string) => string = (p) => p): RuleSnapshot {
    const result = compileRuleSet(input, {
      now: this.#clock.now(),
      generation: this.#snapshot.generation + 1,
      liveCount: this.#liveCount,
    })
    if (!result.ok) {
      const issues = result.issues.map((i) => ({ ...i, path: mapPath(i.path) }))
      throw errors.FL_ERR_RULES_INVALID(`${issues.length} problem(s)`, { issues })
    }
    return result.snapshot
  }

  /** The snapshot with expired rules pruned first, so edits never resurrect one. */
  #live(): RuleSnapshot {
    this.#pruneExpired()
    return this.#snapshot
  }

  #pruneExpired(): void {
    const now = this.#clock.now()
    const snap = this.#snapshot
    if (snap.nextExpiry > now) return
    const removed = snap.rules.filter((r) => r.expiresAt <= now).map((r) => r.id)
    this.#install(
      retainRules(snap, (r) => r.expiresAt > now, snap.generation + 1),
      'expire',
      removed,
    )
  }

  #install(next: RuleSnapshot, reason: ChangeReason, removed?: string[]): number {
    this.#snapshot = next
    this.#forgetIdleCounters()
    this.#schedule()
    const change: RuleChange = { reason, generation: next.generation, rules: next.rules.length }
    if (removed) change.removed = removed
    for (const fn of this.#listeners) fn(change)
    return next.generation
  }

  /** Drops counters of rules that are gone and hold nothing; busy ones wait for a later change. */
  #forgetIdleCounters(): void {
    if (this.#counters.size <= this.#snapshot.rules.length) return
    const ids = new Set(this.#snapshot.rules.map((r) => r.id))
    for (const [id, c] of this.#counters) if (c.active === 0 && !ids.has(id)) this.#counters.delete(id)
  }

  #schedule(): void {
    const at = this.#snapshot.nextExpiry
    if (at === this.#timerAt) return
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer = undefined
    this.#timerAt = at
    if (at === Infinity) return
    this.#timer = this.#clock.setTimer(
      () => {
        this.#timer = undefined
        this.#timerAt = Infinity
        this.#pruneExpired()
        this.#schedule()
      },
      Math.max(0, at - this.#clock.now()),
    )
  }
}
