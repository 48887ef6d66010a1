/**
 * What a bench shows on stderr while it runs. On a terminal: one status line rewritten in place
 * (round, scenario, elapsed, requests, live p95 and error rate), with finished rounds printed
 * above it. Elsewhere (CI logs, files): plain lines only, one per event, no carriage returns.
 */

export interface Progress {
  /** The live status line (a terminal only). */
  status(text: string): void
  /** A line that stays: a round's result, a note. */
  line(text: string): void
  /** Clears the status line; the display is done. */
  end(): void
}

const CLEAR = '\r\x1b[2K'

export function progressDisplay(out: { write(s: string): unknown; isTTY?: boolean }, quiet = false): Progress {
  if (quiet) return { status: () => undefined, line: () => undefined, end: () => undefined }
  if (!out.isTTY)
    return {
      status: () => undefined,
      line: (text) => void out.write(text + '\n'),
      end: () => undefined,
    }
  let shown = false
  return {
    status(text) {
      out.write(CLEAR + text)
      shown = true
    },
    line(text) {
      out.write((shown ? CLEAR : '') + text + '\n')
      shown = false
    },
    end() {
      if (shown) out.write(CLEAR)
      shown = false
    },
  }
}
