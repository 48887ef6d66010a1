/**
 * What the pod-side Kubernetes injectors share: planning (one selection per step, made once,
 * journalled as the record's objects), re-reading a selected pod before changing it (it may be
 * gone, or replaced by a new pod of the same name), claiming it for one fault of one run, patches
 * that retry on a conflicting write, and a watch on a namespace's pods that survives the API
 * server ending the stream.
 */
import { createHash } from 'node:crypto'
import { type V1Pod, Watch } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import type { KubernetesTargetSpec } from '../../../src/experiments/kubernetes-schema.ts'
import type { Logger } from '../../../src/log.ts'
import { type Cluster, kubernetesError, STRATEGIC_PATCH, statusOf } from '../../drivers/kubernetes/cluster.ts'
import { assertFree, ownerOf } from '../../drivers/kubernetes/ownership.ts'
import { selectPods } from '../../drivers/kubernetes/select.ts'
import type { FaultRecord, ObjectRef } from '../../experiments/journal.ts'
import { type InjectionContext, type Planned, type Step, sleep } from '../types.ts'

/** How often a patch is retried when someone else wrote the object between our read and write. */
const CONFLICT_RETRIES = 5

export const nameOf = (ref: { namespace?: string; name: string }): string => `${ref.namespace}/${ref.name}`

/**
 * A short id for the objects and labels one fault step creates: stable for a run and a step (so
 * the plan can journal the names before anything exists), distinct between runs and steps.
 */
export function shortId(runId: string, stepKey: string): string {
  return createHash('sha256').update(`${runId}/${stepKey}`).digest('hex').slice(0, 10)
}

/** The Kubernetes pod target a step names; a non-Kubernetes or node target is a configuration error. */
export function podTarget(ctx: InjectionContext, target: string, kind: string): KubernetesTargetSpec {
  const spec = ctx.target(target).kubernetes
  if (!spec || (spec.kind ?? 'pod') !== 'pod')
    throw errors.FL_ERR_CONFIG_INVALID(`${kind} needs a Kubernetes pod target; ${target} is not one`, {
      issues: [
        { path: `/spec/targets/${target}/kubernetes`, message: 'a pod target (namespaces or pods) is required' },
      ],
    })
  return spec
}

/**
 * Selects once and plans one fault for the whole step (its record lists every selected pod, plus
 * any objects the fault will create), or none when nothing was selected.
 */
export async function planPods<D>(
  kind: FaultRecord['kind'],
  target: string,
  step: Step,
  ctx: InjectionContext,
  make: (pods: V1Pod[], refs: ObjectRef[]) => { intent: string; data: D; created?: ObjectRef[] },
): Promise<Planned<D>[]> {
  const spec = podTarget(ctx, target, kind)
  const sel = await selectPods(ctx.cluster(), spec, { random: () => ctx.random(), ownNamespace: ctx.ownNamespace })
  const mode = spec.mode ?? 'one'
  if (sel.selected.length === 0) {
    const detail = `${kind}: nothing selected (${sel.matched} pod(s) matched, mode ${mode}); nothing is changed`
    ctx.event({ type: 'step', step: step.label, detail })
    ctx.say(`  [${kind}] ${detail}`)
    return []
  }
  const { intent, data, created = [] } = make(sel.selected, sel.refs)
  const record: FaultRecord = {
    id: '',
    kind,
    step: step.label,
    target,
    on: sel.refs.map(nameOf),
    objects: [...sel.refs, ...created],
    selection: { matched: sel.matched, mode, value: spec.value },
    intentAt: Date.now(),
  }
  return [{ record, intent, data }]
}

export const podRefs = (record: FaultRecord): ObjectRef[] => (record.objects ?? []).filter((o) => o.kind === 'Pod')

/** The selected pod as it is now; undefined (with why) when it is gone or was replaced by a new pod of that name. */
export async function rereadPod(
  cluster: Cluster,
  ref: ObjectRef,
): Promise<{ pod: V1Pod; why?: undefined } | { pod?: undefined; why: string }> {
  const pod = await cluster.maybe(`read pod ${nameOf(ref)}`, () =>
    cluster.core.readNamespacedPod({ name: ref.name, namespace: ref.namespace! }),
  )
  if (!pod) return { why: 'gone' }
  if (ref.uid && pod.metadata?.uid !== ref.uid) return { why: 'replaced by a new pod since it was selected' }
  return { pod }
}

/** What a fault saved on a pod it claimed: which fault (a run may hit a pod in several steps). */
export interface Saved {
  fault: string
}

/**
 * Whether `pod` may be claimed by fault `faultId` of run `runId`: `free`, or `ours` (this fault
 * already claimed it: applying again changes nothing). Another run's claim is FL_ERR_TARGET_BUSY,
 * and so is another fault of this run: one claim holds one set of originals, and a second fault
 * would overwrite what the first one restores.
 */
export function claimable(pod: V1Pod, runId: string, faultId: string, what: string): 'free' | 'ours' {
  assertFree(pod, runId, what)
  const owner = ownerOf<Saved>(pod)
  if (!owner) return 'free'
  if (owner.original?.fault === faultId) return 'ours'
  throw errors.FL_ERR_TARGET_BUSY(
    `${what} is already changed by ${owner.original?.fault ?? 'another fault'} of this run`,
    {
      details: { object: { namespace: pod.metadata?.namespace, name: pod.metadata?.name }, owner: runId },
    },
  )
}

/** Whether fault `faultId` of run `runId` still holds a claim on `pod`, and what it saved. */
export function ourClaim<T extends Saved>(pod: V1Pod, runId: string, faultId: string): T | undefined {
  const owner = ownerOf<T>(pod)
  return owner?.runId === runId && owner.original?.fault === faultId ? owner.original : undefined
}

/**
 * Patches a pod from its current state: `build` sees the pod as just read and returns the patch
 * (or a reason to leave it alone). The patch carries the pod's uid and resourceVersion as
 * preconditions, so nothing written between our read and our write is overwritten; a conflict
 * reads again and rebuilds. Returns the patched pod, or why nothing was patched.
 */
export async function patchPod(
  cluster: Cluster,
  ref: ObjectRef,
  what: string,
  build: (pod: V1Pod) => { patch: Record<string, unknown> } | { skip: string },
  options = STRATEGIC_PATCH,
): Promise<{ pod: V1Pod; skip?: undefined } | { pod?: undefined; skip: string }> {
  for (let attempt = 1; ; attempt++) {
    const now = await rereadPod(cluster, ref)
    if (!now.pod) return { skip: now.why }
    const built = build(now.pod)
    if ('skip' in built) return { skip: built.skip }
    const meta = (built.patch.metadata ?? {}) as Record<string, unknown>
    const body = {
      ...built.patch,
      metadata: { ...meta, uid: now.pod.metadata!.uid, resourceVersion: now.pod.metadata!.resourceVersion },
    }
    try {
      const pod = await cluster.core.patchNamespacedPod({ name: ref.name, namespace: ref.namespace!, body }, options)
      return { pod }
    } catch (err) {
      const status = statusOf(err)
      if (status === 404) return { skip: 'gone' }
      if (status === 409 && attempt < CONFLICT_RETRIES) continue
      throw kubernetesError(`${what} ${nameOf(ref)}`, err)
    }
  }
}

/** The Status body of an API error: its message, reason and causes, when the server sent one. */
export function statusDetails(err: unknown): {
  message?: string
  reason?: string
  causes: { reason?: string; message?: string }[]
} {
  let body = (err as { body?: unknown })?.body
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      return { message: body as string, causes: [] }
    }
  }
  const b = body as
    { message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } } | undefined
  return { message: b?.message, reason: b?.reason, causes: b?.details?.causes ?? [] }
}

/** The object whose controller owns a pod (else its first owner): what recreates it. */
export function ownerOfPod(pod: V1Pod): { uid: string; kind: string; name: string } | undefined {
  const refs = pod.metadata?.ownerReferences ?? []
  const o = refs.find((r) => r.controller) ?? refs[0]
  return o ? { uid: o.uid, kind: o.kind, name: o.name } : undefined
}

type PodEvent = 'ADDED' | 'MODIFIED' | 'DELETED'

/**
 * The pods of one namespace, from a list (a consistent starting point) and then a watch from the
 * list's resourceVersion, so no change between the two is missed. The API server ends watch
 * streams (timeoutSeconds, restarts, client-node's 30 s inactivity timeout): the watch resumes
 * from the last resourceVersion it saw; when that is too old (410 Gone) it lists again and
 * reports every listed pod as ADDED.
 */
export class PodWatch {
  readonly #cluster: Cluster
  readonly #namespace: string
  readonly #onPod: (type: PodEvent, pod: V1Pod) => void
  readonly #log: Logger
  #resourceVersion = ''
  #relist = false
  #stopped = false
  #failures = 0
  #abort: AbortController | undefined
  readonly #stop = new AbortController()
  readonly #timeoutSeconds: number

  /** `timeoutSeconds`: how long the server keeps one stream open (below client-node's 30 s inactivity timeout). */
  constructor(
    cluster: Cluster,
    namespace: string,
    onPod: (type: PodEvent, pod: V1Pod) => void,
    log: Logger,
    opts: { timeoutSeconds?: number } = {},
  ) {
    this.#cluster = cluster
    this.#namespace = namespace
    this.#onPod = onPod
    this.#log = log
    this.#timeoutSeconds = opts.timeoutSeconds ?? 25
  }

  /** Lists the namespace's pods (returned, not reported) and starts watching from there. */
  async start(): Promise<V1Pod[]> {
    const list = await this.#list()
    await this.#connect()
    return list
  }

  stop(): void {
    this.#stopped = true
    this.#stop.abort()
    this.#abort?.abort()
  }

  async #list(): Promise<V1Pod[]> {
    const ns = this.#namespace
    const list = await this.#cluster.call(`list pods in ${ns}`, () =>
      this.#cluster.core.listNamespacedPod({ namespace: ns }),
    )
    this.#resourceVersion = list.metadata?.resourceVersion ?? ''
    return list.items
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return
    if (this.#relist) {
      const pods = await this.#list()
      this.#relist = false
      for (const pod of pods) this.#onPod('ADDED', pod)
    }
    const controller = await new Watch(this.#cluster.kc).watch(
      `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/pods`,
      { resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.#timeoutSeconds },
      (type, obj) => this.#event(type, obj),
      (err) => this.#ended(err),
    )
    if (this.#stopped) controller.abort()
    else this.#abort = controller
  }

  #event(type: string, obj: unknown): void {
    if (type === 'ERROR') {
      const status = obj as { code?: number; message?: string }
      if (status.code === 410) this.#relist = true
      else this.#log.warn({ namespace: this.#namespace, status }, 'pod watch: error event')
      return
    }
    const rv = (obj as V1Pod).metadata?.resourceVersion
    if (rv) this.#resourceVersion = rv
    this.#failures = 0
    if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.#onPod(type, obj as V1Pod)
  }

  #ended(err: unknown): void {
    if (this.#stopped) return
    if (err) {
      this.#failures++
      this.#log.debug({ err, namespace: this.#namespace }, 'pod watch ended; resuming')
    }
    // Back off only when the stream keeps failing; a normal end (timeoutSeconds) resumes at once.
    const wait = this.#failures ? Math.min(2000, 100 * 2 ** this.#failures) : 0
    void sleep(wait, this.#stop.signal)
      .then(() => this.#connect())
      .catch((e: unknown) => {
        this.#failures++
        this.#log.warn({ err: e, namespace: this.#namespace }, 'pod watch could not resume; retrying')
        this.#ended(undefined)
      })
  }
}
