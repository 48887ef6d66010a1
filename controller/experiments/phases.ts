/**
 * Samples a phase's checks until each is decided, the phase ends, or the run stops:
 *
 *   before  the gate: every check must pass before anything is injected (bounded wait)
 *   during  while the method runs; guardrails here abort the run when breached
 *   after   recovery, timed from the revert, within each check's `recoverWithin`
 */
import { fmt, type Phase, PhaseTracker, type Sample } from '../../src/experiments/judge.ts'
import type { CheckSpec, ObservationSpec } from '../../src/experiments/schema.ts'
import { sleep } from '../injectors/index.ts'
import { type CheckContext, sampleCheck } from './checks.ts'
import type { Journal } from './journal.ts'

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
  opts: { deadlineMs?: number; since?: number } = {},
): Promise<void> {
  const startedAt = opts.since ?? Date.now()
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
