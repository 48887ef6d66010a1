/** Durations are strings with units ("250ms", "30s", "1m30s", "2h") so nobody guesses the unit. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$/
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g

/**
 * The longest duration anything accepts (ttl, windows, experiment steps): a year. Longer values
 * are typos, and past about 285,000 years they no longer make a valid Date.
 */
export const MAX_DURATION_MS = 365 * UNIT_MS.d!

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined
  let total = 0
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!
  return total
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${+(ms / 1000).toFixed(3)}s`
  if (ms % UNIT_MS.d! === 0) return `${ms / UNIT_MS.d!}d`
  if (ms % UNIT_MS.h! === 0) return `${ms / UNIT_MS.h!}h`
  const m = Math.floor(ms / 60_000)
  const s = Math.round((ms % 60_000) / 1000)
  return s ? `${m}m${s}s` : `${m}m`
}
