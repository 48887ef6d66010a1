/**
 * Rules indexed by the first path segment they require. Most rules name a literal path
 * (`/api/checkout/**`, `^/v1/orders/`), so a request only evaluates the rules for its own first
 * segment plus those that could match any path (header-only rules, `/**`), instead of all of
 * them. Each segment's list is merged with the path-independent rules when the snapshot is
 * built, in rule order, because every matching rule applies in list order.
 */
import type { CompiledRule } from './compile.ts'

export interface SegmentIndex {
  /** Per first segment: that segment's rules and the path-independent ones, in rule order. */
  readonly bySegment: ReadonlyMap<string, readonly CompiledRule[]>
  /** The rules to evaluate for a segment with no entry. */
  readonly anyPath: readonly CompiledRule[]
}

/** Above this many merged entries the index would cost more memory than it saves time. */
const MAX_INDEX_ENTRIES = 1_000_000

const REGEX_META = new Set(['\\', '.', '[', ']', '(', ')', '{', '}', '?', '*', '+', '|', '^', '$'])
const QUANTIFIER = new Set(['?', '*', '+', '{'])

/** The first path segment every path matching this glob has, if the glob fixes it. */
export function globFirstSegment(glob: string): string | undefined {
  const seg = glob.split('/')[1] ?? ''
  return seg.includes('*') ? undefined : seg
}

/** The same for a regex: only when it is anchored and starts with a literal "/segment/". */
export function regexFirstSegment(source: string): string | undefined {
  if (!source.startsWith('^/') || source.includes('|')) return undefined
  let literal = ''
  for (let i = 1; i < source.length; i++) {
    const c = source[i]!
    if (REGEX_META.has(c)) {
      if (QUANTIFIER.has(c)) literal = literal.slice(0, -1)
      break
    }
    literal += c
  }
  const end = literal.indexOf('/', 1)
  return end < 0 ? undefined : literal.slice(1, end)
}

export function buildSegmentIndex(rules: readonly CompiledRule[]): SegmentIndex {
  const segments = new Map<string, CompiledRule[]>()
  const anyPath: CompiledRule[] = []
  for (const rule of rules) {
    if (rule.firstSegment === undefined) anyPath.push(rule)
    else {
      let list = segments.get(rule.firstSegment)
      if (!list) segments.set(rule.firstSegment, (list = []))
      list.push(rule)
    }
  }
  if (segments.size * anyPath.length > MAX_INDEX_ENTRIES) return { bySegment: new Map(), anyPath: rules }
  const bySegment = new Map<string, readonly CompiledRule[]>()
  for (const [segment, own] of segments)
    bySegment.set(segment, Object.freeze([...own, ...anyPath].sort((a, b) => a.order - b.order)))
  return { bySegment, anyPath: Object.freeze(anyPath) }
}

/** HOT PATH: the rules a request with this path must evaluate, in rule order. */
export function rulesForPath(index: SegmentIndex, path: string): readonly CompiledRule[] {
  if (index.bySegment.size === 0) return index.anyPath
  return index.bySegment.get(firstSegmentOf(path)) ?? index.anyPath
}

/** HOT PATH: the first segment of a path ("" for "/"), as the index keys it. */
export function firstSegmentOf(path: string): string {
  const end = path.indexOf('/', 1)
  return end < 0 ? path.slice(1) : path.slice(1, end)
}
