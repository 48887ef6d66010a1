/**
 * The rules one exchange holds, over HTTP/1.1 or HTTP/2: each counts toward its rule's
 * maxActive and the active-faults gauge from the moment it is held until the exchange ends, and
 * is released exactly once. A rule counts as injected (metrics, `/stats`, the `x-faultline-fault`
 * marker, the faulted cohort) only once one of its actions really took effect: a JSON patch
 * waits for the body it rewrites (`defer`, then `settle`), and an action that could not apply (a
 * body fault on a gRPC call, a patch of a body that is not JSON) is counted as skipped instead.
 * HOT PATH, but only for requests a rule matched: one object, one array and one map per faulted
 * request.
 */
import type { CompiledRule } from '../src/rules/compile.ts'
import type { SkipReason } from '../src/rules/match.ts'
import type { ProxyContext } from './proxy-context.ts'

/** What one action did: took effect, waits for the body (JSON patch), or could not apply. */
export type ActionOutcome = 'applied' | 'deferred' | 'skipped'

/** held: no action has finished yet (an abort answers during its action, so it is marked). */
type RuleState = 'held' | 'landed' | 'pending' | 'skipped'

export class HeldRules {
  readonly rules: CompiledRule[] = []
  readonly #ctx: ProxyContext
  readonly #state = new Map<CompiledRule, RuleState>()
  #pending: [CompiledRule, string][] | undefined
  /** The fault kind of the last action that took effect: the `fault` label of the request metrics. */
  label = 'none'

  constructor(ctx: ProxyContext) {
    this.#ctx = ctx
  }

  hold(rule: CompiledRule): void {
    rule.live.active++
    this.rules.push(rule)
    this.#state.set(rule, 'held')
    this.#ctx.metrics.activeFaults.inc()
  }

  /** Records what an action of `rule` (a fault of `kind`) did, right after it ran. */
  outcome(rule: CompiledRule, kind: string, what: ActionOutcome): void {
    if (what === 'applied') this.#landed(rule, kind)
    else if (what === 'deferred') {
      ;(this.#pending ??= []).push([rule, kind])
      if (this.#state.get(rule) !== 'landed') this.#state.set(rule, 'pending')
    } else if (this.#state.get(rule) === 'held') this.#state.set(rule, 'skipped')
  }

  /** An action of `rule` could not apply: counted as skipped for `reason`. */
  skipAction(rule: CompiledRule, reason: SkipReason): void {
    this.#ctx.skipped(rule, reason)
  }

  /** The deferred actions (JSON patches) are done: they took effect, or were skipped for `reason`. */
  settle(reason?: SkipReason): void {
    const pending = this.#pending
    if (!pending) return
    this.#pending = undefined
    for (const [rule, kind] of pending) {
      if (reason === undefined) this.#landed(rule, kind)
      else {
        this.#ctx.skipped(rule, reason)
        if (this.#state.get(rule) === 'pending') this.#state.set(rule, 'skipped')
      }
    }
  }

  get hasPending(): boolean {
    return this.#pending !== undefined
  }

  #landed(rule: CompiledRule, kind: string): void {
    this.#ctx.injected(rule, kind)
    this.label = kind
    if (this.#state.get(rule) !== 'landed') {
      this.#state.set(rule, 'landed')
      this.#ctx.stats.ruleInjected(rule.id)
    }
  }

  /** Counts every held rule as skipped for `reason` (the client went away); nothing is pending after. */
  skip(reason: SkipReason): void {
    this.#pending = undefined
    for (const rule of this.rules) this.#ctx.skipped(rule, reason)
  }

  /** The `x-faultline-fault` value: the rules that touched this exchange (or are touching it now). */
  marker(): string {
    let out = ''
    for (const rule of this.rules) {
      const s = this.#state.get(rule)
      if (s === 'landed' || s === 'held') out = out ? `${out},${rule.id}` : rule.id
    }
    return out
  }

  /** Whether a fault touched the exchange: its request counts in the faulted cohort. */
  get faulted(): boolean {
    for (const s of this.#state.values()) if (s === 'landed' || s === 'held') return true
    return false
  }

  /** When the exchange has ended: the rules stop counting as active. */
  release(): void {
    for (const rule of this.rules) rule.live.active--
    this.#ctx.metrics.activeFaults.dec(this.rules.length)
  }
}
