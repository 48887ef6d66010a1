import { describe, expect, it } from 'vitest'
import { compileGlob } from '../../src/glob.ts'
import { seededRandom } from '../../src/random.ts'
import { compileRuleSet, type RequestView, type RuleSnapshot } from '../../src/rules/compile.ts'
import {
  type MatchObserver,
  responseCandidates,
  selectRequestRules,
  selectResponseRules,
} from '../../src/rules/match.ts'
import { globFirstSegment, regexFirstSegment } from '../../src/rules/segment-index.ts'

const noop: MatchObserver = { matched() {}, skipped() {} }

function snapshot(rules: unknown[]): RuleSnapshot {
  const r = compileRuleSet({ rules }, { now: 0, generation: 1 })
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.snapshot
}

function view(path: string, opts: Partial<RequestView> = {}): RequestView {
  const q = path.indexOf('?')
  return {
    method: 'GET',
    path: q < 0 ? path : path.slice(0, q),
    query: q < 0 ? '' : path.slice(q + 1),
    headers: {},
    ...opts,
  }
}

const ids = (snap: RuleSnapshot, req: RequestView, health = false) =>
  selectRequestRules(snap, req, 1, health, Math.random, noop).map((r) => r.id)

describe('path globs', () => {
  it.each([
    ['/api/checkout/**', '/api/checkout', true],
    ['/api/checkout/**', '/api/checkout/a/b/c', true],
    ['/api/checkout/**', '/api/checkouts', false],
    ['/api/*/items', '/api/7/items', true],
    ['/api/*/items', '/api/7/8/items', false],
    ['/api/**/items', '/api/items', true],
    ['/api/**/items', '/api/1/2/items', true],
    ['/a.b', '/aXb', false],
    ['/users/*', '/users/', true],
    ['/exact', '/exact', true],
    ['/exact', '/exact/', false],
  ])('%s vs %s -> %s', (glob, path, expected) => {
    expect(compileGlob(glob)(path)).toBe(expected)
  })
})

describe('request matching', () => {
  const snap = snapshot([
    { id: 'get-only', match: { methods: ['GET'], path: '/m' }, delay: { ms: 1 } },
    { id: 'gold', match: { headers: [{ name: 'X-Tier', exact: 'gold' }] }, delay: { ms: 1 } },
    {
      id: 'no-canary',
      match: { path: '/c', headers: [{ name: 'x-canary', absent: true }] },
      delay: { ms: 1 },
    },
    { id: 'regex', match: { pathRegex: '^/v[0-9]+/' }, delay: { ms: 1 } },
    { id: 'query', match: { path: '/q', query: { debug: '1' } }, delay: { ms: 1 } },
    { id: 'health', match: { path: '/healthz' }, delay: { ms: 1 } },
  ])

  it('ANDs every given field', () => {
    expect(ids(snap, view('/m'))).toEqual(['get-only'])
    expect(ids(snap, view('/m', { method: 'POST' }))).toEqual([])
    expect(ids(snap, view('/x', { headers: { 'x-tier': 'gold' } }))).toEqual(['gold'])
    expect(ids(snap, view('/x', { headers: { 'x-tier': 'silver' } }))).toEqual([])
    expect(ids(snap, view('/c'))).toEqual(['no-canary'])
    expect(ids(snap, view('/c', { headers: { 'x-canary': '1' } }))).toEqual([])
    expect(ids(snap, view('/v2/users'))).toEqual(['regex'])
    expect(ids(snap, view('/q?a=2&debug=1'))).toEqual(['query'])
    expect(ids(snap, view('/q?debug=0'))).toEqual([])
  })

  it('never faults a health path unless a rule names it exactly', () => {
    const wide = snapshot([
      { id: 'all', delay: { ms: 1 } },
      { id: 'named', match: { path: '/healthz' }, delay: { ms: 1 } },
    ])
    expect(ids(wide, view('/healthz'), true)).toEqual(['named'])
    expect(ids(wide, view('/readyz'), true)).toEqual([])
  })

  it('ignores expired rules even before they are pruned', () => {
    const r = compileRuleSet({ rules: [{ id: 'a', delay: { ms: 1 }, ttl: '1s' }] }, { now: 0, generation: 1 })
    if (!r.ok) throw new Error('invalid')
    expect(selectRequestRules(r.snapshot, view('/'), 999, false, Math.random, noop)).toHaveLength(1)
    expect(selectRequestRules(r.snapshot, view('/'), 1000, false, Math.random, noop)).toHaveLength(0)
  })

  it('a regex cannot stall the matcher (linear time)', () => {
    const evil = snapshot([{ id: 'evil', match: { pathRegex: '^/(a+)+$' }, delay: { ms: 1 } }])
    const t0 = performance.now()
    expect(ids(evil, view('/' + 'a'.repeat(50_000) + '!'))).toEqual([])
    expect(performance.now() - t0).toBeLessThan(1000)
  })

  it('matches response rules on status and response headers', () => {
    const s = snapshot([
      { id: '5xx', phase: 'response', match: { status: ['500-599'] }, delay: { ms: 1 } },
      {
        id: 'json',
        phase: 'response',
        match: { responseHeaders: [{ name: 'content-type', regex: 'json' }] },
        delay: { ms: 1 },
      },
    ])
    const c = responseCandidates(s, view('/'), 0, false)
    const pick = (status: number, h: Record<string, string>) =>
      selectResponseRules(c, status, h, {}, 0, Math.random, noop).map((r) => r.id)
    expect(pick(503, {})).toEqual(['5xx'])
    expect(pick(200, { 'content-type': 'application/json' })).toEqual(['json'])
    expect(pick(200, { 'content-type': 'text/plain' })).toEqual([])
  })
})

describe('sampling', () => {
  it('a 30% rule lands within statistical bounds (seeded)', () => {
    const s = snapshot([{ id: 'p30', percent: 30, delay: { ms: 1 } }])
    const random = seededRandom(42)
    const n = 100_000
    let hits = 0
    for (let i = 0; i < n; i++) hits += selectRequestRules(s, view('/'), 0, false, random, noop).length
    // 5 standard deviations of a binomial(n, 0.3): fails by chance about once in 3.5 million.
    const sd = Math.sqrt(n * 0.3 * 0.7)
    expect(Math.abs(hits - n * 0.3)).toBeLessThan(5 * sd)
  })

  it('has parts-per-million resolution', () => {
    const s = snapshot([{ id: 'tiny', percent: 0.01, delay: { ms: 1 } }])
    const random = seededRandom(7)
    let hits = 0
    for (let i = 0; i < 1_000_000; i++) hits += selectRequestRules(s, view('/'), 0, false, random, noop).length
    expect(hits).toBeGreaterThan(50)
    expect(hits).toBeLessThan(150)
  })

  it('the same seed gives the same decisions', () => {
    const s = snapshot([{ id: 'p50', percent: 50, delay: { ms: 1 } }])
    const run = (seed: number) => {
      const r = seededRandom(seed)
      return Array.from({ length: 64 }, () => selectRequestRules(s, view('/'), 0, false, r, noop).length).join('')
    }
    expect(run(1)).toBe(run(1))
    expect(run(1)).not.toBe(run(2))
  })

  it('sticky keys agree across retries and land near the percent overall', () => {
    const s = snapshot([{ id: 'sticky', percent: 40, sticky: 'x-request-id', delay: { ms: 1 } }])
    let hits = 0
    for (let i = 0; i < 10_000; i++) {
      const headers = { 'x-request-id': `req-${i}` }
      const decisions = new Set(
        Array.from(
          { length: 5 },
          () => selectRequestRules(s, view('/', { headers }), 0, false, Math.random, noop).length,
        ),
      )
      expect(decisions.size).toBe(1)
      hits += [...decisions][0]!
    }
    expect(hits).toBeGreaterThan(3700)
    expect(hits).toBeLessThan(4300)
  })

  it('counts matches and skips through the observer', () => {
    const s = snapshot([
      { id: 'never', percent: 0, delay: { ms: 1 } },
      { id: 'capped', maxActive: 1, delay: { ms: 1 } },
    ])
    const seen: string[] = []
    const observer: MatchObserver = {
      matched: (r) => seen.push(`m:${r.id}`),
      skipped: (r, why) => seen.push(`s:${r.id}:${why}`),
    }
    s.rules[1]!.live.active = 1
    selectRequestRules(s, view('/'), 0, false, Math.random, observer)
    expect(seen).toEqual(['m:never', 's:never:not_sampled', 'm:capped', 's:capped:max_active'])
  })
})

describe('regex safety', () => {
  it.each([
    ['^/(a+)+$', '/' + 'a'.repeat(100_000) + '!'],
    ['^(a|aa)+$', 'a'.repeat(100_000) + 'b'],
    ['^(x+x+)+y$', 'x'.repeat(50_000)],
  ])('%s on a hostile input finishes in linear time', (pattern, input) => {
    const s = snapshot([{ id: 'evil', match: { pathRegex: pattern }, delay: { ms: 1 } }])
    const t0 = performance.now()
    expect(ids(s, view(input))).toEqual([])
    expect(performance.now() - t0).toBeLessThan(2000)
  })
})

describe('segment index', () => {
  it.each([
    ['/api/checkout/**', 'api'],
    ['/api', 'api'],
    ['/', ''],
    ['/**', undefined],
    ['/*/x', undefined],
  ])('glob %s fixes first segment %j', (glob, seg) => expect(globFirstSegment(glob)).toBe(seg))
  it.each([
    ['^/v1/orders/[0-9]+$', 'v1'],
    ['^/v1?/orders', undefined],
    ['^/api', undefined],
    ['/api/x', undefined],
    ['^/a/b|^/c/d', undefined],
    ['^/users/', 'users'],
  ])('regex %s fixes first segment %j', (re, seg) => expect(regexFirstSegment(re)).toBe(seg))

  it('keeps list order across indexed and unindexed rules', () => {
    const s = snapshot([
      { id: '1-any', match: { headers: [{ name: 'x', present: true }] }, delay: { ms: 1 } },
      { id: '2-api', match: { path: '/api/**' }, delay: { ms: 1 } },
      { id: '3-any', delay: { ms: 1 } },
      { id: '4-api', match: { pathRegex: '^/api/v[0-9]' }, delay: { ms: 1 } },
      { id: '5-other', match: { path: '/other/**' }, delay: { ms: 1 } },
      { id: '6-any', match: { path: '/**' }, delay: { ms: 1 } },
    ])
    expect(ids(s, view('/api/v2', { headers: { x: '1' } }))).toEqual(['1-any', '2-api', '3-any', '4-api', '6-any'])
    expect(ids(s, view('/other/1'))).toEqual(['3-any', '5-other', '6-any'])
    expect(ids(s, view('/'))).toEqual(['3-any', '6-any'])
  })

  it('groups rules by a header they require: one lookup for the group, none of them without it', () => {
    const s = snapshot([
      ...Array.from({ length: 250 }, (_, i) => ({
        id: `tenant-${i}`,
        match: { headers: [{ name: 'X-Tenant', exact: `t-${i}` }] },
        delay: { ms: 1 },
      })),
      { id: 'beta', match: { headers: [{ name: 'x-beta', regex: '^1$' }] }, delay: { ms: 1 } },
      { id: 'no-debug', match: { headers: [{ name: 'x-debug', absent: true }] }, delay: { ms: 1 } },
      { id: 'api', match: { path: '/api/**', headers: [{ name: 'x-tenant', present: true }] }, delay: { ms: 1 } },
      { id: 'slow-t3', phase: 'response', match: { headers: [{ name: 'x-tenant', exact: 't-3' }] }, delay: { ms: 1 } },
    ])
    const any = s.requestRules.anyPath
    expect(any.always.map((r) => r.id)).toEqual(['no-debug'])
    expect(any.byHeader.map(([name, rules]) => [name, rules.length])).toEqual([
      ['x-tenant', 250],
      ['x-beta', 1],
    ])
    expect(ids(s, view('/'))).toEqual(['no-debug'])
    expect(ids(s, view('/api/1', { headers: { 'x-tenant': 't-7', 'x-beta': '1' } }))).toEqual([
      'tenant-7',
      'beta',
      'no-debug',
      'api',
    ])
    // Response candidates go through the same lists.
    const candidates = (headers: Record<string, string>) =>
      responseCandidates(s, view('/', { headers }), 1, false).map((r) => r.id)
    expect(candidates({ 'x-tenant': 't-3' })).toEqual(['slow-t3'])
    expect(candidates({})).toEqual([])
  })
})

describe('segment index limits', () => {
  it('stays correct when the set is too large to index', () => {
    const rules = [
      ...Array.from({ length: 1100 }, (_, i) => ({
        id: `seg-${i}`,
        match: { path: `/s${i}/**` },
        delay: { ms: 1 },
      })),
      ...Array.from({ length: 1000 }, (_, i) => ({
        id: `any-${i}`,
        match: { query: { [`q${i}`]: '1' } },
        delay: { ms: 1 },
      })),
    ]
    const s = snapshot(rules)
    expect(s.requestRules.bySegment.size).toBe(0)
    expect(ids(s, view('/s7/x?q3=1'))).toEqual(['seg-7', 'any-3'])
  })
})
