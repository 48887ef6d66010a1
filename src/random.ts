/**
 * Randomness is injected everywhere a decision is sampled, so tests can seed it and a run can
 * be replayed. `RandomSource` returns a float in [0, 1) like Math.random.
 */
export type RandomSource = () => number

/** sfc32: small, fast, good statistical quality, and seedable (Math.random is not). */
export function seededRandom(seed: number): RandomSource {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const next = (): number => {
    a |= 0
    b |= 0
    c |= 0
    d |= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next()
  return next
}

export const PPM = 1_000_000

/** Percent (0..100, decimals allowed) to parts per million, the resolution rules sample at. */
export function percentToPpm(percent: number): number {
  return Math.round(percent * 10_000)
}

/** FNV-1a over a string: a stable hash so sticky sampling agrees across retries and sidecars. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
