/**
 * A sidecar in fleet mode: registers itself (heartbeat with expiry), loads its service's desired
 * rule set, follows change notices, applies, and acknowledges the generation it applied. If
 * Redis goes away the sidecar keeps serving its last good rules (which still expire by
 * themselves), ioredis reconnects with backoff, and on reconnect the sidecar resynchronises.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { Redis } from 'ioredis'
import type { FaultlineError } from '../src/errors.ts'
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
import type { RuleStore } from './rule-store.ts'

export interface FleetOptions {
  redisUrl: string
  service: string
  store: RuleStore
  log: Logger
  now?: () => number
}

function connect(url: string): Redis {
  const redis = new Redis(url, {
    // Commands fail at once while disconnected: the sidecar never waits on Redis to serve traffic.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
    lazyConnect: true,
  })
  redis.on('error', () => {})
  return redis
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

  constructor(opts: FleetOptions) {
    this.#opts = opts
    this.#cmd = connect(opts.redisUrl)
    this.#sub = connect(opts.redisUrl)
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
    const { service, log } = this.#opts
    this.#info = {
      id: this.id,
      service,
      adminUrl: urls.adminUrl,
      proxyUrl: urls.proxyUrl,
      pid: process.pid,
      startedAt: Date.now(),
    }
    this.#cmd.on('ready', () => {
      log.info({ service, instance: this.id }, 'fleet: connected to Redis, resynchronising')
      void this.#beat()
      void this.sync()
    })
    this.#cmd.on('close', () => log.warn({ service }, 'fleet: Redis connection lost; serving the last good rules'))
    this.#sub.on('ready', () => void this.#sub.subscribe(fleetKeys.changes(service)).catch(() => {}))
    this.#sub.on('message', () => void this.sync())
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS)
    this.#heartbeat.unref()
    await Promise.all([this.#cmd.connect().catch(() => {}), this.#sub.connect().catch(() => {})])
    await this.sync()
  }

  async #beat(): Promise<void> {
    const { service } = this.#opts
    if (!this.#info || this.#cmd.status !== 'ready') return
    const now = Date.now()
    const info = { ...this.#info, ...this.#applied }
    await this.#cmd
      .multi()
      .set(fleetKeys.instance(service, this.id), JSON.stringify(info), 'PX', INSTANCE_TTL_MS)
      .zadd(fleetKeys.instances(service), now, this.id)
      .exec()
      .catch(() => {})
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
        await this.#syncOnce().catch((err) =>
          this.#opts.log.warn({ err: (err as Error).message }, 'fleet: sync failed; will retry on reconnect'),
        )
      } while (this.#again)
    })().finally(() => (this.#syncing = undefined))
    return this.#syncing
  }

  async #syncOnce(): Promise<void> {
    const { service, store, log } = this.#opts
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
      ack.error =
        (err as FaultlineError).issues?.map((i) => `${i.path} ${i.message}`).join('; ') ?? (err as Error).message
      log.error({ service, generation: desired.generation, error: ack.error }, 'fleet: desired rules rejected')
    }
    await this.#cmd
      .multi()
      .hset(fleetKeys.acks(service), this.id, JSON.stringify(ack))
      .publish(fleetKeys.acked(service), JSON.stringify(ack))
      .exec()
    void this.#beat()
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat)
    const { service } = this.#opts
    if (this.#cmd.status === 'ready')
      await this.#cmd
        .multi()
        .del(fleetKeys.instance(service, this.id))
        .zrem(fleetKeys.instances(service), this.id)
        .hdel(fleetKeys.acks(service), this.id)
        .exec()
        .catch(() => {})
    this.#cmd.disconnect()
    this.#sub.disconnect()
  }
}
