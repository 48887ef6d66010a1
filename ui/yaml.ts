/**
 * JSON to block YAML, for showing and editing a stored experiment (the API answers JSON and
 * accepts YAML). Strings that could read as something else are double-quoted (JSON quoting is
 * valid YAML), so what the editor sends back parses to the same document.
 */
const PLAIN = /^[A-Za-z_./][A-Za-z0-9_ ./@:${}*-]*$/
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  const s = String(v)
  return PLAIN.test(s) &&
    !RESERVED.test(s) &&
    !s.endsWith(':') &&
    !s.includes(': ') &&
    !s.includes(' #') &&
    s.trim() === s
    ? s
    : JSON.stringify(s)
}

const key = (k: string) => (PLAIN.test(k) && !RESERVED.test(k) && !k.includes(':') ? k : JSON.stringify(k))

function lines(v: unknown, indent: string): string[] {
  if (Array.isArray(v)) {
    if (!v.length) return [`${indent}[]`]
    return v.flatMap((item) => {
      const inner = lines(item, indent + '  ')
      if (item && typeof item === 'object' && !(Array.isArray(item) && !item.length) && Object.keys(item).length)
        return [`${indent}- ${inner[0]!.trimStart()}`, ...inner.slice(1)]
      return [`${indent}- ${inner[0]!.trimStart()}`]
    })
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
    if (!entries.length) return [`${indent}{}`]
    return entries.flatMap(([k, val]) => {
      if (val && typeof val === 'object' && (Array.isArray(val) ? val.length : Object.keys(val).length))
        return [`${indent}${key(k)}:`, ...lines(val, indent + '  ')]
      return [`${indent}${key(k)}: ${lines(val, '')[0]}`]
    })
  }
  return [`${indent}${scalar(v)}`]
}

export function toYaml(v: unknown): string {
  return lines(v, '').join('\n') + '\n'
}
