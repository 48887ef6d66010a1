/**
 * The controller's Prometheus metrics (GET /metrics): runs by outcome, runs and faults in
 * progress, blast radius, recovery time, halt, schedule firings; plus build info and the
 * process metrics (src/metrics.ts). Counters move when runs and firings are reported by
 * RunManager and Scheduler; gauges of what is happening now are computed at scrape time from
 * the live journals and the store, so they cannot drift from the truth.
 *
 * Counters of rare events are created at 0 as soon as their labels are known (a run's
 * experiment and checks when it starts, a schedule when it is armed): increase() over a series
 * that first appears at 1 would miss that first event.
 */
import { Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client'
import type { FaultlineError } from '../src/errors.ts'
import type { ExperimentDoc } from '../src/experiments/schema.ts'
import type { Logger } from '../src/log.ts'
import type { MetricSpec } from '../src/lean-metrics.ts'
import { registerCommonMetrics } from '../src/metrics.ts'
import type { FaultRecord, Journal } from './experiments/journal.ts'
import type { RunManager } from './runs.ts'
import type { Scheduler, SkipReason } from './scheduler.ts'
import type { Store } from './store/types.ts'

/** Every controller metric (docs/metrics.md lists each; a test checks). */
export const CONTROLLER_METRICS = {
  runs: {
    name: 'faultline_runs_total',
    type: 'counter',
    help: 'Runs that ended, by experiment, status (completed, aborted, errored) and verdict (pass, fail, inconclusive). Dry runs are not counted.',
    labels: ['experiment', 'status', 'verdict'],
  },
  inProgress: {
    name: 'faultline_runs_in_progress',
    type: 'gauge',
    help: 'Runs in progress now (dry runs included).',
    labels: [],
  },
  runActive: {
    name: 'faultline_run_active',
    type: 'gauge',
    help: '1 for each run in progress; the series disappears when the run ends (Grafana shades run windows with it).',
    labels: ['experiment', 'run_id'],
  },
  checks: {
    name: 'faultline_check_results_total',
    type: 'counter',
    help: 'Hypothesis checks and guardrails of ended runs, by result (pass, fail, inconclusive).',
    labels: ['experiment', 'check', 'result'],
  },
  recovery: {
    name: 'faultline_recovery_seconds',
    type: 'histogram',
    help: 'Time from the revert to the first passing data of each check that recovered in its after phase (recoveredAfterMs).',
    labels: ['experiment', 'check'],
  },
  faultsActive: {
    name: 'faultline_run_faults_active',
    type: 'gauge',
    help: 'Faults applied and not yet reverted by runs in progress, by fault kind and experiment target.',
    labels: ['kind', 'target'],
  },
  targetsAffected: {
    name: 'faultline_fault_targets_affected',
    type: 'gauge',
    help: 'Blast radius now: sidecars, pods, nodes or processes under an applied fault, by fault kind and experiment target.',
    labels: ['kind', 'target'],
  },
  faultsApplied: {
    name: 'faultline_run_faults_applied_total',
    type: 'counter',
    help: 'Faults applied by ended runs, by fault kind and experiment target.',
    labels: ['kind', 'target'],
  },
  runTargets: {
    name: 'faultline_run_targets_affected',
    type: 'histogram',
    help: 'Blast radius per ended run: distinct sidecars, pods, nodes and processes its faults reached.',
    labels: ['experiment'],
  },
  halted: {
    name: 'faultline_halted',
    type: 'gauge',
    help: '1 while the controller is halted (runs refused), else 0; absent when the store cannot be read.',
    labels: [],
  },
  firings: {
    name: 'faultline_schedule_firings_total',
    type: 'counter',
    help: 'Schedule firings (cron or trigger), by outcome (started, skipped).',
    labels: ['schedule', 'outcome'],
  },
  skips: {
    name: 'faultline_schedule_skips_total',
    type: 'counter',
    help: 'Skipped schedule firings by reason (halted, outside_window, concurrency_forbid, experiment_missing, experiment_invalid, experiment_unreadable, start_refused).',
    labels: ['schedule', 'reason'],
  },
} as const satisfies Record<string, MetricSpec>

const STATUSES = ['completed', 'aborted', 'errored'] as const
const VERDICTS = ['pass', 'fail', 'inconclusive'] as const
const SKIP_REASONS: readonly SkipReason[] = [
  'halted',
  'outside_window',
  'concurrency_forbid',
  'experiment_missing',
  'experiment_invalid',
  'experiment_unreadable',
  'start_refused',
]
/** Seconds: a recovery is judged in sampling intervals (default 2 s) up to its deadline. */
const RECOVERY_BUCKETS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600]
const TARGET_BUCKETS = [1, 2, 3, 5, 10, 20, 50, 100, 250, 500, 1000]

/** The members a fault reached: Kubernetes objects, acknowledging sidecars (fleet), or sidecars/processes. */
export function membersOf(f: FaultRecord): string[] {
  if (f.objects?.length) return f.objects.map((o) => `${o.kind}/${o.namespace ?? ''}/${o.name}`)
  const acked = Object.keys(f.acknowledged ?? {})
  return acked.length ? acked : f.on
}

const applied = (f: FaultRecord) => f.appliedAt !== undefined

function counter(spec: MetricSpec, registry: Registry) {
  return new Counter({ name: spec.name, help: spec.help, labelNames: spec.labels, registers: [registry] })
}

export interface ControllerMetrics {
  registry: Registry
  /** The Prometheus text of every metric. */
  text(): Promise<string>
}

export function createControllerMetrics(deps: {
  store: Store
  runs: RunManager
  scheduler: Scheduler
  log: Logger
}): ControllerMetrics {
  const M = CONTROLLER_METRICS
  const registry = new Registry()
  const runs = counter(M.runs, registry)
  const checks = counter(M.checks, registry)
  const faultsApplied = counter(M.faultsApplied, registry)
  const firings = counter(M.firings, registry)
  const skips = counter(M.skips, registry)
  const recovery = new Histogram({
    name: M.recovery.name,
    help: M.recovery.help,
    labelNames: M.recovery.labels,
    buckets: RECOVERY_BUCKETS,
    registers: [registry],
  })
  const runTargets = new Histogram({
    name: M.runTargets.name,
    help: M.runTargets.help,
    labelNames: M.runTargets.labels,
    buckets: TARGET_BUCKETS,
    registers: [registry],
  })

  new Gauge({
    name: M.inProgress.name,
    help: M.inProgress.help,
    registers: [registry],
    collect() {
      this.set(deps.runs.active().length)
    },
  })
  new Gauge({
    name: M.runActive.name,
    help: M.runActive.help,
    labelNames: M.runActive.labels,
    registers: [registry],
    collect() {
      this.reset()
      for (const r of deps.runs.active()) this.labels(r.experiment, r.runId).set(1)
    },
  })
  /** kind + target pairs seen, kept at 0 once their faults are reverted (a bounded set: the experiments' targets). */
  const seenPlacements = new Map<string, [kind: string, target: string]>()
  const placementsNow = () => {
    const now = new Map<string, { faults: number; members: number }>()
    for (const key of seenPlacements.keys()) now.set(key, { faults: 0, members: 0 })
    for (const j of deps.runs.liveJournals())
      for (const f of j.faults) {
        if (!applied(f) || f.revertedAt !== undefined) continue
        const key = `${f.kind}\u0000${f.target}`
        if (!seenPlacements.has(key)) {
          seenPlacements.set(key, [f.kind, f.target])
          faultsApplied.labels(f.kind, f.target).inc(0)
        }
        const e = now.get(key) ?? { faults: 0, members: 0 }
        e.faults++
        e.members += membersOf(f).length
        now.set(key, e)
      }
    return now
  }
  new Gauge({
    name: M.faultsActive.name,
    help: M.faultsActive.help,
    labelNames: M.faultsActive.labels,
    registers: [registry],
    collect() {
      for (const [key, e] of placementsNow()) this.labels(...seenPlacements.get(key)!).set(e.faults)
    },
  })
  new Gauge({
    name: M.targetsAffected.name,
    help: M.targetsAffected.help,
    labelNames: M.targetsAffected.labels,
    registers: [registry],
    collect() {
      for (const [key, e] of placementsNow()) this.labels(...seenPlacements.get(key)!).set(e.members)
    },
  })
  let haltUnreadableLogged = false
  new Gauge({
    name: M.halted.name,
    help: M.halted.help,
    registers: [registry],
    async collect() {
      try {
        this.set((await deps.store.getHalt()) ? 1 : 0)
        haltUnreadableLogged = false
      } catch (err) {
        // Unknown is not "not halted": the series goes until the store answers again.
        this.reset()
        if (!haltUnreadableLogged)
          deps.log.warn({ code: (err as FaultlineError).code, err }, 'metrics: cannot read the halt state')
        haltUnreadableLogged = true
      }
    },
  })
  // prom-client's Registry reads the same get() contract as faultline's own (src/metrics-registry.ts).
  registerCommonMetrics({ registerMetric: (m) => registry.registerMetric(m as unknown as Metric) }, 'controller')

  deps.runs.observe({
    started(x: ExperimentDoc) {
      const name = x.metadata.name
      for (const s of STATUSES) for (const v of VERDICTS) runs.labels(name, s, v).inc(0)
      for (const c of [...x.spec.hypothesis.checks, ...(x.spec.guardrails ?? [])])
        for (const v of VERDICTS) checks.labels(name, c.name, v).inc(0)
      for (const c of x.spec.hypothesis.checks)
        if (!c.phases || c.phases.includes('after')) recovery.zero({ experiment: name, check: c.name })
      runTargets.zero({ experiment: name })
    },
    finished(j: Journal) {
      if (j.dryRun || j.status === 'running') return
      const name = j.experiment.metadata.name
      runs.labels(name, j.status, j.verdict ?? 'inconclusive').inc()
      for (const [check, rec] of Object.entries(j.checks)) {
        if (rec.result) checks.labels(name, check, rec.result).inc()
        const after = rec.phases.find((p) => p.phase === 'after')
        if (after?.recoveredAfterMs !== undefined) recovery.labels(name, check).observe(after.recoveredAfterMs / 1000)
      }
      const reached = new Set<string>()
      for (const f of j.faults.filter(applied)) {
        faultsApplied.labels(f.kind, f.target).inc()
        for (const m of membersOf(f)) reached.add(m)
      }
      runTargets.labels(name).observe(reached.size)
    },
  })
  deps.scheduler.observe({
    armed(schedule) {
      for (const outcome of ['started', 'skipped']) firings.labels(schedule, outcome).inc(0)
      for (const reason of SKIP_REASONS) skips.labels(schedule, reason).inc(0)
    },
    fired(schedule, skipped) {
      firings.labels(schedule, skipped ? 'skipped' : 'started').inc()
      if (skipped) skips.labels(schedule, skipped).inc()
    },
  })

  return { registry, text: () => registry.metrics() }
}
