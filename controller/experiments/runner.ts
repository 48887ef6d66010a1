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
import { PhaseTracker, type Phase, type Verdict, worst } from '../../src/experiments/judge.ts'
import type { CheckSpec, ExperimentDoc, StepSpec } from '../../src/experiments/schema.ts'
import { codeOf, withContext } from '../../src/errors.ts'
import { type Logger, silentLogger } from '../../src/log.ts'
import { ProcessRegistry, SupervisedProcess } from '../drivers/local/supervisor.ts'
import { spawnStress } from '../drivers/local/stress.ts'
import type { FleetBus } from '../bus/fleet.ts'
import { SidecarClient } from '../sidecar-client.ts'
import { type CheckContext, sampleCheck } from './checks.ts'
import { collectEvidence, landing } from './evidence.ts'
import { type FaultRecord, type Journal, JournalWriter, type RunStatus } from './journal.ts'
import { type LoadHandle, startLoad } from './load.ts'
import { writeReports } from './report.ts'
import { progressFigures, seriesPoint } from './series.ts'

const DEFAULT_INTERVAL_MS = 2000
const DEFAULT_FAILURE_THRESHOLD = 2
const DEFAULT_RECOVER_WITHIN_MS = 30_000
const DEFAULT_KILL_RECOVER_MS = 30_000
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
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
  return c.sidecar ? 'sidecar' : c.http ? 'http' : c.promql ? 'promql' : 'command'
}

/** How long the method should take (kills and restarts count as 0): for "time left". */
export function plannedDuration(steps: StepSpec[]): number {
  const one = (s: StepSpec): number =>
    s.wait ??
    s.sidecarFault?.duration ??
    s.stress?.duration ??
    (s.parallel ? Math.max(0, ...s.parallel.map(one)) : s.serial ? plannedDuration(s.serial) : 0)
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
  const ttlMargin = opts.ttlMarginMs ?? DEFAULT_TTL_MARGIN_MS
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
  const owned: SupervisedProcess[] = []
  const clients = new Map<string, SidecarClient[]>()
  /** Targets in fleet mode: target name -> service. */
  const services = new Map<string, string>()
  const baselines = new Map<string, number>()
  const reverts: { record: FaultRecord; revert: () => Promise<void> }[] = []
  let load: LoadHandle | undefined
  let status: RunStatus = 'completed'
  let fatal: string | undefined
  let fatalCode: string | undefined
  let emptyTargets = false
  /** The before phase failed: the method never ran, so the hypothesis was not tested. */
  let gateFailed = false

  const ctx: CheckContext = {
    sidecars: (t) => clients.get(t) ?? [],
    baseline: (name) => baselines.get(name),
    now: () => Date.now(),
  }

  // ── target resolution ──────────────────────────────────────────────────────
  async function resolveTargets(): Promise<void> {
    for (const [name, t] of Object.entries(spec.targets)) {
      const entry: Journal['targets'][string] = { sidecars: [], processes: [] }
      journal.targets[name] = entry
      const list: SidecarClient[] = []
      if (t.service) {
        if (!opts.fleet) throw new Error(`target ${name}: service "${t.service}" needs fleet mode (--redis)`)
        entry.service = t.service
        services.set(name, t.service)
        for (const i of await opts.fleet.instances(t.service)) {
          entry.sidecars.push({ adminUrl: i.adminUrl, reachable: true, generation: i.generation, instance: i.id })
          list.push(new SidecarClient(i.adminUrl, t.adminToken))
        }
      }
      for (const url of t.sidecars ?? []) {
        const client = new SidecarClient(url, t.adminToken)
        try {
          const { generation } = await client.rules()
          entry.sidecars.push({ adminUrl: url, reachable: true, generation })
          list.push(client)
        } catch (err) {
          entry.sidecars.push({ adminUrl: url, reachable: false })
          throw withContext(err, `target ${name}`)
        }
      }
      clients.set(name, list)
      for (const p of t.processes ?? []) {
        let proc = registry.get(p.name)
        if (!proc) {
          if (!p.command)
            throw new Error(`target ${name}: process "${p.name}" has no command and is not running under this host`)
          proc = new SupervisedProcess(p, path.join(dir, 'logs'))
          say(`  starting process ${p.name}: ${p.command.join(' ')}`)
          await proc.start()
          owned.push(proc)
          registry.register(proc)
        }
        entry.processes.push({ name: p.name, pid: proc.pid })
      }
      if (list.length === 0 && entry.processes.length === 0) emptyTargets = true
    }
    jw.event({ type: 'run', detail: `targets resolved: ${Object.keys(journal.targets).join(', ')}` })
    jw.save()
  }

  // ── statistics series for the report and the console ───────────────────────
  const seriesTimer = setInterval(() => void sampleSeries(), SERIES_INTERVAL_MS)
  seriesTimer.unref()
  /** Targets whose statistics cannot be read right now: logged once per outage, not every second. */
  const seriesDown = new Set<string>()
  async function sampleSeries(): Promise<void> {
    for (const [name, list] of clients) {
      if (list.length === 0) continue
      try {
        ;(journal.series[name] ??= []).push(await seriesPoint(list, ctx.now))
        if (seriesDown.delete(name)) log.info({ target: name }, 'statistics readable again')
      } catch (err) {
        // The chart shows the outage as a gap; the log says why.
        if (!seriesDown.has(name)) log.warn({ err, target: name }, 'cannot read statistics for the series')
        seriesDown.add(name)
      }
    }
  }

  // ── checks ─────────────────────────────────────────────────────────────────
  const phasesOf = (c: CheckSpec, guardrail: boolean): Phase[] =>
    c.phases ?? (guardrail ? ['during'] : ['before', 'during', 'after'])

  /**
   * Samples `checks` through one phase. `since` (during: the method start; after: the revert)
   * keeps sidecar windows to requests completed in the phase, and is where recovery is timed from.
   */
  async function runPhase(
    checks: CheckSpec[],
    phase: Phase,
    until: AbortSignal,
    opts: { deadlineMs?: number; since?: number } = {},
  ): Promise<void> {
    const startedAt = opts.since ?? Date.now()
    await Promise.all(
      checks.map(async (c) => {
        const tracker = new PhaseTracker(phase, c.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD, startedAt)
        const interval = c.interval ?? DEFAULT_INTERVAL_MS
        const deadline =
          phase === 'after'
            ? startedAt + (c.recoverWithin ?? DEFAULT_RECOVER_WITHIN_MS)
            : startedAt + (opts.deadlineMs ?? Infinity)
        let since = opts.since
        for (;;) {
          const sample = await sampleCheck(c, phase, ctx, { since })
          journal.checks[c.name]!.samples.push(sample)
          const decided = tracker.add(sample)
          // Recovery: requests up to a failing sample are known not recovered, so the next
          // sample judges only later ones, and the recovery time is where passing data begins.
          if (phase === 'after' && sample.outcome === 'fail') since = sample.at
          if (phase === 'before' && sample.outcome === 'pass' && sample.value !== undefined)
            baselines.set(c.name, sample.value)
          if (journal.checks[c.name]!.guardrail && tracker.breached) {
            jw.event({ type: 'guardrail', detail: `${c.name} breached: ${sample.detail}` })
            abortRun(`guardrail ${c.name} breached: ${sample.detail}`)
            break
          }
          if (decided || until.aborted || Date.now() + interval > deadline) break
          await sleep(interval, until)
          if (until.aborted) break
        }
        const cutShort = phase === 'after' && until.aborted && Date.now() < deadline
        journal.checks[c.name]!.phases.push(tracker.result({ interrupted: cutShort }))
      }),
    )
  }

  // ── the method ─────────────────────────────────────────────────────────────
  async function applySidecarFault(
    s: NonNullable<StepSpec['sidecarFault']>,
    label: string,
    key: string,
  ): Promise<void> {
    const list = clients.get(s.target) ?? []
    const service = services.get(s.target)
    const source = `${runId}/${key}`
    const ttlMs = s.duration + ttlMargin
    const record: FaultRecord = {
      id: `fault-${journal.faults.length + 1}`,
      kind: 'sidecar',
      step: label,
      target: s.target,
      source,
      service,
      on: list.map((c) => c.adminUrl),
      ruleIds: s.rules.map((r) => r.id as string),
      ttlMs,
      intentAt: Date.now(),
      acknowledged: {},
    }
    journal.faults.push(record)
    jw.event({
      type: 'intent',
      step: label,
      fault: record.id,
      detail: `add ${s.rules.length} rule(s) to ${s.target}${service ? ` (service ${service})` : ''} for ${s.duration} ms (ttl ${ttlMs} ms)`,
    })
    await jw.save() // intent is durable before anything is applied
    if (journal.dryRun) {
      jw.event({ type: 'step', step: label, detail: 'dry run: not applied' })
      await sleep(s.duration, abort.signal)
      return
    }
    const revert = async () => {
      const now = Date.now()
      // One sidecar that fails must not stop the others from being reverted: collect, then throw.
      const failed: Error[] = []
      for (const c of list) {
        await noteEvidence(record, c, label, now)
        if (service) continue
        try {
          await c.removeBySource(source)
        } catch (err) {
          failed.push(err as Error)
        }
      }
      if (service) await opts.fleet!.removeBySource(service, source)
      if (failed.length)
        throw new AggregateError(
          failed,
          `rules not removed from ${failed.length} sidecar(s): ${failed.map((e) => e.message).join('; ')}`,
        )
      record.revertedAt = Date.now()
      jw.event({ type: 'reverted', step: label, fault: record.id, detail: `rules removed from ${s.target}` })
      jw.save()
    }
    reverts.push({ record, revert })
    try {
      if (service) {
        // Fleet mode: an absolute expiry, so instances that join late expire it at the same time.
        const expiresAt = new Date(Date.now() + ttlMs).toISOString()
        const pushed = await opts.fleet!.addRules(
          service,
          s.rules.map((r) => ({ ...(r as { id: string }), source, expiresAt })),
        )
        const urlOf = new Map(pushed.instances.map((i) => [i.id, i.adminUrl]))
        for (const id of pushed.acked) record.acknowledged![urlOf.get(id)!] = pushed.generation
        const problems = [
          ...pushed.missing.map((id) => `${id}: no acknowledgement`),
          ...Object.entries(pushed.refused).map(([id, e]) => `${id}: ${e}`),
        ]
        if (problems.length) record.error = `not acknowledged by ${problems.length} instance(s): ${problems.join('; ')}`
        if (pushed.acked.length === 0)
          throw new Error(`no instance of ${service} acknowledged the fault${record.error ? ` (${record.error})` : ''}`)
      } else
        for (const c of list)
          record.acknowledged![c.adminUrl] = await c.addRules(s.rules.map((r) => ({ ...r, source, ttl: `${ttlMs}ms` })))
    } catch (err) {
      record.error = (err as Error).message
      throw err
    }
    record.appliedAt = Date.now()
    const acks = Object.keys(record.acknowledged!).length
    jw.event({
      type: 'applied',
      step: label,
      fault: record.id,
      detail: `acknowledged by ${acks} sidecar(s)${record.error ? `; ${record.error}` : ''}`,
    })
    jw.save()
    say(
      `  [fault] ${label}: ${record.ruleIds!.join(', ')} on ${s.target} (${acks} sidecar(s)) for ${s.duration / 1000}s`,
    )
    await sleep(s.duration, abort.signal)
    const i = reverts.findIndex((r) => r.record === record)
    if (i >= 0) reverts.splice(i, 1)
    await revert()
  }

  async function noteEvidence(record: FaultRecord, c: SidecarClient, label: string, now: number): Promise<void> {
    const problem = await collectEvidence(record, c, now)
    if (!problem) return
    log.warn({ err: problem, code: problem.code, fault: record.id, sidecar: c.adminUrl }, 'fault evidence unavailable')
    jw.event({
      type: 'evidence-unavailable',
      step: label,
      fault: record.id,
      detail: `${problem.message} [${problem.code}]`,
    })
    say(`  [evidence] ${problem.message} [${problem.code}]`)
  }

  function processesOf(target: string, name?: string): SupervisedProcess[] {
    const names = (spec.targets[target]?.processes ?? []).map((p) => p.name).filter((n) => !name || n === name)
    return names.map((n) => registry.get(n)).filter((p): p is SupervisedProcess => p !== undefined)
  }

  async function applyKill(s: NonNullable<StepSpec['kill']>, label: string): Promise<void> {
    const signal = s.signal ?? 'SIGKILL'
    for (const proc of processesOf(s.target, s.process)) {
      const record: FaultRecord = {
        id: `fault-${journal.faults.length + 1}`,
        kind: 'kill',
        step: label,
        target: s.target,
        on: [proc.name],
        intentAt: Date.now(),
      }
      journal.faults.push(record)
      jw.event({ type: 'intent', step: label, fault: record.id, detail: `${signal} ${proc.name} (pid ${proc.pid})` })
      await jw.save()
      if (journal.dryRun) continue
      // The revert of a kill: make sure the process runs again.
      reverts.push({
        record,
        revert: async () => {
          if (!proc.running && proc.spec.command) await proc.start()
          record.revertedAt = Date.now()
        },
      })
      record.appliedAt = Date.now()
      const result = await proc.kill(signal, s.recoverWithin ?? DEFAULT_KILL_RECOVER_MS)
      record.recoveryMs = result.recoveryMs ?? null
      jw.event({
        type: 'applied',
        step: label,
        fault: record.id,
        detail:
          result.recoveryMs === undefined
            ? `${proc.name} killed; not ready again in time`
            : `${proc.name} killed; ready again after ${result.recoveryMs} ms`,
      })
      jw.save()
      say(
        `  [kill] ${proc.name} ${signal}: ${result.recoveryMs === undefined ? 'did not recover in time' : `recovered in ${result.recoveryMs} ms`}`,
      )
    }
  }

  async function applyStress(s: NonNullable<StepSpec['stress']>, label: string): Promise<void> {
    const record: FaultRecord = {
      id: `fault-${journal.faults.length + 1}`,
      kind: 'stress',
      step: label,
      target: 'localhost',
      on: ['localhost'],
      intentAt: Date.now(),
    }
    journal.faults.push(record)
    jw.event({
      type: 'intent',
      step: label,
      fault: record.id,
      detail: `stress cpu=${s.cpu ?? 0} load=${s.load ?? 100}% memory=${s.memory ?? '0'} for ${s.duration} ms`,
    })
    await jw.save()
    if (journal.dryRun) return
    const { child, exited } = await spawnStress({ cpu: s.cpu, load: s.load, memory: s.memory, durationMs: s.duration })
    const revert = async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
      record.revertedAt = Date.now()
    }
    reverts.push({ record, revert })
    record.appliedAt = Date.now()
    jw.event({ type: 'applied', step: label, fault: record.id, detail: `stress process ${child.pid}` })
    await Promise.race([exited, sleep(s.duration + 5000, abort.signal)])
    const i = reverts.findIndex((r) => r.record === record)
    if (i >= 0) reverts.splice(i, 1)
    await revert()
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
    else if (s.sidecarFault) await applySidecarFault(s.sidecarFault, label, key.replace(/^\//, ''))
    else if (s.kill) await applyKill(s.kill, label)
    else if (s.restart) {
      for (const proc of processesOf(s.restart.target, s.restart.process)) {
        if (journal.dryRun) continue
        const ms = await proc.restart()
        jw.event({ type: 'step', step: label, detail: `${proc.name} restarted, ready after ${ms} ms` })
      }
    } else if (s.stress) await applyStress(s.stress, label)
    jw.event({ type: 'step', step: label, detail: 'finished' })
  }

  async function revertAll(): Promise<void> {
    while (reverts.length) {
      const { record, revert } = reverts.pop()!
      try {
        await revert()
      } catch (err) {
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
  const progressTimer = setInterval(() => {
    const parts = [...Object.entries(journal.series)].map(([t, pts]) => {
      const p = pts.at(-1)
      return p ? `${t} ${progressFigures(p)}` : ''
    })
    const last = Object.entries(journal.checks).map(([n, c]) => [n, c.samples.at(-1)?.outcome] as const)
    const failing = last.filter(([, o]) => o === 'fail').map(([n]) => n)
    const passing = last.filter(([, o]) => o === 'pass').length
    const left =
      phaseNow === 'during' && methodStartedAt !== undefined
        ? Math.max(0, plannedMs - (Date.now() - methodStartedAt))
        : undefined
    const when = left === undefined ? phaseNow : `${phaseNow}, ~${(left / 1000).toFixed(0)}s left`
    say(
      `  [${when}] ${parts.filter(Boolean).join(' | ')}  checks: ${passing} passing${failing.length ? `, failing: ${failing.join(', ')}` : ''}`,
    )
  }, 2000)
  progressTimer.unref()
  let phaseNow = 'setup'
  let methodStartedAt: number | undefined
  const plannedMs = plannedDuration(spec.method)

  try {
    await resolveTargets()
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
    await runPhase(
      hypothesis.filter((c) => phasesOf(c, false).includes('before')),
      'before',
      abort.signal,
      { deadlineMs: BEFORE_DEADLINE_MS },
    )
    const gate = hypothesis
      .filter((c) => phasesOf(c, false).includes('before'))
      .map((c) => journal.checks[c.name]!.phases.at(-1)!)
    const notMet = gate.filter((p) => p.result !== 'pass')
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
    await runPhase(after, 'after', abort.signal, { since: revertedAt })
    if (abort.signal.aborted) status = 'aborted'
  }
  clearInterval(seriesTimer)
  clearInterval(progressTimer)
  opts.signal?.removeEventListener('abort', onOuterAbort)
  if (load) journal.load = { url: spec.load!.url, ...(await load.stop()) }
  for (const p of owned) {
    await p.close()
    registry.unregister(p.name)
  }

  // ── verdict ────────────────────────────────────────────────────────────────
  const landed = landing(journal.faults)

  for (const c of [...hypothesis, ...guardrails]) {
    const rec = journal.checks[c.name]!
    rec.result = worst(rec.phases.map((p) => p.result))
  }
  const results = hypothesis.map((c) => journal.checks[c.name]!.result!)
  let verdict: Verdict = worst(results)
  let reason: string | undefined
  if (status === 'errored') {
    verdict = results.includes('fail') ? 'fail' : 'inconclusive'
    reason = fatal
    if (fatalCode) journal.errorCode = fatalCode
  } else if (status === 'aborted') {
    verdict = !gateFailed && results.includes('fail') ? 'fail' : 'inconclusive'
    reason = abortReason
  } else if (emptyTargets) {
    verdict = 'inconclusive'
    reason = 'a target resolved to no sidecars or processes'
  } else if (journal.dryRun && verdict === 'pass') reason = 'dry run: checks ran, nothing was injected'
  else if (verdict === 'pass' && landed.notLanded.length) {
    // A fault that touched no request proves nothing: never report that as a pass.
    verdict = 'inconclusive'
    reason = `the fault did not land: ${landed.notLanded.join('; ')}`
  } else if (verdict === 'pass' && landed.unproven.length) {
    // Nor does a fault whose evidence could not be read: unknown is not "landed".
    verdict = 'inconclusive'
    reason = `could not show that the fault landed: ${landed.unproven.join('; ')}`
  } else {
    const failed = hypothesis.filter((c) => journal.checks[c.name]!.result === 'fail').map((c) => c.name)
    reason = failed.length
      ? `failed: ${failed.join(', ')}`
      : verdict === 'inconclusive'
        ? 'not enough data to judge every check'
        : undefined
  }
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
