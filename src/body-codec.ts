/**
 * Rewrites a JSON body that may be compressed: decode per Content-Encoding, parse, transform,
 * re-encode with the same encoding. Anything that is not JSON, in an unknown encoding, or that a
 * transform rejects comes back as a reason and the caller passes the body through unchanged.
 */
import zlib from 'node:zlib'
import type { JsonTransform } from './faults/types.ts'

export type BodySkipReason = 'patch_not_json' | 'patch_failed'

export type BodyRewrite = { ok: true; body: Buffer } | { ok: false; reason: BodySkipReason }

function decode(body: Buffer, encoding: string): Buffer | undefined {
  switch (encoding) {
    case '':
    case 'identity':
      return body
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(body)
    case 'br':
      return zlib.brotliDecompressSync(body)
    case 'deflate':
      // RFC 9110 says zlib-wrapped, but some servers send raw deflate.
      try {
        return zlib.inflateSync(body)
      } catch {
        return zlib.inflateRawSync(body)
      }
    default:
      return undefined
  }
}

function encode(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gzipSync(body)
    case 'br':
      return zlib.brotliCompressSync(body)
    case 'deflate':
      return zlib.deflateSync(body)
    default:
      return body
  }
}

export function rewriteJsonBody(
  body: Buffer,
  contentEncoding: string | undefined,
  transforms: JsonTransform[],
): BodyRewrite {
  const encoding = (contentEncoding ?? '').trim().toLowerCase()
  let doc: unknown
  try {
    const plain = decode(body, encoding)
    if (plain === undefined) return { ok: false, reason: 'patch_not_json' }
    doc = JSON.parse(plain.toString('utf8'))
  } catch {
    return { ok: false, reason: 'patch_not_json' }
  }
  try {
    for (const t of transforms) doc = t(doc)
  } catch {
    return { ok: false, reason: 'patch_failed' }
  }
  return { ok: true, body: encode(Buffer.from(JSON.stringify(doc)), encoding) }
}
