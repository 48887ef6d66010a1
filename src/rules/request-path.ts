/**
 * The path rules match against. Clients can spell one resource many ways (`//a`, `/%61`,
 * `/x/../a`, `http://host/a`); apps and routers treat those as the same path, so a rule on `/a/**`
 * must too, or any client could step around a fault. The sidecar still forwards exactly what the
 * client sent: only matching sees the normal form (RFC 3986 §6.2.2 plus collapsed slashes).
 */

/** HOT PATH: the normal form of a request target's path (the part before `?`). */
export function matchPath(target: string): string {
  // Almost every request is already normal: one cheap scan each, no allocation.
  if (target.charCodeAt(0) === 47 /* / */ && !target.includes('%') && !target.includes('//') && !target.includes('/.'))
    return target
  return normalisePath(target)
}

/** Percent-escapes of unreserved characters (ALPHA / DIGIT / "-" / "." / "_" / "~") decode. */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  )
}

function decodeUnreserved(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const code = parseInt(hex, 16)
    return isUnreserved(code) ? String.fromCharCode(code) : escape.toUpperCase()
  })
}

/** Strips an absolute-form target (`http://host:port/p`) down to its path. */
function originForm(target: string): string {
  if (target.charCodeAt(0) === 47) return target
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(target)
  if (!scheme) return target // `*` (OPTIONS *) and the like: nothing to normalise
  const rest = target.slice(scheme[0].length)
  return rest === '' ? '/' : rest
}

/** RFC 3986 §5.2.4 remove_dot_segments, over a path whose repeated slashes are already collapsed. */
function removeDotSegments(path: string): string {
  const out: string[] = []
  const segments = path.split('/')
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!
    const last = i === segments.length - 1
    if (s === '.' || s === '..') {
      if (s === '..') out.pop()
      if (last) out.push('')
    } else out.push(s)
  }
  return '/' + out.join('/')
}

export function normalisePath(target: string): string {
  const path = originForm(target)
  if (path.charCodeAt(0) !== 47) return path
  return removeDotSegments(decodeUnreserved(path).replace(/\/{2,}/g, '/'))
}
