/**
 * Rule delivery over Redis (fleet mode), the controller's side. A change is a read-modify-write
 * of the service's desired state under WATCH, validated with the sidecar's own rule compiler
 * first (so no sidecar ever receives a set it would refuse), then published. A fault counts as
 * injected on an instance only when that instance acknowledges the generation carrying it;
 * instances that do not answer within the timeout are reported by id.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { errors } from '../../src/errors.ts'
import {
  type Ack,
  type DesiredState,
  fleetKeys,
  type InstanceInfo,
  INSTANCE_TTL_MS,
  liveRules,
} from '../../src/fleet.ts'
import { compileRuleSet, type StoredRule } from '../../src/rules/compile.ts'

export interface PushResult {
  epoch: string
  generation: number
  /** Instances live when the change was published. */
  instances: InstanceInfo[]
  acked: string[]
  refused: Record<string, string>
  missing: string[]
  ms: number
}

export class FleetBus {
  readonly redis: Redis
  readonly #url: string

  constructor(url: string) {
    this.#url = url
    this.redis = new Redis(url, { maxRetriesPerRequest: 3 })
    this.redis.on('error', () => {})
  }

  async instances(service: string): Promise<InstanceInfo[]> {
    const ids = await this.redis.zrangebyscore(fleetKeys.instances(service), Date.now() - INSTANCE_TTL_MS, '+inf')
    if (ids.length === 0) return []
    const infos = await this.redis.mget(ids.map((id) => fleetKeys.instance(service, id)))
    return infos.filter((t): t is string => t !== null).map((t) => JSON.parse(t) as InstanceInfo)
  }

  /** Services with at least one registered instance (live or recently gone). */
  async services(): Promise<string[]> {
    const found = new Set<string>()
    let cursor = '0'
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', 'faultline:fleet:*:instances', 'COUNT', 200)
      cursor = next
      for (const k of batch) found.add(k.split(':')[2]!)
    } while (cursor !== '0')
    return [...found].sort()
  }

  async desired(service: string): Promise<DesiredState | undefined> {
    const t = await this.redis.get(fleetKeys.desired(service))
    return t ? (JSON.parse(t) as DesiredState) : undefined
  }

  /** Applies `change` to the desired rules, publishes, and waits for acknowledgements. */
  async update(service: string, change: (rules: StoredRule[]) => StoredRule[], timeoutMs = 5000): Promise<PushResult> {
    const t0 = Date.now()
    // Subscribe before publishing so no acknowledgement can be missed.
    const sub = new Redis(this.#url, { maxRetriesPerRequest: 3 })
    sub.on('error', () => {})
    const acks = new Map<string, Ack>()
    let wake: (() => void) | undefined
    sub.on('message', (_channel, text) => {
      const ack = JSON.parse(text) as Ack
      acks.set(ack.instance, ack)
      wake?.()
    })
    try {
      await sub.subscribe(fleetKeys.acked(service))
      const { epoch, generation } = await this.#write(service, change)
      const instances = await this.instances(service)
      const settled = (id: string) => {
        const a = acks.get(id)
        return a !== undefined && a.epoch === epoch && a.generation >= generation
      }
      // Acknowledgements written before we subscribed (fast sidecars) are in the acks hash.
      for (const [id, text] of Object.entries(await this.redis.hgetall(fleetKeys.acks(service)))) {
        const a = JSON.parse(text) as Ack
        if (!acks.has(id) || acks.get(id)!.generation < a.generation) acks.set(id, a)
      }
      const deadline = Date.now() + timeoutMs
      while (!instances.every((i) => settled(i.id)) && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now())))
        })
      }
      const acked: string[] = []
      const refused: Record<string, string> = {}
      const missing: string[] = []
      for (const i of instances) {
        if (!settled(i.id)) missing.push(i.id)
        else if (acks.get(i.id)!.ok) acked.push(i.id)
        else refused[i.id] = acks.get(i.id)!.error ?? 'refused'
      }
      return { epoch, generation, instances, acked, refused, missing, ms: Date.now() - t0 }
    } finally {
      sub.disconnect()
    }
  }

  async #write(
    service: string,
    change: (rules: StoredRule[]) => StoredRule[],
  ): Promise<{ epoch: string; generation: number }> {
    const key = fleetKeys.desired(service)
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.redis.watch(key)
      const text = await this.redis.get(key)
      const current = text ? (JSON.parse(text) as DesiredState) : undefined
      const rules = change(liveRules(current?.rules ?? [], Date.now()))
      const check = compileRuleSet({ rules }, { now: Date.now(), generation: 0 })
      if (!check.ok) {
        await this.redis.unwatch()
        throw errors.FL_ERR_RULES_INVALID(`for service ${service}`, { issues: check.issues })
      }
      const next: DesiredState = {
        epoch: current?.epoch ?? randomBytes(4).toString('hex'),
        generation: (current?.generation ?? 0) + 1,
        rules,
      }
      const done = await this.redis
        .multi()
        .set(key, JSON.stringify(next))
        .publish(fleetKeys.changes(service), `${next.epoch}:${next.generation}`)
        .exec()
      if (done) return next
    }
    throw new Error(`desired state of ${service} kept changing under us; gave up after 20 attempts`)
  }

  /** Adds rules (with absolute expiresAt) tagged with `source`. */
  addRules(service: string, rules: StoredRule[], timeoutMs?: number): Promise<PushResult> {
    return this.update(service, (current) => [...current, ...rules], timeoutMs)
  }

  removeBySource(service: string, source: string, timeoutMs?: number): Promise<PushResult> {
    return this.update(service, (current) => current.filter((r) => r.source !== source), timeoutMs)
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}
