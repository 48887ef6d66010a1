/**
 * Thousands of synthetic experiments at known true shares of slow requests, judged by the same
 * code as a real run (src/experiments/statistics-*.ts): a during phase of `looks` planned looks,
 * each adding `perLook` requests, fail tests at every look with the error rate spent over the
 * looks, the pass test at the last. At the boundary (the true share equals the allowed one) a
 * pass and a fail are both wrong; each must happen at most 1 - confidence of the time.
 *
 * For contrast, the point judgement it replaces: each look's own window compared with the bound,
 * failing on two consecutive failing windows.
 *
 *   npm run sim:verdicts                # 4,000 experiments per row
 *   npm run sim:verdicts -- --runs 500
 */
import { clausesOf, decide, evaluate, type Evaluated } from '../src/experiments/statistics-clause.ts'
import type { Distribution } from '../src/experiments/statistics-histogram.ts'
import { HolmBoard, lookLevel } from '../src/experiments/statistics-looks.ts'
import { seededRandom, type RandomSource } from '../src/random.ts'
import { cpUpper, pBelow } from '../src/experiments/statistics.ts'

export interface SimulationOptions {
  runs: number
  confidence: number
  looks: number
  perLook: number
  seed: number
}

export interface Row {
  clause: string
  share: number
  /** What a correct judge says at this share: pass (below the bound), fail (above), either (on it). */
  truth: 'holds' | 'broken' | 'boundary'
  pass: number
  fail: number
  inconclusive: number
  /** Point judgement over the same traffic: a look's own window against the bound, 2 consecutive fail. */
  pointPass: number
  pointFail: number
  /**
   * The exact probability of a pass at this share: a pass is only claimed at the last look, on all
   * its requests, so it is P(K <= k*) for the largest k* whose upper bound is below the allowed share.
   */
  exactPass: number
}

/** P(pass) exactly: the binomial probability of at most k* beyond the threshold in n requests. */
export function exactPassProbability(n: number, allowed: number, share: number, alpha: number): number {
  let kStar = -1
  while (cpUpper(kStar + 1, n, alpha) < allowed) kStar++
  return kStar < 0 ? 0 : pBelow(kStar, n, share)
}

/** Requests of one look at 20 ms, `slow` of them at 400 ms (a p95 <= 150 ms clause sees only the split). */
const distribution = (n: number, slow: number): Distribution => ({
  values: [20_000, 400_000],
  counts: [n - slow, slow],
  total: n,
})

function binomial(n: number, p: number, random: RandomSource): number {
  let k = 0
  for (let i = 0; i < n; i++) if (random() < p) k++
  return k
}

/** One experiment: the statistical decision at the end of its during phase, and the point one. */
function experiment(
  stat: 'p95' | 'errorRate',
  limit: number,
  share: number,
  o: SimulationOptions,
  random: RandomSource,
) {
  const [spec] = clausesOf(stat, { max: limit })!
  const alpha = 1 - o.confidence
  const board = new HolmBoard(['c#0'])
  let n = 0
  let k = 0
  let streak = 0
  let pointFailed = false
  let pointPassed = false
  for (let look = 1; look <= o.looks; look++) {
    const slow = binomial(o.perLook, share, random)
    n += o.perLook
    k += slow
    // Point judgement: this look's window alone (p95 of the window, or its error rate) against the bound.
    const windowShare = slow / o.perLook
    const windowFails = stat === 'p95' ? windowShare > 1 - 0.95 : windowShare > limit
    streak = windowFails ? streak + 1 : 0
    if (streak >= 2) pointFailed = true
    if (!windowFails) pointPassed = true
    const data = stat === 'p95' ? { dist: distribution(n, k), errors: 0 } : { dist: distribution(n, 0), errors: k }
    const final = look === o.looks
    const e = evaluate(spec!, data, undefined, alpha) as Evaluated
    board.post('c#0', e.pFail())
    const holm = board.judge('c#0', lookLevel(alpha, look, o.looks))
    const s = decide(e, {
      confidence: o.confidence,
      aPass: alpha,
      aFail: holm.level,
      rejected: holm.rejected,
      mayPass: final,
    })
    if (s.decision === 'fail') return { decision: 'fail' as const, pointFailed, pointPassed }
    if (final) return { decision: s.decision, pointFailed, pointPassed }
  }
  throw new Error('unreachable: the last look decides')
}

export function simulate(o: SimulationOptions): Row[] {
  const random = seededRandom(o.seed)
  const cases = [
    { stat: 'p95' as const, limit: 150, clause: 'p95 <= 150 ms', allowed: 0.05, shares: [0.02, 0.05, 0.08] },
    { stat: 'errorRate' as const, limit: 0.01, clause: 'errorRate <= 1%', allowed: 0.01, shares: [0.002, 0.01, 0.025] },
  ]
  const rows: Row[] = []
  for (const c of cases)
    for (const share of c.shares) {
      const row: Row = {
        clause: c.clause,
        share,
        truth: share < c.allowed ? 'holds' : share > c.allowed ? 'broken' : 'boundary',
        pass: 0,
        fail: 0,
        inconclusive: 0,
        pointPass: 0,
        pointFail: 0,
        exactPass: exactPassProbability(o.looks * o.perLook, c.allowed, share, 1 - o.confidence),
      }
      for (let i = 0; i < o.runs; i++) {
        const r = experiment(c.stat, c.limit, share, o, random)
        if (r.decision === 'pass') row.pass++
        else if (r.decision === 'fail') row.fail++
        else row.inconclusive++
        if (r.pointFailed) row.pointFail++
        else if (r.pointPassed) row.pointPass++
      }
      rows.push(row)
    }
  return rows
}

const rate = (x: number, runs: number) => `${((100 * x) / runs).toFixed(1)}%`

export function table(rows: Row[], o: SimulationOptions): string {
  const lines = [
    `${o.runs} experiments per row, ${o.looks} looks of ${o.perLook} requests, confidence ${o.confidence}, seed ${o.seed}`,
    '',
    '| clause | true share | truth | pass | pass (exact) | fail | inconclusive | point: pass | point: fail |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.clause} | ${(r.share * 100).toFixed(1)}% | ${r.truth} | ${rate(r.pass, o.runs)} | ${(100 * r.exactPass).toFixed(2)}% | ${rate(r.fail, o.runs)} | ${rate(r.inconclusive, o.runs)} | ${rate(r.pointPass, o.runs)} | ${rate(r.pointFail, o.runs)} |`,
    ),
  ]
  return lines.join('\n')
}

function main(argv: string[]): void {
  const arg = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? Number(argv[i + 1]) : fallback
  }
  const o: SimulationOptions = {
    runs: arg('runs', 4000),
    confidence: arg('confidence', 0.95),
    looks: arg('looks', 6),
    perLook: arg('per-look', 200),
    seed: arg('seed', 15),
  }
  const rows = simulate(o)
  process.stdout.write(table(rows, o) + '\n')
  const alpha = 1 - o.confidence
  // Simulated rates carry sampling error (two standard errors allowed); the exact pass rate does not.
  const slack = 2 * Math.sqrt((alpha * (1 - alpha)) / o.runs)
  const bad = rows.filter(
    (r) =>
      r.truth === 'boundary' &&
      (r.exactPass > alpha || r.pass / o.runs > alpha + slack || r.fail / o.runs > alpha + slack),
  )
  if (bad.length) {
    process.stderr.write(
      `false pass or false fail above ${alpha} at the boundary: ${bad.map((r) => r.clause).join(', ')}\n`,
    )
    process.exitCode = 1
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2))
