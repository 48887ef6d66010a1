/**
 * Fleet mode over Redis: the contract between sidecars and controllers (they share only src/).
 *
 *   desired   faultline:fleet:<service>:desired     JSON DesiredState, written by controllers
 *   changes   faultline:fleet:<service>:changes     pub/sub: "<epoch>:<generation>" after each write
 *   acks      faultline:fleet:<service>:acks        hash instance id -> JSON Ack
 *   acked     faultline:fleet:<service>:acked       pub/sub: JSON Ack, as each instance applies
 *   live      faultline:fleet:<service>:instances   sorted set: instance id, score = last heartbeat (ms)
 *   instance  faultline:fleet:<service>:instance:<id>  JSON InstanceInfo, expires with the heartbeat
 *
 * Rules in the desired state carry an absolute expiresAt, never a ttl, so a sidecar that joins
 * (or reconnects) late gets the same expiry as everyone else, not a fresh one.
 */
import type { FieldIssue } from './errors.ts'
import type { StoredRule } from './rules/compile.ts'

export const fleetKeys = {
  desired: (service: string) => `faultline:fleet:${service}:desired`,
  changes: (service: string) => `faultline:fleet:${service}:changes`,
  acks: (service: string) => `faultline:fleet:${service}:acks`,
  acked: (service: string) => `faultline:fleet:${service}:acked`,
  instances: (service: string) => `faultline:fleet:${service}:instances`,
  instance: (service: string, id: string) => `faultline:fleet:${service}:instance:${id}`,
}

export interface DesiredState {
  /** Chosen when a desired state is first written; a new epoch (say, after a Redis without
   * persistence restarted) makes every sidecar apply it whatever generation it had. */
  epoch: string
  generation: number
  rules: StoredRule[]
}

export interface Ack {
  instance: string
  epoch: string
  generation: number
  ok: boolean
  error?: string
  /** On a refusal: the sidecar's own error code and field errors, as its admin API would answer. */
  code?: string
  errors?: FieldIssue[]
  at: number
}

export interface InstanceInfo {
  id: string
  service: string
  adminUrl: string
  proxyUrl?: string
  pid: number
  startedAt: number
  /** The desired generation this instance applied last. */
  epoch?: string
  generation?: number
}

/** Heartbeat period, and how long an instance counts as alive without one. */
export const HEARTBEAT_MS = 2000
export const INSTANCE_TTL_MS = 6000

/** Drops rules whose expiresAt has passed: they are expired, not invalid. */
export function liveRules(rules: StoredRule[], now: number): StoredRule[] {
  return rules.filter((r) => r.expiresAt === undefined || Date.parse(r.expiresAt) > now)
}
