/**
 * What the node and workload faults share: selecting nodes once at plan time, and changing an
 * object so that the object alone says how to undo the change (DESIGN §9, ownership.ts).
 *
 * `faultline.io/original` holds one entry per aspect a run changed on the object:
 *   { "unschedulable": false, "taints": { "prior": [...], "added": [...] }, "replicas": 3 }
 * so two faults of the same run on one node (a cordon and a taint in parallel) each restore
 * their own aspect, and the claim is released only when the last one is reverted. Another run's
 * claim refuses the change (FL_ERR_TARGET_BUSY); the same aspect twice in one run is refused too,
 * since the second would record the first's change as the "prior" state.
 *
 * Every write is a merge patch carrying the resourceVersion it was computed from: a node the
 * kubelet or the node controller touched in between is a 409, re-read and retried, never
 * overwritten.
 */
import type { V1Node, V1ObjectMeta } from '@kubernetes/client-node'
import { errors, FaultlineError } from '../../../src/errors.ts'
import type { KubernetesTargetSpec } from '../../../src/experiments/kubernetes-schema.ts'
import { type Cluster, kubernetesError, MERGE_PATCH, statusOf } from '../../drivers/kubernetes/cluster.ts'
import { assertFree, claim, ownerOf, release } from '../../drivers/kubernetes/ownership.ts'
import { selectNodes } from '../../drivers/kubernetes/select.ts'
import type { FaultRecord, ObjectRef } from '../../experiments/journal.ts'
import type { InjectionContext, Planned, Step } from '../types.ts'

/** Conflicts (409) retried before giving up: each retry re-reads the object. */
const CONFLICT_RETRIES = 8

type Aspects = Record<string, unknown>

interface Owned {
  metadata?: V1ObjectMeta
}

/** How to read and merge-patch one object. */
export interface ObjectAccess<O extends Owned> {
  /** `node n1`, `Deployment shop/web`: for messages. */
  what: string
  /** undefined when the object does not exist (404). */
  read(): Promise<O | undefined>
  patch(body: object): Promise<unknown>
}

export function nodeAccess(cluster: Cluster, name: string): ObjectAccess<V1Node> {
  return {
    what: `node ${name}`,
    read: () => cluster.maybe(`read node ${name}`, () => cluster.core.readNode({ name })),
    patch: (body) => cluster.core.patchNode({ name, body }, MERGE_PATCH),
  }
}

/** Runs `attempt` again while the server answers 409 Conflict (someone wrote the object in between). */
async function retryConflicts<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt()
    } catch (err) {
      if (statusOf(err) === 409 && i < CONFLICT_RETRIES) continue
      // Coded errors (BUSY, a failed read) pass through; raw API failures are coded here.
      if (err instanceof FaultlineError) throw err
      throw kubernetesError(`change ${what}`, err)
    }
  }
}

export type ChangeResult<P> = { changed: true; prior: P } | { changed: false; reason: string }

/**
 * Changes one aspect of an object and claims it for the run, in one write. `change` gets the
 * object as read and returns the prior state to record and the spec patch, or a reason to leave
 * the object alone (nothing to change: no claim is written).
 */
export async function changeAspect<O extends Owned, P>(
  obj: ObjectAccess<O>,
  runId: string,
  aspect: string,
  change: (o: O) => { prior: P; spec: object } | { skip: string },
): Promise<ChangeResult<P>> {
  return retryConflicts(obj.what, async () => {
    const o = await obj.read()
    if (!o) throw errors.FL_ERR_KUBERNETES(`${obj.what} does not exist`, { details: { kubernetes: { status: 404 } } })
    assertFree(o, runId, obj.what)
    const own = (ownerOf<Aspects>(o)?.original ?? {}) as Aspects
    if (aspect in own)
      throw errors.FL_ERR_TARGET_BUSY(`${obj.what} already has a ${aspect} change by this run (another step)`, {
        details: { object: { name: o.metadata?.name, namespace: o.metadata?.namespace }, owner: runId },
      })
    const c = change(o)
    if ('skip' in c) return { changed: false, reason: c.skip }
    const meta = claim(runId, { ...own, [aspect]: c.prior })
    await obj.patch({
      metadata: { ...meta.metadata, resourceVersion: o.metadata?.resourceVersion },
      spec: c.spec,
    })
    return { changed: true, prior: c.prior }
  })
}

export type RestoreResult = 'restored' | 'gone' | 'not-changed'

/**
 * Undoes one aspect this run changed, from what the object itself recorded, and drops it from
 * the claim (the whole claim when it was the last). Idempotent: an object that is gone, or that
 * no longer carries this run's change, is already reverted.
 */
export async function restoreAspect<O extends Owned, P>(
  obj: ObjectAccess<O>,
  runId: string,
  aspect: string,
  restore: (o: O, prior: P) => object | undefined,
): Promise<RestoreResult> {
  return retryConflicts(obj.what, async () => {
    const o = await obj.read()
    if (!o) return 'gone'
    const owner = ownerOf<Aspects>(o)
    if (!owner || owner.runId !== runId || !owner.original || !(aspect in owner.original)) return 'not-changed'
    const { [aspect]: prior, ...rest } = owner.original
    const spec = restore(o, prior as P)
    const meta = Object.keys(rest).length ? claim(runId, rest) : release()
    try {
      await obj.patch({
        metadata: { ...meta.metadata, resourceVersion: o.metadata?.resourceVersion },
        ...(spec ? { spec } : {}),
      })
    } catch (err) {
      // Deleted between the read and the write: nothing left to restore.
      if (statusOf(err) === 404) return 'gone'
      throw err
    }
    return 'restored'
  })
}

// ── planning node faults ─────────────────────────────────────────────────────

export interface NodeStepSpec {
  target: string
  duration: number
}

/** The target's node selector; a pod target here is a document the schema should have refused. */
export function nodeTarget(ctx: InjectionContext, target: string): KubernetesTargetSpec {
  const k = ctx.target(target).kubernetes
  if (!k || (k.kind ?? 'pod') !== 'node')
    throw errors.FL_ERR_EXPERIMENT_INVALID(`target ${target} does not select Kubernetes nodes`, {
      issues: [{ path: `/spec/targets/${target}/kubernetes/kind`, message: 'must be "node" for a node fault' }],
    })
  return k
}

/**
 * Selects the step's nodes once (never re-rolled) and plans one fault over all of them. Nothing
 * selected: nothing planned (the runner says "selects nothing").
 */
export async function planNodes<D>(
  kind: FaultRecord['kind'],
  s: NodeStepSpec,
  step: Step,
  ctx: InjectionContext,
  intent: (names: string[]) => string,
  data: D,
): Promise<Planned<D>[]> {
  const k = nodeTarget(ctx, s.target)
  const sel = await selectNodes(ctx.cluster(), k, { random: () => ctx.random(), ownNamespace: ctx.ownNamespace })
  if (sel.selected.length === 0) return []
  const names = sel.refs.map((r) => r.name)
  const record: FaultRecord = {
    id: '',
    kind,
    step: step.label,
    target: s.target,
    on: names,
    objects: sel.refs,
    selection: { matched: sel.matched, mode: k.mode ?? 'one', ...(k.value !== undefined ? { value: k.value } : {}) },
    intentAt: Date.now(),
  }
  return [{ record, intent: intent(names), data }]
}

/** The nodes a record names (crash recovery has nothing else). */
export function nodesOf(record: FaultRecord): string[] {
  return (record.objects ?? []).filter((o: ObjectRef) => o.kind === 'Node').map((o) => o.name)
}

// ── cordon, shared by nodeCordon and nodeDrain ──────────────────────────────

export const UNSCHEDULABLE = 'unschedulable'

/** Marks the node unschedulable; a node that already was is left alone (and never uncordoned later). */
export function cordon(cluster: Cluster, runId: string, name: string): Promise<ChangeResult<boolean>> {
  return changeAspect<V1Node, boolean>(nodeAccess(cluster, name), runId, UNSCHEDULABLE, (n) =>
    n.spec?.unschedulable ? { skip: 'already cordoned' } : { prior: false, spec: { unschedulable: true } },
  )
}

/**
 * Back to the recorded state. Only `false` is ever recorded (a node that was cordoned is never
 * claimed); null removes the field, as a node that was never cordoned has none.
 */
export function uncordon(cluster: Cluster, runId: string, name: string): Promise<RestoreResult> {
  return restoreAspect<V1Node, boolean>(nodeAccess(cluster, name), runId, UNSCHEDULABLE, (_n, prior) => ({
    unschedulable: prior ? true : null,
  }))
}

/**
 * Restores one aspect on every node of a record, one node's failure not stopping the others;
 * throws after trying all of them (the only error, or all of them together).
 */
export async function restoreNodes(
  names: string[],
  restore: (name: string) => Promise<RestoreResult>,
  verb: string,
): Promise<string | undefined> {
  const done: string[] = []
  const failures: { name: string; err: unknown }[] = []
  for (const name of names) {
    try {
      if ((await restore(name)) === 'restored') done.push(name)
    } catch (err) {
      failures.push({ name, err })
    }
  }
  if (failures.length === 1) throw failures[0]!.err
  if (failures.length > 1)
    throw new AggregateError(
      failures.map((f) => f.err),
      `could not restore ${failures.length} node(s): ${failures.map((f) => `${f.name}: ${codedMessage(f.err)}`).join('; ')}`,
    )
  return done.length ? `${verb} ${done.join(', ')}` : `nothing left to revert on ${names.join(', ') || 'no node'}`
}

export function codedMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? `${code}: ${(err as Error).message}` : (err as Error).message
}

/** Uncordons every node of a record back to its prior state (cordon and drain revert alike). */
export function uncordonAll(
  record: FaultRecord,
  ctx: { cluster(): Cluster; runId: string },
): Promise<string | undefined> {
  return restoreNodes(nodesOf(record), (name) => uncordon(ctx.cluster(), ctx.runId, name), 'uncordoned')
}
