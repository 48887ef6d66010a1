/**
 * The rules one exchange holds, over HTTP/1.1 or HTTP/2: each counts toward its rule's
 * maxActive, the active-faults gauge and the rule's injected statistics from the moment it is
 * held until the exchange ends, and is released exactly once. HOT PATH, but only for requests a
 * rule matched: one object and one array per faulted request.
 */
import type { CompiledRule } from '../src/rules/compile.ts'
import type { SkipReason } from '../src/rules/match.ts'
import type { ProxyContext } from './proxy-context.ts'

export class HeldRules {
  readonly rules: CompiledRule[] = []
  readonly #ctx: ProxyContext

  constructor(ctx: ProxyContext) {
    this.#ctx = ctx
  }

  hold(rule: CompiledRule): void {
    rule.live.active++
    this.rules.push(rule)
    this.#ctx.metrics.activeFaults.inc()
    this.#ctx.stats.ruleInjected(rule.id)
  }

  /** Counts every held rule as skipped for `reason`. */
  skip(reason: SkipReason): void {
    for (const rule of this.rules) this.#ctx.skipped(rule, reason)
  }

  /** The `x-faultline-fault` value: the held rules' ids. */
  marker(): string {
    return this.rules.map((r) => r.id).join(',')
  }

  /** When the exchange has ended: the rules stop counting as active. */
  release(): void {
    for (const rule of this.rules) rule.live.active--
    this.#ctx.metrics.activeFaults.dec(this.rules.length)
  }
}
