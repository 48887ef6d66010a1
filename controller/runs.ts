/**
 * Runs inside the controller: started in-process, each with its own abort switch; the halt
 * switch aborts them all and refuses new ones. On start, runs a crashed controller left
 * "running" are found from their journals, their journalled faults reverted, and marked aborted.
 */
import path from 'node:path'
import { errors, type FaultlineError } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import type { ExperimentDoc } from '../src/experiments/schema.ts'
import type { Journal } from './experiments/journal.ts'
import { writeReports } from './experiments/report.ts'
import { type RunResult, runExperiment } from './experiments/runner.ts'
import type { FleetBus } from './bus/fleet.ts'
import { ruleBusFor } from './bus/index.ts'
import type { Store, Unreadable } from './store/types.ts'

/** What crash recovery did for one run left "running", or why it could not. */
export interface Recovered {
  runId: string
  reverted: string[]
  /** Placements that could not be reverted, each with its error code (their rules still expire). */
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

  constructor(opts: { store: Store; dataDir: string; log: Logger; ttlMarginMs?: number; fleet?: FleetBus }) {
    this.#store = opts.store
    this.#dataDir = opts.dataDir
    this.#log = opts.log.child({ component: 'runs' })
    this.#ttlMarginMs = opts.ttlMarginMs
    this.#fleet = opts.fleet
  }

  active(): { runId: string; experiment: string; schedule?: string }[] {
    return [...this.#active.values()].map(({ runId, experiment, schedule }) => ({ runId, experiment, schedule }))
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
    const done = runExperiment(experiment, {
      dataDir: this.#dataDir,
      dryRun: opts.dryRun,
      schedule: opts.schedule,
      signal: abort.signal,
      ttlMarginMs: this.#ttlMarginMs,
      fleet: this.#fleet,
      logger: this.#log,
      onStart: resolveId,
      // Files are written by the runner itself; another store gets every update too.
      journalSink:
        this.#store.kind === 'files'
          ? undefined
          : (j) =>
              this.#store
                .saveJournal(j)
                .catch((err) => this.#log.error({ err, runId: j.runId }, 'could not save the journal to the store')),
    })
    const runId = await Promise.race([idKnown, done.then((r) => r.runId)])
    const entry: ActiveRun = { runId, experiment: experiment.metadata.name, schedule: opts.schedule, abort, done }
    this.#active.set(runId, entry)
    done
      .then(async (r) => {
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
   * reverted (by its rule source, on every sidecar it went to), then mark the run aborted. A
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
    this.#log.warn({ runId: journal.runId, reverted, failed }, 'recovered a run left running by a previous controller')
    return { runId: journal.runId, reverted, failed }
  }
}
