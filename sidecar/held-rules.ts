/**
 * The rules one exchange holds, over HTTP/1.1 or HTTP/2: each counts toward its rule's
 * maxActive and the active-faults gauge from the moment it is held until the exchange ends, and
 * is released exactly once. A rule counts as injected (metrics, `/stats`, the `x-faultline-fault`
 * marker, the faulted cohort) only once one of its actions really took effect: a JSON patch
 * waits for the body it rewrites (`deferred`, then `settle`), and an action that could not apply (a
 * body fault on a gRPC call, a patch of a body that is not JSON) is counted as skipped instead.
 * HOT PATH, but only for requests a rule matched: one object, one array and one map per faulted
 * request.
 */
import type { CompiledRule } from '../src/rules/compile.ts'
import type { SkipReason } from '../src/rules/match.ts'
import type { ProxyContext } from './proxy-context.ts'

/** held: no action has finished yet (an abort answers during its action, so it is marked). */
type RuleState = 'held' | 'landed' | 'pending' | 'skipped'

export class HeldRules {
  readonly rules: CompiledRule[] = []
  readonly #ctx: ProxyContext
  readonly #state = new Map<CompiledRule, RuleState>()
  #pending: [CompiledRule, string][] | undefined
  /** The action running now (beginAction .. endAction) and what it reported. */
  #current: CompiledRule | undefined
  #acted = false
  #deferring = false
  #refused = false
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

  /**
   * Runs around one action of `rule`: between `beginAction` and `endAction` the fault reports
   * through the exchange's FaultOps what it did (`acted`, `deferred`, `cannotApply`), and
   * `endAction` records the outcome. An action that reported nothing (a delay, an abort) applied.
   */
  beginAction(rule: CompiledRule): void {
    this.#current = rule
    this.#acted = this.#deferring = this.#refused = false
  }

  /** The running action changed something. */
  acted(): void {
    this.#acted = true
  }

  /** The running action waits for the body it rewrites (a JSON patch): see `settle`. */
  deferred(): void {
    this.#deferring = true
  }

  /** Part of the running action cannot apply to this exchange: counted as skipped for `reason`. */
  cannotApply(reason: SkipReason): void {
    this.#refused = true
    if (this.#current) this.#ctx.skipped(this.#current, reason)
  }

  endAction(kind: string): void {
    const rule = this.#current
    if (!rule) return
    if (this.#acted || !(this.#deferring || this.#refused)) this.#landed(rule, kind)
    else if (this.#deferring) {
      ;(this.#pending ??= []).push([rule, kind])
      if (this.#state.get(rule) !== 'landed') this.#state.set(rule, 'pending')
    } else if (this.#state.get(rule) === 'held') this.#state.set(rule, 'skipped')
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
