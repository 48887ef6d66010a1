/**
 * Logs per-request events without flooding under load: the first event of each key at once,
 * then at most one summary line per key per interval with the count since the last line. Used
 * for injected faults (key: rule id) and for exchanges that failed inside the sidecar (key: code).
 */
import type { Clock } from '../src/clock.ts'
import type { Logger } from '../src/log.ts'

export type SummaryLog = (key: string, fields: Record<string, unknown>) => void

function summarising(
  clock: Clock,
  intervalMs: number,
  first: SummaryLog,
  summary: (key: string, count: number, intervalMs: number) => void,
): SummaryLog {
  const state = new Map<string, { lastAt: number; since: number }>()
  return (key, fields) => {
    const now = clock.now()
    const s = state.get(key)
    if (!s) {
      state.set(key, { lastAt: now, since: 0 })
      first(key, fields)
      return
    }
    s.since++
    if (now - s.lastAt >= intervalMs) {
      summary(key, s.since, now - s.lastAt)
      s.lastAt = now
      s.since = 0
    }
  }
}

export function faultLogger(log: Logger, clock: Clock, intervalMs = 10_000) {
  const emit = summarising(
    clock,
    intervalMs,
    (rule, fields) => log.info({ rule, ...fields }, 'fault injected (first for this rule)'),
    (rule, injected, ms) => log.info({ rule, injected, intervalMs: ms }, 'faults injected'),
  )
  return (ruleId: string, kind: string): void => emit(ruleId, { kind })
}

/** One exchange failed inside the sidecar (a bug, or a client that broke an assumption). */
export function exchangeFailureLogger(log: Logger, clock: Clock, intervalMs = 10_000) {
  const emit = summarising(
    clock,
    intervalMs,
    (code, fields) => log.error({ code, ...fields }, 'exchange failed inside the sidecar; that request was ended'),
    (code, failures, ms) => log.error({ code, failures, intervalMs: ms }, 'more exchanges failed inside the sidecar'),
  )
  return (err: unknown): void => {
    const e = err as { code?: unknown; message?: unknown; stack?: unknown }
    const code = typeof e?.code === 'string' ? e.code : 'FL_ERR_INTERNAL'
    emit(code, { err: { message: String(e?.message ?? err), stack: e?.stack } })
  }
}
