/**
 * An in-process fake Kubernetes API server for tests (not product code): plain HTTP on
 * 127.0.0.1 (port 0), the real REST paths and JSON shapes, good enough that the real
 * `@kubernetes/client-node` (CoreV1Api, AppsV1Api, PolicyV1Api, NetworkingV1Api, Watch,
 * makeInformer) and the real kubectl v1.33 (get, delete, cordon, uncordon, taint, scale, drain,
 * apply, rollout) work against it unchanged.
 *
 *   const fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20 })
 *   fake.create(build.deployment({ name: 'web', replicas: 3 }))
 *   await fake.waitFor(() => fake.list('pods', 'default').filter(isPodReady).length === 3)
 *   const core = fake.kubeConfig().makeApiClient(CoreV1Api)   // or kubectl --kubeconfig fake.kubeconfigPath
 *   …
 *   await fake.close()
 *
 * Faithful (same paths, shapes, status codes and semantics as a v1.33 API server):
 * - discovery (/version, /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v> with verbs, short names,
 *   subresources pods/eviction, pods/ephemeralcontainers, pods/status, deployments/scale,
 *   statefulsets/scale, replicasets/scale); OpenAPI v3 documents just rich enough for kubectl
 *   create/apply to use server-side field validation (openapi.ts);
 * - namespaces, nodes, pods, events, services, configmaps, deployments, replicasets,
 *   statefulsets, daemonsets, poddisruptionbudgets (policy/v1), networkpolicies;
 * - metadata.uid, resourceVersion (one global counter), creationTimestamp, generation (bumped
 *   when anything but metadata and status changes); list items without kind/apiVersion;
 * - list with labelSelector (=, ==, !=, in, notin, exists, !key, >, <) and fieldSelector (per
 *   resource fields: metadata.name, metadata.namespace, spec.nodeName, status.phase, …; an
 *   unsupported field is a 400), all-namespaces lists, server-side Tables for kubectl;
 * - watch (resourceVersion resume, 410 Expired past the history, selector transitions as
 *   ADDED/DELETED, bookmarks, timeoutSeconds, Table events for kubectl get -w);
 * - create/replace/patch (JSON patch incl. `test`, merge patch, strategic merge patch)/delete,
 *   optimistic concurrency (409 Conflict), dryRun=All, DeleteOptions (gracePeriodSeconds,
 *   preconditions, propagationPolicy Orphan), deletecollection, finalizers;
 * - pod rules: creation defaults (incl. the default not-ready/unreachable tolerations), only
 *   images, activeDeadlineSeconds, added tolerations and terminationGracePeriodSeconds change
 *   on update, ephemeral containers only by addition through their subresource (no ports,
 *   probes, lifecycle or resources), graceful deletion with deletionTimestamp;
 * - evictions: policy/v1 Eviction, PDB arithmetic as the disruption controller and eviction
 *   registry compute it (minAvailable/maxUnavailable, ints and percentages, unhealthy pods,
 *   unhealthyPodEvictionPolicy), 429 TooManyRequests naming the budget, 500 for two budgets;
 * - autoscaling/v1 Scale on deployments, statefulsets and replicasets (GET/PUT/PATCH);
 * - the node controller's taints (unschedulable, not-ready/unreachable), NoExecute evictions
 *   honouring tolerationSeconds, PodGC of pods on deleted nodes, mirror pods re-created;
 * - errors as Status bodies (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Forbidden,
 *   TooManyRequests, MethodNotAllowed, UnsupportedMediaType, Unauthorized, Expired).
 *
 * Approximated (details in each file's header):
 * - controllers (controllers.ts): a Deployment rollout replaces the old ReplicaSet at once (no
 *   surge pacing); minReadySeconds is ignored; the scheduler is "Ready, schedulable, tolerated,
 *   nodeSelector, fewest pods" (no affinity, resources or topology spread); a pause image never
 *   becomes ready, as if a readiness probe failed (a real container without a probe would be
 *   ready); containers run nothing (ephemeral containers run until `terminateEphemeralContainer`);
 *   PodGC acts at once (no 40 s quarantine);
 * - strategic merge patch reads list strategies from a table of field names (patch.ts), not
 *   from the Go types; node taints and pod tolerations are atomic lists there, as in the Go types;
 * - only a few validations (names, containers, selectors, PDB min/max, pod updates, ephemeral
 *   containers, immutable workload selectors); fieldValidation=Strict is accepted but unknown
 *   fields are kept, not refused; no RBAC, admission webhooks or quotas;
 * - not served: pods/log, pods/exec, pods/attach, pods/binding, server-side apply (415),
 *   protobuf and CBOR bodies (415: `kubectl create deployment` sends protobuf), /openapi/v2
 *   (404) and schemas (`kubectl explain` fails);
 * - limit/continue are ignored: every list is one page.
 *
 * Test hooks: direct store access (`get`, `list`, `put`, `remove`), `create` through the API's
 * admission, `pdbBlocks(ns, name, true)` (evictions under that PDB get 429 whatever the
 * arithmetic), `setNodeReady`, `setDelays`, `terminateEphemeralContainer`, `failNext` (a Status
 * error for matching requests), `requests` (every request seen), `openWatches`, and `waitFor`
 * (resolves on the store change that makes a condition true: no sleeping). A pod annotated
 * `fake-kube.faultline.io/static-status: "true"` keeps whatever status the test writes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import { Api } from './api.ts'
import { Controllers, R } from './controllers.ts'
import { type InjectedFailure, type RequestRecord, createRouter } from './router.ts'
import { resourceByKey, resourceForObject } from './resources.ts'
import { type KubeObject, Store, clone, timestamp } from './store.ts'
import { Watches } from './watch.ts'

export * as build from './builders.ts'
export { KubeError } from './errors.ts'
export { mirrorAnnotation, staticStatusAnnotation, isPodReady } from './controllers.ts'
export type { InjectedFailure, RequestRecord } from './router.ts'
export type { KubeObject } from './store.ts'

export interface FakeKubeOptions {
  /** Nodes to create: a count (`node-1` …) or names. Default 3. */
  nodes?: number | string[]
  /** Namespaces to create besides default, kube-system, kube-public and kube-node-lease. */
  namespaces?: string[]
  /** A bound pod's containers run and become Ready after this long (ms). Default 200. */
  readyDelayMs?: number
  /** A gracefully deleted pod disappears this long after the delete (ms, capped by its grace period). Default 100. */
  terminationDelayMs?: number
  /** A container whose image contains this string runs but never becomes ready. Default `pause`. */
  pauseImage?: string
  /** Context (and cluster and user) name in the kubeconfig. Default `fake`. */
  contextName?: string
  /** The context's namespace. Default `default`. */
  namespace?: string
  /** When set, every request must carry `Authorization: Bearer <token>` (the kubeconfig carries it). */
  token?: string
  /** Seed for generated names, uids and IPs (the same seed gives the same names). Default 1. */
  seed?: number
  /** Events kept for watch resumption. Default 10000. */
  historyLimit?: number
  /** Interval of BOOKMARK events on watches that allow them (ms). Default 5000. */
  bookmarkIntervalMs?: number
  /**
   * The node controller's taints: cordoning adds node.kubernetes.io/unschedulable:NoSchedule, a
   * NotReady node gets node.kubernetes.io/unreachable (or not-ready) NoSchedule and NoExecute.
   * Default true.
   */
  nodeLifecycleTaints?: boolean
  /** Controllers write Events (Scheduled, SuccessfulCreate, Killing, …). Default true. */
  events?: boolean
  /** Called with one line per request (method, path, status): for debugging a test. */
  log?: (line: string) => void
}

export interface FakeKube {
  /** `http://127.0.0.1:PORT` */
  url: string
  /**
   * A kubeconfig file (cluster, user, context) pointing at the fake, in a temp dir removed by close().
   * The cluster carries `insecure-skip-tls-verify: true`: client-node 2.x refuses a plain http://
   * server without it.
   */
  kubeconfigPath: string
  contextName: string
  /** A client-node KubeConfig loaded from kubeconfigPath. */
  kubeConfig(): KubeConfig
  /** A stored object (a copy), by resource (`pods`, `deployments`, `apps/deployments`, `poddisruptionbudgets`). */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined
  /** Stored objects (copies), sorted by namespace and name; all namespaces when none is given. */
  list(resource: string, namespace?: string): KubeObject[]
  /**
   * Writes an object straight into the store (no validation or defaults): created, or replaced
   * keeping its uid. Controllers still act on it (the kubelet rewrites a bound pod's status unless
   * the pod carries `staticStatusAnnotation: "true"`).
   */
  put(obj: KubeObject): KubeObject
  /** Creates through the API's admission (defaults, validation); throws a KubeError like the server would send. */
  create(obj: KubeObject): KubeObject
  /** Deletes as DELETE would (pods gracefully unless gracePeriodSeconds is 0). */
  remove(resource: string, namespace: string | undefined, name: string, gracePeriodSeconds?: number): void
  /** Forces (or stops forcing) 429 on evictions of pods this PDB selects. */
  pdbBlocks(namespace: string, name: string, blocked: boolean): void
  /** Sets a node's Ready condition; pods on a NotReady node are not ready. */
  setNodeReady(name: string, ready: boolean): void
  /** Changes the kubelet delays for what happens from now on (e.g. to hold a replacement pod not-ready). */
  setDelays(d: { readyDelayMs?: number; terminationDelayMs?: number }): void
  /** Ends a running ephemeral container with an exit code (the fake cannot run its command). */
  terminateEphemeralContainer(namespace: string, pod: string, container: string, exitCode?: number): void
  /** Makes the next matching request(s) fail with a Status error. */
  failNext(failure: InjectedFailure): void
  /** Every request received, in order. */
  readonly requests: RequestRecord[]
  /** Watch streams currently open. */
  readonly openWatches: number
  /**
   * Resolves with the first truthy value of `check`, evaluated now, after every store change and
   * when a watch stream opens or ends; rejects after `timeoutMs` (default 10000). Client-side
   * happenings (a callback ran) are not store changes: await those in the test itself.
   */
  waitFor<T>(check: () => T | undefined | null | false, opts?: { timeoutMs?: number; what?: string }): Promise<T>
  /** Stops controllers and timers, ends watches and connections, removes the kubeconfig. */
  close(): Promise<void>
}

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const store = new Store({ seed: opts.seed ?? 1, historyLimit: opts.historyLimit ?? 10_000 })
  const controllers = new Controllers(store, {
    readyDelayMs: opts.readyDelayMs ?? 200,
    terminationDelayMs: opts.terminationDelayMs ?? 100,
    pauseImage: opts.pauseImage ?? 'pause',
    nodeLifecycleTaints: opts.nodeLifecycleTaints ?? true,
    events: opts.events ?? true,
  })
  const api = new Api(store, controllers)
  // waitFor re-checks on every store change and every watch stream opening or ending.
  const pokes = new Set<() => void>()
  const poke = () => {
    for (const p of [...pokes]) p()
  }
  store.subscribe(poke)
  const watches = new Watches(store, poke)
  const requests: RequestRecord[] = []
  const failures: InjectedFailure[] = []
  let address = ''
  const route = createRouter(api, watches, {
    token: opts.token,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 5000,
    serverAddress: () => address,
    version: {
      major: '1',
      minor: '33',
      gitVersion: 'v1.33.0-fake',
      gitCommit: '0000000000000000000000000000000000000000',
      gitTreeState: 'clean',
      buildDate: '2025-04-23T00:00:00Z',
      goVersion: 'go1.24.2',
      compiler: 'gc',
      platform: 'linux/amd64',
    },
    requests,
    failures,
  })
  const server: Server = createServer((req, res) => {
    if (opts.log) {
      const log = opts.log
      res.on('finish', () => log(`${req.method} ${req.url} -> ${res.statusCode}`))
    }
    route(req, res)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  address = `127.0.0.1:${port}`
  const url = `http://${address}`

  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease', ...(opts.namespaces ?? [])]) {
    if (!store.peek(R.namespaces, undefined, ns)) api.create(R.namespaces, undefined, { metadata: { name: ns } })
  }
  const nodeNames =
    typeof opts.nodes === 'number' || opts.nodes === undefined
      ? Array.from({ length: opts.nodes ?? 3 }, (_, i) => `node-${i + 1}`)
      : opts.nodes
  for (const n of nodeNames) api.create(R.nodes, undefined, { metadata: { name: n }, spec: {} })
  controllers.reconcile()

  const contextName = opts.contextName ?? 'fake'
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-kube-'))
  const kubeconfigPath = path.join(dir, 'kubeconfig')
  const user = opts.token !== undefined ? `\n    token: ${JSON.stringify(opts.token)}` : ' {}'
  writeFileSync(
    kubeconfigPath,
    `apiVersion: v1
kind: Config
clusters:
- name: ${contextName}
  cluster:
    server: ${url}
    insecure-skip-tls-verify: true
contexts:
- name: ${contextName}
  context:
    cluster: ${contextName}
    user: ${contextName}
    namespace: ${opts.namespace ?? 'default'}
current-context: ${contextName}
users:
- name: ${contextName}
  user:${user}
`,
  )

  const waitFor = <T>(
    check: () => T | undefined | null | false,
    o: { timeoutMs?: number; what?: string } = {},
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timeoutMs = o.timeoutMs ?? 10_000
      let settled = false
      const finish = () => {
        settled = true
        pokes.delete(test)
        clearTimeout(timer)
      }
      const test = () => {
        if (settled) return
        try {
          const v = check()
          if (v) {
            finish()
            resolve(v)
          }
        } catch (err) {
          finish()
          reject(err as Error)
        }
      }
      pokes.add(test)
      const timer = setTimeout(() => {
        if (settled) return
        finish()
        reject(new Error(`fake-kube: timed out after ${timeoutMs} ms waiting for ${o.what ?? String(check)}`))
      }, timeoutMs)
      test()
    })

  let closed = false
  return {
    url,
    kubeconfigPath,
    contextName,
    kubeConfig() {
      const kc = new KubeConfig()
      kc.loadFromFile(kubeconfigPath)
      return kc
    },
    get: (resource, namespace, name) => store.get(resourceByKey(resource), namespace, name),
    list: (resource, namespace) => store.list(resourceByKey(resource), namespace),
    put(obj) {
      const r = resourceForObject(obj.apiVersion, obj.kind)
      const existing = store.peek(r, obj.metadata.namespace, obj.metadata.name!)
      const written = existing
        ? store.update(r, { ...clone(obj), metadata: { ...clone(obj.metadata) } })
        : store.create(r, obj)
      controllers.schedule()
      return written
    },
    create(obj) {
      const r = resourceForObject(obj.apiVersion, obj.kind)
      return api.create(r, obj.metadata.namespace, obj)
    },
    remove(resource, namespace, name, gracePeriodSeconds) {
      controllers.deleteObject(resourceByKey(resource), namespace, name, { gracePeriodSeconds })
    },
    pdbBlocks(namespace, name, blocked) {
      if (blocked) controllers.blockedPdbs.add(`${namespace}/${name}`)
      else controllers.blockedPdbs.delete(`${namespace}/${name}`)
      controllers.schedule()
    },
    setNodeReady(name, ready) {
      const node = store.get(R.nodes, undefined, name)
      if (!node) throw new Error(`fake-kube: no node ${name}`)
      const now = timestamp()
      const others = (node.status?.conditions ?? []).filter((c: { type: string }) => c.type !== 'Ready')
      node.status = {
        ...node.status,
        conditions: [
          ...others,
          ready
            ? {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'kubelet is posting ready status',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              }
            : {
                type: 'Ready',
                status: 'Unknown',
                reason: 'NodeStatusUnknown',
                message: 'Kubelet stopped posting node status.',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
        ],
      }
      store.update(R.nodes, node)
    },
    setDelays(d) {
      controllers.setDelays(d)
    },
    terminateEphemeralContainer(namespace, pod, container, exitCode = 0) {
      controllers.terminateEphemeralContainer(namespace, pod, container, exitCode)
    },
    failNext(failure) {
      failures.push({ ...failure })
    },
    requests,
    get openWatches() {
      return watches.count
    },
    waitFor,
    async close() {
      if (closed) return
      closed = true
      controllers.close()
      watches.closeAll()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
