/**
 * The pod-side Kubernetes fault injectors (controller/injectors/kubernetes/), each driven as the
 * runner drives it (plan -> apply -> hold -> revert) with a hand-made InjectionContext, against
 * the in-process fake API server through the real @kubernetes/client-node.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { KubernetesTargetSpec } from '../../src/experiments/kubernetes-schema.ts'
import { silentLogger } from '../../src/log.ts'
import { seededRandom } from '../../src/random.ts'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { ORIGINAL, RUN_ID } from '../../controller/drivers/kubernetes/ownership.ts'
import type { FaultRecord, Journal, TimelineEvent } from '../../controller/experiments/journal.ts'
import {
  allowRules,
  CNI_NOTE,
  networkPartition,
  otherPorts,
  PARTITION_LABEL,
} from '../../controller/injectors/kubernetes/network-partition.ts'
import { podEvict } from '../../controller/injectors/kubernetes/pod-evict.ts'
import { DEFAULT_PAUSE_IMAGE, podFailure } from '../../controller/injectors/kubernetes/pod-failure.ts'
import { podKill } from '../../controller/injectors/kubernetes/pod-kill.ts'
import { PodWatch } from '../../controller/injectors/kubernetes/pod-shared.ts'
import { podStress, stressImage } from '../../controller/injectors/kubernetes/pod-stress.ts'
import { DEFAULT_IMAGE } from '../../controller/injector/image.ts'
import type { InjectionContext, Injector, Planned } from '../../controller/injectors/types.ts'
import { type FakeKube, type KubeObject, build, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const NS = 'shop'
const RUN = 'pods-20260101-000000-abcd'

interface TestContext extends InjectionContext {
  events: Omit<TimelineEvent, 'at'>[]
  said: string[]
  abort: AbortController
}

function context(
  fake: FakeKube,
  targets: Record<string, KubernetesTargetSpec>,
  o: { runId?: string; random?: () => number } = {},
): TestContext {
  const abort = new AbortController()
  const events: Omit<TimelineEvent, 'at'>[] = []
  const said: string[] = []
  const cluster = new Cluster(fake.kubeConfig())
  return {
    runId: o.runId ?? RUN,
    journal: { faults: [] } as unknown as Journal,
    signal: abort.signal,
    abort,
    ttlMarginMs: 10_000,
    target(name) {
      const k = targets[name]
      if (!k) throw new Error(`no target ${name}`)
      return { name, bus: undefined as never, sidecars: [], processes: [], kubernetes: k }
    },
    cluster: () => cluster,
    random: o.random ?? seededRandom(1),
    event: (e) => void events.push(e),
    save: async () => undefined,
    say: (line) => void said.push(line),
    log: silentLogger(),
    events,
    said,
  }
}

let stepNo = 0
/** Plans and applies as the runner does (ids `fault-N`, intent before apply). */
async function planApply<S, D>(inj: Injector<S, D>, spec: S, ctx: InjectionContext) {
  const key = `method/${stepNo++}`
  const planned = await inj.plan(spec, { label: `${inj.step} step`, key }, ctx)
  planned.forEach((p, i) => (p.record.id = `fault-${i + 1}`))
  const details: string[] = []
  for (const p of planned) details.push(await inj.apply(p, spec, ctx))
  return { planned, details, p: planned[0] as Planned<D> }
}

const pods = (fake: FakeKube, app: string, ns = NS) =>
  fake.list('pods', ns).filter((p) => p.metadata.labels?.app === app && !p.metadata.deletionTimestamp)

async function deployReady(fake: FakeKube, d: KubeObject): Promise<KubeObject[]> {
  fake.create(d)
  const want = d.spec.replicas as number
  return fake.waitFor(() => {
    const all = pods(fake, d.metadata.name!, d.metadata.namespace)
    return all.length === want && all.every(isPodReady) && all
  })
}

const web = (o: Partial<KubernetesTargetSpec> = {}): KubernetesTargetSpec => ({
  namespaces: [NS],
  labelSelector: 'app=web',
  ...o,
})

describe('Kubernetes pod faults', () => {
  let fake: FakeKube
  beforeEach(async () => {
    fake = await startFakeKube({ readyDelayMs: 60, terminationDelayMs: 30, namespaces: [NS, 'data'] })
  })
  afterEach(async () => {
    await fake.close()
  })

  describe('podKill', () => {
    it('deletes the selected pod and measures the time until its replacement is Ready, from a watch', async () => {
      const before = await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
      const ctx = context(fake, { web: web() })
      const { p, details } = await planApply(podKill, { target: 'web', gracePeriodSeconds: 0 }, ctx)
      const victim = p.record.objects![0]!
      expect(p.record).toMatchObject({
        kind: 'podKill',
        on: [`${NS}/${victim.name}`],
        selection: { matched: 3, mode: 'one' },
      })
      expect(fake.get('pods', NS, victim.name)).toBeUndefined()
      const now = pods(fake, 'web')
      expect(now).toHaveLength(3)
      const fresh = now.filter((x) => !before.some((b) => b.metadata.uid === x.metadata.uid))
      expect(fresh).toHaveLength(1)
      expect(p.record.recoveryMs).toBeGreaterThanOrEqual(50)
      expect(p.record.recoveryMs).toBeLessThan(5000)
      expect(details[0]).toContain(`replacement ${fresh[0]!.metadata.name} Ready after ${p.record.recoveryMs} ms`)
      expect(details[0]).toContain('grace 0s')
      // Recovery came from a watch on the namespace, not from polling the pods.
      const watches = fake.requests.filter((r) => r.path === `/api/v1/namespaces/${NS}/pods` && r.query.watch)
      expect(watches.length).toBeGreaterThanOrEqual(1)
      const lists = fake.requests.filter(
        (r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${NS}/pods` && !r.query.watch,
      )
      expect(lists.length).toBeLessThanOrEqual(2) // the selection's and the watch's starting point
      await expect.poll(() => fake.openWatches).toBe(0)
      expect(await podKill.revert(p, { target: 'web' }, ctx)).toBeUndefined()
      expect(podKill.hold).toBeUndefined()
    })

    it("uses the pod's own grace period when none is given, and a StatefulSet's replacement keeps the name", async () => {
      fake.create(build.statefulSet({ name: 'db', namespace: NS, replicas: 2, terminationGracePeriodSeconds: 1 }))
      await fake.waitFor(() => pods(fake, 'db').length === 2 && pods(fake, 'db').every(isPodReady))
      const ctx = context(fake, { db: { namespaces: [NS], pods: { [NS]: ['db-1'] } } })
      const old = fake.get('pods', NS, 'db-1')!
      const { p, details } = await planApply(podKill, { target: 'db' }, ctx)
      const del = fake.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/pods/db-1'))!
      expect(del.query.gracePeriodSeconds).toBeUndefined()
      expect(details[0]).toContain('grace 1s')
      expect(details[0]).toContain('replacement db-1 Ready')
      expect(fake.get('pods', NS, 'db-1')!.metadata.uid).not.toBe(old.metadata.uid)
      expect(p.record.recoveryMs).toBeGreaterThan(0)
    })

    it('kills every selected pod and waits for a replacement of each', async () => {
      const before = await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
      const ctx = context(fake, { web: web({ mode: 'all' }) })
      const { p, details } = await planApply(podKill, { target: 'web', gracePeriodSeconds: 0 }, ctx)
      expect(p.record.on).toHaveLength(3)
      expect(details[0]!.match(/replacement \S+ Ready after \d+ ms/g)).toHaveLength(3)
      const now = pods(fake, 'web')
      expect(now.filter(isPodReady)).toHaveLength(3)
      expect(now.some((x) => before.some((b) => b.metadata.uid === x.metadata.uid))).toBe(false)
      expect(p.record.recoveryMs).toBeGreaterThan(0)
    })

    it('never kills a pod that replaced the selected one between plan and apply (no re-roll)', async () => {
      fake.create(build.statefulSet({ name: 'db', namespace: NS, replicas: 1 }))
      await fake.waitFor(() => isPodReady(fake.get('pods', NS, 'db-0') ?? { metadata: {} }))
      const ctx = context(fake, { db: { namespaces: [NS], labelSelector: 'app=db' } })
      const [p] = await podKill.plan({ target: 'db' }, { label: 'kill', key: 'method/0' }, ctx)
      const selected = p!.record.objects![0]!.uid
      fake.remove('pods', NS, 'db-0', 0)
      const successor = await fake.waitFor(() => {
        const x = fake.get('pods', NS, 'db-0')
        return x && x.metadata.uid !== selected && x
      })
      p!.record.id = 'fault-1'
      const detail = await podKill.apply(p!, { target: 'db' }, ctx)
      expect(detail).toBe(`${NS}/db-0 not deleted: replaced by a new pod since it was selected`)
      expect(fake.get('pods', NS, 'db-0')!.metadata.uid).toBe(successor.metadata.uid)
      expect(p!.record.recoveryMs).toBeUndefined()
    })

    it('says an unowned pod is not replaced, and records no recovery', async () => {
      fake.create(build.pod({ name: 'lonely', namespace: NS, labels: { app: 'lonely' } }))
      await fake.waitFor(() => isPodReady(fake.get('pods', NS, 'lonely')!))
      const ctx = context(fake, { l: { namespaces: [NS], labelSelector: 'app=lonely' } })
      const { p, details } = await planApply(podKill, { target: 'l', gracePeriodSeconds: 0, recoverWithin: 500 }, ctx)
      expect(details[0]).toContain('no owner, so nothing replaces it')
      expect(p.record.recoveryMs).toBeNull()
      expect(ctx.said.join('\n')).toContain('no owner')
    })

    it('records null when the replacement is not Ready within recoverWithin', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 1 }))
      // Replacements never get Ready: every new pod's node is NotReady.
      for (const n of ['node-1', 'node-2', 'node-3']) fake.setNodeReady(n, false)
      const ctx = context(fake, { web: web() })
      const started = Date.now()
      const { p, details } = await planApply(podKill, { target: 'web', gracePeriodSeconds: 0, recoverWithin: 400 }, ctx)
      expect(Date.now() - started).toBeGreaterThanOrEqual(400)
      expect(p.record.recoveryMs).toBeNull()
      expect(details[0]).toContain('no replacement from ReplicaSet')
    })

    it('plans nothing when nothing matches, and says so', async () => {
      const ctx = context(fake, { none: { namespaces: [NS], labelSelector: 'app=nothing' } })
      const planned = await podKill.plan({ target: 'none' }, { label: 'kill', key: 'method/0' }, ctx)
      expect(planned).toEqual([])
      expect(ctx.events[0]!.detail).toContain('nothing selected (0 pod(s) matched')
    })

    it('refuses a pod another run has changed (FL_ERR_TARGET_BUSY)', async () => {
      fake.create(build.pod({ name: 'taken', namespace: NS, labels: { app: 'taken' } }))
      await fake.waitFor(() => fake.get('pods', NS, 'taken'))
      const pod = fake.get('pods', NS, 'taken')!
      pod.metadata.annotations = { [RUN_ID]: 'someone-else', [ORIGINAL]: '{}' }
      fake.put(pod)
      const ctx = context(fake, { t: { namespaces: [NS], labelSelector: 'app=taken' } })
      await expect(planApply(podKill, { target: 't' }, ctx)).rejects.toMatchObject({ code: 'FL_ERR_TARGET_BUSY' })
      expect(fake.get('pods', NS, 'taken')).toBeDefined()
    })
  })

  describe('podEvict', () => {
    it('evicts through the Eviction API when the budget allows it', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
      fake.create(build.pdb({ name: 'web-pdb', namespace: NS, matchLabels: { app: 'web' }, minAvailable: 1 }))
      await fake.waitFor(() => fake.get('poddisruptionbudgets', NS, 'web-pdb')!.status.disruptionsAllowed === 2)
      const ctx = context(fake, { web: web() })
      const { p, details } = await planApply(podEvict, { target: 'web' }, ctx)
      const victim = p.record.objects![0]!.name
      expect(details[0]).toBe(`evicted 1 of 1 pod(s): ${NS}/${victim} evicted`)
      const req = fake.requests.find((r) => r.method === 'POST' && r.path.endsWith(`/pods/${victim}/eviction`))!
      expect(req.body).toMatchObject({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: victim } })
      await fake.waitFor(() => !fake.get('pods', NS, victim))
      expect(podEvict.hold).toBeUndefined()
    })

    it('reports an eviction a PodDisruptionBudget blocks past the timeout as a finding, not an error', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 2 }))
      fake.create(build.pdb({ name: 'web-pdb', namespace: NS, matchLabels: { app: 'web' }, minAvailable: 2 }))
      await fake.waitFor(() => fake.get('poddisruptionbudgets', NS, 'web-pdb')!.status.expectedPods === 2)
      const ctx = context(fake, { web: web() })
      const started = Date.now()
      const { p, details } = await planApply(podEvict, { target: 'web', timeout: 700 }, ctx)
      expect(Date.now() - started).toBeGreaterThanOrEqual(700)
      const victim = `${NS}/${p.record.objects![0]!.name}`
      expect(details[0]).toMatch(
        new RegExp(
          `^evicted 0 of 1 pod\\(s\\): ${victim} not evicted: blocked by PodDisruptionBudget web-pdb \\(\\d+ tries in 700 ms\\)$`,
        ),
      )
      expect(p.record.error).toBeUndefined()
      expect(ctx.events).toContainEqual(
        expect.objectContaining({
          type: 'step',
          fault: 'fault-1',
          detail: expect.stringContaining('blocked by PodDisruptionBudget web-pdb'),
        }),
      )
      const tries = fake.requests.filter((r) => r.path.endsWith('/eviction')).length
      expect(tries).toBeGreaterThan(2) // retried with a backoff, not hammered
      expect(tries).toBeLessThan(20)
      expect(pods(fake, 'web')).toHaveLength(2)
    })

    it('finds the budget by its selector when the 429 does not name it, and stops retrying when the run stops', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 2 }))
      fake.create(build.pdb({ name: 'guard', namespace: NS, matchLabels: { app: 'web' }, maxUnavailable: 0 }))
      fake.failNext({
        method: 'POST',
        path: /\/eviction$/,
        times: 100,
        code: 429,
        reason: 'TooManyRequests',
        message: 'slow down',
      })
      const ctx = context(fake, { web: web() })
      setTimeout(() => ctx.abort.abort(), 300)
      const started = Date.now()
      const { p, details } = await planApply(podEvict, { target: 'web', timeout: 10_000 }, ctx)
      expect(Date.now() - started).toBeLessThan(3000)
      expect(details[0]).toContain('blocked by PodDisruptionBudget guard')
      expect(details[0]).toContain('before the run stopped')
      expect(p.record.error).toBeUndefined()
    })
  })

  describe('podFailure', () => {
    const twoContainers = () => {
      const d = build.deployment({
        name: 'web',
        namespace: NS,
        replicas: 2,
        containers: [
          { name: 'app', image: 'shop/web:1.4' },
          { name: 'proxy', image: 'faultline:0.1' },
        ],
      })
      d.spec.template.spec.initContainers = [{ name: 'init', image: 'busybox:1.36' }]
      return d
    }

    it('swaps every image for the pause image, keeps the originals on the pod, and restores them', async () => {
      await deployReady(fake, twoContainers())
      const ctx = context(fake, { web: web() })
      const spec = { target: 'web', duration: 30 }
      const { p, details } = await planApply(podFailure, spec, ctx)
      const name = p.record.objects![0]!.name
      const failed = fake.get('pods', NS, name)!
      expect(failed.spec.containers.map((c: any) => c.image)).toEqual([DEFAULT_PAUSE_IMAGE, DEFAULT_PAUSE_IMAGE])
      expect(failed.spec.initContainers[0].image).toBe(DEFAULT_PAUSE_IMAGE)
      expect(failed.metadata.annotations![RUN_ID]).toBe(RUN)
      expect(JSON.parse(failed.metadata.annotations![ORIGINAL])).toEqual({
        fault: 'fault-1',
        pause: DEFAULT_PAUSE_IMAGE,
        containers: { app: 'shop/web:1.4', proxy: 'faultline:0.1' },
        initContainers: { init: 'busybox:1.36' },
      })
      expect(details[0]).toContain(`${NS}/${name}: 3 container image(s) set to ${DEFAULT_PAUSE_IMAGE}`)
      // The pod is the same pod (never deleted), and no longer Ready.
      expect(failed.metadata.uid).toBe(p.record.objects![0]!.uid)
      await fake.waitFor(() => !isPodReady(fake.get('pods', NS, name)!))
      const other = pods(fake, 'web').find((x) => x.metadata.name !== name)!
      expect(other.spec.containers[0].image).toBe('shop/web:1.4')

      const started = Date.now()
      await podFailure.hold!(p, spec, ctx, true)
      expect(Date.now() - started).toBeGreaterThanOrEqual(25)
      expect(await podFailure.revert(p, spec, ctx)).toBe(`${NS}/${name}: images restored`)
      const back = fake.get('pods', NS, name)!
      expect(back.spec.containers.map((c: any) => c.image)).toEqual(['shop/web:1.4', 'faultline:0.1'])
      expect(back.spec.initContainers[0].image).toBe('busybox:1.36')
      expect(back.metadata.annotations?.[RUN_ID]).toBeUndefined()
      expect(back.metadata.annotations?.[ORIGINAL]).toBeUndefined()
      await fake.waitFor(() => isPodReady(fake.get('pods', NS, name)!))
      // Idempotent: a second revert changes nothing.
      const patches = () => fake.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/pods/${name}`)).length
      const before = patches()
      expect(await podFailure.revert(p, spec, ctx)).toContain('already reverted')
      expect(patches()).toBe(before)
    })

    it('acts only on the target container list when the target names containers', async () => {
      await deployReady(fake, twoContainers())
      const ctx = context(fake, { web: web({ containers: ['proxy'] }) })
      const { p } = await planApply(
        podFailure,
        { target: 'web', duration: 10, pauseImage: 'mirror.local/pause:3.10' },
        ctx,
      )
      const pod = fake.get('pods', NS, p.record.objects![0]!.name)!
      expect(pod.spec.containers.map((c: any) => c.image)).toEqual(['shop/web:1.4', 'mirror.local/pause:3.10'])
      expect(pod.spec.initContainers[0].image).toBe('busybox:1.36')
      await podFailure.revert(p, { target: 'web', duration: 10 }, ctx)
      expect(fake.get('pods', NS, pod.metadata.name!)!.spec.containers[1].image).toBe('faultline:0.1')
    })

    it('counts a vanished pod as reverted', async () => {
      await deployReady(fake, twoContainers())
      const ctx = context(fake, { web: web() })
      const { p } = await planApply(podFailure, { target: 'web', duration: 10 }, ctx)
      const name = p.record.objects![0]!.name
      fake.remove('pods', NS, name, 0)
      await fake.waitFor(() => !fake.get('pods', NS, name))
      expect(await podFailure.revert(p, { target: 'web', duration: 10 }, ctx)).toBe(`${NS}/${name}: gone`)
    })

    it('leaves a pod another run has changed alone (FL_ERR_TARGET_BUSY) and does not claim it', async () => {
      await deployReady(fake, twoContainers())
      for (const pod of pods(fake, 'web')) {
        pod.metadata.annotations = {
          ...pod.metadata.annotations,
          [RUN_ID]: 'other-run',
          [ORIGINAL]: '{"fault":"fault-3"}',
        }
        fake.put(pod)
      }
      const ctx = context(fake, { web: web() })
      const err = await planApply(podFailure, { target: 'web', duration: 10 }, ctx).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'FL_ERR_TARGET_BUSY', message: expect.stringContaining('run other-run') })
      for (const pod of pods(fake, 'web')) {
        expect(pod.metadata.annotations?.[RUN_ID]).toBe('other-run')
        expect(pod.spec.containers[0].image).toBe('shop/web:1.4')
      }
    })

    it('recovers from the journal record alone (a restarted controller)', async () => {
      await deployReady(fake, twoContainers())
      const ctx = context(fake, { web: web({ mode: 'all' }) })
      const { p } = await planApply(podFailure, { target: 'web', duration: 10 }, ctx)
      // All a restarted controller has: the record as the journal stored it, and the run id.
      const record = JSON.parse(JSON.stringify(p.record)) as FaultRecord
      const said = await podFailure.recover!(record, {
        runId: RUN,
        cluster: () => new Cluster(fake.kubeConfig()),
        log: silentLogger(),
      })
      expect(said).toContain('images restored')
      for (const pod of pods(fake, 'web')) {
        expect(pod.spec.containers.map((c: any) => c.image)).toEqual(['shop/web:1.4', 'faultline:0.1'])
        expect(pod.metadata.annotations?.[RUN_ID]).toBeUndefined()
      }
      // Another run's recovery touches nothing of ours.
      const again = await podFailure.apply(p, { target: 'web', duration: 10 }, ctx)
      expect(again).toContain('2 of 2 pod(s) failed')
      expect(
        await podFailure.recover!(record, {
          runId: 'other',
          cluster: () => new Cluster(fake.kubeConfig()),
          log: silentLogger(),
        }),
      ).toContain('not changed by this fault')
      expect(pods(fake, 'web').every((x) => x.spec.containers[0].image === DEFAULT_PAUSE_IMAGE)).toBe(true)
      await podFailure.revert(p, { target: 'web', duration: 10 }, ctx)
    })
  })

  describe('networkPartition', () => {
    it('creates a NetworkPolicy selecting exactly the selected pods, denying all but DNS, and deletes it', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
      const ctx = context(fake, { web: web({ mode: 'fixed', value: 2 }) })
      const spec = { target: 'web', duration: 20 }
      const { p, details } = await planApply(networkPartition, spec, ctx)
      const policyRef = p.record.objects!.find((o) => o.kind === 'NetworkPolicy')!
      expect(policyRef).toMatchObject({
        namespace: NS,
        name: expect.stringMatching(/^faultline-partition-[0-9a-f]{10}$/),
      })
      const id = policyRef.name.replace('faultline-partition-', '')
      const policy = fake.get('networkpolicies', NS, policyRef.name)!
      expect(policy.metadata.annotations?.[RUN_ID]).toBe(RUN)
      expect(policy.spec).toEqual({
        podSelector: { matchLabels: { [PARTITION_LABEL]: id } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: [
          {
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      })
      const selected = p.record.objects!.filter((o) => o.kind === 'Pod').map((o) => o.name)
      expect(selected).toHaveLength(2)
      for (const pod of pods(fake, 'web')) {
        const inIt = selected.includes(pod.metadata.name!)
        expect(pod.metadata.labels?.[PARTITION_LABEL]).toBe(inIt ? id : undefined)
        expect(pod.metadata.annotations?.[RUN_ID]).toBe(inIt ? RUN : undefined)
      }
      expect(details[0]).toContain(CNI_NOTE)
      expect(details[0]).toContain(`NetworkPolicy ${NS}/${policyRef.name} selects 2 pod(s) (Ingress+Egress)`)

      await networkPartition.hold!(p, spec, ctx, true)
      const said = await networkPartition.revert(p, spec, ctx)
      expect(said).toContain(`NetworkPolicy ${NS}/${policyRef.name} deleted`)
      expect(fake.get('networkpolicies', NS, policyRef.name)).toBeUndefined()
      for (const pod of pods(fake, 'web')) {
        expect(pod.metadata.labels?.[PARTITION_LABEL]).toBeUndefined()
        expect(pod.metadata.annotations?.[RUN_ID]).toBeUndefined()
        expect(pod.metadata.annotations?.[ORIGINAL]).toBeUndefined()
      }
      // Idempotent.
      expect(await networkPartition.revert(p, spec, ctx)).toContain('already gone')
    })

    it('cuts only the given peers and ports, one direction, as "everything except" rules', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 1 }))
      await deployReady(fake, build.deployment({ name: 'db', namespace: 'data', replicas: 2 }))
      const dbIps = pods(fake, 'db', 'data')
        .map((x) => `${x.status.podIP}/32`)
        .sort()
      const ctx = context(fake, { web: web() })
      const to = { podSelector: 'app=db', namespaces: ['data'], cidrs: ['203.0.113.0/24'], ports: [{ port: 5432 }] }
      const { p } = await planApply(
        networkPartition,
        { target: 'web', duration: 10, direction: 'egress' as const, to },
        ctx,
      )
      const ref = p.record.objects!.find((o) => o.kind === 'NetworkPolicy')!
      const spec = fake.get('networkpolicies', NS, ref.name)!.spec
      expect(spec.policyTypes).toEqual(['Egress'])
      expect(spec.ingress).toBeUndefined()
      const ns = (operator: string) => ({
        matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator, values: ['data'] }],
      })
      expect(spec.egress).toEqual([
        {
          to: [
            { namespaceSelector: ns('NotIn') },
            {
              namespaceSelector: ns('In'),
              podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] },
            },
            { ipBlock: { cidr: '0.0.0.0/0', except: ['203.0.113.0/24', ...dbIps] } },
            { ipBlock: { cidr: '::/0' } },
          ],
        },
        {
          to: [
            {
              namespaceSelector: ns('In'),
              podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] },
            },
            { ipBlock: { cidr: '203.0.113.0/24' } },
          ],
          ports: otherPorts([{ port: 5432 }]),
        },
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ])
      expect(otherPorts([{ port: 5432 }, { port: 1, protocol: 'UDP' }])).toEqual([
        { protocol: 'TCP', port: 1, endPort: 5431 },
        { protocol: 'TCP', port: 5433, endPort: 65535 },
        { protocol: 'UDP', port: 2, endPort: 65535 },
        { protocol: 'SCTP' },
      ])
      await networkPartition.revert(p, { target: 'web', duration: 10 }, ctx)
      expect(fake.list('networkpolicies', NS)).toEqual([])
    })

    it('builds "all but" rules for namespaces, IPv6 peers and a whole address family', () => {
      const nsSel = (operator: string) => ({
        matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator, values: ['data'] }],
      })
      expect(allowRules({ namespaces: ['data'], ports: [{ port: 80 }] }, NS, ['10.0.0.5', 'fd00::5'])).toEqual([
        {
          peers: [
            { namespaceSelector: nsSel('NotIn') },
            { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.5/32'] } },
            { ipBlock: { cidr: '::/0', except: ['fd00::5/128'] } },
          ],
        },
        { peers: [{ namespaceSelector: nsSel('In'), podSelector: {} }], ports: otherPorts([{ port: 80 }]) },
      ])
      // Every IPv4 address cut: no IPv4 block is allowed at all, pods stay reachable.
      expect(allowRules({ cidrs: ['0.0.0.0/0'] }, NS, [])).toEqual([
        { peers: [{ namespaceSelector: {} }, { ipBlock: { cidr: '::/0' } }] },
      ])
      // Selector requirements are negated one by one (a pod failing any of them is not a peer).
      const [allowed] = allowRules(
        { podSelector: { matchLabels: { app: 'db' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] } },
        NS,
        [],
      )
      expect(allowed!.peers!.slice(1, 3).map((x) => x.podSelector)).toEqual([
        { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] },
        { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] },
      ])
    })

    it('ingress only, with ports alone: every peer is cut on those ports only', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 1 }))
      const ctx = context(fake, { web: web() })
      const spec = { target: 'web', duration: 10, direction: 'ingress' as const, to: { ports: [{ port: 8080 }] } }
      const { p } = await planApply(networkPartition, spec, ctx)
      const ref = p.record.objects!.find((o) => o.kind === 'NetworkPolicy')!
      const policy = fake.get('networkpolicies', NS, ref.name)!.spec
      expect(policy.policyTypes).toEqual(['Ingress'])
      expect(policy.ingress).toEqual([{ ports: otherPorts([{ port: 8080 }]) }])
      expect(policy.egress).toBeUndefined()
      await networkPartition.revert(p, spec, ctx)
    })

    it('recovers from the journal record alone, and never deletes a policy another run owns', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 2 }))
      const ctx = context(fake, { web: web({ mode: 'all' }) })
      const { p } = await planApply(networkPartition, { target: 'web', duration: 10 }, ctx)
      const record = JSON.parse(JSON.stringify(p.record)) as FaultRecord
      const ref = record.objects!.find((o) => o.kind === 'NetworkPolicy')!
      const rctx = (runId: string) => ({ runId, cluster: () => new Cluster(fake.kubeConfig()), log: silentLogger() })
      expect(await networkPartition.recover!(record, rctx('other-run'))).toContain('belongs to run ' + RUN)
      expect(fake.get('networkpolicies', NS, ref.name)).toBeDefined()
      const said = await networkPartition.recover!(record, rctx(RUN))
      expect(said).toContain('deleted')
      expect(said).toContain('label removed')
      expect(fake.get('networkpolicies', NS, ref.name)).toBeUndefined()
      expect(
        pods(fake, 'web').every((x) => !x.metadata.labels?.[PARTITION_LABEL] && !x.metadata.annotations?.[RUN_ID]),
      ).toBe(true)
    })

    it('a crash between the plan and the policy leaves nothing recovery trips over', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 1 }))
      const ctx = context(fake, { web: web() })
      const [p] = await networkPartition.plan({ target: 'web', duration: 10 }, { label: 'cut', key: 'method/9' }, ctx)
      p!.record.id = 'fault-1'
      const said = await networkPartition.recover!(p!.record, {
        runId: RUN,
        cluster: () => new Cluster(fake.kubeConfig()),
        log: silentLogger(),
      })
      expect(said).toContain('already gone')
      expect(said).toContain('not labelled by this fault')
    })
  })

  describe('podStress', () => {
    it('adds an ephemeral container running faultline stress, which ends by itself; nothing to revert', async () => {
      await deployReady(
        fake,
        build.deployment({
          name: 'web',
          namespace: NS,
          replicas: 2,
          containers: [
            { name: 'app', image: 'shop/web:1.4' },
            { name: 'sidecar', image: 'faultline:0.1' },
          ],
        }),
      )
      const ctx = context(fake, { web: web({ mode: 'all', containers: ['sidecar'] }) })
      const spec = {
        target: 'web',
        duration: 40,
        cpu: 2,
        load: 80,
        memory: '64MiB',
        image: 'registry.local/faultline:0.1',
      }
      const { p, details } = await planApply(podStress, spec, ctx)
      expect(p.record.objects!.filter((o) => o.kind === 'Pod')).toHaveLength(2)
      for (const pod of pods(fake, 'web')) {
        const eph = pod.spec.ephemeralContainers
        expect(eph).toHaveLength(1)
        expect(eph[0]).toMatchObject({
          name: expect.stringMatching(/^faultline-stress-[0-9a-f]{10}$/),
          image: 'registry.local/faultline:0.1',
          // args only: the image's entrypoint (faultline) runs them.
          args: ['stress', '--cpu', '2', '--load', '80', '--memory', '64MiB', '--duration', '40ms'],
          targetContainerName: 'sidecar',
          securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        })
        expect(eph[0].command).toBeUndefined()
      }
      expect(details[0]).toContain('stress in 2 of 2 pod(s)')
      expect(details[0]).toContain('cannot be stopped early')
      const req = fake.requests.find((r) => r.path.endsWith('/ephemeralcontainers'))!
      expect(req.contentType).toContain('application/strategic-merge-patch+json')
      const started = Date.now()
      await podStress.hold!(p, spec, ctx, true)
      expect(Date.now() - started).toBeGreaterThanOrEqual(35)
      expect(await podStress.revert(p, spec, ctx)).toBeUndefined()
      // Applying again (a repeated apply) adds nothing.
      await podStress.apply(p, spec, ctx)
      for (const pod of pods(fake, 'web')) expect(pod.spec.ephemeralContainers).toHaveLength(1)
    })

    it("defaults to FAULTLINE_IMAGE and the pod's first container, and refuses a step without cpu or memory", async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 1 }))
      const ctx = context(fake, { web: web() })
      const saved = process.env.FAULTLINE_IMAGE
      process.env.FAULTLINE_IMAGE = 'example.com/faultline:9'
      try {
        await planApply(podStress, { target: 'web', duration: 10, cpu: 1 }, ctx)
        // Unset (or empty): the tag `npm run image` builds, faultline:<package version>.
        process.env.FAULTLINE_IMAGE = ''
        expect(stressImage({ target: 'web', duration: 10, cpu: 1 })).toBe(DEFAULT_IMAGE)
        expect(DEFAULT_IMAGE).toMatch(/^faultline:\d+\.\d+\.\d+/)
      } finally {
        if (saved === undefined) delete process.env.FAULTLINE_IMAGE
        else process.env.FAULTLINE_IMAGE = saved
      }
      const eph = pods(fake, 'web')[0]!.spec.ephemeralContainers[0]
      expect(eph).toMatchObject({ image: 'example.com/faultline:9', targetContainerName: 'app' })
      expect(eph.args).toEqual(['stress', '--cpu', '1', '--duration', '10ms'])
      expect(eph.command).toBeUndefined()
      await expect(
        podStress.plan({ target: 'web', duration: 10 }, { label: 's', key: 'm/0' }, ctx),
      ).rejects.toMatchObject({
        code: 'FL_ERR_CONFIG_INVALID',
      })
    })
  })

  describe('the pod watch behind recovery', () => {
    it('resumes when the server ends the stream, backs off on errors, and lists again after 410 Gone', async () => {
      await fake.close()
      fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 10, namespaces: [NS], historyLimit: 20 })
      const seen: string[] = []
      const w = new PodWatch(
        new Cluster(fake.kubeConfig()),
        NS,
        (type, pod) => void seen.push(`${type} ${pod.metadata!.name}`),
        silentLogger(),
        { timeoutSeconds: 1 },
      )
      expect(await w.start()).toEqual([])
      try {
        const watchCalls = () => fake.requests.filter((r) => r.query.watch && r.path.endsWith(`/${NS}/pods`))
        // The stream ends after 1 s and resumes from the last resourceVersion: nothing is missed.
        await expect.poll(() => watchCalls().length, { timeout: 3000 }).toBeGreaterThanOrEqual(2)
        fake.create(build.pod({ name: 'after-resume', namespace: NS }))
        await expect.poll(() => seen, { timeout: 3000 }).toContain('ADDED after-resume')
        const resumes = watchCalls().slice(1)
        expect(resumes.every((r) => r.query.resourceVersion && r.query.resourceVersion !== '0')).toBe(true)
        // The next resumes fail; meanwhile more changes than the server's history holds: the
        // watch backs off, gets 410 Gone, lists again and reports the pods it missed.
        fake.failNext({ method: 'GET', path: `/namespaces/${NS}/pods`, times: 2, code: 500 })
        await expect.poll(() => fake.requests.filter((r) => r.status === 500).length, { timeout: 3000 }).toBe(1)
        for (let i = 0; i < 30; i++)
          fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `noise-${i}`, namespace: NS } })
        fake.create(build.pod({ name: 'while-away', namespace: NS }))
        await expect.poll(() => seen, { timeout: 5000 }).toContain('ADDED while-away')
        expect(fake.requests.filter((r) => r.status === 500)).toHaveLength(2)
        const lists = fake.requests.filter((r) => !r.query.watch && r.path.endsWith(`/${NS}/pods`) && r.status === 200)
        expect(lists).toHaveLength(2) // the start, and the list after 410 Gone
      } finally {
        w.stop()
      }
      await expect.poll(() => fake.openWatches).toBe(0)
    })
  })

  describe('selection', () => {
    it('is reproducible with a seeded random source, and differs with another seed', async () => {
      await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 6 }))
      const pick = async (seed: number, target: KubernetesTargetSpec) => {
        const ctx = context(fake, { web: target }, { random: seededRandom(seed) })
        const [p] = await podKill.plan({ target: 'web' }, { label: 'k', key: 'method/0' }, ctx)
        return p!.record
      }
      const fixed = web({ mode: 'fixed', value: 2 })
      const a = await pick(7, fixed)
      expect(a.on).toHaveLength(2)
      expect(a.selection).toEqual({ matched: 6, mode: 'fixed', value: 2 })
      expect((await pick(7, fixed)).on).toEqual(a.on)
      const seeds = await Promise.all([1, 2, 3, 4, 5, 6].map(async (s) => (await pick(s, fixed)).on.join()))
      expect(new Set(seeds).size).toBeGreaterThan(1)
      const pct = await pick(3, web({ mode: 'fixed-percent', value: 50 }))
      expect(pct.on).toHaveLength(3)
      expect((await pick(3, web({ mode: 'fixed-percent', value: 50 }))).on).toEqual(pct.on)
      expect((await pick(1, web({ mode: 'all' }))).on).toHaveLength(6)
    })

    it('refuses protected namespaces before anything is planned', async () => {
      const ctx = context(fake, { sys: { namespaces: ['kube-system'] } })
      await expect(
        podFailure.plan({ target: 'sys', duration: 10 }, { label: 'f', key: 'm/0' }, ctx),
      ).rejects.toMatchObject({
        code: 'FL_ERR_TARGET_PROTECTED',
      })
    })
  })
})
