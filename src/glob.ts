/**
 * Path globs over the whole path: `*` is one segment (no slash), `**` any depth (zero or more
 * segments). Everything else is literal. Most globs are exact paths or `prefix/**`, which
 * compile to a string compare instead of a regex because this runs on every request.
 */
import { compileLinearRegex } from './regex.ts'

export type PathMatcher = (path: string) => boolean

export function compileGlob(glob: string): PathMatcher {
  if (!glob.includes('*')) return (path) => path === glob
  if (glob.endsWith('/**') && !glob.slice(0, -3).includes('*')) {
    const base = glob.slice(0, -3)
    const withSlash = base + '/'
    return (path) => path === base || path.startsWith(withSlash)
  }
  const compiled = compileLinearRegex(globToRegexSource(glob))
  if (!compiled.ok) throw new Error(`glob ${glob} ${compiled.message}`)
  const re = compiled.regex
  return (path) => re.test(path)
}

export function globToRegexSource(glob: string): string {
  let out = '^'
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++
        // "/**/" also matches a single "/" so that a/**/b matches a/b.
        if (glob[i + 1] === '/') {
          i++
          out += '(?:.*/)?'
        } else if (out.endsWith('/')) {
          out = out.slice(0, -1) + '(?:/.*)?'
        } else {
          out += '.*'
        }
      } else {
        out += '[^/]*'
      }
    } else {
      out += /[\\^$.|?+()[\]{}]/.test(c) ? '\\' + c : c
    }
  }
  return out + '$'
}
