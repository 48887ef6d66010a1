/** Field schemas that more than one fault kind uses. */
import { number, record, string } from '../schema.ts'

/** RFC 9110 token: what a header name or method may contain. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export const statusCode = number({ integer: true, min: 200, max: 599, description: 'HTTP status code' })

export const headerMap = record(string({ maxLength: 8192 }), {
  key: TOKEN,
  description: 'header name -> value',
})

export const queryMap = record(string({ maxLength: 8192 }), { description: 'query parameter -> value' })

/** Lower-cased header pairs, so the sidecar never lower-cases on the hot path. */
export function headerPairs(headers: Record<string, string> | undefined): [string, string][] {
  return Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])
}
