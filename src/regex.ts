/**
 * Linear-time regular expressions. User regexes run on every request, so a pattern like
 * `(a+)+$` must not be able to stall the proxy. V8 ships a non-backtracking engine behind a
 * flag; with it the `l` flag compiles an automaton that runs in time linear in the input, and
 * rejects backtracking-only syntax (backreferences, lookahead) with "Cannot be executed in
 * linear time". That is RE2's contract without a native addon.
 *
 * The automaton is ~11x slower than V8's backtracking engine on ordinary patterns (229 vs 20 ns
 * per test, measured), so a pattern is *checked* with `l` but *run* without it, with V8 told to
 * switch to the linear engine after a bounded number of backtracks. Common patterns get the
 * fast engine; a pathological one costs at most BACKTRACK_LIMIT steps before going linear.
 */
import { setFlagsFromString } from 'node:v8'

export const BACKTRACK_LIMIT = 10_000

setFlagsFromString('--enable-experimental-regexp-engine')
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks')
setFlagsFromString(`--regexp-backtracks-before-fallback=${BACKTRACK_LIMIT}`)

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
  if (!SUPPORTED) return { ok: false, message: 'this Node.js build has no linear-time regex engine (need Node >= 24)' }
  try {
    new RegExp(source, flags + LINEAR)
    return { ok: true, regex: new RegExp(source, flags) }
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
