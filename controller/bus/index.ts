/** Picks the rule bus for a target: a fleet service goes through Redis, listed sidecars directly. */
import { errors } from '../../src/errors.ts'
import { DirectBus } from './direct.ts'
import type { FleetBus } from './fleet.ts'
import { RedisBus } from './redis.ts'
import type { RuleBus } from './types.ts'

export type { Delivery, Removal, RuleBus } from './types.ts'
export { deliveryError } from './types.ts'

export function ruleBusFor(
  target: { service?: string; sidecars?: readonly string[]; adminToken?: string },
  fleet: FleetBus | undefined,
): RuleBus {
  if (target.service) {
    if (!fleet)
      throw errors.FL_ERR_TARGET_UNRESOLVED(`service ${target.service} needs fleet mode (--redis)`, {
        issues: [{ path: '/service', message: 'needs fleet mode (--redis)' }],
      })
    return new RedisBus(fleet, target.service)
  }
  return new DirectBus(target.sidecars ?? [], target.adminToken)
}
