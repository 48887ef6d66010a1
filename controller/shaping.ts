/**
 * Direct traffic shaping: a named set of rules applied to sidecars for a duration, without an
 * experiment (for scripts and CI pipelines). The rules carry the duration as their ttl, so they
 * expire on the sidecars by themselves; the controller also removes them at expiry, on request,
 * on halt, and, after a restart, any whose time has passed.
 */
import { randomBytes } from 'node:crypto'
import { errors, type FieldIssue } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import { compileRuleSet } from '../src/rules/compile.ts'
import { array, duration, isPlainObject, object, required, string } from '../src/schema.ts'
import type { FleetBus } from './bus/fleet.ts'
import { SidecarClient } from './sidecar-client.ts'
import type { ShapingRecord, Store } from './store/types.ts'

export const shapingSchema = object({
  name: string({ maxLength: 128 }),
  sidecars: array(string({ pattern: /^https?:\/\/\S+$/ }), { minItems: 1, description: 'sidecar admin URLs' }),
  service: string({
    pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    description: 'fleet mode: every instance of this service',
  }),
  adminToken: string(),
  duration: required(duration({ min: 1000, max: 86_400_000 })),
  rules: required(array({ json: { type: 'object' }, check: (v) => v as Record<string, unknown> }, { minItems: 1 })),
})

export class ShapingManager {
  readonly #store: Store
  readonly #log: Logger
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #fleet: FleetBus | undefined

  constructor(opts: { store: Store; log: Logger; fleet?: FleetBus }) {
    this.#store = opts.store
    this.#log = opts.log
    this.#fleet = opts.fleet
  }

  async apply(body: unknown): Promise<ShapingRecord> {
    const issues: FieldIssue[] = []
    const spec = shapingSchema.check(body, '', issues)
    if (spec) {
      if (!spec.sidecars === !spec.service)
        issues.push({ path: '', message: 'needs exactly one of "sidecars" and "service"' })
      if (spec.service && !this.#fleet)
        issues.push({ path: '/service', message: 'needs fleet mode (controller --redis)' })
      spec.rules.forEach((r, i) => {
        for (const owned of ['ttl', 'expiresAt', 'source'])
          if (isPlainObject(r) && r[owned] !== undefined)
            issues.push({ path: `/rules/${i}/${owned}`, message: 'is set by the controller' })
      })
      const compiled = compileRuleSet({ rules: spec.rules }, { now: Date.now(), generation: 0 })
      if (!compiled.ok) issues.push(...compiled.issues)
    }
    if (!spec || issues.length) throw errors.FL_ERR_BAD_REQUEST('invalid traffic shaping request', { issues })
    const halt = await this.#store.getHalt()
    if (halt) throw errors.FL_ERR_HALTED(halt.reason)
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
      if (rec.service) {
        const expiresAt = new Date(rec.expiresAt).toISOString()
        const rules = spec.rules.map((r) => ({ ...(r as { id: string }), source: rec.source, expiresAt }))
        const pushed = await this.#fleet!.addRules(rec.service, rules)
        for (const i of pushed.instances)
          if (pushed.acked.includes(i.id)) rec.acknowledged[i.adminUrl] = pushed.generation
      } else {
        const rules = spec.rules.map((r) => ({ ...r, source: rec.source, ttl: `${spec.duration}ms` }))
        for (const url of rec.sidecars)
          rec.acknowledged[url] = await new SidecarClient(url, rec.adminToken).addRules(rules)
      }
    } catch (err) {
      await this.revert(id)
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
    const t = setTimeout(() => void this.revert(rec.id), Math.max(0, rec.expiresAt - Date.now()))
    t.unref()
    this.#timers.set(rec.id, t)
  }

  async revert(id: string): Promise<ShapingRecord | undefined> {
    clearTimeout(this.#timers.get(id))
    this.#timers.delete(id)
    const rec = (await this.#store.listShaping()).find((r) => r.id === id)
    if (!rec || rec.revertedAt) return rec
    if (rec.service)
      await this.#fleet?.removeBySource(rec.service, rec.source).catch((err) => {
        this.#log.warn(
          { id, service: rec.service, err: (err as Error).message },
          'could not remove shaping rules; they expire',
        )
      })
    for (const url of rec.sidecars) {
      try {
        await new SidecarClient(url, rec.adminToken).removeBySource(rec.source)
      } catch (err) {
        this.#log.warn({ id, url, err: (err as Error).message }, 'could not remove shaping rules; they expire by ttl')
      }
    }
    rec.revertedAt = Date.now()
    await this.#store.putShaping(rec)
    this.#log.info({ id }, 'traffic shaping reverted')
    return rec
  }

  async active(): Promise<ShapingRecord[]> {
    return (await this.#store.listShaping()).filter((r) => !r.revertedAt)
  }

  async revertAll(): Promise<string[]> {
    const ids = (await this.active()).map((r) => r.id)
    for (const id of ids) await this.revert(id)
    return ids
  }

  /** After a restart: revert what is due, re-arm the rest. */
  async resume(): Promise<void> {
    for (const rec of await this.active()) {
      if (rec.expiresAt <= Date.now()) await this.revert(rec.id)
      else this.#arm(rec)
    }
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }
}
