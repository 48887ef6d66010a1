/** Time is injected wherever it decides something (expiry, windows), so tests control it. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  setTimer(fn: () => void, ms: number): unknown
  clearTimer(handle: unknown): void
}

/** Node's own clock; timers are unref'd so they never keep a process alive on their own. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, Math.min(ms, 2_147_483_647)).unref(),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
}
