/** Exit codes a command check or run step accepts: one code, an inclusive range "lo-hi", or a list of them. */
export type ExitCodes = number | string | (number | string)[]

export function exitCodeAccepted(code: number, accepted: ExitCodes): boolean {
  return [accepted].flat().some((a) => {
    if (typeof a === 'number') return a === code
    const [lo, hi] = a.split('-').map(Number) as [number, number]
    return code >= lo && code <= hi
  })
}
