/**
 * Runs one experiment end to end:
 *
 *   resolve targets -> start load -> before (gate) -> method + during checks + guardrails
 *   -> revert every applied fault (reverse order) -> after (recovery) -> verdict -> journal, reports
 *
 * Safety rules, each enforced here: intent is journalled before a fault is applied; every
 * sidecar rule carries a ttl (step duration + margin), so a killed runner leaves nothing behind;
 * every applied fault is reverted, in reverse order, on success, guardrail abort, error and
 * signal alike. Status (how the run ended) is kept apart from the verdict (what it showed).
 */
import { createHash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { codeOf, errors } from '../../src/errors.ts'
import { type Verdict, worst } from '../../src/experiments/judge.ts'
import type { CheckSpec, ExperimentDoc, StepSpec } from '../../src/experiments/schema.ts'
import { judgeRun } from '../../src/experiments/verdict.ts'
import { type Logger, silentLogger } from '../../src/log.ts'
import type { RandomSource } from '../../src/random.ts'
import type { FleetBus } from '../bus/fleet.ts'
import type { Cluster } from '../drivers/kubernetes/cluster.ts'
import { ProcessRegistry } from '../drivers/local/supervisor.ts'
import { landing } from './evidence.ts'
import { type Journal, JournalWriter, type RunStatus } from './journal.ts'
import { type LoadHandle, startLoad } from './load.ts'
import { Aborted, MethodRunner } from './method.ts'
import { observePhase, type PhaseRun, phasesOf, runPhase } from './phases.ts'
import { writeSourceJournal } from '../interop/journals.ts'
import { writeReports } from './report.ts'
import { LiveFigures } from './series.ts'
import { type Resolution, resolveTargets } from './targets.ts'

const DEFAULT_TTL_MARGIN_MS = 10_000
/** The gate waits at most this long for a conclusive sample. */
const BEFORE_DEADLINE_MS = 30_000

export interface RunOptions {
  dataDir: string
  dryRun?: boolean
  /** Processes the host already supervises (the demo's services), by name. */
  registry?: ProcessRegistry
  /** Abort the run from outside (SIGINT/SIGTERM); faults are reverted as for a guardrail. */
  signal?: AbortSignal
  /** Live progress lines; default: none. */
  progress?: (line: string) => void
  ttlMarginMs?: number
  version?: string
  /** Recorded in the journal when a schedule started the run. */
  schedule?: string
  /** Called with the run id as soon as it exists (before targets are resolved). */
  onStart?: (runId: string) => void
  /** Also save every journal update here (a shared store); awaited before each fault. */
  journalSink?: (j: Journal) => Promise<void>
  /** Fleet mode: delivers faults to `service` targets through Redis. */
  fleet?: FleetBus
  /** Where the runner logs what the journal cannot say alone (e.g. unreadable evidence); default silent. */
  logger?: Logger
  /** The cluster for Kubernetes targets; called only when the experiment has one. */
  cluster?: () => Cluster
  /** Picks Kubernetes targets (modes); default Math.random. */
  random?: RandomSource
  /** The controller's own namespace (protected like kube-system). */
  ownNamespace?: string
}

export interface RunResult {
  runId: string
  status: RunStatus
  verdict: Verdict
  reason?: string
  dir: string
  journalPath: string
  reportPath: string
  markdownPath: string
  journal: Journal
}

/** Exit codes for `faultline run`. */
export const EXIT = { pass: 0, fail: 1, inconclusive: 2, aborted: 2, errored: 3, invalid: 64 } as const

export function exitCodeOf(r: Pick<RunResult, 'status' | 'verdict'>): number {
  if (r.status === 'errored') return EXIT.errored
  if (r.status === 'aborted') return r.verdict === 'fail' ? EXIT.fail : EXIT.aborted
  return EXIT[r.verdict]
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v)
}

function checkKind(c: CheckSpec): string {
  return c.sidecar ? 'sidecar' : c.http ? 'http' : c.promql ? 'promql' : c.kubernetes ? 'kubernetes' : 'command'
}

/** How long the method should take (kills and restarts count as 0): for "time left". */
export function plannedDuration(steps: StepSpec[]): number {
  const one = (s: StepSpec): number => {
    if (s.parallel) return Math.max(0, ...s.parallel.map(one))
    if (s.serial) return plannedDuration(s.serial)
    if (s.wait !== undefined) return s.wait
    // A fault step with a duration holds that long; one-shot steps count as 0.
    const fault = Object.values(s).find((v): v is { duration: number } => typeof v?.duration === 'number')
    return fault?.duration ?? 0
  }
  return steps.reduce((sum, s) => sum + one(s), 0)
}

/**
 * An observation run has nothing to judge: say so rather than "not enough data", and still say
 * when a fault did not land (which a judged run reports only instead of a pass).
 */
function observationReason(count: number, judged: string | undefined, landed: ReturnType<typeof landing>): string {
  const notes = [
    ...(judged && !judged.startsWith('not enough data') ? [judged] : []),
    ...(landed.notLanded.length ? [`the fault did not land: ${landed.notLanded.join('; ')}`] : []),
    ...(landed.unproven.length ? [`could not show that the fault landed: ${landed.unproven.join('; ')}`] : []),
  ]
  return `observation run: no hypothesis to judge; ${count} observation(s) recorded${notes.length ? ` (${notes.join('; ')})` : ''}`
}

/** A fresh journal for one run of `experiment`. */
function newJournal(experiment: ExperimentDoc, opts: RunOptions): Journal {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')
  const journal: Journal = {
    faultline: opts.version ?? 'dev',
    runId: `${experiment.metadata.name}-${stamp}-${randomBytes(2).toString('hex')}`,
    experimentHash: createHash('sha256').update(canonical(experiment)).digest('hex'),
    experiment,
    dryRun: opts.dryRun ?? false,
    schedule: opts.schedule,
    startedAt: Date.now(),
    status: 'running',
    targets: {},
    timeline: [],
    faults: [],
    checks: {},
    series: {},
  }
  const { checks } = experiment.spec.hypothesis
  for (const c of checks) journal.checks[c.name] = { kind: checkKind(c), guardrail: false, phases: [], samples: [] }
  for (const c of experiment.spec.guardrails ?? [])
    journal.checks[c.name] = { kind: checkKind(c), guardrail: true, phases: [], samples: [] }
  for (const o of experiment.spec.observations ?? [])
    journal.checks[o.name] = {
      kind: checkKind(o as CheckSpec),
      guardrail: false,
      observation: true,
      phases: [],
      samples: [],
    }
  return journal
}

/**
 * Runs one experiment. This function is the run's life read top to bottom (set up, gate,
 * method with its during checks, revert, recovery, verdict): everything with a job of its own
 * lives elsewhere (targets.ts, phases.ts, method.ts with the revert stack, series.ts, the
 * injectors, src/experiments/verdict.ts), and what remains is the order, kept in one place.
 */
export async function runExperiment(experiment: ExperimentDoc, opts: RunOptions): Promise<RunResult> {
  const spec = experiment.spec
  const journal = newJournal(experiment, opts)
  const { runId } = journal
  const dir = path.join(opts.dataDir, 'runs', runId)
  const say = opts.progress ?? (() => {})
  const log = (opts.logger ?? silentLogger()).child({ component: 'runner', runId })
  const jw = new JournalWriter(dir, journal, opts.journalSink, (err) =>
    log.error({ err }, 'could not save the journal to the shared store'),
  )
  opts.onStart?.(runId)
  jw.event({ type: 'run', detail: `started${journal.dryRun ? ' (dry run: nothing will be injected)' : ''}` })

  const hypothesis = spec.hypothesis.checks
  const guardrails = spec.guardrails ?? []
  const observations = spec.observations ?? []
  const abort = new AbortController()
  let abortReason: string | undefined
  const abortRun = (reason: string) => {
    if (abort.signal.aborted) return
    abortReason = reason
    abort.abort()
  }
  const onOuterAbort = () => abortRun('interrupted (signal)')
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true })
  // A signal that came before we listened (while the document was read) still counts.
  if (opts.signal?.aborted) onOuterAbort()

  const registry = opts.registry ?? new ProcessRegistry()
  let resolution: Resolution = { targets: new Map(), owned: [] }
  const cluster = (): Cluster => {
    if (!opts.cluster)
      throw errors.FL_ERR_CONFIG_INVALID('a Kubernetes target needs a cluster', {
        issues: [{ path: '--kubeconfig', message: 'give --kubeconfig, set KUBECONFIG, or run in a cluster' }],
      })
    return opts.cluster()
  }
  const random = opts.random ?? Math.random
  const phaseRun: PhaseRun = {
    journal,
    baselines: new Map(),
    ctx: {
      sidecars: (t) => resolution.targets.get(t)?.sidecars ?? [],
      baseline: (name) => phaseRun.baselines.get(name),
      now: () => Date.now(),
      kubernetes: (target) =>
        opts.cluster
          ? { cluster: opts.cluster(), target: target ? spec.targets[target]?.kubernetes : undefined }
          : undefined,
    },
    onBreach(check, detail) {
      jw.event({ type: 'guardrail', detail: `${check} breached: ${detail}` })
      abortRun(`guardrail ${check} breached: ${detail}`)
    },
  }
  const method = new MethodRunner(journal, jw, {
    runId,
    journal,
    cluster,
    random,
    ownNamespace: opts.ownNamespace,
    signal: abort.signal,
    ttlMarginMs: opts.ttlMarginMs ?? DEFAULT_TTL_MARGIN_MS,
    target(name) {
      const t = resolution.targets.get(name)
      if (!t) throw new Error(`target ${name} is not resolved`)
      return t
    },
    event: (e) => jw.event(e),
    save: () => jw.save(),
    say,
    log,
  })
  const live = new LiveFigures({
    journal,
    targets: () => resolution.targets,
    log,
    say,
    plannedMs: plannedDuration(spec.method),
  })
  let load: LoadHandle | undefined
  let status: RunStatus = 'completed'
  let fatal: string | undefined
  let fatalCode: string | undefined
  /** The before phase failed: the method never ran, so the hypothesis was not tested. */
  let gateFailed = false
  /** spec.revertAt after-phase: what the method left applied stands through the after phase. */
  let deferRevert: boolean

  try {
    resolution = await resolveTargets(spec, journal, {
      fleet: opts.fleet,
      registry,
      logDir: path.join(dir, 'logs'),
      say,
      cluster,
      random,
      ownNamespace: opts.ownNamespace,
    })
    jw.event({ type: 'run', detail: `targets resolved: ${Object.keys(journal.targets).join(', ')}` })
    jw.save()
    if (spec.load) {
      load = startLoad(spec.load, (err) => {
        log.error({ err, url: spec.load!.url }, 'the load could not run')
        jw.event({ type: 'error', detail: `load ${spec.load!.url} could not run: ${err.message}` })
        say(`  load could not run: ${err.message}`)
      })
      say(
        `  load: ${spec.load.url} (${spec.load.rate ? `${spec.load.rate} req/s` : 'max rate'}, ${spec.load.connections ?? 10} connections)`,
      )
    }
    live.phase('before')
    jw.event({ type: 'phase', detail: 'before' })
    await observePhase(phaseRun, observations, 'before', abort.signal)
    const gateChecks = hypothesis.filter((c) => phasesOf(c, false).includes('before'))
    await runPhase(phaseRun, gateChecks, 'before', abort.signal, { deadlineMs: BEFORE_DEADLINE_MS })
    const notMet = gateChecks.map((c) => journal.checks[c.name]!.phases.at(-1)!).filter((p) => p.result !== 'pass')
    if (notMet.length) {
      status = 'aborted'
      gateFailed = true
      abortReason = `steady state not met before the method: ${notMet.map((p) => p.reason).join('; ')}`
      say(`  ${abortReason}`)
    } else if (!abort.signal.aborted) {
      const methodStartedAt = Date.now()
      live.phase('during', methodStartedAt)
      jw.event({ type: 'phase', detail: 'during' })
      jw.save()
      const methodDone = new AbortController()
      const during = runPhase(
        phaseRun,
        [
          ...hypothesis.filter((c) => phasesOf(c, false).includes('during')),
          ...guardrails.filter((c) => phasesOf(c, true).includes('during')),
        ],
        'during',
        AbortSignal.any([methodDone.signal, abort.signal]),
        { since: methodStartedAt, plannedMs: plannedDuration(spec.method) },
      )
      const observing = observePhase(
        phaseRun,
        observations,
        'during',
        AbortSignal.any([methodDone.signal, abort.signal]),
        { since: methodStartedAt },
      )
      try {
        await method.run(spec.method)
      } catch (err) {
        if (!(err instanceof Aborted)) throw err
      } finally {
        methodDone.abort()
        await Promise.all([during, observing])
      }
    }
  } catch (err) {
    status = 'errored'
    fatal = (err as Error).message
    fatalCode = codeOf(err)
    jw.event({ type: 'error', detail: fatal, ...(fatalCode ? { code: fatalCode } : {}) })
    say(`  error: ${fatal}`)
  } finally {
    deferRevert = spec.revertAt === 'after-phase' && status === 'completed' && !abort.signal.aborted
    if (!deferRevert) await method.revertAll()
  }
  /** Every fault is off from here: recovery is measured from this moment. */
  const revertedAt = Date.now()

  if (abort.signal.aborted && status === 'completed') status = 'aborted'
  // With revertAt after-phase the faults are still applied here: reverted whatever happens.
  try {
    if (status === 'completed') {
      live.phase('after')
      jw.event({ type: 'phase', detail: 'after' }, revertedAt)
      jw.save()
      const after = hypothesis.filter((c) => phasesOf(c, false).includes('after'))
      // A signal during recovery ends it too: an interrupted run must finish promptly, as aborted.
      await Promise.all([
        runPhase(phaseRun, after, 'after', abort.signal, { since: revertedAt }),
        observePhase(phaseRun, observations, 'after', abort.signal, { since: revertedAt }),
      ])
      if (abort.signal.aborted) status = 'aborted'
    }
  } finally {
    if (deferRevert) await method.revertAll()
  }
  // Rollbacks come last, whatever happened: they are the document's own clean-up.
  if (spec.rollbacks) await method.rollbacks(spec.rollbacks)
  live.stop()
  opts.signal?.removeEventListener('abort', onOuterAbort)
  if (load) journal.load = { url: spec.load!.url, ...(await load.stop()) }
  for (const p of resolution.owned) {
    await p.close()
    registry.unregister(p.name)
  }

  // ── verdict ────────────────────────────────────────────────────────────────
  for (const c of [...hypothesis, ...guardrails, ...observations]) {
    const rec = journal.checks[c.name]!
    rec.result = worst(rec.phases.map((p) => p.result))
  }
  const landed = landing(journal.faults)
  const judged = judgeRun({
    status,
    results: Object.fromEntries(hypothesis.map((c) => [c.name, journal.checks[c.name]!.result!])),
    error: fatal,
    abortReason,
    gateFailed,
    emptyTarget: resolution.empty,
    dryRun: journal.dryRun,
    landing: landed,
  })
  const { verdict } = judged
  const reason =
    hypothesis.length === 0 && observations.length > 0 && status === 'completed' && verdict === 'inconclusive'
      ? observationReason(observations.length, judged.reason, landed)
      : judged.reason
  if (status === 'errored' && fatalCode) journal.errorCode = fatalCode
  journal.status = status
  journal.verdict = verdict
  journal.reason = reason
  journal.endedAt = Date.now()
  jw.event({ type: 'run', detail: `${status}, verdict ${verdict}${reason ? `: ${reason}` : ''}` })
  await jw.save()
  const { html, markdown } = writeReports(dir, journal)
  writeSourceJournal(dir, journal, log)
  return {
    runId,
    status,
    verdict,
    reason,
    dir,
    journalPath: jw.file,
    reportPath: html,
    markdownPath: markdown,
    journal,
  }
}
