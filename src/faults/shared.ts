/** Field schemas that more than one fault kind uses. */
import { number, record, string } from '../schema.ts'

/** RFC 9110 token: what a header name or method may contain. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export const statusCode = number({ integer: true, min: 200, max: 599, description: 'HTTP status code' })

/**
 * A header value Node and undici can put on the wire: tab, visible ASCII, space and obs-text
 * (U+0080-U+00FF). CR, LF and NUL would split or truncate the header; anything above U+00FF
 * cannot be encoded in a header at all.
 */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * Framing and hop-by-hop fields the sidecar manages itself. A rule that set them would desync
 * the connection or make every forwarded request fail, so they are refused at validation.
 */
const MANAGED_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
])

/** Why `name` cannot be a header a rule sets, or undefined when it can. */
export function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return 'is not a valid header name (RFC 9110 token)'
  if (MANAGED_HEADERS.has(name.toLowerCase())) return `"${name}" is managed by the sidecar and cannot be set by a rule`
  return undefined
}

export const headerValue = string({
  pattern: FIELD_VALUE,
  maxLength: 8192,
  patternMessage: 'must not contain CR, LF, NUL or characters above U+00FF (HTTP cannot carry them in a header)',
})

export const headerMap = record(headerValue, { key: headerNameProblem, description: 'header name -> value' })

/** Query names and values are percent-encoded on the way out; a lone surrogate cannot be. */
export const queryText = string({
  maxLength: 8192,
  refine: (v) => (v.isWellFormed() ? undefined : 'must be well-formed Unicode (it contains a lone surrogate)'),
})

export const queryMap = record(queryText, {
  key: (k) => (queryText.check(k, '', []) === undefined ? 'name must be well-formed Unicode' : undefined),
  description: 'query parameter -> value',
})

/**
 * An origin-form path (RFC 3986 path characters) as the sidecar forwards it: anything else,
 * raw non-ASCII included, must be percent-encoded, or the upstream request could not be sent.
 */
export const ORIGIN_PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/

/** Lower-cased header pairs, so the sidecar never lower-cases on the hot path. */
export function headerPairs(headers: Record<string, string> | undefined): [string, string][] {
  return Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])
}
