/** A clock tests move by hand: timers fire only when advance() passes their time. */
import type { Clock } from '../../src/clock.ts'

export class ManualClock implements Clock {
  #now: number
  #timers = new Map<number, { at: number; fn: () => void }>()
  #next = 1

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start
  }

  now = (): number => this.#now

  setTimer = (fn: () => void, ms: number): unknown => {
    const id = this.#next++
    this.#timers.set(id, { at: this.#now + ms, fn })
    return id
  }

  clearTimer = (handle: unknown): void => {
    this.#timers.delete(handle as number)
  }

  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      this.#timers.delete(due[0])
      this.#now = Math.max(this.#now, due[1].at)
      due[1].fn()
    }
    this.#now = target
  }

  get pendingTimers(): number {
    return this.#timers.size
  }
}
