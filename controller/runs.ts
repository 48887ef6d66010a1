/**
 * Runs inside the controller: started in-process, each with its own abort switch; the halt
 * switch aborts them all and refuses new ones. On start, runs a crashed controller left
 * "running" are found from their journals, their journalled faults reverted, and marked aborted:
 * sidecar rules by their source, Kubernetes changes by their injector's `recover()` from the
 * journal record and the objects' own annotations.
 */
import path from 'node:path'
import { errors, type FaultlineError } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import { kubernetesSteps } from '../src/experiments/kubernetes-schema.ts'
import type { ExperimentDoc } from '../src/experiments/schema.ts'
import type { RandomSource } from '../src/random.ts'
import type { Cluster } from './drivers/kubernetes/cluster.ts'
import type { FaultRecord, Journal } from './experiments/journal.ts'
import { writeReports } from './experiments/report.ts'
import { type RunResult, runExperiment } from './experiments/runner.ts'
import type { FleetBus } from './bus/fleet.ts'
import { ruleBusFor } from './bus/index.ts'
import { INJECTORS } from './injectors/index.ts'
import type { AnyInjector, RecoveryContext } from './injectors/types.ts'
import type { Store, Unreadable } from './store/types.ts'

/** Journal fault kinds that changed a cluster: reverted through their injector's recover(). */
const KUBERNETES_KINDS: ReadonlySet<string> = new Set(Object.keys(kubernetesSteps))

/** What crash recovery did for one run left "running", or why it could not. */
export interface Recovered {
  runId: string
  reverted: string[]
  /**
   * Placements that could not be reverted, each with its error code. Sidecar rules still expire
   * by their ttl; a Kubernetes change stays on its object, which names the run in faultline.io/run-id.
   */
  failed: string[]
  /** The journal exists but cannot be read: nothing was reverted, a person must look (its faults expire by ttl). */
  unreadable?: Unreadable
}

/** `<code>: <message>` for a journal line, so the code survives into the journal and the log. */
function coded(err: unknown): string {
  const code = (err as FaultlineError).code
  return code ? `${code}: ${(err as Error).message}` : (err as Error).message
}

interface ActiveRun {
  runId: string
  experiment: string
  schedule?: string
  abort: AbortController
  done: Promise<RunResult>
  /** The runner's journal, updated in place as the run goes (read by the metrics at scrape time). */
  journal?: Journal
}

/** Told about every run's start and end (the controller's metrics count them). */
export interface RunObserver {
  started(experiment: ExperimentDoc, runId: string): void
  /** A run ended, or a crashed run was recovered (aborted); `journal` is final. */
  finished(journal: Journal): void
}

export interface RunManagerOptions {
  store: Store
  dataDir: string
  log: Logger
  ttlMarginMs?: number
  fleet?: FleetBus
  /** The cluster, for Kubernetes targets and for reverting a crashed run's Kubernetes faults. */
  cluster?: () => Cluster
  /** Picks Kubernetes targets (modes); default Math.random. */
  random?: RandomSource
  /** The controller's own namespace, protected like kube-system. */
  ownNamespace?: string
  /** The fault families crash recovery can revert; default every registered one (INJECTORS). */
  injectors?: readonly AnyInjector[]
}

export interface StartOptions {
  dryRun?: boolean
  schedule?: string
}

export class RunManager {
  readonly #active = new Map<string, ActiveRun>()
  readonly #store: Store
  readonly #dataDir: string
  readonly #log: Logger
  readonly #ttlMarginMs: number | undefined
  readonly #fleet: FleetBus | undefined
  readonly #cluster: (() => Cluster) | undefined
  readonly #random: RandomSource | undefined
  readonly #ownNamespace: string | undefined
  readonly #injectors: readonly AnyInjector[]
  readonly #observers: RunObserver[] = []

  constructor(opts: RunManagerOptions) {
    this.#store = opts.store
    this.#dataDir = opts.dataDir
    this.#log = opts.log.child({ component: 'runs' })
    this.#ttlMarginMs = opts.ttlMarginMs
    this.#fleet = opts.fleet
    this.#cluster = opts.cluster
    this.#random = opts.random
    this.#ownNamespace = opts.ownNamespace
    this.#injectors = opts.injectors ?? INJECTORS
  }

  active(): { runId: string; experiment: string; schedule?: string }[] {
    return [...this.#active.values()].map(({ runId, experiment, schedule }) => ({ runId, experiment, schedule }))
  }

  observe(o: RunObserver): void {
    this.#observers.push(o)
  }

  /** Journals of the runs in progress, as they are now. */
  liveJournals(): Journal[] {
    return [...this.#active.values()].flatMap((r) => (r.journal ? [r.journal] : []))
  }

  /** An observer that throws is logged, never allowed to disturb a run. */
  #notify(fn: (o: RunObserver) => void): void {
    for (const o of this.#observers)
      try {
        fn(o)
      } catch (err) {
        this.#log.error({ err }, 'a run observer failed (metrics may be off)')
      }
  }

  /** Starts a run; resolves with its id as soon as it has one. Refused while halted. */
  async start(
    experiment: ExperimentDoc,
    opts: StartOptions = {},
  ): Promise<{ runId: string; done: Promise<RunResult> }> {
    const halt = await this.#store.getHalt()
    if (halt) throw errors.FL_ERR_HALTED(halt.reason)
    const abort = new AbortController()
    let resolveId!: (id: string) => void
    const idKnown = new Promise<string>((r) => (resolveId = r))
    let liveJournal: Journal | undefined
    const done = runExperiment(experiment, {
      dataDir: this.#dataDir,
      dryRun: opts.dryRun,
      schedule: opts.schedule,
      signal: abort.signal,
      ttlMarginMs: this.#ttlMarginMs,
      fleet: this.#fleet,
      cluster: this.#cluster,
      random: this.#random,
      ownNamespace: this.#ownNamespace,
      logger: this.#log,
      onStart: resolveId,
      // Files are written by the runner itself; another store gets every update too.
      journalSink: (j) => {
        liveJournal = j
        if (this.#store.kind === 'files') return Promise.resolve()
        return this.#store
          .saveJournal(j)
          .catch((err) => this.#log.error({ err, runId: j.runId }, 'could not save the journal to the store'))
      },
    })
    const runId = await Promise.race([idKnown, done.then((r) => r.runId)])
    const entry: ActiveRun = {
      runId,
      experiment: experiment.metadata.name,
      schedule: opts.schedule,
      abort,
      done,
      journal: liveJournal,
    }
    this.#active.set(runId, entry)
    this.#notify((o) => o.started(experiment, runId))
    done
      .then(async (r) => {
        this.#notify((o) => o.finished(r.journal))
        await this.#store.saveJournal(r.journal)
        this.#log.info({ runId, status: r.status, verdict: r.verdict, reason: r.reason }, 'run finished')
      })
      .catch((err) => this.#log.error({ runId, err }, 'run failed unexpectedly'))
      .finally(() => this.#active.delete(runId))
    this.#log.info(
      { runId, experiment: entry.experiment, dryRun: opts.dryRun ?? false, schedule: opts.schedule },
      'run started',
    )
    return { runId, done }
  }

  /** Aborts a running run; resolves once its faults are reverted. */
  async abort(runId: string): Promise<RunResult | undefined> {
    const run = this.#active.get(runId)
    if (!run) return undefined
    run.abort.abort()
    return run.done
  }

  async abortAll(): Promise<string[]> {
    const ids = [...this.#active.keys()]
    await Promise.all(ids.map((id) => this.abort(id)))
    return ids
  }

  /**
   * Runs a dead controller left "running": revert every journalled sidecar fault that was not
   * reverted (by its rule source, on every sidecar it went to) and every Kubernetes fault (by its
   * injector, newest first, from the record and the objects' annotations), then mark the run
   * aborted. A
   * journal that cannot be read is reported (logged with its file, and in the result), never
   * skipped silently: it may hold faults that only their ttl will now remove.
   */
  async recoverCrashed(): Promise<Recovered[]> {
    const out: Recovered[] = []
    const { items, unreadable } = await this.#store.listRuns()
    for (const u of unreadable) {
      this.#log.error(
        { code: u.code, record: u.record, runId: u.id },
        'crash recovery cannot read this run journal: any fault it applied is left to expire by its ttl',
      )
      out.push({ runId: u.id, reverted: [], failed: [], unreadable: u })
    }
    for (const summary of items) {
      if (summary.status !== 'running' || this.#active.has(summary.runId)) continue
      try {
        out.push(await this.#recover(summary.runId))
      } catch (err) {
        // One run that cannot be recovered (the store failed) must not stop the others, or start-up.
        this.#log.error({ runId: summary.runId, code: (err as FaultlineError).code, err }, 'crash recovery failed')
        out.push({ runId: summary.runId, reverted: [], failed: [coded(err)] })
      }
    }
    return out
  }

  async #recover(runId: string): Promise<Recovered> {
    const journal = (await this.#store.getJournal(runId)) as Journal
    const reverted: string[] = []
    const failed: string[] = []
    for (const f of journal.faults) {
      if (f.kind !== 'sidecar' || f.revertedAt !== undefined || !f.source) continue
      const expires = f.service ? '(its rules still expire)' : '(its rules still expire by ttl)'
      try {
        const bus = ruleBusFor(
          { service: f.service, sidecars: f.on, adminToken: journal.experiment.spec.targets[f.target]?.adminToken },
          this.#fleet,
        )
        const removal = await bus.removeBySource(f.source)
        for (const m of removal.reverted) reverted.push(`${f.id}@${m}`)
        for (const { member, error } of removal.failed) failed.push(`${f.id}@${member}: ${coded(error)} ${expires}`)
      } catch (err) {
        failed.push(`${f.id}@service:${f.service}: ${coded(err)} ${expires}`)
      }
      f.revertedAt = Date.now()
    }
    // Newest first, as the runner reverts. Every record is tried, applied or not: the run may
    // have died between the change and journalling it, and recover() is a no-op on an object
    // that does not carry this run's change.
    for (const f of [...journal.faults].reverse()) {
      if (!KUBERNETES_KINDS.has(f.kind) || f.revertedAt !== undefined) continue
      const outcome = await this.#recoverKubernetes(journal, f)
      if (outcome.ok) reverted.push(`${f.id}@${f.kind}: ${outcome.detail}`)
      else if (outcome.ok === false) failed.push(`${f.id}@${f.kind}: ${outcome.detail}`)
    }
    journal.status = 'aborted'
    journal.verdict = 'inconclusive'
    journal.reason = 'the controller stopped during the run; its faults were reverted when it restarted'
    journal.endedAt ??= Date.now()
    journal.timeline.push({
      at: Date.now(),
      type: 'run',
      detail: `recovered after a controller restart: reverted ${reverted.length} fault placement(s)${failed.length ? `, ${failed.length} failed: ${failed.join('; ')}` : ''}`,
    })
    await this.#store.saveJournal(journal)
    try {
      writeReports(path.join(this.#dataDir, 'runs', journal.runId), journal)
    } catch (err) {
      // The reports can be rendered from the journal on demand (GET /runs/:id/report).
      this.#log.warn({ runId: journal.runId, err }, 'could not write the recovered run reports')
    }
    this.#notify((o) => o.finished(journal))
    this.#log.warn({ runId: journal.runId, reverted, failed }, 'recovered a run left running by a previous controller')
    return { runId: journal.runId, reverted, failed }
  }

  /**
   * One Kubernetes fault of a crashed run, through its injector's recover(). A fault whose family
   * has nothing to undo (a pod kill is over once done) is skipped: `ok` undefined.
   */
  async #recoverKubernetes(journal: Journal, f: FaultRecord): Promise<{ ok?: boolean; detail: string }> {
    const injector = this.#injectors.find((i) => i.step === f.kind)
    if (injector && !injector.recover) return { detail: 'nothing to revert' }
    const stays = '(the change stays on the object, annotated faultline.io/run-id'
    try {
      if (!injector) throw new Error(`no injector handles ${f.kind} in this controller`)
      const ctx: RecoveryContext = {
        runId: journal.runId,
        log: this.#log.child({ runId: journal.runId, fault: f.id }),
        cluster: () => {
          if (!this.#cluster)
            throw errors.FL_ERR_CONFIG_INVALID('reverting a Kubernetes fault needs a cluster', {
              issues: [{ path: '--kubeconfig', message: 'give --kubeconfig, set KUBECONFIG, or run in a cluster' }],
            })
          return this.#cluster()
        },
      }
      const said = await injector.recover!(f, ctx)
      f.revertedAt = Date.now()
      const detail = said ?? 'reverted'
      journal.timeline.push({ at: f.revertedAt, type: 'reverted', step: f.step, fault: f.id, detail })
      return { ok: true, detail }
    } catch (err) {
      const detail = `${coded(err)} ${stays}=${journal.runId})`
      f.error = `revert failed: ${detail}`
      journal.timeline.push({ at: Date.now(), type: 'revert-failed', step: f.step, fault: f.id, detail })
      this.#log.error(
        { runId: journal.runId, fault: f.id, kind: f.kind, code: (err as FaultlineError).code, err },
        'crash recovery could not revert a Kubernetes fault',
      )
      return { ok: false, detail }
    }
  }
}
