/**
 * Which of the matched objects a fault hits: Chaos Mesh's modes, with their exact semantics
 * (pkg/selector/generic/mode.go), and an injected random source so tests and `--seed` reproduce
 * a selection. The selection is made once per step and journalled; it is never re-rolled.
 *
 *   one                 one object, at random
 *   all                 every match
 *   fixed               `value` objects at random (all of them when fewer match)
 *   fixed-percent       ceil(count x value / 100) at random, value a whole percentage in (0, 100]
 *   random-max-percent  a whole percentage p uniform in [0, value], then ceil(count x p / 100)
 *                       (none when p is 0)
 * Rounding up is what pkg/selector/generic/mode.go does ("at least one object should be
 * selected"); some of Chaos Mesh's cloud selectors round down, the pod selector does not.
 */
export const MODES = ['one', 'all', 'fixed', 'fixed-percent', 'random-max-percent'] as const
export type Mode = (typeof MODES)[number]

/** Why `value` does not fit `mode`, or undefined. */
export function modeValueProblem(mode: Mode, value: number | undefined): string | undefined {
  if (mode === 'one' || mode === 'all') return value === undefined ? undefined : `has no meaning with mode "${mode}"`
  if (value === undefined) return `is required with mode "${mode}"`
  if (mode === 'fixed') return Number.isInteger(value) && value > 0 ? undefined : 'must be a whole number above 0'
  return Number.isInteger(value) && value > 0 && value <= 100 ? undefined : 'must be a whole percentage in (0, 100]'
}

/** `n` of `items` at random (partial Fisher-Yates), in the order picked. */
function sample<T>(items: readonly T[], n: number, random: () => number): T[] {
  const pool = [...items]
  const k = Math.min(n, pool.length)
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (pool.length - i))
    ;[pool[i], pool[j]] = [pool[j]!, pool[i]!]
  }
  return pool.slice(0, k)
}

export function selectByMode<T>(items: readonly T[], mode: Mode, value: number | undefined, random: () => number): T[] {
  const count = items.length
  switch (mode) {
    case 'one':
      return sample(items, 1, random)
    case 'all':
      return [...items]
    case 'fixed':
      return sample(items, value!, random)
    case 'fixed-percent':
      return sample(items, Math.ceil((count * value!) / 100), random)
    case 'random-max-percent': {
      // Every whole percentage from 0 to value inclusive is equally likely, as in Chaos Mesh.
      const p = Math.floor(random() * (value! + 1))
      return sample(items, Math.ceil((count * p) / 100), random)
    }
  }
}
