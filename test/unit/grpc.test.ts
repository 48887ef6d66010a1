/** gRPC facts (src/grpc.ts) and the gRPC fields of abort and replace: accepted, refused by field, compiled. */
import { describe, expect, it } from 'vitest'
import {
  encodeGrpcMessage,
  grpcCodeLabel,
  httpToGrpcStatus,
  isGrpcContentType,
  parseGrpcStatus,
  parseGrpcTimeout,
} from '../../src/grpc.ts'
import { parseSidecarConfig } from '../../src/config.ts'
import { compileRuleSet } from '../../src/rules/compile.ts'

describe('src/grpc.ts', () => {
  it('status codes by number or name; anything else is undefined', () => {
    expect(parseGrpcStatus(14)).toBe(14)
    expect(parseGrpcStatus('UNAVAILABLE')).toBe(14)
    expect(parseGrpcStatus('deadline_exceeded')).toBe(4)
    expect(parseGrpcStatus('16')).toBe(16)
    expect(parseGrpcStatus(17)).toBeUndefined()
    expect(parseGrpcStatus(1.5)).toBeUndefined()
    expect(parseGrpcStatus('UNAVAILABLEX')).toBeUndefined()
  })

  it("HTTP -> gRPC status as Envoy's httpToGrpcStatus", () => {
    const table: [number, number][] = [
      [400, 13],
      [401, 16],
      [403, 7],
      [404, 12],
      [429, 14],
      [502, 14],
      [503, 14],
      [504, 14],
      [500, 2],
      [418, 2],
    ]
    for (const [http, grpc] of table) expect(httpToGrpcStatus(http), String(http)).toBe(grpc)
  })

  it('grpc-message percent-encodes bytes outside 0x20-0x7E and % itself', () => {
    expect(encodeGrpcMessage('plain text')).toBe('plain text')
    expect(encodeGrpcMessage('100%')).toBe('100%25')
    expect(encodeGrpcMessage('ü\n')).toBe('%C3%BC%0A')
    expect(decodeURIComponent(encodeGrpcMessage('ünïcode % done'))).toBe('ünïcode % done')
  })

  it('go-grpc-prometheus label names; out of range is Unknown', () => {
    expect(grpcCodeLabel(0)).toBe('OK')
    expect(grpcCodeLabel(1)).toBe('Canceled')
    expect(grpcCodeLabel(4)).toBe('DeadlineExceeded')
    expect(grpcCodeLabel(14)).toBe('Unavailable')
    expect(grpcCodeLabel(99)).toBe('Unknown')
  })

  it('gRPC is application/grpc or application/grpc+codec, not grpc-web', () => {
    expect(isGrpcContentType('application/grpc')).toBe(true)
    expect(isGrpcContentType('application/grpc+proto')).toBe(true)
    expect(isGrpcContentType('application/grpc;charset=utf-8')).toBe(true)
    expect(isGrpcContentType('application/grpc-web')).toBe(false)
    expect(isGrpcContentType('application/grpc-web+proto')).toBe(false)
    expect(isGrpcContentType('application/connect+proto')).toBe(false)
    expect(isGrpcContentType(undefined)).toBe(false)
  })

  it('grpc-timeout: up to 8 digits and a unit', () => {
    expect(parseGrpcTimeout('100m')).toBe(100)
    expect(parseGrpcTimeout('2S')).toBe(2000)
    expect(parseGrpcTimeout('1H')).toBe(3_600_000)
    expect(parseGrpcTimeout('5000u')).toBe(5)
    expect(parseGrpcTimeout('123456789m')).toBeUndefined()
    expect(parseGrpcTimeout('10x')).toBeUndefined()
  })
})

const issuesOf = (rule: Record<string, unknown>) => {
  const r = compileRuleSet({ rules: [{ id: 'a', ...rule }] }, { now: 0, generation: 1 })
  return r.ok ? [] : r.issues.map((i) => i.path)
}

describe('gRPC rule fields', () => {
  it('accepts the documented shapes', () => {
    for (const rule of [
      { abort: { grpcStatus: 14 } },
      { abort: { grpcStatus: 'UNAVAILABLE', grpcMessage: 'x', grpcStatusDetailsBin: 'AAEC' } },
      { abort: { status: 503, grpcMessage: 'mapped' } },
      { abort: { status: 503, raw: true } },
      { abort: { mode: 'reset' } },
      { abort: { mode: 'reset', http2Code: 'REFUSED_STREAM', after: 'headers' } },
      { abort: { mode: 'goaway', http2Code: 'ENHANCE_YOUR_CALM' } },
      { phase: 'response', replace: { grpcStatus: 'INTERNAL', grpcMessage: 'late' } },
    ])
      expect(issuesOf(rule), JSON.stringify(rule)).toEqual([])
  })

  it('refuses what cannot work, naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ abort: { grpcStatus: 17 } }, '/rules/0/abort/grpcStatus'],
      [{ abort: { grpcStatus: 'NOPE' } }, '/rules/0/abort/grpcStatus'],
      [{ abort: { grpcStatus: 14, status: 503 } }, '/rules/0/abort/grpcStatus'],
      [{ abort: { grpcStatus: 14, raw: true } }, '/rules/0/abort/raw'],
      [{ abort: { grpcStatus: 14, http2Code: 'CANCEL' } }, '/rules/0/abort/http2Code'],
      [{ abort: { mode: 'reset', http2Code: 'NOT_A_CODE' } }, '/rules/0/abort/http2Code'],
      [{ abort: { mode: 'goaway', after: 'headers' } }, '/rules/0/abort/after'],
      [{ abort: { mode: 'reset', grpcStatus: 14 } }, '/rules/0/abort/grpcStatus'],
      [{ abort: { grpcStatus: 14, grpcStatusDetailsBin: 'not base64!' } }, '/rules/0/abort/grpcStatusDetailsBin'],
      [{ phase: 'response', abort: { mode: 'reset', after: 'headers' } }, '/rules/0/abort/after'],
      [{ replace: { grpcStatus: 13 } }, '/rules/0/replace/grpcStatus'],
      [{ abort: { grpcStatus: 14, grpcCode: 1 } }, '/rules/0/abort/grpcCode'],
    ]
    for (const [rule, path] of cases) expect(issuesOf(rule), JSON.stringify(rule)).toContain(path)
  })
})

describe('sidecar flags', () => {
  const base = ['--upstream', 'http://127.0.0.1:1']
  it('--upstream-protocol, --grpc-error-codes (codes or names), --tls-cert with --tls-key', () => {
    const c = parseSidecarConfig(
      [
        ...base,
        '--upstream-protocol',
        'h2c',
        '--grpc-error-codes',
        'UNAVAILABLE,4',
        '--tls-cert',
        'c',
        '--tls-key',
        'k',
      ],
      {},
    )
    expect(c).toMatchObject({ upstreamProtocol: 'h2c', grpcErrorCodes: [14, 4], tlsCert: 'c', tlsKey: 'k' })
    expect(parseSidecarConfig(base, { FAULTLINE_UPSTREAM_PROTOCOL: 'http1' }).upstreamProtocol).toBe('http1')
  })

  it('bad values are refused by flag', () => {
    expect(() => parseSidecarConfig([...base, '--upstream-protocol', 'h3'], {})).toThrow(/--upstream-protocol/)
    expect(() => parseSidecarConfig([...base, '--grpc-error-codes', 'SLOW'], {})).toThrow(/--grpc-error-codes/)
    expect(() => parseSidecarConfig([...base, '--tls-cert', 'c'], {})).toThrow(/--tls-key/)
  })
})
