/**
 * The bench itself: a warm-up, then interleaved rounds (baseline, s1, s2, baseline, s1, s2, ...)
 * so slow drift in the system lands on every scenario alike. A scenario's rules go to the
 * sidecar with a ttl (the round plus a margin: faults always expire, even if this process is
 * killed) and a source tag, and are removed by that tag after the round, on errors and on an
 * interrupt too.
 */
import { randomBytes } from 'node:crypto'
import { BASELINE } from '../../src/bench/scenario.ts'
import type { BenchPlan } from '../../src/bench/plan.ts'
import type { RoundResult } from '../../src/bench/summary.ts'
import { fmt } from '../../src/experiments/judge.ts'
import { SidecarClient } from '../sidecar-client.ts'
import { type LiveCounts, runLoad } from './load.ts'
import { preflight, sidecarStats } from './preflight.ts'
import type { Progress } from './progress.ts'

/** How long after its round a rule would still live if the bench could not remove it. */
export const TTL_MARGIN_MS = 15_000

export interface BenchRun {
  id: string
  /** The rules' source tag on the sidecar. */
  source: string
  startedAt: number
  endedAt: number
  status: 'completed' | 'interrupted'
  results: RoundResult[]
  /** Problems that did not stop the bench (evidence that could not be read). */
  notes: string[]
}

function benchId(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  const d = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`
  const t = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`
  return `bench-${d}-${t}-${randomBytes(2).toString('hex')}`
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)}%`)
const ms = (v: number | null) => (v === null ? '-' : `${fmt(v)} ms`)

function statusText(label: string, plannedMs: number, c: LiveCounts): string {
  const err = c.requests ? pct(c.errors / c.requests) : '-'
  return `  ${label} ${(c.elapsedMs / 1000).toFixed(1)}/${(plannedMs / 1000).toFixed(1)}s  ${c.requests} req  p95 ${c.p95 === null ? '-' : `${c.p95.toFixed(1)} ms`}  err ${err}`
}

export interface RunBenchOptions {
  plan: BenchPlan
  token?: string
  progress: Progress
  /** Aborting ends the current round early, reverts its rules and skips the rest. */
  signal?: AbortSignal
}

/**
 * Runs the plan. Throws (after reverting) when the sidecar refuses or cannot be reached; an
 * interrupt returns the rounds finished so far with status `interrupted`.
 */
export async function runBench(opts: RunBenchOptions): Promise<BenchRun> {
  const { plan, progress, signal } = opts
  const client = new SidecarClient(plan.sidecar, opts.token)
  const startedAt = Date.now()
  const id = benchId(new Date(startedAt))
  const run: BenchRun = { id, source: id, startedAt, endedAt: startedAt, status: 'completed', results: [], notes: [] }
  await preflight(plan, client, run.source)
  const { load } = plan
  if (load.warmupMs > 0 && !signal?.aborted) {
    const label = 'warm-up'
    await runLoad(load, load.warmupMs, {
      signal,
      onTick: (c) => progress.status(statusText(label, load.warmupMs, c)),
    })
    progress.line(`  warm-up done (${fmt(load.warmupMs / 1000)} s, not counted)`)
  }
  const order = [{ name: BASELINE, rules: [] as Record<string, unknown>[] }, ...plan.scenarios]
  try {
    for (let round = 1; round <= plan.rounds && !signal?.aborted; round++)
      for (const scenario of order) {
        if (signal?.aborted) break
        const label = `[round ${round}/${plan.rounds}] ${scenario.name}`
        const result = await runRound(client, plan, run, scenario, round, {
          signal,
          onTick: (c) => progress.status(statusText(label, load.durationMs, c)),
        })
        if (signal?.aborted) break
        run.results.push(result)
        const f = result.figures
        progress.line(
          `  ${label}: ${fmt(f.throughput)} req/s, p50 ${ms(f.p50)}, p95 ${ms(f.p95)}, p99 ${ms(f.p99)}, errors ${pct(f.errorRate)}`,
        )
      }
  } finally {
    progress.end()
  }
  run.status = signal?.aborted ? 'interrupted' : 'completed'
  run.endedAt = Date.now()
  return run
}

/** One scenario for one round: apply (with ttl), load, read what landed, always remove. */
async function runRound(
  client: SidecarClient,
  plan: BenchPlan,
  run: BenchRun,
  scenario: { name: string; rules: Record<string, unknown>[] },
  round: number,
  load: { signal?: AbortSignal; onTick: (c: LiveCounts) => void },
): Promise<RoundResult> {
  const { durationMs } = plan.load
  const faulted = scenario.rules.length > 0
  if (faulted) {
    const ttl = `${durationMs + TTL_MARGIN_MS}ms`
    await client.addRules(scenario.rules.map((r) => ({ ...r, ttl, source: run.source })))
  }
  const startedAt = Date.now()
  try {
    const figures = await runLoad(plan.load, durationMs, load)
    const result: RoundResult = { round, scenario: scenario.name, startedAt, figures }
    if (faulted) result.injected = await evidence(plan, run, scenario, figures.elapsedMs)
    return result
  } finally {
    // Removed by source, so a rule is gone even if the load failed half-way.
    if (faulted) await client.removeBySource(run.source)
  }
}

/** Requests each rule matched and faulted in the round, from the sidecar's own statistics. */
async function evidence(
  plan: BenchPlan,
  run: BenchRun,
  scenario: { name: string; rules: Record<string, unknown>[] },
  elapsedMs: number,
): Promise<Record<string, { matched: number; injected: number }> | undefined> {
  try {
    // Whole statistics seconds: the round's partial first second needs one more than its length.
    const stats = await sidecarStats(plan.sidecar, Math.ceil(elapsedMs / 1000) + 1)
    return Object.fromEntries(
      scenario.rules.map((r) => [String(r.id), stats.rules?.[String(r.id)] ?? { matched: 0, injected: 0 }]),
    )
  } catch (err) {
    // The figures stand without it; the result says what is missing and why.
    run.notes.push(`${scenario.name}: could not read what the rules injected: ${(err as Error).message}`)
    return undefined
  }
}
