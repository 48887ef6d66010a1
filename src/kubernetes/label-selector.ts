/**
 * Kubernetes label selectors, both spellings: the string form (`app=web,tier in (a,b),!canary`)
 * and the object form (`matchLabels` + `matchExpressions`). One parsed form serves both sides: it
 * is sent to the API server (`labelSelector=`) and evaluated here on objects the server cannot
 * filter for us (annotation selectors use the same grammar over annotations).
 */

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'

export interface Requirement {
  key: string
  operator: Operator
  values: string[]
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: Operator; values?: string[] }[]
}

/** A label key: optional DNS prefix, then a name of at most 63 characters. */
const KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/

/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const out: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++
    else if (text[i] === ')') depth--
    else if (text[i] === ',' && depth === 0) {
      out.push(text.slice(start, i))
      start = i + 1
    }
  }
  out.push(text.slice(start))
  return out.map((t) => t.trim()).filter((t) => t !== '')
}

function checkKey(key: string): void {
  if (!KEY.test(key)) throw new Error(`"${key}" is not a valid label key`)
}
function checkValue(value: string): void {
  if (!VALUE.test(value)) throw new Error(`"${value}" is not a valid label value`)
}

/** Parses the string form; throws an Error saying what is wrong. */
export function parseLabelSelector(text: string): Requirement[] {
  return splitTerms(text).map((term) => {
    let m = /^(\S+?)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term)
    if (m) {
      const values = m[3]!
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
      checkKey(m[1]!)
      values.forEach(checkValue)
      if (values.length === 0) throw new Error(`"${term}" needs at least one value`)
      return { key: m[1]!, operator: m[2] === 'in' ? 'In' : 'NotIn', values }
    }
    m = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(term)
    if (m) {
      checkKey(m[1]!)
      checkValue(m[3]!)
      return { key: m[1]!, operator: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3]!] }
    }
    m = /^!\s*(\S+)$/.exec(term)
    if (m) {
      checkKey(m[1]!)
      return { key: m[1]!, operator: 'DoesNotExist', values: [] }
    }
    checkKey(term)
    return { key: term, operator: 'Exists', values: [] }
  })
}

export function selectorFromObject(o: LabelSelectorObject): Requirement[] {
  const out: Requirement[] = []
  for (const [key, value] of Object.entries(o.matchLabels ?? {})) out.push({ key, operator: 'In', values: [value] })
  for (const e of o.matchExpressions ?? []) out.push({ key: e.key, operator: e.operator, values: e.values ?? [] })
  return out
}

/** The string form, as the API server's `labelSelector` parameter takes it. */
export function formatSelector(reqs: Requirement[]): string {
  return reqs
    .map((r) => {
      if (r.operator === 'Exists') return r.key
      if (r.operator === 'DoesNotExist') return `!${r.key}`
      if (r.values.length === 1) return `${r.key}${r.operator === 'In' ? '=' : '!='}${r.values[0]}`
      return `${r.key} ${r.operator === 'In' ? 'in' : 'notin'} (${r.values.join(',')})`
    })
    .join(',')
}

export function matchesSelector(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {}
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key)
    switch (r.operator) {
      case 'Exists':
        return has
      case 'DoesNotExist':
        return !has
      case 'In':
        return has && r.values.includes(l[r.key]!)
      case 'NotIn':
        return !has || !r.values.includes(l[r.key]!)
    }
  })
}
