/**
 * Logs injected faults without flooding under load: the first injection of each rule at info,
 * then at most one summary line per rule per interval with the count since the last line.
 */
import type { Clock } from '../src/clock.ts'
import type { Logger } from '../src/log.ts'

export function faultLogger(log: Logger, clock: Clock, intervalMs = 10_000) {
  const state = new Map<string, { lastAt: number; since: number }>()
  return (ruleId: string, kind: string): void => {
    const now = clock.now()
    const s = state.get(ruleId)
    if (!s) {
      state.set(ruleId, { lastAt: now, since: 0 })
      log.info({ rule: ruleId, kind }, 'fault injected (first for this rule)')
      return
    }
    s.since++
    if (now - s.lastAt >= intervalMs) {
      log.info({ rule: ruleId, injected: s.since, intervalMs: now - s.lastAt }, 'faults injected')
      s.lastAt = now
      s.since = 0
    }
  }
}
