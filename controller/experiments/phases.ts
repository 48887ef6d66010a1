/**
 * Samples a phase's checks until each is decided, the phase ends, or the run stops:
 *
 *   before  the gate: every check must pass before anything is injected (bounded wait)
 *   during  while the method runs; guardrails here abort the run when breached
 *   after   recovery, timed from the revert, within each check's `recoverWithin`
 */
import {
  fmt,
  type Phase,
  type PhaseResult,
  PhaseTracker,
  type Sample,
  type Tolerance,
} from '../../src/experiments/judge.ts'
import type { CheckSpec, ObservationSpec, StepSpec } from '../../src/experiments/schema.ts'
import { type ClauseSpec, clausesOf, type CohortData } from '../../src/experiments/statistics-clause.ts'
import { HolmBoard, plannedLooks } from '../../src/experiments/statistics-looks.ts'
import { sleep } from '../injectors/index.ts'
import { type CheckContext, sampleCheck } from './checks.ts'
import type { Journal } from './journal.ts'
import type { LookPlan } from './statistical-checks.ts'
import { PhaseAccumulator } from './windows.ts'

const DEFAULT_INTERVAL_MS = 2000
const DEFAULT_FAILURE_THRESHOLD = 2
const DEFAULT_RECOVER_WITHIN_MS = 30_000

export function phasesOf(c: CheckSpec, guardrail: boolean): Phase[] {
  return c.phases ?? (guardrail ? ['during'] : ['before', 'during', 'after'])
}

export interface PhaseRun {
  journal: Journal
  ctx: CheckContext
  /** Passing `before` samples: the baseline relative tolerances compare with. */
  baselines: Map<string, number>
  /** Called when a guardrail is breached (the runner aborts the run). */
  onBreach(check: string, detail: string): void
  /** The requests a statistical check's passing gate judged: its `relative: { to: before }` control. */
  statisticalBaselines?: Map<string, CohortData>
}

const DEFAULT_CONFIDENCE = 0.95
const DEFAULT_WINDOW_MS = 10_000

/**
 * The clauses a hypothesis check is judged by statistically in this phase; undefined for point
 * judgement (guardrails, once-checks, `judgement: point`, stats and bounds that are not shares).
 * In the before phase a bound relative to the before baseline does not apply (it is the baseline).
 */
export function statisticalClauses(run: PhaseRun, c: CheckSpec, phase: Phase): ClauseSpec[] | undefined {
  const hypothesis = run.journal.experiment.spec.hypothesis
  const record = run.journal.checks[c.name]
  if (!c.sidecar || c.once || record?.guardrail || record?.observation) return undefined
  if ((c.judgement ?? hypothesis.judgement ?? 'statistical') !== 'statistical') return undefined
  const clauses = clausesOf(c.sidecar.stat, c.tolerance as Tolerance | undefined)
  return phase === 'before' ? clauses?.filter((x) => x.kind === 'absolute' || x.to !== 'before') : clauses
}

/** Percent of each sidecar fault rule the method applies to `target`, by rule id. */
function rulePercents(steps: StepSpec[], target: string, into = new Map<string, number>()): Map<string, number> {
  for (const s of steps) {
    if (s.parallel) rulePercents(s.parallel, target, into)
    if (s.serial) rulePercents(s.serial, target, into)
    if (s.sidecarFault?.target !== target) continue
    for (const r of s.sidecarFault.rules as { id?: string; percent?: number }[])
      if (r.id !== undefined) into.set(r.id, r.percent ?? 100)
  }
  return into
}

/**
 * Samples `checks` through one phase. `since` (during: the method start; after: the revert)
 * keeps sidecar windows to requests completed in the phase, and is where recovery is timed from.
 */
export async function runPhase(
  run: PhaseRun,
  checks: CheckSpec[],
  phase: Phase,
  until: AbortSignal,
  opts: { deadlineMs?: number; since?: number; plannedMs?: number } = {},
): Promise<void> {
  const startedAt = opts.since ?? Date.now()
  const clausesByCheck = new Map(checks.map((c) => [c.name, statisticalClauses(run, c, phase)]))
  const board = new HolmBoard(
    [...clausesByCheck].flatMap(([name, clauses]) => (clauses ?? []).map((_, i) => `${name}#${i}`)),
  )
  const once = runOnceChecks(
    run,
    checks.filter((c) => c.once),
    phase,
    opts.since,
  )
  await Promise.all(
    checks
      .filter((c) => !c.once)
      .map(async (c) => {
        const clauses = clausesByCheck.get(c.name)
        if (clauses) return statisticalPhase(run, c, clauses, board, phase, until, { ...opts, startedAt })
        const record = run.journal.checks[c.name]!
        const tracker = new PhaseTracker(phase, c.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD, startedAt)
        const interval = c.interval ?? DEFAULT_INTERVAL_MS
        const deadline =
          phase === 'after'
            ? startedAt + (c.recoverWithin ?? DEFAULT_RECOVER_WITHIN_MS)
            : startedAt + (opts.deadlineMs ?? Infinity)
        let since = opts.since
        for (;;) {
          const sample = await sampleCheck(c, phase, run.ctx, { since })
          record.samples.push(sample)
          const decided = tracker.add(sample)
          // Recovery: requests up to a failing sample are known not recovered, so the next
          // sample judges only later ones, and the recovery time is where passing data begins.
          if (phase === 'after' && sample.outcome === 'fail') since = sample.at
          if (phase === 'before' && sample.outcome === 'pass' && sample.value !== undefined)
            run.baselines.set(c.name, sample.value)
          if (record.guardrail && tracker.breached) {
            run.onBreach(c.name, sample.detail ?? '')
            break
          }
          if (decided || until.aborted || Date.now() + interval > deadline) break
          await sleep(interval, until)
          if (until.aborted) break
        }
        const cutShort = phase === 'after' && until.aborted && Date.now() < deadline
        record.phases.push(tracker.result({ interrupted: cutShort }))
      }),
  )
  await once
}

/**
 * A statistically judged check through one phase: every look judges all the phase's requests so
 * far (PhaseAccumulator), spending the error rate over the planned looks. before: the first
 * passing look (or `failureThreshold` consecutive failing ones) settles the gate. during: a fail at
 * any look is final; a pass only at the last look, taken when the method ends. after: the first
 * passing look is the recovery. In before and after a failing look restarts the data from the
 * next second (what came before is known not steady, or not recovered).
 */
async function statisticalPhase(
  run: PhaseRun,
  c: CheckSpec,
  clauses: ClauseSpec[],
  board: HolmBoard,
  phase: Phase,
  until: AbortSignal,
  opts: { deadlineMs?: number; since?: number; plannedMs?: number; startedAt: number },
): Promise<void> {
  const record = run.journal.checks[c.name]!
  const interval = c.interval ?? DEFAULT_INTERVAL_MS
  const { startedAt } = opts
  const span =
    phase === 'after'
      ? (c.recoverWithin ?? DEFAULT_RECOVER_WITHIN_MS)
      : phase === 'before'
        ? (opts.deadlineMs ?? 0)
        : (opts.plannedMs ?? 0)
  const deadline = phase === 'during' ? Infinity : startedAt + span
  const windowSeconds = Math.max(1, Math.round((c.window ?? DEFAULT_WINDOW_MS) / 1000))
  // The gate judges the recent steady state (the check's window); the others their own requests only.
  const firstSecond =
    phase === 'before' ? Math.floor(run.ctx.now() / 1000) - windowSeconds + 1 : Math.ceil(startedAt / 1000)
  const experiment = run.journal.experiment.spec
  const plan: LookPlan = {
    phase,
    acc: new PhaseAccumulator(firstSecond),
    clauses,
    keys: clauses.map((_, i) => `${c.name}#${i}`),
    board,
    confidence: experiment.hypothesis.confidence ?? DEFAULT_CONFIDENCE,
    look: 0,
    looks: plannedLooks(span, interval),
    mayPass: phase !== 'during',
    baseline: run.statisticalBaselines?.get(c.name),
    gates: phase === 'during',
    rulePercents: rulePercents(experiment.method, c.sidecar!.target),
  }
  // A significant failure fails during and after at once; the gate, as documented, waits for
  // `failureThreshold` consecutive failing looks (a slow start on a busy machine is not a steady state yet).
  const tracker = new PhaseTracker(
    phase,
    phase === 'before' ? (c.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD) : 1,
    startedAt,
  )
  const samples: Sample[] = []
  for (;;) {
    const final = phase === 'during' && until.aborted
    plan.look++
    plan.mayPass = phase !== 'during' || final
    const sample = await sampleCheck(c, phase, run.ctx, { statistical: plan })
    record.samples.push(sample)
    samples.push(sample)
    const decided = tracker.add(sample)
    // Requests up to a failing look are known not (yet) steady or recovered: judge later ones only.
    if (phase !== 'during' && sample.outcome === 'fail') plan.acc.restart(Math.floor(sample.at / 1000) + 1)
    if (phase === 'before' && sample.outcome === 'pass') {
      if (sample.value !== undefined) run.baselines.set(c.name, sample.value)
      if (plan.judged) (run.statisticalBaselines ??= new Map()).set(c.name, plan.judged)
    }
    if (final || decided) break
    if (phase !== 'during' && (until.aborted || Date.now() + interval > deadline)) break
    // The method ended: one more look, at once, is the final one.
    if (!until.aborted) await sleep(interval, until)
  }
  const cutShort = phase === 'after' && until.aborted && Date.now() < deadline
  record.phases.push(withStatistics(tracker.result({ interrupted: cutShort }), samples))
}

/** A statistical phase's result says it in the deciding look's words, and carries its statistics. */
function withStatistics(r: PhaseResult, samples: Sample[]): PhaseResult {
  const judged = samples.filter((s) => s.statistics)
  const decider =
    r.result === 'pass'
      ? judged.find((s) => s.outcome === 'pass')
      : r.result === 'fail'
        ? r.phase === 'after'
          ? judged.findLast((s) => s.outcome === 'fail')
          : judged.find((s) => s.outcome === 'fail')
        : judged.at(-1)
  if (!decider?.statistics) return r
  const words = decider.detail ?? decider.statistics.words
  const reason =
    r.phase === 'after' && r.result === 'pass'
      ? `recovered: ${words}`
      : r.phase === 'after' && r.result === 'fail'
        ? `did not recover: ${words}`
        : r.reason.startsWith('interrupted')
          ? `interrupted before it recovered: ${words}`
          : r.result === 'inconclusive' && samples.at(-1) !== decider
            ? `${samples.at(-1)?.detail ?? ''} (last judged: ${words})`
            : words
  return { ...r, reason, statistics: decider.statistics }
}

/**
 * Once-checks: one sample decides each, taken one after another in declared order; after the
 * first that does not pass the rest are not run (how Chaos Toolkit checks a hypothesis).
 */
async function runOnceChecks(run: PhaseRun, checks: CheckSpec[], phase: Phase, since?: number): Promise<void> {
  let missed: string | undefined
  for (const c of checks) {
    const record = run.journal.checks[c.name]!
    if (missed) {
      record.phases.push({ phase, result: 'inconclusive', reason: `not run: ${missed} did not pass`, samples: 0 })
      continue
    }
    const sample = await sampleCheck(c, phase, run.ctx, { since })
    record.samples.push(sample)
    const detail = sample.detail ?? ''
    if (sample.outcome === 'pass') {
      if (phase === 'before' && sample.value !== undefined) run.baselines.set(c.name, sample.value)
      record.phases.push({ phase, result: 'pass', reason: detail || 'passed', samples: 1 })
      continue
    }
    missed = c.name
    const failed = sample.outcome === 'fail'
    record.phases.push({
      phase,
      result: failed ? 'fail' : 'inconclusive',
      reason: failed ? detail : `${sample.outcome}: ${detail}`,
      samples: 1,
    })
    if (failed && record.guardrail) run.onBreach(c.name, detail)
  }
}

const DEFAULT_OBSERVE_AFTER_MS = 10_000

/**
 * Samples observations through one phase: figures recorded, never judged. `before` takes one
 * sample, `during` samples until the method ends (`until`), `after` for each observation's
 * `observeAfter`. Each phase's record is inconclusive by nature and says what was seen.
 */
export async function observePhase(
  run: PhaseRun,
  observations: ObservationSpec[],
  phase: Phase,
  until: AbortSignal,
  opts: { since?: number } = {},
): Promise<void> {
  const startedAt = opts.since ?? Date.now()
  await Promise.all(
    observations
      .filter((o) => (o.phases ?? ['before', 'during', 'after']).includes(phase))
      .map(async (o) => {
        const record = run.journal.checks[o.name]!
        const interval = o.interval ?? DEFAULT_INTERVAL_MS
        const deadline = phase === 'after' ? startedAt + (o.observeAfter ?? DEFAULT_OBSERVE_AFTER_MS) : Infinity
        const spec = { ...o, tolerance: undefined } as CheckSpec
        const samples: Sample[] = []
        for (;;) {
          const sample = await sampleCheck(spec, phase, run.ctx, { since: opts.since })
          record.samples.push(sample)
          samples.push(sample)
          if (phase === 'before' || until.aborted || Date.now() + interval > deadline) break
          await sleep(interval, until)
          if (until.aborted) break
        }
        record.phases.push({ phase, result: 'inconclusive', reason: observedText(samples), samples: samples.length })
      }),
  )
}

/** "observed 12 samples: 2 .. 3, last 3" or why nothing was. */
function observedText(samples: Sample[]): string {
  const values = samples.filter((s) => s.outcome === 'observed' && s.value !== undefined).map((s) => s.value!)
  if (!values.length) return `observed nothing: ${samples.at(-1)?.detail ?? 'no samples'}`
  const lo = Math.min(...values)
  const hi = Math.max(...values)
  const range = lo === hi ? fmt(lo) : `${fmt(lo)} .. ${fmt(hi)}`
  return `observed ${values.length} of ${samples.length} sample(s): ${range}, last ${fmt(values.at(-1)!)}`
}
