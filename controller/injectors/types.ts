/**
 * One interface per fault family (sidecar rules, local processes, local stress, Kubernetes):
 *
 *   plan    resolve the targets and describe the intent; changes nothing. The runner journals
 *           every planned record (durably) before anything is applied.
 *   apply   make one planned fault real; records its evidence on the record. Throws if it
 *           did not apply (a partial apply is still reverted).
 *   hold    resolves when the fault should be reverted (its duration, or the process it started
 *           exiting). Absent: the fault stands until the whole method ends.
 *   revert  undo; idempotent, and "already gone" counts as reverted.
 *
 * The runner orchestrates (phases, checks, the revert stack, the verdict); injectors only act.
 */
import type { KubernetesTargetSpec } from '../../src/experiments/kubernetes-schema.ts'
import type { Logger } from '../../src/log.ts'
import type { Cluster } from '../drivers/kubernetes/cluster.ts'
import type { SupervisedProcess } from '../drivers/local/supervisor.ts'
import type { FaultRecord, Journal, TimelineEvent } from '../experiments/journal.ts'
import type { RuleBus } from '../bus/index.ts'
import type { SidecarClient } from '../sidecar-client.ts'

/** A target as resolved for this run. */
export interface ResolvedTarget {
  name: string
  /** How sidecar rules reach this target's sidecars. */
  bus: RuleBus
  /** The sidecars' admin APIs: statistics and fault evidence. */
  sidecars: SidecarClient[]
  processes: SupervisedProcess[]
  /** A Kubernetes target's selector (each step selects from it, once, at plan time). */
  kubernetes?: KubernetesTargetSpec
}

export interface InjectionContext {
  readonly runId: string
  readonly journal: Journal
  /** Aborted when the run stops early (guardrail, signal, error); every wait must honour it. */
  readonly signal: AbortSignal
  /** Added to a fault's duration for the ttl its rules carry, so a dead controller leaves nothing. */
  readonly ttlMarginMs: number
  target(name: string): ResolvedTarget
  /** The cluster, for Kubernetes faults; throws FL_ERR_CONFIG_INVALID when none is configured. */
  cluster(): Cluster
  /** Picks targets (modes); seeded in tests, so a selection can be reproduced. */
  random(): number
  /** The controller's own namespace, protected like kube-system. */
  readonly ownNamespace?: string
  event(e: Omit<TimelineEvent, 'at'>): void
  save(): Promise<void>
  say(line: string): void
  readonly log: Logger
}

export interface Step {
  /** Shown in the journal and the console. */
  label: string
  /** Stable position of the step in the method (`method/0/parallel/1`): part of rule sources. */
  key: string
}

/**
 * One planned fault: its journal record (the runner gives it its `fault-N` id as it journals
 * it), and what only its injector needs to act on it.
 */
export interface Planned<D = unknown> {
  record: FaultRecord
  /** The intent, in words, for the timeline. */
  intent: string
  data: D
}

export interface Injector<S = unknown, D = unknown> {
  /** The method step field this family handles, e.g. `sidecarFault`. */
  readonly step: string
  plan(spec: S, step: Step, ctx: InjectionContext): Promise<Planned<D>[]>
  /** Returns what to say in the `applied` timeline event. */
  apply(p: Planned<D>, spec: S, ctx: InjectionContext): Promise<string>
  /** Also called in a dry run (nothing applied), so a dry run takes the time the real one would. */
  hold?(p: Planned<D>, spec: S, ctx: InjectionContext, applied: boolean): Promise<void>
  /** Returns what to say in the `reverted` timeline event, if anything. */
  revert(p: Planned<D>, spec: S, ctx: InjectionContext): Promise<string | undefined>
  /**
   * Crash recovery: undo a fault from its journal record alone (a restarted controller has
   * nothing else). Families whose changes outlive the controller implement it (Kubernetes: from
   * the objects' own annotations); sidecar rules go by their source; local processes die with it.
   */
  recover?(record: FaultRecord, ctx: RecoveryContext): Promise<string | undefined>
}

/** What crash recovery gives an injector: the cluster and the crashed run's id. */
export interface RecoveryContext {
  readonly runId: string
  cluster(): Cluster
  readonly log: Logger
}

/** Any family, as the runner holds them (specs and data stay private to each injector). */
export type AnyInjector = Injector<unknown, unknown>

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
