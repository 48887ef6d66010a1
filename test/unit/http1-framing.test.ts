/** The relay's HTTP/1.1 framing (sidecar/http1-framing.ts): where one message ends, whatever the reads. */
import { describe, expect, it } from 'vitest'
import {
  BodyCounter,
  FramingError,
  requestFraming,
  responseFraming,
  splitHead,
  statusOf,
} from '../../sidecar/http1-framing.ts'

const head = (text: string) => splitHead(Buffer.from(text + '\r\n\r\n', 'latin1'))!.head

/** Feeds `bytes` in pieces of `size`; returns how many were taken and whether the body ended. */
function count(framing: ReturnType<typeof requestFraming>, bytes: string, size: number) {
  const c = new BodyCounter(framing)
  const buf = Buffer.from(bytes, 'latin1')
  let taken = 0
  for (let i = 0; i < buf.length && !c.done; i += size) taken += c.take(buf.subarray(i, i + size))
  return { taken, done: c.done }
}

describe('http1 framing', () => {
  const chunked = '5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\ntrailer: 1\r\n\r\n'

  it.each([1, 2, 3, 7, 1000])('a chunked body ends at its last CRLF, read %i bytes at a time', (size) => {
    expect(count({ kind: 'chunked' }, chunked + 'GET / HTTP/1.1\r\n\r\n', size)).toEqual({
      taken: chunked.length,
      done: true,
    })
  })

  it.each([1, 4, 1000])('a sized body ends after content-length bytes, read %i at a time', (size) => {
    expect(count({ kind: 'length', bytes: 5 }, 'helloGET /', size)).toEqual({ taken: 5, done: true })
  })

  it('an incomplete body is not done', () => {
    expect(count({ kind: 'chunked' }, '5\r\nhel', 2)).toEqual({ taken: 6, done: false })
  })

  it.each(['5\nhello\r\n0\r\n\r\n', 'zz\r\n', '5\r\nhelloX\r\n', '1'.repeat(13) + '\r\n'])(
    'a malformed chunked body %j is refused',
    (body) => {
      expect(() => new BodyCounter({ kind: 'chunked' }).take(Buffer.from(body))).toThrow(FramingError)
    },
  )

  it('request framing: none, length, chunked; refuses what two parsers could read differently', () => {
    expect(requestFraming(head('BREW / HTTP/1.1\r\nhost: x'))).toEqual({ kind: 'none' })
    expect(requestFraming(head('BREW / HTTP/1.1\r\ncontent-length: 3'))).toEqual({ kind: 'length', bytes: 3 })
    expect(requestFraming(head('BREW / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 3'))).toEqual({
      kind: 'length',
      bytes: 3,
    })
    expect(requestFraming(head('BREW / HTTP/1.1\r\ntransfer-encoding: gzip, chunked'))).toEqual({ kind: 'chunked' })
    for (const bad of [
      'BREW / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked',
      'BREW / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 4',
      'BREW / HTTP/1.1\r\ncontent-length: -1',
      'BREW / HTTP/1.1\r\ntransfer-encoding: gzip',
    ])
      expect(() => requestFraming(head(bad)), bad).toThrow(FramingError)
  })

  it('response framing: HEAD, 204 and 304 have no body; neither header means until close', () => {
    const h = head('HTTP/1.1 200 OK\r\ncontent-length: 9')
    expect(responseFraming(h, 200, 'HEAD')).toEqual({ kind: 'none' })
    expect(responseFraming(h, 304, 'BREW')).toEqual({ kind: 'none' })
    expect(responseFraming(h, 200, 'BREW')).toEqual({ kind: 'length', bytes: 9 })
    expect(responseFraming(head('HTTP/1.1 200 OK'), 200, 'BREW')).toEqual({ kind: 'close' })
    expect(statusOf(h)).toBe(200)
    expect(() => statusOf(head('HTTP/2 200'))).toThrow(FramingError)
  })

  it('a header block with a bare LF, obs-fold, NUL or no name is refused; an incomplete one waits', () => {
    for (const bad of [
      'BREW / HTTP/1.1\nhost: x',
      'BREW / HTTP/1.1\r\nx: a\r\n b',
      'BREW / HTTP/1.1\r\nx: a\0',
      'BREW / HTTP/1.1\r\n: a',
    ])
      expect(() => splitHead(Buffer.from(bad + '\r\n\r\n')), JSON.stringify(bad)).toThrow(FramingError)
    expect(splitHead(Buffer.from('BREW / HTTP/1.1\r\nhost: x\r\n'))).toBeUndefined()
    expect(() => splitHead(Buffer.alloc(70 * 1024, 'a'))).toThrow(FramingError)
  })
})
