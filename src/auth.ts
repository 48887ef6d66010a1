/** Bearer-token comparison in constant time (a timing difference must not reveal the token). */
import { timingSafeEqual } from 'node:crypto'

export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice(7))
  const want = Buffer.from(token)
  return given.length === want.length && timingSafeEqual(given, want)
}
