/**
 * Direct traffic shaping: a named set of rules applied to sidecars for a duration, without an
 * experiment (for scripts and CI pipelines). The rules carry the duration as their ttl, so they
 * expire on the sidecars by themselves; the controller also removes them at expiry, on request,
 * on halt, and, after a restart, any whose time has passed.
 */
import { randomBytes } from 'node:crypto'
import { errors, type FaultlineError, type FieldIssue } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import { compileRuleSet } from '../src/rules/compile.ts'
import { ruleReference } from '../src/rules/schema.ts'
import { array, duration, type Infer, isPlainObject, object, required, string } from '../src/schema.ts'
import type { FleetBus } from './bus/fleet.ts'
import { ruleBusFor, type RuleBus } from './bus/index.ts'
import { CorruptRecords } from './store/corrupt.ts'
import type { Listing, ShapingRecord, Store } from './store/types.ts'

export const shapingSchema = object(
  {
    name: string({ maxLength: 128 }),
    sidecars: array(string({ pattern: /^https?:\/\/\S+$/ }), { minItems: 1, description: 'sidecar admin URLs' }),
    service: string({
      pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
      description: 'fleet mode: every instance of this service',
    }),
    adminToken: string(),
    duration: required(duration({ min: 1000, max: 86_400_000 })),
    rules: required(
      array(
        // Checked in full by the sidecar's own rule compiler in apply(); published as its schema.
        ruleReference('a sidecar rule; ttl, expiresAt and source are set by the controller'),
        { minItems: 1 },
      ),
    ),
  },
  {
    refine(v, path, issues) {
      if (!v.sidecars === !v.service) issues.push({ path, message: 'needs exactly one of "sidecars" and "service"' })
    },
  },
)
export type ShapingSpec = Infer<typeof shapingSchema>

/** Why a revert did not reach a sidecar, for the log: its code when it has one. */
function failure(err: unknown): { code?: string; err: string } {
  return { code: (err as FaultlineError).code, err: (err as Error).message }
}

export class ShapingManager {
  readonly #store: Store
  readonly #log: Logger
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #fleet: FleetBus | undefined

  constructor(opts: { store: Store; log: Logger; fleet?: FleetBus }) {
    this.#store = opts.store
    this.#log = opts.log.child({ component: 'shaping' })
    this.#fleet = opts.fleet
  }

  /**
   * Applies a checked shaping body (bodies.ts) to every sidecar, all or nothing: if one sidecar
   * cannot be reached or refuses, the others are reverted and the sidecar's error is thrown.
   */
  async apply(spec: ShapingSpec): Promise<ShapingRecord> {
    const issues: FieldIssue[] = []
    if (spec.service && !this.#fleet)
      issues.push({ path: '/service', message: 'needs fleet mode (controller --redis)' })
    spec.rules.forEach((r, i) => {
      for (const owned of ['ttl', 'expiresAt', 'source'])
        if (isPlainObject(r) && r[owned] !== undefined)
          issues.push({ path: `/rules/${i}/${owned}`, message: 'is set by the controller' })
    })
    const compiled = compileRuleSet({ rules: spec.rules }, { now: Date.now(), generation: 0 })
    if (!compiled.ok) issues.push(...compiled.issues)
    if (issues.length) throw errors.FL_ERR_BAD_REQUEST('invalid traffic shaping request', { issues })
    const halt = await this.#store.getHalt()
    if (halt) throw errors.FL_ERR_HALTED(halt.reason)
    // A service nobody serves would take the rules and inject nothing: say so before writing.
    if (spec.service && (await this.#fleet!.instances(spec.service)).length === 0)
      throw errors.FL_ERR_TARGET_UNRESOLVED(`fleet service ${spec.service} has no live sidecars`, {
        issues: [{ path: '/service', message: `no sidecar of "${spec.service}" is registered` }],
      })
    const id = `shape-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
    const now = Date.now()
    const rec: ShapingRecord = {
      id,
      name: spec.name,
      sidecars: spec.sidecars ?? [],
      service: spec.service,
      adminToken: spec.adminToken,
      rules: spec.rules,
      source: `shaping/${id}`,
      createdAt: now,
      expiresAt: now + spec.duration,
      acknowledged: {},
    }
    // Intent first, so a crash between here and the sidecars still leaves a record to revert.
    await this.#store.putShaping(rec)
    try {
      const delivery = await this.#bus(rec).add(spec.rules, rec.source, spec.duration)
      rec.acknowledged = delivery.acknowledged
      // Shaping is all or nothing, on a fleet service too: a sidecar that missed it is an error.
      if (delivery.error) throw delivery.error
    } catch (err) {
      // The caller gets the sidecar's error; a failed revert is logged and the rules expire.
      await this.revert(id).catch((revertErr: unknown) =>
        this.#log.error({ id, ...failure(revertErr) }, 'could not record the revert of failed shaping'),
      )
      throw err
    }
    await this.#store.putShaping(rec)
    this.#arm(rec)
    this.#log.info(
      { id, name: rec.name, sidecars: rec.sidecars, expiresAt: new Date(rec.expiresAt).toISOString() },
      'traffic shaping applied',
    )
    return rec
  }

  #arm(rec: ShapingRecord): void {
    const t = setTimeout(
      () =>
        void this.revert(rec.id).catch((err: unknown) =>
          this.#log.error({ id: rec.id, ...failure(err) }, 'could not revert expired shaping; its rules expire anyway'),
        ),
      Math.max(0, rec.expiresAt - Date.now()),
    )
    t.unref()
    this.#timers.set(rec.id, t)
  }

  async revert(id: string): Promise<ShapingRecord | undefined> {
    clearTimeout(this.#timers.get(id))
    this.#timers.delete(id)
    const { items, unreadable } = await this.#store.listShaping()
    const bad = unreadable.find((u) => u.id === id)
    if (bad) throw CorruptRecords.errorOf(bad)
    const rec = items.find((r) => r.id === id)
    if (!rec || rec.revertedAt) return rec
    try {
      const removal = await this.#bus(rec).removeBySource(rec.source)
      for (const f of removal.failed)
        this.#log.warn(
          { id, member: f.member, ...failure(f.error) },
          'could not remove shaping rules; they expire by ttl',
        )
    } catch (err) {
      this.#log.warn({ id, service: rec.service, ...failure(err) }, 'could not remove shaping rules; they expire')
    }
    rec.revertedAt = Date.now()
    await this.#store.putShaping(rec)
    this.#log.info({ id }, 'traffic shaping reverted')
    return rec
  }

  #bus(rec: ShapingRecord): RuleBus {
    return ruleBusFor({ service: rec.service, sidecars: rec.sidecars, adminToken: rec.adminToken }, this.#fleet)
  }

  /** Shaping not yet reverted, and any record that cannot be read (which may be active). */
  async active(): Promise<Listing<ShapingRecord>> {
    const { items, unreadable } = await this.#store.listShaping()
    return { items: items.filter((r) => !r.revertedAt), unreadable }
  }

  async revertAll(): Promise<string[]> {
    const ids = (await this.active()).items.map((r) => r.id)
    for (const id of ids) await this.revert(id)
    return ids
  }

  /** After a restart: revert what is due, re-arm the rest. */
  async resume(): Promise<void> {
    const { items, unreadable } = await this.active()
    for (const u of unreadable)
      this.#log.error(
        { code: u.code, record: u.record, id: u.id },
        'shaping record unreadable: cannot re-arm or revert it; its rules still expire by ttl',
      )
    for (const rec of items) {
      if (rec.expiresAt <= Date.now()) await this.revert(rec.id)
      else this.#arm(rec)
    }
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }
}
