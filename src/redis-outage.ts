/**
 * Connection errors of Redis clients, logged once per outage. ioredis emits 'error' on every
 * failed reconnect attempt (every 50 ms to 2 s while Redis is down), and a client with no
 * 'error' listener crashes the process; a listener that logs each one floods the log, one that
 * ignores them hides the outage. This one logs the first error of an outage with
 * `code: 'FL_ERR_REDIS'`, stays quiet while it lasts, and logs the recovery.
 *
 * Structural on purpose: src/ does not import ioredis, and the sidecar can use it too.
 */
import { errors } from './errors.ts'
import type { Logger } from './log.ts'

/** The part of an ioredis client this needs. */
export interface RedisEvents {
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'ready', listener: () => void): unknown
}

export class RedisOutage {
  readonly #log: Logger
  #downSince: number | undefined
  #lastError: Error | undefined

  /** `log` should be a child logger that names the component (and the Redis URL, if useful). */
  constructor(log: Logger) {
    this.#log = log
  }

  /** Whether the last event seen from any watched connection was an error. */
  get down(): boolean {
    return this.#downSince !== undefined
  }

  get lastError(): Error | undefined {
    return this.#lastError
  }

  /**
   * Throws FL_ERR_REDIS at once while an outage lasts. Without it a command waits in ioredis's
   * offline queue through several reconnect attempts (seconds, growing with the backoff) before
   * failing; an API caller should hear "Redis is down" straight away instead. Pass the
   * connection the command will use, so one that is ready is never refused.
   */
  assertUp(what: string, conn?: { status: string }): void {
    // A connection that reports itself ready is trusted over a stale outage flag.
    if (this.#downSince === undefined || conn?.status === 'ready') return
    throw errors.FL_ERR_REDIS(`${what}: ${this.#lastError?.message ?? 'disconnected'}`, { cause: this.#lastError })
  }

  /** Attaches the listeners to a connection; several connections can share one outage state. */
  watch<C extends RedisEvents>(conn: C): C {
    conn.on('error', (err) => this.#error(err))
    conn.on('ready', () => this.#ready())
    return conn
  }

  #error(err: Error): void {
    this.#lastError = err
    if (this.#downSince !== undefined) return
    this.#downSince = Date.now()
    const coded = errors.FL_ERR_REDIS(err.message, { cause: err })
    this.#log.error({ code: coded.code, err }, `${coded.message}; retrying (logged once until it recovers)`)
  }

  #ready(): void {
    if (this.#downSince === undefined) return
    const downMs = Date.now() - this.#downSince
    this.#downSince = undefined
    this.#log.warn({ code: errors.FL_ERR_REDIS.code, downMs }, 'redis connection restored')
  }
}
