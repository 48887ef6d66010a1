/**
 * Rules indexed by what a request must have for them to match, so a request evaluates only the
 * rules it could match instead of all of them:
 * - the first path segment a rule requires (`/api/checkout/**`, `^/v1/orders/`): a request only
 *   sees the rules for its own first segment plus those that could match any path;
 * - a header a rule requires (a `present`, `exact` or `regex` header condition): such rules are
 *   grouped by that header's name and evaluated only when the request carries it (one lookup for
 *   a whole group, e.g. 250 tenant rules on `x-tenant`).
 * Each segment's lists are merged with the path-independent ones when the snapshot is built, in
 * rule order, because every matching rule applies in list order; matches from more than one list
 * are put back in rule order (match.ts).
 */
import type { CompiledRule } from './compile.ts'

/** The rules one request evaluates: `always`, then each header group whose header it carries. */
export interface RuleList {
  readonly always: readonly CompiledRule[]
  /** `[header name, rules that need it]`, each in rule order. */
  readonly byHeader: readonly (readonly [string, readonly CompiledRule[]])[]
}

export interface SegmentIndex {
  /** Per first segment: that segment's rules and the path-independent ones. */
  readonly bySegment: ReadonlyMap<string, RuleList>
  /** The rules to evaluate for a segment with no entry. */
  readonly anyPath: RuleList
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

function byOrder(a: CompiledRule, b: CompiledRule): number {
  return a.order - b.order
}

/** Splits rules (in rule order) into those always evaluated and those grouped by a required header. */
function ruleList(rules: readonly CompiledRule[]): RuleList {
  const always: CompiledRule[] = []
  const groups = new Map<string, CompiledRule[]>()
  for (const rule of rules) {
    if (rule.requiredHeader === undefined) always.push(rule)
    else {
      let group = groups.get(rule.requiredHeader)
      if (!group) groups.set(rule.requiredHeader, (group = []))
      group.push(rule)
    }
  }
  return Object.freeze({
    always: Object.freeze(always),
    byHeader: Object.freeze([...groups].map(([name, group]) => Object.freeze([name, Object.freeze(group)] as const))),
  })
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
  if (segments.size * anyPath.length > MAX_INDEX_ENTRIES) return { bySegment: new Map(), anyPath: ruleList(rules) }
  const bySegment = new Map<string, RuleList>()
  for (const [segment, own] of segments) bySegment.set(segment, ruleList([...own, ...anyPath].sort(byOrder)))
  return { bySegment, anyPath: ruleList(anyPath) }
}

/** HOT PATH: the rules a request with this path must consider. */
export function rulesForPath(index: SegmentIndex, path: string): RuleList {
  if (index.bySegment.size === 0) return index.anyPath
  return index.bySegment.get(firstSegmentOf(path)) ?? index.anyPath
}

/** HOT PATH: the first segment of a path ("" for "/"), as the index keys it. */
export function firstSegmentOf(path: string): string {
  const end = path.indexOf('/', 1)
  return end < 0 ? path.slice(1) : path.slice(1, end)
}

/** Puts matches gathered from several lists back in rule order (allocation only on a match). */
export function inRuleOrder(rules: CompiledRule[]): CompiledRule[] {
  return rules.length > 1 ? rules.sort(byOrder) : rules
}
