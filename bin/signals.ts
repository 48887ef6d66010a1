/** Long-running commands stop the same way: on SIGTERM or SIGINT, log why, close cleanly, exit 0. */
import type { Logger } from '../src/log.ts'

export function closeOnSignals(logger: Logger, what: string, close: () => Promise<void>): void {
  const stop = async (signal: string) => {
    logger.info({ signal }, what)
    await close()
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.once('SIGINT', () => void stop('SIGINT'))
}
