/**
 * Cron text from other schedulers as the controller's (croner: five fields, or six with seconds
 * first, or @yearly, @monthly, @weekly, @daily, @hourly). Chaos Mesh uses robfig/cron with
 * optional seconds, descriptors, `@every <duration>` and a `CRON_TZ=` / `TZ=` prefix.
 */
import { parseDuration } from '../../duration.ts'

export type CronResult = { cron: string; timezone?: string; approximation?: string } | { problem: string }

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '@yearly',
  '@annually': '@yearly',
  '@monthly': '@monthly',
  '@weekly': '@weekly',
  '@daily': '@daily',
  '@midnight': '@daily',
  '@hourly': '@hourly',
}

/** `@every 30s` as a clock-aligned cron, when the period divides its unit evenly. */
function every(text: string): CronResult {
  const ms = parseDuration(text.trim())
  if (ms === undefined || ms <= 0) return { problem: `"@every ${text}" needs a duration such as 30s or 5m` }
  const s = ms / 1000
  const aligned =
    'Chaos Mesh counts @every from when its controller started; the cron fires on the clock, at the same period'
  if (Number.isInteger(s) && s < 60 && 60 % s === 0) return { cron: `*/${s} * * * * *`, approximation: aligned }
  const m = s / 60
  if (Number.isInteger(m) && m < 60 && 60 % m === 0) return { cron: `0 */${m} * * * *`, approximation: aligned }
  const h = m / 60
  if (Number.isInteger(h) && h < 24 && 24 % h === 0) return { cron: `0 0 */${h} * * *`, approximation: aligned }
  if (h === 24) return { cron: '@daily', approximation: aligned }
  return {
    problem: `"@every ${text}": a period that does not divide a minute, an hour or a day evenly has no cron equivalent`,
  }
}

export function robfigCron(text: string): CronResult {
  let rest = text.trim()
  let timezone: string | undefined
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(rest)
  if (tz) {
    timezone = tz[1]
    rest = tz[2]!.trim()
  }
  const withTz = (r: CronResult): CronResult => ('problem' in r || !timezone ? r : { ...r, timezone })
  if (rest.startsWith('@every ')) return withTz(every(rest.slice('@every '.length)))
  if (rest.startsWith('@')) {
    const d = DESCRIPTORS[rest]
    return d ? withTz({ cron: d }) : { problem: `"${rest}" is not a cron descriptor` }
  }
  const fields = rest.split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) return { problem: 'needs five fields, or six with seconds first' }
  return withTz({ cron: fields.join(' ') })
}
