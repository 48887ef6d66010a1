/**
 * Request bodies both HTTP services accept: JSON with a nesting cap, and an empty body read as
 * "no body" (generic API clients send `content-type: application/json` on a bodyless DELETE).
 * Deeply nested documents are refused before anything walks them recursively (a merge patch, the
 * rule compiler, JSON.stringify of a stored rule), so they can never become a 500 later.
 */
import { errors, type FieldIssue } from './errors.ts'

/** Deeper than any real rule or experiment needs; far below what recursion can survive. */
export const MAX_JSON_DEPTH = 64

/** The first place (JSON pointer) where `value` nests deeper than `max`, or undefined. */
export function jsonDepthIssue(value: unknown, max = MAX_JSON_DEPTH, base = ''): FieldIssue | undefined {
  // Iterative on purpose: the point is to survive documents too deep to recurse over.
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: base, depth: 0 }]
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    if (depth >= max) return { path: path || '/', message: `nests deeper than ${max} levels` }
    if (Array.isArray(v)) v.forEach((item, i) => stack.push({ v: item, path: `${path}/${i}`, depth: depth + 1 }))
    else
      for (const [k, item] of Object.entries(v))
        stack.push({ v: item, path: `${path}/${escapePointer(k)}`, depth: depth + 1 })
  }
  return undefined
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

/** Throws FL_ERR_BAD_REQUEST with a path when `value` nests too deep; returns it otherwise. */
export function assertJsonDepth<T>(value: T, what = 'body'): T {
  const issue = jsonDepthIssue(value)
  if (issue) throw errors.FL_ERR_BAD_REQUEST(`${what} ${issue.message}`, { issues: [issue] })
  return value
}

/** Parses a JSON request body: empty means no body (undefined); bad JSON or too deep is a 400. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    const message = `body is not JSON: ${(err as Error).message}`
    throw errors.FL_ERR_BAD_REQUEST(message, { cause: err, issues: [{ path: '', message }] })
  }
  return assertJsonDepth(value)
}
