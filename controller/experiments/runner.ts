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
import { type AnyInjector, type InjectionContext, injectorFor, type Step, sleep } from '../injectors/index.ts'
import { landing } from './evidence.ts'
import { type FaultRecord, type Journal, JournalWriter, type RunStatus } from './journal.ts'
import { type LoadHandle, startLoad } from './load.ts'
import { type PhaseRun, phasesOf, runPhase } from './phases.ts'
import { writeReports } from './report.ts'
import { progressFigures, seriesPoint } from './series.ts'
import { type Resolution, resolveTargets } from './targets.ts'

const DEFAULT_TTL_MARGIN_MS = 10_000
/** The gate waits at most this long for a conclusive sample. */
const BEFORE_DEADLINE_MS = 30_000
const SERIES_INTERVAL_MS = 1000

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

class Aborted extends Error {}

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

function stepLabel(s: StepSpec, path: string): string {
  if (s.name) return s.name
  const kind = Object.keys(s).find((k) => k !== 'name')!
  return `${kind} ${path}`
}

export async function runExperiment(experiment: ExperimentDoc, opts: RunOptions): Promise<RunResult> {
  const spec = experiment.spec
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')
  const runId = `${experiment.metadata.name}-${stamp}-${randomBytes(2).toString('hex')}`
  const dir = path.join(opts.dataDir, 'runs', runId)
  const say = opts.progress ?? (() => {})
  const journal: Journal = {
    faultline: opts.version ?? 'dev',
    runId,
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
  const log = (opts.logger ?? silentLogger()).child({ component: 'runner', runId })
  const jw = new JournalWriter(dir, journal, opts.journalSink, (err) =>
    log.error({ err }, 'could not save the journal to the shared store'),
  )
  opts.onStart?.(runId)
  jw.event({ type: 'run', detail: `started${journal.dryRun ? ' (dry run: nothing will be injected)' : ''}` })

  const hypothesis = spec.hypothesis.checks
  const guardrails = spec.guardrails ?? []
  for (const c of hypothesis) journal.checks[c.name] = { kind: checkKind(c), guardrail: false, phases: [], samples: [] }
  for (const c of guardrails) journal.checks[c.name] = { kind: checkKind(c), guardrail: true, phases: [], samples: [] }

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
  let resolution: Resolution = { targets: new Map(), owned: [], empty: false }
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
  const cluster = (): Cluster => {
    if (!opts.cluster)
      throw errors.FL_ERR_CONFIG_INVALID('a Kubernetes target needs a cluster', {
        issues: [{ path: '--kubeconfig', message: 'give --kubeconfig, set KUBECONFIG, or run in a cluster' }],
      })
    return opts.cluster()
  }
  const random = opts.random ?? Math.random
  const injection: InjectionContext = {
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
  }
  const reverts: Applied[] = []
  let load: LoadHandle | undefined
  let status: RunStatus = 'completed'
  let fatal: string | undefined
  let fatalCode: string | undefined
  /** The before phase failed: the method never ran, so the hypothesis was not tested. */
  let gateFailed = false

  // ── statistics series for the report and the console ───────────────────────
  const seriesTimer = setInterval(() => void sampleSeries(), SERIES_INTERVAL_MS)
  seriesTimer.unref()
  /** Targets whose statistics cannot be read right now: logged once per outage, not every second. */
  const seriesDown = new Set<string>()
  async function sampleSeries(): Promise<void> {
    for (const [name, t] of resolution.targets) {
      if (t.sidecars.length === 0) continue
      try {
        ;(journal.series[name] ??= []).push(await seriesPoint(t.sidecars, phaseRun.ctx.now))
        if (seriesDown.delete(name)) log.info({ target: name }, 'statistics readable again')
      } catch (err) {
        // The chart shows the outage as a gap; the log says why.
        if (!seriesDown.has(name)) log.warn({ err, target: name }, 'cannot read statistics for the series')
        seriesDown.add(name)
      }
    }
  }

  // ── the method: every fault through its injector, reverted in reverse order ──
  /**
   * One fault step: plan, journal the intent durably, apply (pushing each revert first, so a
   * partial apply is undone too), hold, revert. A fault without a hold stands until the method
   * ends and is reverted with everything else.
   */
  async function inject(injector: AnyInjector, stepSpec: unknown, step: Step): Promise<void> {
    const planned = await injector.plan(stepSpec, step, injection)
    for (const p of planned) {
      p.record.id = `fault-${journal.faults.length + 1}`
      journal.faults.push(p.record)
      jw.event({ type: 'intent', step: step.label, fault: p.record.id, detail: p.intent })
    }
    await jw.save() // intent is durable before anything is applied
    if (journal.dryRun) {
      jw.event({ type: 'step', step: step.label, detail: 'dry run: not applied' })
      // Exactly what a real run would hit, so a dry run answers "which pods?" before anything does.
      for (const p of planned)
        say(`  [dry run] ${step.label}: would ${p.intent}${p.record.on.length ? ` on ${p.record.on.join(', ')}` : ''}`)
      if (planned.length === 0) say(`  [dry run] ${step.label}: selects nothing`)
      await Promise.all(planned.map((p) => injector.hold?.(p, stepSpec, injection, false)))
      return
    }
    const mine: Applied[] = []
    for (const p of planned) {
      const entry: Applied = { record: p.record, revert: () => injector.revert(p, stepSpec, injection) }
      reverts.push(entry)
      mine.push(entry)
      let detail: string
      try {
        detail = await injector.apply(p, stepSpec, injection)
      } catch (err) {
        p.record.error ??= (err as Error).message
        throw err
      }
      p.record.appliedAt ??= Date.now()
      jw.event({ type: 'applied', step: step.label, fault: p.record.id, detail })
      jw.save()
    }
    if (!injector.hold) return
    await Promise.all(planned.map((p) => injector.hold!(p, stepSpec, injection, true)))
    for (const entry of mine.reverse()) {
      const i = reverts.indexOf(entry)
      if (i >= 0) reverts.splice(i, 1)
      await revertOne(entry)
    }
  }

  async function revertOne({ record, revert }: Applied): Promise<void> {
    const said = await revert()
    record.revertedAt = Date.now()
    if (said) jw.event({ type: 'reverted', step: record.step, fault: record.id, detail: said })
    jw.save()
  }

  async function runSteps(steps: StepSpec[], base: string): Promise<void> {
    for (let i = 0; i < steps.length; i++) {
      if (abort.signal.aborted) throw new Aborted()
      await runStep(steps[i]!, `${base}/${i}`)
    }
  }

  async function runStep(s: StepSpec, key: string): Promise<void> {
    const label = stepLabel(s, key)
    if (s.serial) return runSteps(s.serial, `${key}/serial`)
    if (s.parallel) {
      await Promise.all(s.parallel.map((child, i) => runStep(child, `${key}/parallel/${i}`)))
      return
    }
    jw.event({ type: 'step', step: label, detail: 'started' })
    if (s.wait !== undefined) await sleep(s.wait, abort.signal)
    else {
      const found = injectorFor(s)
      if (!found) throw new Error(`step ${label}: no injector for ${Object.keys(s).join(', ')}`)
      await inject(found.injector, found.spec, { label, key: key.replace(/^\//, '') })
    }
    jw.event({ type: 'step', step: label, detail: 'finished' })
  }

  async function revertAll(): Promise<void> {
    while (reverts.length) {
      const entry = reverts.pop()!
      try {
        await revertOne(entry)
      } catch (err) {
        const { record } = entry
        record.error = `revert failed: ${(err as Error).message}`
        jw.event({ type: 'revert-failed', fault: record.id, detail: record.error })
        say(
          `  [revert] FAILED for ${record.id}: ${(err as Error).message}${record.ttlMs ? ` (its rules still expire by ttl)` : ''}`,
        )
      }
    }
    jw.save()
  }

  // ── the run ────────────────────────────────────────────────────────────────
  let phaseNow = 'setup'
  let methodStartedAt: number | undefined
  const plannedMs = plannedDuration(spec.method)
  const progressTimer = setInterval(() => {
    const left =
      phaseNow === 'during' && methodStartedAt !== undefined
        ? Math.max(0, plannedMs - (Date.now() - methodStartedAt))
        : undefined
    say(progressLine(journal, left === undefined ? phaseNow : `${phaseNow}, ~${(left / 1000).toFixed(0)}s left`))
  }, 2000)
  progressTimer.unref()

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
    phaseNow = 'before'
    jw.event({ type: 'phase', detail: 'before' })
    const gateChecks = hypothesis.filter((c) => phasesOf(c, false).includes('before'))
    await runPhase(phaseRun, gateChecks, 'before', abort.signal, { deadlineMs: BEFORE_DEADLINE_MS })
    const notMet = gateChecks.map((c) => journal.checks[c.name]!.phases.at(-1)!).filter((p) => p.result !== 'pass')
    if (notMet.length) {
      status = 'aborted'
      gateFailed = true
      abortReason = `steady state not met before the method: ${notMet.map((p) => p.reason).join('; ')}`
      say(`  ${abortReason}`)
    } else if (!abort.signal.aborted) {
      phaseNow = 'during'
      jw.event({ type: 'phase', detail: 'during' })
      jw.save()
      const methodDone = new AbortController()
      const stopChecks = AbortSignal.any([methodDone.signal, abort.signal])
      methodStartedAt = Date.now()
      const during = runPhase(
        phaseRun,
        [
          ...hypothesis.filter((c) => phasesOf(c, false).includes('during')),
          ...guardrails.filter((c) => phasesOf(c, true).includes('during')),
        ],
        'during',
        stopChecks,
        { since: methodStartedAt },
      )
      try {
        await runSteps(spec.method, '/method')
      } catch (err) {
        if (!(err instanceof Aborted)) throw err
      } finally {
        methodDone.abort()
        await during
      }
    }
  } catch (err) {
    status = 'errored'
    fatal = (err as Error).message
    fatalCode = codeOf(err)
    jw.event({ type: 'error', detail: fatal, ...(fatalCode ? { code: fatalCode } : {}) })
    say(`  error: ${fatal}`)
  } finally {
    await revertAll()
  }
  /** Every fault is off from here: recovery is measured from this moment. */
  const revertedAt = Date.now()

  if (abort.signal.aborted && status === 'completed') status = 'aborted'
  if (status === 'completed') {
    phaseNow = 'after'
    jw.event({ type: 'phase', detail: 'after' }, revertedAt)
    jw.save()
    const after = hypothesis.filter((c) => phasesOf(c, false).includes('after'))
    // A signal during recovery ends it too: an interrupted run must finish promptly, as aborted.
    await runPhase(phaseRun, after, 'after', abort.signal, { since: revertedAt })
    if (abort.signal.aborted) status = 'aborted'
  }
  clearInterval(seriesTimer)
  clearInterval(progressTimer)
  opts.signal?.removeEventListener('abort', onOuterAbort)
  if (load) journal.load = { url: spec.load!.url, ...(await load.stop()) }
  for (const p of resolution.owned) {
    await p.close()
    registry.unregister(p.name)
  }

  // ── verdict ────────────────────────────────────────────────────────────────
  for (const c of [...hypothesis, ...guardrails]) {
    const rec = journal.checks[c.name]!
    rec.result = worst(rec.phases.map((p) => p.result))
  }
  const { verdict, reason } = judgeRun({
    status,
    results: Object.fromEntries(hypothesis.map((c) => [c.name, journal.checks[c.name]!.result!])),
    error: fatal,
    abortReason,
    gateFailed,
    emptyTarget: resolution.empty,
    dryRun: journal.dryRun,
    landing: landing(journal.faults),
  })
  if (status === 'errored' && fatalCode) journal.errorCode = fatalCode
  journal.status = status
  journal.verdict = verdict
  journal.reason = reason
  journal.endedAt = Date.now()
  jw.event({ type: 'run', detail: `${status}, verdict ${verdict}${reason ? `: ${reason}` : ''}` })
  await jw.save()
  const { html, markdown } = writeReports(dir, journal)
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

/** One applied fault on the revert stack. */
interface Applied {
  record: FaultRecord
  revert: () => Promise<string | undefined>
}

/** The console's live line: each target's latest figures and how the checks stand. */
function progressLine(journal: Journal, when: string): string {
  const parts = Object.entries(journal.series).map(([t, pts]) => {
    const p = pts.at(-1)
    return p ? `${t} ${progressFigures(p)}` : ''
  })
  const last = Object.entries(journal.checks).map(([n, c]) => [n, c.samples.at(-1)?.outcome] as const)
  const failing = last.filter(([, o]) => o === 'fail').map(([n]) => n)
  const passing = last.filter(([, o]) => o === 'pass').length
  return `  [${when}] ${parts.filter(Boolean).join(' | ')}  checks: ${passing} passing${failing.length ? `, failing: ${failing.join(', ')}` : ''}`
}
