import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { benchCommand } from '../../bin/bench.ts'
import { progressDisplay } from '../../controller/bench/progress.ts'
import { summaryTable, type BenchResult } from '../../controller/bench/report.ts'
import { buildPlan } from '../../src/bench/plan.ts'
import { checkScenario, parseScenarioSpec } from '../../src/bench/scenario.ts'
import { median, type RoundFigures, summarize } from '../../src/bench/summary.ts'
import type { FieldIssue } from '../../src/errors.ts'

const spec = (text: string) => {
  const issues: FieldIssue[] = []
  const s = parseScenarioSpec(text, '--scenario[0]', issues)
  return { s, issues }
}

describe('the scenario spec grammar', () => {
  it('covers the common cases: a status with a percentage, a delay, resets', () => {
    expect(spec('503:10%').s).toEqual({
      name: '503:10%',
      spec: '503:10%',
      rules: [{ id: 'bench-503-10-0', abort: { status: 503 }, percent: 10 }],
    })
    expect(spec('delay:50ms').s!.rules).toEqual([{ id: 'bench-delay-50ms-0', delay: { ms: 50 } }])
    expect(spec('reset:1%').s!.rules).toEqual([{ id: 'bench-reset-1-0', abort: { mode: 'reset' }, percent: 1 }])
  })
  it('takes a name, jitter, a path, throttling and several faults at once', () => {
    expect(spec('slow=delay:200ms~50ms:25%@/api/**').s).toEqual({
      name: 'slow',
      spec: 'slow=delay:200ms~50ms:25%@/api/**',
      rules: [{ id: 'bench-slow-0', delay: { ms: 200, jitterMs: 50 }, percent: 25, match: { path: '/api/**' } }],
    })
    expect(spec('both=delay:1s+close:0.5%').s!.rules).toEqual([
      { id: 'bench-both-0', delay: { ms: 1000 } },
      { id: 'bench-both-1', abort: { mode: 'close' }, percent: 0.5 },
    ])
    expect(spec('throttle:64kb/s').s!.rules).toEqual([
      { id: 'bench-throttle-64kb-s-0', phase: 'response', throttle: { bytesPerSecond: 65536 } },
    ])
  })
  it.each([
    ['503:10', /percent "10" must end with "%"/],
    ['503:abc%', /percent "abc%" must be above 0% and at most 100%/],
    ['503:150%', /percent "150%" must be above 0% and at most 100%/],
    ['999', /unknown fault "999"|status 999/],
    ['delay', /delay needs a duration/],
    ['delay:50', /delay "50" must be a duration with units/],
    ['delay:50ms~x', /delay jitter "x" must be a duration/],
    ['delay:2h', /\/0\/delay\/ms must be <= 3600000/],
    ['teapot:10%', /unknown fault "teapot"/],
    ['503@api', /path "api" must start with "\/"/],
    ['throttle:fast', /throttle "fast" must be a rate/],
    ['baseline=503', /"baseline" is the unfaulted scenario's name/],
    ['', /is empty/],
  ])('%j is refused, naming the field and the part that is wrong', (text, message) => {
    const { s, issues } = spec(text)
    expect(s).toBeUndefined()
    expect(issues.length).toBeGreaterThan(0)
    expect(issues[0]!.path).toBe('--scenario[0]')
    expect(issues.map((i) => i.message).join('; ')).toMatch(message)
  })
  it('a scenario object is checked with the sidecar rule schema, each problem with its path', () => {
    const issues: FieldIssue[] = []
    checkScenario(
      {
        name: 'x',
        rules: [
          { id: 'a', delay: { ms: 5, jiter: 1 } },
          { id: 'b', abort: { status: 503 }, ttl: '1m' },
        ],
      },
      'b.yaml:/scenarios/0',
      issues,
    )
    expect(issues).toContainEqual({ path: 'b.yaml:/scenarios/0/rules/0/delay/jiter', message: 'unknown field "jiter"' })
    expect(issues).toContainEqual(
      expect.objectContaining({
        path: 'b.yaml:/scenarios/0/rules/1/ttl',
        message: expect.stringMatching(/set by the bench/),
      }),
    )
    expect(checkScenario({ name: 'y', spec: '503:1%' }, '/scenarios/1', [])).toMatchObject({
      name: 'y',
      spec: '503:1%',
    })
  })
})

describe('the bench plan', () => {
  const flags = { target: 'http://127.0.0.1:8480/x', sidecar: 'http://127.0.0.1:8481/' }
  it('defaults and flags; the sidecar URL without a trailing slash', () => {
    const r = buildPlan({ flags: { ...flags, rate: '50', rounds: '2' }, scenarios: [{ spec: '503:10%' }] })
    expect(r.ok && r.plan).toMatchObject({
      sidecar: 'http://127.0.0.1:8481',
      rounds: 2,
      load: { url: flags.target, rate: 50, connections: 10, durationMs: 10_000, warmupMs: 2000, method: 'GET' },
    })
  })
  it('names every bad field: flags by flag, document fields by file and pointer', () => {
    const r = buildPlan({
      flags: { rate: 'fast', duration: '10' },
      doc: {
        source: 'b.yaml',
        value: {
          sidecar: 'nope',
          load: { connections: 0, warmpu: '1s' },
          scenarios: [{ name: 'a', spec: '503' }, 'x:1%'],
        },
      },
      scenarios: [],
    })
    expect(r.ok).toBe(false)
    const paths = !r.ok ? r.issues.map((i) => i.path) : []
    for (const p of [
      '--target',
      '--rate',
      '--duration',
      'b.yaml:/sidecar',
      'b.yaml:/load/connections',
      'b.yaml:/load/warmpu',
      'b.yaml:/scenarios/1',
    ])
      expect(paths).toContain(p)
  })
  it('needs at least one scenario, and unique names', () => {
    const none = buildPlan({ flags, scenarios: [] })
    expect(!none.ok && none.issues[0]).toMatchObject({ path: '--scenario' })
    const twice = buildPlan({ flags, scenarios: [{ spec: '503:1%' }, { spec: '503:1%' }] })
    expect(!twice.ok && twice.issues[0]).toMatchObject({ path: '--scenario[1]' })
  })
})

const figures = (over: Partial<RoundFigures>): RoundFigures => ({
  elapsedMs: 1000,
  requests: 100,
  responses: 100,
  errors: 0,
  socketErrors: 0,
  statusCounts: {},
  throughput: 100,
  errorRate: 0,
  p50: 10,
  p95: 20,
  p99: 30,
  max: 40,
  ...over,
})

describe('the summary', () => {
  it('medians across rounds, changes paired with the baseline of the same round', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 2, 3])).toBe(2.5)
    const results = [
      { round: 1, scenario: 'baseline', startedAt: 0, figures: figures({ p95: 20 }) },
      { round: 1, scenario: 'slow', startedAt: 0, figures: figures({ p95: 70, throughput: 90 }) },
      { round: 2, scenario: 'baseline', startedAt: 0, figures: figures({ p95: 30 }) },
      { round: 2, scenario: 'slow', startedAt: 0, figures: figures({ p95: 90, throughput: 80, errorRate: 0.1 }) },
    ]
    const [base, slow] = summarize(results, ['baseline', 'slow'], 'baseline')
    expect(base!.change).toBeUndefined()
    expect(slow!.figures.p95).toEqual({ median: 80, min: 70, max: 90, rounds: [70, 90] })
    expect(slow!.change!.p95Ms).toEqual({ median: 55, min: 50, max: 60, rounds: [50, 60] })
    expect(slow!.change!.throughputPct).toEqual({ median: -15, min: -20, max: -10, rounds: [-10, -20] })
    expect(slow!.change!.errorRatePp.rounds).toEqual([0, 10])
    const table = summaryTable({ rounds: 2, summary: [base!, slow!] } as unknown as BenchResult)
    expect(table).toMatch(
      /^slow +85 \(-15% \[-20 \.\. -10\]\) +10 \(±0 ms \[±0 \.\. ±0\]\) +80 \(\+55 ms \[\+50 \.\. \+60\]\)/m,
    )
  })
})

describe('the progress display', () => {
  const sink = (isTTY: boolean) => {
    const out: string[] = []
    return { out, stream: { isTTY, write: (s: string) => out.push(s) } }
  }
  it('rewrites one status line on a terminal, prints lines above it', () => {
    const { out, stream } = sink(true)
    const p = progressDisplay(stream)
    p.status('a')
    p.status('b')
    p.line('done')
    p.end()
    expect(out.join('')).toBe('\r\x1b[2Ka\r\x1b[2Kb\r\x1b[2Kdone\n')
  })
  it('writes plain lines only elsewhere', () => {
    const { out, stream } = sink(false)
    const p = progressDisplay(stream)
    p.status('a')
    p.line('done')
    p.end()
    expect(out).toEqual(['done\n'])
  })
})

describe('faultline bench on the command line', () => {
  afterEach(() => vi.restoreAllMocks())
  const capture = () => {
    const err: string[] = []
    const out: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true))
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true))
    return { err, out }
  }
  it('--help and -h print the usage and start nothing', async () => {
    const { out } = capture()
    expect(await benchCommand(['--help', '--rate', 'bogus'])).toBe(0)
    expect(await benchCommand(['-h'])).toBe(0)
    expect(out.join('')).toContain('usage: faultline bench [options]')
    expect(out.join('')).toContain('--scenario SPEC|FILE')
  })
  it('a bad spec exits 64 with one line naming the flag', async () => {
    const { err } = capture()
    const code = await benchCommand([
      '--target',
      'http://127.0.0.1:1/x',
      '--sidecar',
      'http://127.0.0.1:1',
      '--scenario',
      '503:abc%',
    ])
    expect(code).toBe(64)
    expect(err.join('')).toBe(
      'faultline bench: --scenario[0]: "503:abc%": percent "abc%" must be above 0% and at most 100% (see faultline bench --help)\n',
    )
  })
  it('unknown flags, a missing scenario file and a missing --target exit 64', async () => {
    const { err } = capture()
    expect(await benchCommand(['--rpm', '5'])).toBe(64)
    expect(await benchCommand(['--scenario', 'missing.yaml'])).toBe(64)
    expect(await benchCommand(['--scenario', '503:1%'])).toBe(64)
    expect(err.join('')).toMatch(/unknown option --rpm/)
    expect(err.join('')).toMatch(/--scenario missing.yaml: no such file/)
    expect(err.join('')).toMatch(/--target: is required/)
  })
  it('a bench document: ${NAME} from the environment, and a bad field exits 64 naming file and pointer', async () => {
    const { err } = capture()
    const dir = mkdtempSync(path.join(tmpdir(), 'faultline-bench-doc-'))
    const file = path.join(dir, 'bench.yaml')
    writeFileSync(
      file,
      'target: ${BENCH_TARGET}\nsidecar: http://127.0.0.1:1\nload: { duration: 10 }\nscenarios: ["503:1%"]\n',
    )
    vi.stubEnv('BENCH_TARGET', 'http://127.0.0.1:1/x')
    expect(await benchCommand(['--file', file])).toBe(64)
    expect(err.join('')).toContain(`faultline bench: ${file}:/load/duration: must be a duration with units`)
    writeFileSync(file, 'target: ${NOT_SET_ANYWHERE}\n')
    expect(await benchCommand(['--file', file])).toBe(64)
    expect(err.join('')).toMatch(/\/target uses \$\{NOT_SET_ANYWHERE\}, which is not set/)
    vi.unstubAllEnvs()
  })
})
