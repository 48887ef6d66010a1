/** One logger factory: JSON lines (pino) by default, quiet in tests unless asked. */
import { type Logger, pino } from 'pino'

export type { Logger }

export function createLogger(
  opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = opts.level ?? process.env.FAULTLINE_LOG_LEVEL ?? 'info'
  return pino({ level, name: opts.name ?? 'faultline', base: undefined }, opts.destination as pino.DestinationStream)
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
