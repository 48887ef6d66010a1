/**
 * Looking repeatedly without inflating false alarms: the error rate of a phase is spent over its
 * planned looks (Bonferroni). Each of the K planned looks gets alpha / (K + 1); the remaining
 * alpha / (K + 1) is a reserve for looks past the plan (a method that overran), halved at each
 * one, so the sum over any number of looks stays below alpha. Clauses are corrected with Holm
 * within a look's share. Pure.
 */
import { holm, holmLevel } from './statistics.ts'

/** Looks planned over `spanMs` sampled every `intervalMs`: one per interval, plus the final one. */
export function plannedLooks(spanMs: number, intervalMs: number): number {
  if (!Number.isFinite(spanMs) || spanMs <= 0) return 1
  return Math.max(1, Math.ceil(spanMs / intervalMs)) + 1
}

/** The level spent at look `look` (1-based) of `planned`. */
export function lookLevel(alpha: number, look: number, planned: number): number {
  const share = alpha / (planned + 1)
  return look <= planned ? share : share * 2 ** -(look - planned)
}

/**
 * The latest failing-test p-value of every statistical clause in a phase (unreported clauses
 * count as 1: not rejected), so each check applies Holm across all the hypothesis's clauses.
 */
export class HolmBoard {
  readonly #p = new Map<string, number>()

  constructor(keys: string[]) {
    for (const k of keys) this.#p.set(k, 1)
  }

  post(key: string, p: number): void {
    this.#p.set(key, p)
  }

  /** Whether Holm rejects `key` at family level `alpha`, and the level its rank compares with. */
  judge(key: string, alpha: number): { rejected: boolean; level: number } {
    const keys = [...this.#p.keys()]
    const ps = keys.map((k) => this.#p.get(k)!)
    const i = keys.indexOf(key)
    return { rejected: holm(ps, alpha)[i] ?? false, level: holmLevel(ps, i, alpha) }
  }
}
