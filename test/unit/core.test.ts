import { readFileSync } from 'node:fs'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { rewriteJsonBody } from '../../src/body-codec.ts'
import { parseSidecarConfig } from '../../src/config.ts'
import { formatDuration, parseDuration } from '../../src/duration.ts'
import { errors } from '../../src/errors.ts'
import { sampleDelay } from '../../src/faults/delay.ts'
import { applyJsonPatch, applyMergePatch } from '../../src/json-patch.ts'
import { seededRandom } from '../../src/random.ts'
import { compileRuleSet } from '../../src/rules/compile.ts'
import { withGeneratedSection } from '../../src/rules/docs.ts'

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1.5s', 1500],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms))
  it.each(['', '60', '1x', 's', '-1s', '1 s'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined())
  it('formats back', () => expect(formatDuration(90_000)).toBe('1m30s'))
})

describe('JSON merge patch (RFC 7396 appendix A examples)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  ])('%j + %j', (doc, patch, out) => expect(applyMergePatch(doc, patch)).toEqual(out))
})

describe('JSON patch (RFC 6902)', () => {
  it('applies every op and leaves the input alone', () => {
    const doc = { a: 1, list: [1, 2], nested: { x: 'y' } }
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/b', value: 2 },
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'add', path: '/list/0', value: 0 },
      { op: 'remove', path: '/a' },
      { op: 'replace', path: '/b', value: 'two' },
      { op: 'copy', from: '/nested', path: '/copied' },
      { op: 'move', from: '/nested/x', path: '/moved' },
      { op: 'test', path: '/moved', value: 'y' },
    ])
    expect(out).toEqual({ b: 'two', list: [0, 1, 2, 3], nested: {}, copied: { x: 'y' }, moved: 'y' })
    expect(doc).toEqual({ a: 1, list: [1, 2], nested: { x: 'y' } })
  })
  it.each([
    [[{ op: 'remove', path: '/missing' }]],
    [[{ op: 'test', path: '/a', value: 2 }]],
    [[{ op: 'add', path: '/list/9', value: 1 }]],
    [[{ op: 'replace', path: '/a/b/c', value: 1 }]],
  ])('fails atomically on %j', (ops) => {
    expect(() => applyJsonPatch({ a: 1, list: [] }, ops as never)).toThrow()
  })
  it('handles ~0 and ~1 escapes', () => {
    expect(
      applyJsonPatch({ 'a/b': 1, 'c~d': 2 }, [
        { op: 'remove', path: '/a~1b' },
        { op: 'remove', path: '/c~0d' },
      ]),
    ).toEqual({})
  })
})

describe('body codec', () => {
  const doc = { a: 1 }
  const t = [(v: unknown) => ({ ...(v as object), b: 2 })]
  const CAP = 1 << 20
  it.each(['gzip', 'br', 'deflate', ''])('round-trips %j', async (enc) => {
    const plain = Buffer.from(JSON.stringify(doc))
    const body =
      enc === 'gzip'
        ? zlib.gzipSync(plain)
        : enc === 'br'
          ? zlib.brotliCompressSync(plain)
          : enc === 'deflate'
            ? zlib.deflateSync(plain)
            : plain
    const out = await rewriteJsonBody(body, enc, t, CAP)
    expect(out.ok).toBe(true)
    if (!out.ok) return
    const decoded =
      enc === 'gzip'
        ? zlib.gunzipSync(out.body)
        : enc === 'br'
          ? zlib.brotliDecompressSync(out.body)
          : enc === 'deflate'
            ? zlib.inflateSync(out.body)
            : out.body
    expect(JSON.parse(decoded.toString())).toEqual({ a: 1, b: 2 })
  })
  it('fails open on non-JSON, unknown encodings and failing patches', async () => {
    expect(await rewriteJsonBody(Buffer.from('<html>'), '', t, CAP)).toEqual({ ok: false, reason: 'patch_not_json' })
    expect(await rewriteJsonBody(Buffer.from('{}'), 'zstd', t, CAP)).toEqual({ ok: false, reason: 'patch_not_json' })
    expect(
      await rewriteJsonBody(
        Buffer.from('{}'),
        '',
        [
          () => {
            throw new Error('x')
          },
        ],
        CAP,
      ),
    ).toEqual({ ok: false, reason: 'patch_failed' })
  })
  it.each([
    ['gzip', zlib.gzipSync],
    ['br', zlib.brotliCompressSync],
    ['deflate', zlib.deflateSync],
    ['deflate', zlib.deflateRawSync],
  ])('stops decoding %s at the cap: the body passes unchanged, counted as too large', async (enc, compress) => {
    const bomb = compress(Buffer.from(`{"x":"${'a'.repeat(200_000)}"}`))
    expect(await rewriteJsonBody(bomb, enc, t, 10_000)).toEqual({ ok: false, reason: 'patch_too_large' })
  })
  it('a document too deep to serialise is a failed patch, not an exception', async () => {
    const deep = Buffer.from('['.repeat(200_000) + ']'.repeat(200_000))
    expect(await rewriteJsonBody(deep, '', [(v) => v], 1 << 22)).toEqual({ ok: false, reason: 'patch_failed' })
  })
  it('re-encodes brotli well under 1 ms per 64 KiB (median of 20, generous tolerance)', async () => {
    const big = Buffer.from(
      JSON.stringify({ items: Array.from({ length: 3000 }, (_, i) => ({ i, name: `item-${i}` })) }),
    )
    expect(big.length).toBeGreaterThan(64 * 1024)
    const br = zlib.brotliCompressSync(big)
    const times: number[] = []
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      await rewriteJsonBody(br, 'br', t, CAP)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    const perKiB64 = times[10]! / (big.length / 65536)
    // Measured about 1 ms per 64 KiB (decode + parse + stringify + encode); quality 11 took ~40 ms.
    expect(perKiB64).toBeLessThan(10)
  })
})

describe('delay distributions', () => {
  const stats = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length
    return {
      mean,
      sd: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length),
      min: Math.min(...xs),
      max: Math.max(...xs),
    }
  }
  const r = seededRandom(3)
  it('uniform stays within ms +/- jitter', () => {
    const s = stats(
      Array.from({ length: 20_000 }, () => sampleDelay({ ms: 100, jitterMs: 20, distribution: 'uniform' }, r)),
    )
    expect(s.min).toBeGreaterThanOrEqual(80)
    expect(s.max).toBeLessThanOrEqual(120)
    expect(Math.abs(s.mean - 100)).toBeLessThan(1)
  })
  it('normal has the given mean and standard deviation, never negative', () => {
    const s = stats(
      Array.from({ length: 20_000 }, () => sampleDelay({ ms: 100, jitterMs: 10, distribution: 'normal' }, r)),
    )
    expect(Math.abs(s.mean - 100)).toBeLessThan(0.5)
    expect(Math.abs(s.sd - 10)).toBeLessThan(0.5)
    expect(
      stats(Array.from({ length: 2000 }, () => sampleDelay({ ms: 1, jitterMs: 50, distribution: 'normal' }, r))).min,
    ).toBe(0)
  })
})

describe('error catalogue', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  it.each(Object.entries(errors))('%s has a stable code and is documented', (key, make) => {
    expect(make.code).toBe(key)
    expect(make().code).toBe(key)
    expect(doc).toContain(`\`${key}\``)
  })
  it('keeps the cause', () => {
    const cause = new Error('root')
    expect(errors.FL_ERR_RULES_FILE('x', { cause }).cause).toBe(cause)
  })
})

describe('sidecar configuration', () => {
  it('reads flags, then environment variables', () => {
    const c = parseSidecarConfig(['--upstream', 'http://127.0.0.1:9'], {
      FAULTLINE_LISTEN: '127.0.0.1:9000',
      FAULTLINE_HEADER_FAULTS: '1',
    })
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 8481 })
    expect(c.headerFaults).toEqual({ maxDelayMs: 10_000 })
  })
  it('names every bad flag', () => {
    try {
      parseSidecarConfig(['--listen', 'nope', '--upstream-timeout', '5'], {})
      expect.unreachable()
    } catch (err) {
      expect((err as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
        '--upstream',
        '--listen',
        '--upstream-timeout',
      ])
    }
  })
  it('rejects unknown flags', () => expect(() => parseSidecarConfig(['--upstrem', 'x'], {})).toThrow(/upstrem/))
})

describe('generated docs', () => {
  it('docs/rules.md documents every registered fault kind, as generated from the registry', () => {
    const doc = readFileSync(new URL('../../docs/rules.md', import.meta.url), 'utf8')
    expect(doc, 'run `npm run docs`').toBe(withGeneratedSection(doc))
  })
  it("docs/rules.md's patch example is a valid rule that patches as it says; a bare merge document under json is refused", () => {
    const doc = readFileSync(new URL('../../docs/rules.md', import.meta.url), 'utf8')
    const example = /example \(YAML\): `(patch: .*)`$/m.exec(doc)?.[1]
    expect(example).toBeDefined()
    const compiled = compileRuleSet(
      { rules: [{ id: 'p', phase: 'response', ...(parseYaml(example!) as object) }] },
      { now: 0, generation: 1 },
    )
    expect(compiled.ok && compiled.snapshot.rules[0]!.actions.map((a) => a.fault.kind)).toEqual(['patch'])
    const { transform } = (compiled.ok && compiled.snapshot.rules[0]!.actions[0]!.compiled) as {
      transform: (body: unknown) => unknown
    }
    expect(transform({ status: 'ok', items: [1], flags: ['a'] })).toEqual({ status: 'degraded', flags: ['a', 'chaos'] })
    const flat = compileRuleSet({ rules: [{ id: 'p', patch: { json: { status: 'x' } } }] }, { now: 0, generation: 1 })
    expect(!flat.ok && flat.issues.map((i) => i.path).sort()).toEqual([
      '/rules/0/patch/json/merge',
      '/rules/0/patch/json/status',
    ])
  })
})
