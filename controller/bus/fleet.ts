/**
 * Rule delivery over Redis (fleet mode), the controller's side. A change is a read-modify-write
 * of the service's desired state under WATCH, validated with the sidecar's own rule compiler
 * first (so no sidecar ever receives a set it would refuse), then published. A fault counts as
 * injected on an instance only when that instance acknowledges the generation carrying it;
 * instances that do not answer within the timeout are reported by id.
 *
 * Redis failures are FL_ERR_REDIS on the call that needed Redis, and logged once per outage
 * (shared by the command connection and every acknowledgement subscription). Service names
 * become parts of keys, so they are checked against the name grammar first.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { errors, type FaultlineError, isFaultlineError } from '../../src/errors.ts'
import {
  type Ack,
  type DesiredState,
  fleetKeys,
  type InstanceInfo,
  INSTANCE_TTL_MS,
  liveRules,
} from '../../src/fleet.ts'
import { createLogger, type Logger } from '../../src/log.ts'
import { assertName } from '../../src/names.ts'
import { RedisOutage } from '../../src/redis-outage.ts'
import { compileRuleSet, type StoredRule } from '../../src/rules/compile.ts'
import { type SidecarAnswer, sidecarRejected, sidecarUnreachable } from '../sidecar-client.ts'

export interface PushResult {
  epoch: string
  generation: number
  /** Instances live when the change was published. */
  instances: InstanceInfo[]
  acked: string[]
  refused: Record<string, string>
  /** The refusing acknowledgements as written, for their code and field errors when they carry them. */
  refusals: Record<string, Ack>
  missing: string[]
  ms: number
}

export class FleetBus {
  readonly redis: Redis
  readonly outage: RedisOutage
  readonly #url: string
  readonly #log: Logger

  constructor(url: string, opts: { log?: Logger } = {}) {
    this.#url = url
    this.#log = (opts.log ?? createLogger({ name: 'faultline-controller' })).child({ component: 'fleet-bus' })
    this.outage = new RedisOutage(this.#log)
    this.redis = this.outage.watch(new Redis(url, { maxRetriesPerRequest: 3 }))
  }

  /**
   * Runs Redis commands; anything but a catalogue error becomes FL_ERR_REDIS with its cause.
   * Fails at once while an outage lasts on `conn`, instead of waiting out reconnect attempts.
   */
  async #call<T>(what: string, fn: () => Promise<T>, conn: { status: string } = this.redis): Promise<T> {
    this.outage.assertUp(what, conn)
    try {
      return await fn()
    } catch (err) {
      if (isFaultlineError(err)) throw err
      throw errors.FL_ERR_REDIS(`${what}: ${(err as Error).message}`, { cause: err })
    }
  }

  async instances(service: string): Promise<InstanceInfo[]> {
    assertName(service, '/service', 'service')
    return this.#call(`list the instances of ${service}`, async () => {
      const ids = await this.redis.zrangebyscore(fleetKeys.instances(service), Date.now() - INSTANCE_TTL_MS, '+inf')
      if (ids.length === 0) return []
      const infos = await this.redis.mget(ids.map((id) => fleetKeys.instance(service, id)))
      return infos.flatMap((t, i) => {
        if (t === null) return [] // its heartbeat key expired between the two reads: gone
        const info = this.#json<InstanceInfo>(t, `instance ${ids[i]} of ${service}`)
        return info ? [info] : []
      })
    })
  }

  /** Services with at least one registered instance (live or recently gone). */
  async services(): Promise<string[]> {
    return this.#call('list fleet services', async () => {
      const found = new Set<string>()
      let cursor = '0'
      do {
        const [next, batch] = await this.redis.scan(cursor, 'MATCH', 'faultline:fleet:*:instances', 'COUNT', 200)
        cursor = next
        for (const k of batch) found.add(k.split(':')[2]!)
      } while (cursor !== '0')
      return [...found].sort()
    })
  }

  async desired(service: string): Promise<DesiredState | undefined> {
    assertName(service, '/service', 'service')
    const t = await this.#call(`read the desired rules of ${service}`, () => this.redis.get(fleetKeys.desired(service)))
    return t ? this.#desired(service, t) : undefined
  }

  /** A value a sidecar wrote (an instance record, an acknowledgement), or undefined, logged, if it is not JSON. */
  #json<T>(text: string, what: string): T | undefined {
    try {
      return JSON.parse(text) as T
    } catch (err) {
      this.#log.warn({ code: errors.FL_ERR_STORE_CORRUPT.code, err }, `ignored ${what}: not JSON`)
      return undefined
    }
  }

  /** The desired state must parse: writing over one we cannot read would lose its rules. */
  #desired(service: string, text: string): DesiredState {
    try {
      return JSON.parse(text) as DesiredState
    } catch (err) {
      const record = fleetKeys.desired(service)
      this.#log.error({ code: errors.FL_ERR_STORE_CORRUPT.code, record, err }, 'desired rules are unreadable')
      throw errors.FL_ERR_STORE_CORRUPT(record, { cause: err, details: { record } })
    }
  }

  /** Applies `change` to the desired rules, publishes, and waits for acknowledgements. */
  async update(service: string, change: (rules: StoredRule[]) => StoredRule[], timeoutMs = 5000): Promise<PushResult> {
    assertName(service, '/service', 'service')
    const t0 = Date.now()
    // Subscribe before publishing so no acknowledgement can be missed.
    const sub = this.outage.watch(new Redis(this.#url, { maxRetriesPerRequest: 3 }))
    const acks = new Map<string, Ack>()
    let wake: (() => void) | undefined
    sub.on('message', (_channel, text) => {
      const ack = this.#json<Ack>(text, `an acknowledgement from ${service}`)
      if (!ack) return
      acks.set(ack.instance, ack)
      wake?.()
    })
    try {
      await this.#call(`subscribe to the acknowledgements of ${service}`, () => sub.subscribe(fleetKeys.acked(service)))
      const { epoch, generation } = await this.#call(`write the desired rules of ${service}`, () =>
        this.#write(service, change),
      )
      const instances = await this.instances(service)
      const settled = (id: string) => {
        const a = acks.get(id)
        return a !== undefined && a.epoch === epoch && a.generation >= generation
      }
      // Acknowledgements written before we subscribed (fast sidecars) are in the acks hash.
      const written = await this.#call(`read the acknowledgements of ${service}`, () =>
        this.redis.hgetall(fleetKeys.acks(service)),
      )
      for (const [id, text] of Object.entries(written)) {
        const a = this.#json<Ack>(text, `the acknowledgement of ${id} (${service})`)
        if (a && (!acks.has(id) || acks.get(id)!.generation < a.generation)) acks.set(id, a)
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
      const refusals: Record<string, Ack> = {}
      const missing: string[] = []
      for (const i of instances) {
        if (!settled(i.id)) missing.push(i.id)
        else if (acks.get(i.id)!.ok) acked.push(i.id)
        else {
          refused[i.id] = acks.get(i.id)!.error ?? 'refused'
          refusals[i.id] = acks.get(i.id)!
        }
      }
      return { epoch, generation, instances, acked, refused, refusals, missing, ms: Date.now() - t0 }
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
      const current = text ? this.#desired(service, text) : undefined
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
    // Twenty writers won in a row: contention, not a bug; the caller may retry.
    throw errors.FL_ERR_REDIS(`the desired rules of ${service} kept changing under us; gave up after 20 attempts`)
  }

  /** Adds rules (with absolute expiresAt) tagged with `source`. */
  addRules(service: string, rules: StoredRule[], timeoutMs?: number): Promise<PushResult> {
    return this.update(service, (current) => [...current, ...rules], timeoutMs)
  }

  removeBySource(service: string, source: string, timeoutMs?: number): Promise<PushResult> {
    return this.update(service, (current) => current.filter((r) => r.source !== source), timeoutMs)
  }

  async close(): Promise<void> {
    // While Redis is away QUIT would wait in the offline queue: just drop the socket then.
    if (this.redis.status !== 'ready') return this.redis.disconnect()
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

/**
 * Whether a push reached its service, as a catalogue error, or undefined when every live instance
 * acknowledged: no instances is FL_ERR_TARGET_UNRESOLVED (nothing was injected); an instance that
 * refused is FL_ERR_SIDECAR_REJECTED with its answer (the same shape as a direct sidecar's); one
 * that did not acknowledge in time is FL_ERR_SIDECAR_UNREACHABLE.
 */
export function pushError(service: string, pushed: PushResult): FaultlineError | undefined {
  if (pushed.instances.length === 0)
    return errors.FL_ERR_TARGET_UNRESOLVED(`fleet service ${service} has no live sidecars`, {
      issues: [{ path: '/service', message: `no sidecar of "${service}" is registered (or none sent a heartbeat)` }],
    })
  const urlOf = new Map(pushed.instances.map((i) => [i.id, i.adminUrl]))
  const refused = Object.entries(pushed.refused)
  if (refused.length) {
    const answers: SidecarAnswer[] = refused.map(([id, error]) => {
      // Sidecars before the code was added to acknowledgements sent only a message.
      const ack = pushed.refusals[id] as Ack | undefined
      return {
        url: urlOf.get(id) ?? id,
        instance: id,
        code: ack?.code ?? errors.FL_ERR_RULES_INVALID.code,
        errors: ack?.errors ?? [{ path: '', message: error }],
      }
    })
    const err = sidecarRejected(
      answers[0]!,
      `${refused.length} sidecar(s) of ${service} refused the rules: ${refused.map(([id, e]) => `${id}: ${e}`).join('; ')}`,
    )
    if (answers.length > 1) Object.assign(err.details!, { sidecars: answers })
    return err
  }
  if (pushed.missing.length) {
    const err = sidecarUnreachable(
      urlOf.get(pushed.missing[0]!)!,
      `${pushed.missing.length} sidecar(s) of ${service} did not acknowledge generation ${pushed.generation} in time (${pushed.missing.join(', ')})`,
    )
    Object.assign(err.details!, { instances: pushed.missing })
    return err
  }
  return undefined
}
