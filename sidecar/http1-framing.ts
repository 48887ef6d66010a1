/**
 * Just enough HTTP/1.1 framing (RFC 9112) to relay ONE message at a time through a tunnel
 * (tunnel.ts): split a header block off the bytes read so far, and find where a message's body
 * ends (content-length, chunked, or the connection's close). Nothing here buffers a body; the
 * tunnel forwards each chunk as it is counted. Strict on purpose: bare LF line ends, obs-fold,
 * a content-length next to transfer-encoding, or conflicting lengths are refused, because two
 * parsers reading the same bytes differently is how requests are smuggled.
 */
import { errors, type FaultlineError } from '../src/errors.ts'

/** Largest header block accepted (Node's own default --max-http-header-size is 16 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024
/** Longest chunk-size or trailer line accepted. */
const MAX_LINE_BYTES = 4096

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const CRLFCRLF = Buffer.from('\r\n\r\n')

export interface Head {
  /** The request or status line, as sent. */
  startLine: string
  /** Header fields in order, names and values as sent (values trimmed of surrounding blanks). */
  fields: Array<[name: string, value: string]>
}

/** A framing problem: the caller answers 400 (a request) or 502 (a response), or cuts the connection. */
export class FramingError extends Error {}

/**
 * Splits the header block off the front of `bytes`: undefined while it is incomplete, else the
 * parsed head and the bytes after it. Throws FramingError when the block is malformed or larger
 * than MAX_HEAD_BYTES.
 */
export function splitHead(bytes: Buffer): { head: Head; rest: Buffer } | undefined {
  const end = bytes.indexOf(CRLFCRLF)
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) throw new FramingError(`header block larger than ${MAX_HEAD_BYTES} bytes`)
    return undefined
  }
  if (end > MAX_HEAD_BYTES) throw new FramingError(`header block larger than ${MAX_HEAD_BYTES} bytes`)
  const text = bytes.toString('latin1', 0, end)
  if (/\r(?!\n)|(?<!\r)\n|\0/.test(text)) throw new FramingError('bare CR, LF or NUL in the header block')
  const [startLine, ...lines] = text.split('\r\n')
  const fields: Head['fields'] = []
  for (const line of lines) {
    const colon = line.indexOf(':')
    const name = colon > 0 ? line.slice(0, colon) : ''
    if (!TOKEN.test(name)) throw new FramingError(`malformed header line ${JSON.stringify(line.slice(0, 40))}`)
    fields.push([name, line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')])
  }
  return { head: { startLine: startLine!, fields }, rest: bytes.subarray(end + 4) }
}

export function serializeHead(head: Head): Buffer {
  let text = head.startLine + '\r\n'
  for (const [name, value] of head.fields) text += `${name}: ${value}\r\n`
  return Buffer.from(text + '\r\n', 'latin1')
}

function values(head: Head, name: string): string[] {
  return head.fields.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v)
}

/** How a message's body is delimited. */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; bytes: number } | { kind: 'chunked' } | { kind: 'close' }

/** RFC 9112 §6.3 for the two framing headers; `close` is what a response without either means. */
function framingOf(head: Head, withoutEither: BodyFraming): BodyFraming {
  const te = values(head, 'transfer-encoding')
  const cl = values(head, 'content-length')
  if (te.length) {
    if (cl.length) throw new FramingError('both transfer-encoding and content-length')
    const codings = te
      .join(',')
      .split(',')
      .map((c) => c.trim().toLowerCase())
    return codings.at(-1) === 'chunked' ? { kind: 'chunked' } : { kind: 'close' }
  }
  if (!cl.length) return withoutEither
  const lengths = new Set(
    cl
      .join(',')
      .split(',')
      .map((v) => v.trim()),
  )
  const [only] = lengths
  if (lengths.size !== 1 || !/^\d{1,15}$/.test(only!)) throw new FramingError('invalid or conflicting content-length')
  const bytes = Number(only)
  return bytes === 0 ? { kind: 'none' } : { kind: 'length', bytes }
}

/** A request's body: a request cannot be delimited by closing the connection, so that is refused. */
export function requestFraming(head: Head): BodyFraming {
  const f = framingOf(head, { kind: 'none' })
  if (f.kind === 'close') throw new FramingError('a request transfer-encoding must end in chunked')
  return f
}

/** A final (non-1xx) response's body, given the request method it answers. */
export function responseFraming(head: Head, status: number, requestMethod: string): BodyFraming {
  if (requestMethod === 'HEAD' || status === 204 || status === 304) return { kind: 'none' }
  return framingOf(head, { kind: 'close' })
}

/** The status code of a response head, or a FramingError. */
export function statusOf(head: Head): number {
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(head.startLine)
  if (!m) throw new FramingError(`malformed status line ${JSON.stringify(head.startLine.slice(0, 40))}`)
  return Number(m[1])
}

/**
 * Counts one body across any number of reads: `take(chunk)` says how many bytes at its start
 * belong to the body; `done` turns true after the last one. A `close` body never ends here (the
 * caller ends it when the connection ends). Throws FramingError on a malformed chunked body.
 */
export class BodyCounter {
  #framing: BodyFraming
  #remaining: number
  #state: 'size' | 'data' | 'data-end' | 'trailer' | 'done'
  #line = ''

  constructor(framing: BodyFraming) {
    this.#framing = framing
    this.#remaining = framing.kind === 'length' ? framing.bytes : 0
    this.#state = framing.kind === 'none' ? 'done' : framing.kind === 'chunked' ? 'size' : 'data'
  }

  get done(): boolean {
    return this.#state === 'done'
  }

  take(chunk: Buffer): number {
    if (this.#framing.kind === 'close') return chunk.length
    let i = 0
    while (i < chunk.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const n = Math.min(this.#remaining, chunk.length - i)
        i += n
        this.#remaining -= n
        if (this.#remaining === 0) this.#state = this.#framing.kind === 'length' ? 'done' : 'data-end'
        continue
      }
      // Line states (chunk size, the CRLF after a chunk's data, trailer fields): read to LF.
      const lf = chunk.indexOf(0x0a, i)
      const end = lf < 0 ? chunk.length : lf + 1
      this.#line += chunk.toString('latin1', i, end)
      i = end
      if (this.#line.length > MAX_LINE_BYTES) throw new FramingError('chunked body line too long')
      if (lf < 0) break
      if (!this.#line.endsWith('\r\n')) throw new FramingError('bare LF in a chunked body')
      const line = this.#line.slice(0, -2)
      this.#line = ''
      this.#onLine(line)
    }
    return i
  }

  #onLine(line: string): void {
    if (this.#state === 'size') {
      const m = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line)
      if (!m) throw new FramingError(`malformed chunk size ${JSON.stringify(line.slice(0, 20))}`)
      this.#remaining = parseInt(m[1]!, 16)
      this.#state = this.#remaining === 0 ? 'trailer' : 'data'
    } else if (this.#state === 'data-end') {
      if (line !== '') throw new FramingError('chunk data longer than its size')
      this.#state = 'size'
    } else if (line === '') this.#state = 'done' // the empty line after the trailer fields
  }
}

/** A 400 for a request the tunnel cannot frame. */
export function badRequest(err: FramingError): FaultlineError {
  return errors.FL_ERR_BAD_REQUEST(err.message, { issues: [{ path: '', message: err.message }] })
}
