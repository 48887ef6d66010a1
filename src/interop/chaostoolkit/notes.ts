/** Collects what a translation could not carry exactly: approximations (notes) and refusals (errors). */
import { errors, type FieldIssue } from '../../errors.ts'
import type { InteropNote } from '../types.ts'

export class Notes {
  readonly approximations: InteropNote[] = []
  readonly refusals: FieldIssue[] = []

  approx(path: string, message: string): void {
    this.approximations.push({ path, message })
  }

  refuse(path: string, message: string): undefined {
    this.refusals.push({ path, message })
    return undefined
  }

  /** Throws FL_ERR_EXPERIMENT_INVALID listing every refusal, if there is any. */
  throwIfRefused(file: string, title: string): void {
    if (!this.refusals.length) return
    throw errors.FL_ERR_EXPERIMENT_INVALID(
      `${file}: ${this.refusals.length} ${title} field(s) faultline cannot run: ${this.refusals
        .map((r) => `${r.path} ${r.message}`)
        .join('; ')}`,
      { issues: this.refusals },
    )
  }
}

/** JSON pointer segment escaping. */
export const at = (base: string, ...keys: (string | number)[]) =>
  keys.reduce<string>((p, k) => `${p}/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`, base)

/**
 * A duration as the document writes it (`"1500ms"`). Builders use the validated types, whose
 * durations are ms numbers; validation turns these strings into them.
 */
export const dur = (ms: number): number => `${Math.round(ms)}ms` as unknown as number
