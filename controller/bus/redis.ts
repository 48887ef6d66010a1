/** The scale-out rule bus: a fleet service's desired rules in Redis (bus/fleet.ts, bus/types.ts). */
import { type FleetBus, pushError } from './fleet.ts'
import type { Delivery, Removal, RuleBus } from './types.ts'

export class RedisBus implements RuleBus {
  readonly kind = 'redis' as const
  readonly partialOk = true
  readonly label: string
  readonly #fleet: FleetBus
  readonly #service: string

  constructor(fleet: FleetBus, service: string) {
    this.#fleet = fleet
    this.#service = service
    this.label = `service ${service}`
  }

  async add(rules: Record<string, unknown>[], source: string, ttlMs: number): Promise<Delivery> {
    // An absolute expiry, so instances that join late expire the rules at the same moment.
    const expiresAt = new Date(Date.now() + ttlMs).toISOString()
    const pushed = await this.#fleet.addRules(
      this.#service,
      rules.map((r) => ({ ...(r as { id: string }), source, expiresAt })),
    )
    const urlOf = new Map(pushed.instances.map((i) => [i.id, i.adminUrl]))
    const d: Delivery = { acknowledged: {}, problems: [] }
    for (const id of pushed.acked) d.acknowledged[urlOf.get(id)!] = pushed.generation
    d.problems = [
      ...pushed.missing.map((id) => `${id}: no acknowledgement`),
      ...Object.entries(pushed.refused).map(([id, e]) => `${id}: ${e}`),
    ]
    d.error = pushError(this.#service, pushed)
    return d
  }

  async removeBySource(source: string): Promise<Removal> {
    const member = `service:${this.#service}`
    try {
      await this.#fleet.removeBySource(this.#service, source)
      return { reverted: [member], failed: [] }
    } catch (err) {
      return { reverted: [], failed: [{ member, error: err as Error }] }
    }
  }
}
