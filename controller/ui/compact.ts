/**
 * Drops comments and collapses whitespace in the dashboard's own stripped modules, so the
 * browser loads its code within the JavaScript budget without a bundler or minifier package.
 * A small scanner, not a parser: strings, template literals (with `${}` nesting) and regular
 * expression literals are copied untouched; line breaks are kept (one per run), so automatic
 * semicolon insertion reads the code as before. It is only ever given this repository's
 * modules, and its tests parse every module it compacts.
 */

/** After one of these (or at the start), a `/` opens a regular expression, not a division. */
const BEFORE_REGEX = new Set([...'(,=:[!&|?{};+-*%<>~^'])
const KEYWORDS_BEFORE_REGEX = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'yield',
  'await',
])

// One pass over the code with a small state machine: a screen of cases, each short.
export function compact(code: string): string {
  let out = ''
  let i = 0
  /** Brace depth inside each open `${`, innermost last. */
  const templates: number[] = []
  /** The last character (and word) emitted outside whitespace and comments. */
  let lastSig = ''
  let lastWord = ''
  const n = code.length

  /** Whitespace (or a comment) between tokens: one line break if it held one, else one space. */
  const space = (newline: boolean) => {
    const prev = out.at(-1)
    if (newline) {
      if (prev === ' ') out = out.slice(0, -1)
      if (out.length && out.at(-1) !== '\n') out += '\n'
    } else if (out.length && prev !== ' ' && prev !== '\n') out += ' '
  }
  const copyQuoted = (quote: string) => {
    let j = i + 1
    while (j < n && code[j] !== quote) j += code[j] === '\\' ? 2 : 1
    out += code.slice(i, j + 1)
    i = j + 1
  }
  /** Template text up to the closing backtick or a `${`; returns whether a `${` opened. */
  const copyTemplate = (from: number): boolean => {
    let j = from
    while (j < n && code[j] !== '`' && !(code[j] === '$' && code[j + 1] === '{')) j += code[j] === '\\' ? 2 : 1
    if (code[j] === '`') {
      out += code.slice(i, j + 1)
      i = j + 1
      return false
    }
    out += code.slice(i, j + 2)
    i = j + 2
    templates.push(0)
    return true
  }
  const copyRegex = () => {
    let j = i + 1
    let inClass = false
    while (j < n && (inClass || code[j] !== '/')) {
      if (code[j] === '\\') j++
      else if (code[j] === '[') inClass = true
      else if (code[j] === ']') inClass = false
      j++
    }
    j++
    while (j < n && /[a-z]/.test(code[j]!)) j++
    out += code.slice(i, j)
    i = j
  }

  while (i < n) {
    const c = code[i]!
    const next = code[i + 1]
    if (c === '/' && next === '/') {
      while (i < n && code[i] !== '\n') i++
      continue
    }
    if (c === '/' && next === '*') {
      const end = code.indexOf('*/', i + 2)
      const body = code.slice(i, end < 0 ? n : end + 2)
      i += body.length
      // A comment that spanned lines still ends a line (ASI); one within a line is a space.
      space(body.includes('\n'))
      continue
    }
    if (/\s/.test(c)) {
      let j = i
      let newline = false
      for (; j < n && /\s/.test(code[j]!); j++) if (code[j] === '\n') newline = true
      space(newline)
      i = j
      continue
    }
    if (c === '"' || c === "'") {
      copyQuoted(c)
      lastSig = c
      lastWord = ''
      continue
    }
    if (c === '`') {
      copyTemplate(i + 1)
      lastSig = '`'
      lastWord = ''
      continue
    }
    if (c === '/' && (lastSig === '' || BEFORE_REGEX.has(lastSig) || KEYWORDS_BEFORE_REGEX.has(lastWord))) {
      copyRegex()
      lastSig = '/'
      lastWord = ''
      continue
    }
    if (templates.length && (c === '{' || c === '}')) {
      if (c === '{') templates[templates.length - 1]!++
      else if (templates.at(-1) === 0) {
        // The `}` that closes a `${`: back into the template's text.
        templates.pop()
        out += '}'
        i++
        copyTemplate(i)
        lastSig = '`'
        lastWord = ''
        continue
      } else templates[templates.length - 1]!--
    }
    if (/[A-Za-z0-9_$]/.test(c)) {
      let j = i
      while (j < n && /[A-Za-z0-9_$]/.test(code[j]!)) j++
      lastWord = code.slice(i, j)
      out += lastWord
      lastSig = code[j - 1]!
      i = j
      continue
    }
    out += c
    lastSig = c
    lastWord = ''
    i++
  }
  return out
}
