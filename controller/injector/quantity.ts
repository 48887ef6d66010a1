/**
 * Kubernetes resource quantities ("100m", "0.5", "128Mi", "1e3"), parsed only far enough to
 * refuse a malformed one and to compare a request with its limit: the API server rejects a pod
 * whose request exceeds its limit, and a patch that made a pod invalid would block its creation
 * — the one thing a fail-open injector must never do.
 */

const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
}

// The exponent form comes first so "1E3" is 1000, not "1E" (exa) followed by garbage.
const QUANTITY = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/

/** The quantity's value in base units, or undefined when the text is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text.trim() === text ? text : '')
  if (!m) return undefined
  const base = Number(m[1])
  if (m[2]) return base * 10 ** Number(m[2].slice(1))
  return base * SUFFIX[m[3] ?? '']!
}

/** The problem with `text` as a quantity, or undefined when it is one. */
export function quantityProblem(text: string): string | undefined {
  return parseQuantity(text) === undefined
    ? `must be a Kubernetes quantity such as "100m", "0.5", "128Mi" or "1G", got "${text}"`
    : undefined
}
