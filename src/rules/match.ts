/**
 * HOT PATH: runs for every proxied request. No allocation unless a rule matches; a snapshot's
 * rules are already split by phase and fully precompiled.
 */
import { fnv1a, PPM } from '../random.ts'
import type { CompiledRule, HeaderBag, RequestView, RuleSnapshot } from './compile.ts'
import { inRuleOrder, type RuleList, rulesForPath } from './segment-index.ts'

export type SkipReason =
  | 'not_sampled'
  | 'max_active'
  | 'client_gone'
  | 'patch_not_json'
  | 'patch_too_large'
  | 'patch_failed'
  /** A body replace or JSON patch matched a gRPC call: protobuf passes unchanged. */
  | 'grpc-body'

/** Told about every match and skip, so per-rule figures need no second pass. */
export interface MatchObserver {
  matched(rule: CompiledRule): void
  skipped(rule: CompiledRule, reason: SkipReason): void
}

export const NO_RULES: readonly CompiledRule[] = Object.freeze([])

/** Whether this request falls in the rule's percent: sticky hash when the header is present, else a roll. */
export function sampled(rule: CompiledRule, headers: HeaderBag, random: () => number): boolean {
  const ppm = rule.ppm
  if (ppm >= PPM) return true
  if (ppm <= 0) return false
  if (rule.sticky !== undefined) {
    const key = headers[rule.sticky]
    if (typeof key === 'string') return fnv1a(key, rule.stickySeed) % PPM < ppm
  }
  return Math.floor(random() * PPM) < ppm
}

function admit(rule: CompiledRule, headers: HeaderBag, random: () => number, observer: MatchObserver): boolean {
  observer.matched(rule)
  if (!sampled(rule, headers, random)) {
    observer.skipped(rule, 'not_sampled')
    return false
  }
  if (rule.live.active >= rule.maxActive) {
    observer.skipped(rule, 'max_active')
    return false
  }
  return true
}

/**
 * The rules of `list` whose request part matches, in rule order: `always`, then each header group
 * whose header the request carries. With an `observer` (request phase) each match is also sampled
 * and capped (admit); without one (response candidates) the response decides later.
 */
function matching(
  list: RuleList,
  req: RequestView,
  now: number,
  healthPath: boolean,
  random: () => number,
  observer: MatchObserver | undefined,
): readonly CompiledRule[] {
  let out = scan(list.always, req, now, healthPath, random, observer, undefined)
  let lists = out === undefined ? 0 : 1
  const groups = list.byHeader
  for (let g = 0; g < groups.length; g++) {
    const [name, rules] = groups[g]!
    if (req.headers[name] === undefined) continue
    const before = out?.length ?? 0
    out = scan(rules, req, now, healthPath, random, observer, out)
    if ((out?.length ?? 0) > before) lists++
  }
  if (out === undefined) return NO_RULES
  return lists > 1 ? inRuleOrder(out) : out
}

function scan(
  rules: readonly CompiledRule[],
  req: RequestView,
  now: number,
  healthPath: boolean,
  random: () => number,
  observer: MatchObserver | undefined,
  out: CompiledRule[] | undefined,
): CompiledRule[] | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!
    if (rule.expiresAt <= now) continue
    if (healthPath && rule.exactPath !== req.path) continue
    if (!rule.matchRequest(req)) continue
    if (observer === undefined || admit(rule, req.headers, random, observer)) (out ??= []).push(rule)
  }
  return out
}

/**
 * Request-phase rules to apply, in list order. `healthPath` true means the path is exempt unless
 * a rule names it exactly.
 */
export function selectRequestRules(
  snap: RuleSnapshot,
  req: RequestView,
  now: number,
  healthPath: boolean,
  random: () => number,
  observer: MatchObserver,
): readonly CompiledRule[] {
  return matching(rulesForPath(snap.requestRules, req.path), req, now, healthPath, random, observer)
}

// Response candidates are sampled when the response comes (selectResponseRules), not here.
const NOT_SAMPLED_HERE = (): number => 1

/** Response-phase rules whose request part matches: the response decides the rest later. */
export function responseCandidates(
  snap: RuleSnapshot,
  req: RequestView,
  now: number,
  healthPath: boolean,
): readonly CompiledRule[] {
  return matching(rulesForPath(snap.responseRules, req.path), req, now, healthPath, NOT_SAMPLED_HERE, undefined)
}

/** Of the candidates, those the upstream response matches and that are sampled in. */
export function selectResponseRules(
  candidates: readonly CompiledRule[],
  status: number,
  responseHeaders: HeaderBag,
  requestHeaders: HeaderBag,
  now: number,
  random: () => number,
  observer: MatchObserver,
): readonly CompiledRule[] {
  let out: CompiledRule[] | undefined
  for (const rule of candidates) {
    if (rule.expiresAt <= now) continue
    if (rule.matchResponse && !rule.matchResponse(status, responseHeaders)) continue
    if (admit(rule, requestHeaders, random, observer)) (out ??= []).push(rule)
  }
  return out ?? NO_RULES
}
