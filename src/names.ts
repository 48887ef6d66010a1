/**
 * The name grammar for anything a URL or a request names that ends up in a file name or a Redis
 * key: experiments, runs, schedules, shaping, fleet services. It is a superset of every name the
 * project produces (experiment and schedule names are lower-case DNS labels of at most 63
 * characters; run ids are `<experiment>-<yyyymmdd>-<hhmmss>-<hex>`, at most 84; shaping ids are
 * `shape-<base36>-<hex>`), and it cannot spell a path separator, a dot segment, a Redis key
 * separator (`:`) or a glob (`*`), so a name can never leave the directory or prefix it is put in.
 */
import { errors, type FieldIssue } from './errors.ts'

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
export const NAME_MAX_LENGTH = 128

const HINT = 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters'

/** The issue with `value` as a name, or undefined when it is one. */
export function nameIssue(value: unknown, path: string): FieldIssue | undefined {
  if (typeof value === 'string' && NAME_PATTERN.test(value)) return undefined
  return { path, message: `must be a name: ${HINT}` }
}

/**
 * Returns `value` when it is a name; otherwise throws FL_ERR_NAME_INVALID whose `errors[].path`
 * is `path` (for a URL parameter, `/params/<parameter>`).
 */
export function assertName(value: unknown, path: string, what = 'name'): string {
  const issue = nameIssue(value, path)
  if (issue)
    throw errors.FL_ERR_NAME_INVALID(`${what} ${JSON.stringify(String(value)).slice(0, 200)}`, { issues: [issue] })
  return value as string
}
