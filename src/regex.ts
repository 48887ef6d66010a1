/**
 * Linear-time regular expressions. User regexes run on every request, so a pattern like
 * `(a+)+$` must not be able to stall the proxy. V8 ships a non-backtracking engine behind a
 * flag; with it the `l` flag compiles an automaton that runs in time linear in the input, and
 * rejects backtracking-only syntax (backreferences, lookahead) with "Cannot be executed in
 * linear time". That is RE2's contract without a native addon.
 */
import { setFlagsFromString } from 'node:v8'

setFlagsFromString('--enable-experimental-regexp-engine')

/** The flag that selects V8's linear-time engine (kept in a variable: linters do not know it). */
const LINEAR = 'l'

const SUPPORTED = (() => {
  try {
    new RegExp('a', LINEAR)
    return true
  } catch {
    return false
  }
})()

export type LinearRegexResult = { ok: true; regex: RegExp } | { ok: false; message: string }

/** Compiles `source` for linear-time matching, or says why it cannot be. */
export function compileLinearRegex(source: string, flags = ''): LinearRegexResult {
  if (!SUPPORTED)
    return { ok: false, message: 'this Node.js build has no linear-time regex engine (need Node >= 24)' }
  try {
    return { ok: true, regex: new RegExp(source, flags + LINEAR) }
  } catch (err) {
    const text = (err as Error).message
    if (text.includes('linear time'))
      return {
        ok: false,
        message:
          'uses syntax that needs backtracking (backreferences or lookahead); only linear-time (RE2-style) regexes are allowed',
      }
    return {
      ok: false,
      message: `is not a valid regular expression (${text.replace(/^Invalid regular expression: /, '')})`,
    }
  }
}
