/** Header hygiene between client, sidecar and upstream (RFC 9110 §7.6.1 hop-by-hop fields). */
import { HEADER_FAULT_PREFIX } from '../src/constants.ts'
import type { HeaderBag } from '../src/rules/compile.ts'

// `expect` is answered by Node itself (100-continue) and undici refuses to forward it.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
])

function connectionTokens(value: string | string[] | undefined): string[] | undefined {
  if (typeof value !== 'string') return undefined
  const v = value.toLowerCase()
  if (v === 'keep-alive' || v === 'close') return undefined
  return v.split(',').map((t) => t.trim())
}

/** HOT PATH: the request headers to send upstream. */
export function upstreamRequestHeaders(src: HeaderBag, stripFaultHeaders: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const extra = connectionTokens(src.connection)
  for (const k in src) {
    const v = src[k]
    if (v === undefined || HOP_BY_HOP.has(k)) continue
    if (stripFaultHeaders && k.startsWith(HEADER_FAULT_PREFIX)) continue
    if (extra?.includes(k)) continue
    out[k] = v
  }
  return out
}

/** HOT PATH: the response headers to send the client. */
export function clientResponseHeaders(src: HeaderBag): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const extra = connectionTokens(src.connection)
  for (const k in src) {
    const v = src[k]
    if (v === undefined || HOP_BY_HOP.has(k)) continue
    if (extra?.includes(k)) continue
    out[k] = v
  }
  return out
}

export function hasRequestBody(headers: HeaderBag): boolean {
  const cl = headers['content-length']
  return (cl !== undefined && cl !== '0') || headers['transfer-encoding'] !== undefined
}
