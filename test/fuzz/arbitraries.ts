/**
 * Generators for the fuzz suites: rule sets and experiment documents that are mostly the right
 * shape with hostile values mixed in (HTTP-illegal characters, deep nesting, huge numbers, wrong
 * types, typos), so that both the "400 with paths" and the "accepted, then served" sides of the
 * invariant get exercised. Values that are valid stay small (delays of a few ms, fast throttles)
 * so a property run stays quick.
 */
import fc from 'fast-check'

/** How many cases a property runs: small in `npm test`, large under `npm run fuzz`. */
export function runs(inTest: number): number {
  const n = Number(process.env.FAULTLINE_FUZZ_RUNS)
  return Number.isFinite(n) && n > 0 ? n : inTest
}

/** A property's timeout: the project's default in `npm test`; an hour under `npm run fuzz`. */
export const FUZZ_TIMEOUT_MS = process.env.FAULTLINE_FUZZ_RUNS ? 3_600_000 : undefined

/** JSON nested `depth` levels deep (arrays), as a value. */
export function deep(depth: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

const nasty = fc.constantFrom(
  '',
  ' ',
  '\r\n',
  'a\r\nx-injected: 1',
  '\u0000',
  'caf\u00e9',
  'caf\u20ac',
  '\ud800',
  '%00',
  '/../..',
  'x'.repeat(300),
  '99999999999999999999d',
  '-1',
)

export const weird: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
)

/**
 * The value generators, clean or hostile. Hostility is decided once per rule or document: a
 * hostile one draws, field by field, a bad value now and then (so each problem shows up alone
 * often enough to be refused with its own path); a clean one draws only values the validators
 * accept, so a good share of whole documents (several rules, several steps) is valid and the
 * "accepted, then served" side of the invariant is exercised as much as the "refused" side.
 */
function generators(hostile: boolean) {
  /** Mostly a sensible value; now and then anything at all. */
  const or = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
    hostile ? fc.oneof({ weight: 40, arbitrary: good }, { weight: 1, arbitrary: weird }) : good

  /** Mostly one of the valid values; now and then one of the known-bad ones, or anything. */
  const pick = (valid: unknown[], invalid: unknown[]): fc.Arbitrary<unknown> =>
    hostile
      ? fc.oneof(
          { weight: 80, arbitrary: fc.constantFrom(...valid) },
          { weight: 1, arbitrary: fc.constantFrom(...invalid) },
          { weight: 1, arbitrary: weird },
        )
      : fc.constantFrom(...valid)

  const rarely = <T>(good: fc.Arbitrary<T>, bad: unknown): fc.Arbitrary<unknown> =>
    hostile ? fc.oneof({ weight: 20, arbitrary: good }, { weight: 1, arbitrary: fc.constant(bad) }) : good

  const headerName = pick(
    ['x-a', 'retry-after', 'x-faultline-fault', 'X-Tier'],
    ['content-length', 'Connection', 'a b'],
  )
  const headerValue = pick(['1', 'gold', 'text/plain', 'a b', '\u00e9'], ['a\r\nb', '\u0000', 'caf\u20ac'])
  const headerMap = fc.dictionary(fc.constantFrom('x-a', 'x-b', 'retry-after'), headerValue, { maxKeys: 2 })
  const status = pick([200, 204, 304, 418, 500, 503, 599], [99, 600, '200'])
  const shortText = fc.string({ maxLength: 4 })

  const requestMatch = {
    methods: or(fc.array(fc.constantFrom('GET', 'HEAD', 'POST', 'PROPFIND', 'get'), { minLength: 1, maxLength: 3 })),
    path: pick(['/', '/echo/**', '/json', '/**', '/echo/*', '/healthz', '/%65cho/**'], ['echo', '']),
    pathRegex: pick(['^/echo', 'json$', '^/(json|echo)'], ['(?=x)', '[', '(a)\\1', '^(a+)+$']),
    headers: or(fc.array(fc.record({ name: headerName, exact: headerValue }), { maxLength: 2 })),
    query: or(fc.dictionary(shortText, shortText, { maxKeys: 2 })),
  }
  const match = fc.record(requestMatch, { requiredKeys: [] })
  const responseMatch = fc.record(
    {
      ...requestMatch,
      status: or(fc.array(fc.oneof(status, pick(['500-599', '200-299'], ['599-500'])), { minLength: 1, maxLength: 2 })),
    },
    { requiredKeys: [] },
  )

  const delay = fc.oneof(
    fc.record({ ms: or(fc.integer({ min: 0, max: 15 })) }),
    fc.record({
      ms: or(fc.integer({ min: 0, max: 15 })),
      jitterMs: or(fc.integer({ min: 0, max: 5 })),
      distribution: pick(['uniform', 'normal'], ['fixed', 'gaussian']),
    }),
  )

  const abort = fc.oneof(
    fc.record({ status, body: or(fc.string({ maxLength: 20 })), headers: headerMap }, { requiredKeys: ['status'] }),
    fc.record({ mode: pick(['reset', 'close'], ['status', 'drop']) }),
  )

  const replaceRequest = fc.record(
    {
      headers: headerMap,
      body: or(fc.string({ maxLength: 20 })),
      path: pick(['/echo/replaced', '/echo/a%20b', '/json'], ['/a\u0000', '/caf\u00e9', 'x']),
      method: pick(['POST', 'GET', 'HEAD', 'PROPFIND', 'put'], ['CONNECT', 'GE T']),
      query: or(fc.dictionary(shortText, shortText, { maxKeys: 2 })),
    },
    { requiredKeys: [] },
  )
  const replaceResponse = fc.oneof(
    fc.record({ status, headers: headerMap, body: or(fc.string({ maxLength: 20 })) }, { requiredKeys: [] }),
    fc.record({ status, bodyBase64: pick(['aGk=', ''], ['!!']) }, { requiredKeys: [] }),
  )

  const opPath = pick(['/a', '/user/tier', '/items/-', '', '/x~1y'], ['a', '/~2'])
  const opValue = rarely(fc.jsonValue({ maxDepth: 2 }), deep(70))
  // A clean operation carries a value exactly when its op needs one; a hostile one may not.
  const jsonPatchOp = hostile
    ? fc.record(
        { op: pick(['add', 'remove', 'replace', 'test'], ['delete']), path: opPath, value: opValue },
        { requiredKeys: ['op', 'path'] },
      )
    : fc.oneof(
        fc.record({ op: fc.constantFrom('add', 'replace', 'test'), path: opPath, value: opValue }),
        fc.record({ op: fc.constant('remove'), path: opPath }),
      )

  const patch = fc.record(
    {
      headers: or(fc.array(fc.tuple(headerName, headerValue), { maxLength: 2 })),
      json: fc.record({ merge: rarely(fc.jsonValue({ maxDepth: 3 }), { a: deep(70) }) }),
      jsonPatch: or(fc.array(jsonPatchOp, { minLength: 1, maxLength: 2 })),
    },
    { requiredKeys: [] },
  )

  const throttle = fc.record({ bytesPerSecond: or(fc.integer({ min: 50_000, max: 1_000_000 })) })

  const requestFaults = fc.oneof(
    fc.record({ delay }),
    fc.record({ abort }),
    fc.record({ replace: replaceRequest }),
    fc.record({ patch }),
    fc.record({ delay, abort }),
    fc.record({ delay, patch }),
  )
  const responseFaults = fc.oneof(
    fc.record({ delay }),
    fc.record({ abort }),
    fc.record({ replace: replaceResponse }),
    fc.record({ patch }),
    fc.record({ throttle }),
    fc.record({ replace: replaceResponse, throttle }),
  )

  const common = {
    id: pick(['r1', 'r2', 'r3', 'r4'], ['', 'a b', 'x'.repeat(65)]),
    match,
    percent: or(fc.double({ min: 0, max: 100, noNaN: true })),
    sticky: pick(['x-request-id'], ['a b']),
    maxActive: or(fc.integer({ min: 1, max: 5 })),
  }
  // `source` and `ttl` belong to the rules API; in an experiment the runner sets them (from the
  // run id and the step duration), so experiment rules carry them only when hostile.
  const owned = {
    source: pick(['exp-1', 'exp-2'], [7]),
    ttl: pick(['30s', '5m', '1h'], ['0s', '99999999999999999999d', '5 min']),
  }
  const typo = hostile
    ? fc.oneof({ weight: 30, arbitrary: fc.constant(undefined) }, fc.constantFrom('typo', 'delya', 'Match'))
    : fc.constant(undefined)

  const ruleFrom = (base: { id: fc.Arbitrary<unknown> } & Record<string, fc.Arbitrary<unknown>>) =>
    fc
      .oneof(
        { weight: 10, arbitrary: fc.tuple(fc.record(base, { requiredKeys: ['id'] }), requestFaults, typo) },
        {
          weight: 10,
          arbitrary: fc.tuple(
            fc.record(
              { ...base, match: responseMatch, phase: fc.constant('response') },
              { requiredKeys: ['id', 'phase'] },
            ),
            responseFaults,
            typo,
          ),
        },
        ...(hostile
          ? [
              {
                weight: 1,
                arbitrary: fc.tuple(
                  fc.record({ ...base, phase: weird }, { requiredKeys: ['id', 'phase'] }),
                  responseFaults,
                  typo,
                ),
              },
            ]
          : []),
      )
      .map(([b, faults, t]) => ({ ...b, ...faults, ...(t ? { [t]: true } : {}) }))

  const rule = ruleFrom({ ...common, ...owned })
  const experimentRule = ruleFrom(hostile ? { ...common, ...owned } : common)

  const check = fc.record(
    {
      name: pick(['c1', 'c2'], ['', 'a b']),
      sidecar: fc.record({ target: pick(['front'], ['nope']), stat: pick(['p95', 'errorRate'], ['p42']) }),
      tolerance: fc.record({ max: or(fc.integer({ min: 0, max: 1000 })) }, { requiredKeys: hostile ? [] : ['max'] }),
      window: pick(['5s', '10s'], ['10m', '99999999999999999999d']),
    },
    { requiredKeys: hostile ? ['name'] : ['name', 'sidecar', 'tolerance'] },
  )
  const httpCheck = fc.record({
    name: fc.constant('h1'),
    http: fc.record(
      { url: pick(['http://127.0.0.1:1/x'], ['ftp://x']), bodyRegex: pick(['ok', 'o+k'], ['(', '[a-', '^(a+)+$']) },
      { requiredKeys: ['url'] },
    ),
  })
  const checks = hostile
    ? fc.array(fc.oneof(check, httpCheck), { maxLength: 2 })
    : fc.uniqueArray(fc.oneof(check, httpCheck), { maxLength: 2, selector: (c) => c.name })

  const experiment = fc.record({
    apiVersion: pick(['faultline/v1'], ['v2']),
    kind: pick(['Experiment'], ['Workflow']),
    metadata: fc.record({ name: pick(['exp-1', 'checkout-latency'], ['../x', 'Bad Name', '', 'x.y_z']) }),
    spec: fc.record(
      {
        targets: fc.record({ front: fc.record({ sidecars: pick([['http://127.0.0.1:8481']], [[], 'x']) }) }),
        hypothesis: fc.record({ title: pick(['t'], ['']), checks }),
        method: fc.array(
          fc.record({
            sidecarFault: fc.record({
              target: pick(['front'], ['back']),
              duration: pick(['5s', '1m'], ['0s', '400d']),
              rules: fc.uniqueArray(experimentRule, { minLength: 1, maxLength: 3, selector: (r) => r.id }),
            }),
          }),
          { minLength: 1, maxLength: 2 },
        ),
      },
      { requiredKeys: ['targets', 'hypothesis', 'method'] },
    ),
  })

  return { rule, experiment }
}

const clean = generators(false)
const hostile = generators(true)

/** A rule: clean three times in four, else hostile (a bad value here and there, or anything). */
export const rule = fc.oneof({ weight: 3, arbitrary: clean.rule }, { weight: 1, arbitrary: hostile.rule })

export const ruleSet = fc.oneof(
  { weight: 19, arbitrary: fc.record({ rules: fc.uniqueArray(rule, { maxLength: 3, selector: (r) => r.id }) }) },
  { weight: 1, arbitrary: fc.record({ rules: fc.array(rule, { minLength: 2, maxLength: 3 }) }) },
  { weight: 1, arbitrary: weird },
)

/** An experiment document: clean (its rules too) two times in three, else hostile throughout. */
export const experiment = fc.oneof(
  { weight: 2, arbitrary: clean.experiment },
  { weight: 1, arbitrary: hostile.experiment },
)
