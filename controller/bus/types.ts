/**
 * How a fault's rules reach the sidecars of one target (DESIGN §1 "bus"):
 *
 *   direct  the controller calls each sidecar's admin API (bus/direct.ts)
 *   redis   the service's desired rules in Redis; instances follow and acknowledge (bus/redis.ts)
 *
 * Rules always carry `source` (the owner: a run step, a shaping) and an expiry, so they go away
 * by themselves if the controller does not live to remove them. "Delivered" means acknowledged:
 * a sidecar counts once it reported the generation that carries the rules.
 */
import type { FaultlineError } from '../../src/errors.ts'

export interface Delivery {
  /** Admin URL -> the generation that carries the rules on that sidecar. */
  acknowledged: Record<string, number>
  /** Members that did not take the rules, one line each; empty when every member did. */
  problems: string[]
  /** The coded error behind `problems` (the sidecar's own refusal, unreachable, no members). */
  error?: FaultlineError
}

export interface Removal {
  /** What the rules were removed from (admin URLs, or `service:NAME`). */
  reverted: string[]
  failed: { member: string; error: Error }[]
}

export interface RuleBus {
  readonly kind: 'direct' | 'redis'
  /** For messages and journals: the sidecars' admin URLs, or `service NAME`. */
  readonly label: string
  /**
   * Whether a delivery some members missed still counts: fleet instances come and go, so one
   * acknowledgement is enough there; sidecars named one by one must all take the rules.
   */
  readonly partialOk: boolean
  /** Adds `rules` tagged `source`, expiring `ttlMs` from now; never throws for one member's failure. */
  add(rules: Record<string, unknown>[], source: string, ttlMs: number): Promise<Delivery>
  /** Removes every rule tagged `source` from every member; idempotent, tries every member. */
  removeBySource(source: string): Promise<Removal>
}

/** The error a delivery must be refused with under the bus's own rule, or undefined when it stands. */
export function deliveryError(bus: RuleBus, d: Delivery): FaultlineError | undefined {
  if (!d.error) return undefined
  if (bus.partialOk && Object.keys(d.acknowledged).length > 0) return undefined
  return d.error
}
