/** The embedded rule bus: each sidecar's admin API, called by the controller (bus/types.ts). */
import { errors, isFaultlineError } from '../../src/errors.ts'
import { SidecarClient } from '../sidecar-client.ts'
import type { Delivery, Removal, RuleBus } from './types.ts'

export class DirectBus implements RuleBus {
  readonly kind = 'direct' as const
  readonly partialOk = false
  readonly label: string
  readonly #clients: SidecarClient[]

  constructor(adminUrls: readonly string[], adminToken?: string) {
    this.#clients = adminUrls.map((url) => new SidecarClient(url, adminToken))
    this.label = adminUrls.join(', ')
  }

  async add(rules: Record<string, unknown>[], source: string, ttlMs: number): Promise<Delivery> {
    const tagged = rules.map((r) => ({ ...r, source, ttl: `${ttlMs}ms` }))
    const d: Delivery = { acknowledged: {}, problems: [] }
    for (const c of this.#clients) {
      try {
        d.acknowledged[c.adminUrl] = await c.addRules(tagged)
      } catch (err) {
        d.problems.push(`${c.adminUrl}: ${(err as Error).message}`)
        // The client's errors are coded (unreachable, or the sidecar's own refusal); keep the first.
        d.error ??= isFaultlineError(err) ? err : errors.FL_ERR_INTERNAL((err as Error).message, { cause: err })
      }
    }
    return d
  }

  async removeBySource(source: string): Promise<Removal> {
    const out: Removal = { reverted: [], failed: [] }
    // One sidecar that fails must not stop the others: try them all, then report.
    for (const c of this.#clients) {
      try {
        await c.removeBySource(source)
        out.reverted.push(c.adminUrl)
      } catch (err) {
        out.failed.push({ member: c.adminUrl, error: err as Error })
      }
    }
    return out
  }
}
