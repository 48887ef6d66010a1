/**
 * Records that exist but cannot be parsed. Both stores report them the same way: a get throws
 * FL_ERR_STORE_CORRUPT naming the file or key, a listing reports them as `unreadable`, and each
 * is logged once (not on every listing a dashboard polls), until it is read cleanly again. The
 * record itself is never touched: a person decides what to do with it.
 */
import { errors, FaultlineError } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'
import type { Unreadable } from './types.ts'

export class CorruptRecords {
  readonly #log: Logger
  readonly #logged = new Set<string>()

  constructor(log: Logger) {
    this.#log = log
  }

  /** The FL_ERR_STORE_CORRUPT for `record` (a file or key), logged the first time it is seen. */
  error(record: string, cause: unknown): FaultlineError {
    const err = errors.FL_ERR_STORE_CORRUPT(`${record}: ${(cause as Error).message ?? String(cause)}`, {
      cause,
      details: { record },
    })
    if (!this.#logged.has(record)) {
      this.#logged.add(record)
      this.#log.error({ code: err.code, record, err: cause }, 'stored record is unreadable; left in place')
    }
    return err
  }

  /** The record was read (or written) cleanly: a later corruption is news again. */
  clear(record: string): void {
    this.#logged.delete(record)
  }

  /** The listing entry for a record that failed with `err`. */
  static entry(id: string, record: string, err: FaultlineError): Unreadable {
    return { id, record, code: err.code, error: err.message }
  }

  /** The error again, for a caller that found the record in a listing's `unreadable`. */
  static errorOf(u: Unreadable): FaultlineError {
    return new FaultlineError(u.code, u.error, errors.FL_ERR_STORE_CORRUPT.statusCode, {
      details: { record: u.record },
    })
  }
}
