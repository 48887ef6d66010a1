/**
 * A sidecar in fleet mode: registers itself (heartbeat with expiry), loads its service's desired
 * rule set, follows change notices, applies, and acknowledges the generation it applied. If
 * Redis goes away the sidecar keeps serving its last good rules (which still expire by
 * themselves), ioredis reconnects with backoff, and on reconnect the sidecar resynchronises.
 *
 * While it cannot follow (Redis down, subscription failed, last sync failed) it is *stale*:
 * logged once per outage with FL_ERR_REDIS / FL_ERR_FLEET_STALE, shown in /readyz and /stats.
 * Staleness never makes the sidecar unready: a Redis outage must not take the app out of rotation.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { createRequire } from 'node:module'
import type { ChainableCommander, Redis } from 'ioredis'
import { errors, type FaultlineError, isFaultlineError } from '../src/errors.ts'
import {
  type Ack,
  type DesiredState,
  fleetKeys,
  HEARTBEAT_MS,
  type InstanceInfo,
  INSTANCE_TTL_MS,
  liveRules,
} from '../src/fleet.ts'
import type { Logger } from '../src/log.ts'
import { RedisOutage } from '../src/redis-outage.ts'
import type { RuleStore } from './rule-store.ts'

export interface FleetOptions {
  redisUrl: string
  service: string
  store: RuleStore
  log: Logger
  now?: () => number
}

/** How often a failed subscription is retried while the connection stays up. */
const RESUBSCRIBE_MS = 1000

/**
 * ioredis (a CommonJS package) is loaded on first use: a sidecar outside fleet mode never pays
 * its ~6 MB of RSS. require() is synchronous, so the follower can still be built synchronously.
 */
const load = createRequire(import.meta.url)

function connect(url: string): Redis {
  const { Redis: RedisClient } = load('ioredis') as typeof import('ioredis')
  const redis = new RedisClient(url, {
    // Commands fail at once while disconnected: the sidecar never waits on Redis to serve traffic.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
    lazyConnect: true,
  })
  return redis
}

export type StaleReason = 'redis-unreachable' | 'not-subscribed' | 'sync-failed'

export interface FleetStatus {
  connected: boolean
  subscribed: boolean
  /** Why this sidecar may be missing rule changes; absent when it is following. */
  stale?: { code: 'FL_ERR_FLEET_STALE'; reason: StaleReason; since: string; error?: string }
}

export class FleetSource {
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  readonly #opts: FleetOptions
  readonly #cmd: Redis
  readonly #sub: Redis
  #info: InstanceInfo | undefined
  #applied: { epoch: string; generation: number } | undefined
  #heartbeat: NodeJS.Timeout | undefined
  #syncing: Promise<void> | undefined
  #again = false
  #loaded = false
  #subscribed = false
  #syncError: string | undefined
  #resubscribe: NodeJS.Timeout | undefined
  #stale: { reason: StaleReason; since: number } | undefined
  readonly #log: Logger
  /** Connection errors of both connections: logged once per outage (FL_ERR_REDIS). */
  readonly #outage: RedisOutage

  constructor(opts: FleetOptions) {
    this.#opts = opts
    this.#log = opts.log.child({ component: 'fleet', service: opts.service })
    this.#outage = new RedisOutage(this.#log)
    this.#cmd = this.#outage.watch(connect(opts.redisUrl))
    this.#sub = this.#outage.watch(connect(opts.redisUrl))
  }

  /** A command that failed while the connection is down is part of the outage already logged. */
  #commandFailed = (what: string) => (err: unknown) =>
    this.#log.debug({ code: 'FL_ERR_REDIS', err: { message: (err as Error).message } }, `fleet: ${what} failed`)

  status(): FleetStatus {
    const connected = this.connected
    const out: FleetStatus = { connected, subscribed: this.#subscribed }
    const reason: StaleReason | undefined = !connected
      ? 'redis-unreachable'
      : !this.#subscribed
        ? 'not-subscribed'
        : this.#syncError
          ? 'sync-failed'
          : undefined
    if (reason !== this.#stale?.reason) this.#stale = reason && { reason, since: Date.now() }
    if (reason)
      out.stale = {
        code: 'FL_ERR_FLEET_STALE',
        reason,
        since: new Date(this.#stale!.since).toISOString(),
        error: this.#syncError ?? this.#outage.lastError?.message,
      }
    return out
  }

  /** True once a desired state (or its absence) has been read from Redis at least once. */
  get loaded(): boolean {
    return this.#loaded
  }

  get applied(): { epoch: string; generation: number } | undefined {
    return this.#applied
  }

  get connected(): boolean {
    return this.#cmd.status === 'ready'
  }

  /** Connects and syncs; resolves even if Redis is down (the sidecar serves without it). */
  async start(urls: { adminUrl: string; proxyUrl: string }): Promise<void> {
    const { service } = this.#opts
    const log = this.#log
    this.#info = {
      id: this.id,
      service,
      adminUrl: urls.adminUrl,
      proxyUrl: urls.proxyUrl,
      pid: process.pid,
      startedAt: Date.now(),
    }
    this.#cmd.on('ready', () => {
      log.info({ instance: this.id }, 'fleet: connected to Redis, resynchronising')
      void this.#beat()
      void this.sync()
    })
    this.#cmd.on('close', () => log.warn('fleet: Redis connection lost; serving the last good rules'))
    this.#sub.on('ready', this.#subscribe)
    this.#sub.on('close', () => (this.#subscribed = false))
    this.#sub.on('message', () => void this.sync())
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS)
    this.#heartbeat.unref()
    // A failed first connect is an outage like any other: ioredis keeps retrying in the background.
    await Promise.all([
      this.#cmd.connect().catch(this.#commandFailed('first connect')),
      this.#sub.connect().catch(this.#commandFailed('first connect')),
    ])
    await this.sync()
  }

  /** Subscribes to change notices; a failure is logged and retried, never dropped. */
  #subscribe = (): void => {
    clearTimeout(this.#resubscribe)
    this.#sub.subscribe(fleetKeys.changes(this.#opts.service)).then(
      () => {
        this.#subscribed = true
        // Notices published while unsubscribed were missed: catch up.
        void this.sync()
      },
      (err: unknown) => {
        this.#subscribed = false
        this.#log.error(
          { code: 'FL_ERR_FLEET_STALE', err: { message: (err as Error).message } },
          'fleet: cannot subscribe to rule changes; retrying',
        )
        if (this.#sub.status === 'ready') this.#resubscribe = setTimeout(this.#subscribe, RESUBSCRIBE_MS).unref()
      },
    )
  }

  async #beat(): Promise<void> {
    if (!this.#info || this.#cmd.status !== 'ready') return
    await this.#withBeat(this.#cmd.multi()).exec().catch(this.#commandFailed('heartbeat'))
  }

  /** Adds the heartbeat (this instance's info, with the generation it applied) to a transaction. */
  #withBeat(multi: ChainableCommander): ChainableCommander {
    const { service } = this.#opts
    if (!this.#info) return multi
    const info = { ...this.#info, ...this.#applied }
    return multi
      .set(fleetKeys.instance(service, this.id), JSON.stringify(info), 'PX', INSTANCE_TTL_MS)
      .zadd(fleetKeys.instances(service), Date.now(), this.id)
  }

  /** Reads the desired state and applies it if it is new; coalesces concurrent calls. */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true
      return this.#syncing
    }
    this.#syncing = (async () => {
      do {
        this.#again = false
        await this.#syncOnce().then(
          () => (this.#syncError = undefined),
          (err: unknown) => {
            const message = (err as Error).message
            // While Redis is down the outage is already reported; otherwise each new cause once.
            if (this.connected && message !== this.#syncError)
              this.#log.error(
                { code: 'FL_ERR_FLEET_STALE', err: { message } },
                'fleet: cannot read or apply the desired rules; keeping the last good ones',
              )
            this.#syncError = message
          },
        )
      } while (this.#again)
    })().finally(() => (this.#syncing = undefined))
    return this.#syncing
  }

  async #syncOnce(): Promise<void> {
    const { service, store } = this.#opts
    const log = this.#log
    const text = await this.#cmd.get(fleetKeys.desired(service))
    this.#loaded = true
    if (!text) return
    const desired = JSON.parse(text) as DesiredState
    const a = this.#applied
    if (a && a.epoch === desired.epoch && a.generation >= desired.generation) return
    const now = this.#opts.now?.() ?? Date.now()
    const ack: Ack = {
      instance: this.id,
      epoch: desired.epoch,
      generation: desired.generation,
      ok: true,
      at: Date.now(),
    }
    try {
      store.replace({ rules: liveRules(desired.rules, now) })
      this.#applied = { epoch: desired.epoch, generation: desired.generation }
      log.info(
        { service, generation: desired.generation, rules: store.snapshot.rules.length },
        'fleet: applied desired rules',
      )
    } catch (err) {
      // Keep the last good rules; tell the controller why this generation was refused.
      ack.ok = false
      const e = err as FaultlineError
      ack.error = e.issues?.map((i) => `${i.path} ${i.message}`).join('; ') ?? e.message
      // The same code and field errors the admin API would answer with, so the controller's
      // caller sees the sidecar's own refusal (FL_ERR_SIDECAR_REJECTED carries them).
      ack.code = isFaultlineError(err) ? err.code : errors.FL_ERR_INTERNAL.code
      if (e.issues) ack.errors = e.issues
      log.error({ service, generation: desired.generation, error: ack.error }, 'fleet: desired rules rejected')
    }
    // One transaction: whoever reads the acknowledgement also reads the instance at that generation.
    await this.#withBeat(
      this.#cmd
        .multi()
        .hset(fleetKeys.acks(service), this.id, JSON.stringify(ack))
        .publish(fleetKeys.acked(service), JSON.stringify(ack)),
    ).exec()
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat)
    clearTimeout(this.#resubscribe)
    const { service } = this.#opts
    if (this.#cmd.status === 'ready')
      await this.#cmd
        .multi()
        .del(fleetKeys.instance(service, this.id))
        .zrem(fleetKeys.instances(service), this.id)
        .hdel(fleetKeys.acks(service), this.id)
        .exec()
        .catch((err: unknown) =>
          // The registration expires by itself within INSTANCE_TTL_MS; worth a note, not a failure.
          this.#log.warn(
            { code: 'FL_ERR_REDIS', err: { message: (err as Error).message } },
            'fleet: could not deregister',
          ),
        )
    this.#cmd.disconnect()
    this.#sub.disconnect()
  }
}
