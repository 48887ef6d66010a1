import { describe, expect, it } from 'vitest'
import { RuleStore } from '../../sidecar/rule-store.ts'
import { FaultlineError } from '../../src/errors.ts'
import { compileRuleSet } from '../../src/rules/compile.ts'
import { ManualClock } from '../helpers/manual-clock.ts'

const ok = { id: 'ok', delay: { ms: 10 } }

/** [what is wrong, rule set, JSON pointer(s) that must be reported] */
const MALFORMED: [string, unknown, string[]][] = [
  ['not an object', [ok], ['']],
  ['rules missing', {}, ['/rules']],
  ['rules not an array', { rules: { id: 'x' } }, ['/rules']],
  ['unknown top-level field', { rules: [], rulez: [] }, ['/rulez']],
  ['rule not an object', { rules: [42] }, ['/rules/0']],
  ['id missing', { rules: [{ delay: { ms: 1 } }] }, ['/rules/0/id']],
  ['id with bad characters', { rules: [{ id: 'a b', delay: { ms: 1 } }] }, ['/rules/0/id']],
  ['id too long', { rules: [{ id: 'x'.repeat(65), delay: { ms: 1 } }] }, ['/rules/0/id']],
  ['duplicate ids', { rules: [ok, { ...ok }] }, ['/rules/1/id']],
  ['no fault action', { rules: [{ id: 'a', match: { path: '/x' } }] }, ['/rules/0']],
  ['typo in a fault field', { rules: [{ id: 'a', delay: { ms: 10, jiter: 5 } }] }, ['/rules/0/delay/jiter']],
  ['typo in a rule field', { rules: [{ id: 'a', delay: { ms: 1 }, percnt: 10 }] }, ['/rules/0/percnt']],
  ['negative delay', { rules: [{ id: 'a', delay: { ms: -5 } }] }, ['/rules/0/delay/ms']],
  ['delay as a string', { rules: [{ id: 'a', delay: { ms: '100' } }] }, ['/rules/0/delay/ms']],
  [
    'unknown distribution',
    { rules: [{ id: 'a', delay: { ms: 1, jitterMs: 1, distribution: 'pareto' } }] },
    ['/rules/0/delay/distribution'],
  ],
  [
    'normal without jitter',
    { rules: [{ id: 'a', delay: { ms: 1, distribution: 'normal' } }] },
    ['/rules/0/delay/jitterMs'],
  ],
  ['percent above 100', { rules: [{ id: 'a', percent: 101, delay: { ms: 1 } }] }, ['/rules/0/percent']],
  ['abort without status', { rules: [{ id: 'a', abort: {} }] }, ['/rules/0/abort/status']],
  ['abort status out of range', { rules: [{ id: 'a', abort: { status: 99 } }] }, ['/rules/0/abort/status']],
  ['reset with a body', { rules: [{ id: 'a', abort: { mode: 'reset', body: 'x' } }] }, ['/rules/0/abort/body']],
  ['unknown abort mode', { rules: [{ id: 'a', abort: { mode: 'explode' } }] }, ['/rules/0/abort/mode']],
  [
    'backtracking-only regex (backreference)',
    { rules: [{ id: 'a', match: { pathRegex: '^/(a+)\\1$' }, delay: { ms: 1 } }] },
    ['/rules/0/match/pathRegex'],
  ],
  [
    'backtracking-only regex (lookahead) in a header matcher',
    { rules: [{ id: 'a', match: { headers: [{ name: 'x', regex: '(?=a)b' }] }, delay: { ms: 1 } }] },
    ['/rules/0/match/headers/0/regex'],
  ],
  [
    'invalid regex',
    { rules: [{ id: 'a', match: { pathRegex: '([' }, delay: { ms: 1 } }] },
    ['/rules/0/match/pathRegex'],
  ],
  [
    'header matcher with two conditions',
    {
      rules: [{ id: 'a', match: { headers: [{ name: 'x', exact: 'a', present: true }] }, delay: { ms: 1 } }],
    },
    ['/rules/0/match/headers/0'],
  ],
  [
    'path not starting with /',
    { rules: [{ id: 'a', match: { path: 'api/**' }, delay: { ms: 1 } }] },
    ['/rules/0/match/path'],
  ],
  [
    'status match in the request phase',
    { rules: [{ id: 'a', match: { status: [500] }, delay: { ms: 1 } }] },
    ['/rules/0/match/status'],
  ],
  [
    'bad status range',
    { rules: [{ id: 'a', phase: 'response', match: { status: ['599-500'] }, delay: { ms: 1 } }] },
    ['/rules/0/match/status/0'],
  ],
  ['throttle in the request phase', { rules: [{ id: 'a', throttle: { bytesPerSecond: 100 } }] }, ['/rules/0/throttle']],
  [
    'replace status in the request phase',
    { rules: [{ id: 'a', replace: { status: 500 } }] },
    ['/rules/0/replace/status'],
  ],
  [
    'replace path in the response phase',
    { rules: [{ id: 'a', phase: 'response', replace: { path: '/x' } }] },
    ['/rules/0/replace/path'],
  ],
  [
    'body and bodyBase64 together',
    { rules: [{ id: 'a', phase: 'response', replace: { body: 'a', bodyBase64: 'YQ==' } }] },
    ['/rules/0/replace/bodyBase64'],
  ],
  [
    'json patch op without value',
    { rules: [{ id: 'a', phase: 'response', patch: { jsonPatch: [{ op: 'add', path: '/a' }] } }] },
    ['/rules/0/patch/jsonPatch/0/value'],
  ],
  [
    'json patch path not a pointer',
    { rules: [{ id: 'a', phase: 'response', patch: { jsonPatch: [{ op: 'remove', path: 'a' }] } }] },
    ['/rules/0/patch/jsonPatch/0/path'],
  ],
  [
    'patch header pair of three',
    { rules: [{ id: 'a', patch: { headers: [['a', 'b', 'c']] } }] },
    ['/rules/0/patch/headers/0'],
  ],
  ['ttl without unit', { rules: [{ id: 'a', delay: { ms: 1 }, ttl: '60' }] }, ['/rules/0/ttl']],
  [
    'ttl and expiresAt together',
    { rules: [{ id: 'a', delay: { ms: 1 }, ttl: '1m', expiresAt: '2099-01-01T00:00:00Z' }] },
    ['/rules/0/expiresAt'],
  ],
  [
    'expiresAt in the past',
    { rules: [{ id: 'a', delay: { ms: 1 }, expiresAt: '2000-01-01T00:00:00Z' }] },
    ['/rules/0/expiresAt'],
  ],
  ['maxActive zero', { rules: [{ id: 'a', delay: { ms: 1 }, maxActive: 0 }] }, ['/rules/0/maxActive']],
  ['phase unknown', { rules: [{ id: 'a', phase: 'both', delay: { ms: 1 } }] }, ['/rules/0/phase']],
]

describe('rule validation', () => {
  it('has at least 20 malformed cases', () => expect(MALFORMED.length).toBeGreaterThanOrEqual(20))

  it.each(MALFORMED)('rejects %s with its path', (_name, input, paths) => {
    const result = compileRuleSet(input, { now: Date.parse('2026-01-01T00:00:00Z'), generation: 1 })
    expect(result.ok).toBe(false)
    if (result.ok) return
    for (const p of paths) expect(result.issues.map((i) => i.path)).toContain(p)
    for (const i of result.issues) expect(i.message.length).toBeGreaterThan(3)
  })

  it.each(MALFORMED)('changes nothing in the store when given %s', (_name, input) => {
    const store = new RuleStore(new ManualClock())
    store.replace({ rules: [ok] })
    const before = store.snapshot
    expect(() => store.replace(input)).toThrow(FaultlineError)
    expect(store.snapshot).toBe(before)
    expect(store.generation).toBe(1)
  })

  it('reports every problem at once, across rules', () => {
    const result = compileRuleSet(
      {
        rules: [
          { id: 'a', delay: { ms: -1 } },
          { id: 'b', abort: { status: 1 }, match: { pathRegex: '(?=x)' } },
        ],
      },
      { now: 0, generation: 1 },
    )
    expect(result.ok).toBe(false)
    if (!result.ok)
      expect(result.issues.map((i) => i.path).sort()).toEqual([
        '/rules/0/delay/ms',
        '/rules/1/abort/status',
        '/rules/1/match/pathRegex',
      ])
  })

  it('suggests the field a typo meant', () => {
    const result = compileRuleSet({ rules: [{ id: 'a', delay: { ms: 1, jiterMs: 2 } }] }, { now: 0, generation: 1 })
    expect(!result.ok && result.issues[0]!.message).toContain('did you mean "jitterMs"')
  })

  it('accepts every field of the contract', () => {
    const result = compileRuleSet(
      {
        rules: [
          {
            id: 'full.rule-1',
            source: 'exp-42',
            phase: 'request',
            match: {
              methods: ['GET', 'post'],
              path: '/api/checkout/**',
              pathRegex: '^/api/v[0-9]+/',
              headers: [
                { name: 'x-tier', exact: 'gold' },
                { name: 'x-debug', present: true },
                { name: 'x-id', regex: '^a' },
                { name: 'x-canary', absent: true },
              ],
              query: { debug: '1' },
            },
            percent: 25.5,
            sticky: 'x-request-id',
            delay: { ms: 200, jitterMs: 50, distribution: 'normal' },
            abort: { status: 503, body: '...', headers: { 'retry-after': '1' } },
            replace: { headers: { k: 'v' }, body: 'text', path: '/v2/x', method: 'POST', query: { a: '1' } },
            patch: {
              headers: [['k', 'v']],
              query: [['a', '1']],
              json: { merge: { a: null } },
              jsonPatch: [{ op: 'test', path: '/a', value: 1 }],
            },
            ttl: '60s',
            maxActive: 100,
          },
          {
            id: 'resp',
            phase: 'response',
            match: { status: [503, '500-599'], responseHeaders: [{ name: 'content-type', regex: 'json' }] },
            replace: { status: 500, bodyBase64: 'aGk=' },
            throttle: { bytesPerSecond: 10240 },
            expiresAt: '2099-01-01T00:00:00Z',
          },
        ],
      },
      { now: 0, generation: 7 },
    )
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.snapshot.generation).toBe(7)
    const [a, b] = result.snapshot.rules
    expect(a!.ppm).toBe(255_000)
    expect(a!.actions.map((x) => x.fault.kind)).toEqual(['delay', 'abort', 'replace', 'patch'])
    expect(a!.expiresAt).toBe(60_000)
    expect(result.snapshot.stored[0]).toMatchObject({ expiresAt: new Date(60_000).toISOString() })
    expect(result.snapshot.stored[0]).not.toHaveProperty('ttl')
    expect(b!.actions.map((x) => x.fault.kind)).toEqual(['replace', 'throttle'])
  })
})
