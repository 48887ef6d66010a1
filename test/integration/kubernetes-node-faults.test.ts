/**
 * Node and workload faults (nodeCordon, nodeDrain, nodeTaint, scale) driven directly through their
 * injectors (plan -> apply -> hold -> revert, and recover() from a journal record alone) with the
 * real @kubernetes/client-node against the in-process fake API server; a cordon also checked with
 * the real kubectl.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { KubernetesTargetSpec } from '../../src/experiments/kubernetes-schema.ts'
import { silentLogger } from '../../src/log.ts'
import { seededRandom } from '../../src/random.ts'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { ORIGINAL, RUN_ID } from '../../controller/drivers/kubernetes/ownership.ts'
import type { FaultRecord, Journal } from '../../controller/experiments/journal.ts'
import { nodeCordon } from '../../controller/injectors/kubernetes/node-cordon.ts'
import { nodeDrain } from '../../controller/injectors/kubernetes/node-drain.ts'
import { nodeTaint } from '../../controller/injectors/kubernetes/node-taint.ts'
import { scale } from '../../controller/injectors/kubernetes/scale.ts'
import type { InjectionContext, Injector, Planned, RecoveryContext } from '../../controller/injectors/types.ts'
import { build, type FakeKube, type KubeObject, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'
import { kubectlPath } from '../helpers/kube-tools.ts'

const run = promisify(execFile)
const RUN = 'exp-20261130-120000-abcd'

let fake: FakeKube
let cluster: Cluster
beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20, namespaces: ['shop'] })
  cluster = new Cluster(fake.kubeConfig())
})
afterEach(() => fake.close())

interface TestContext extends InjectionContext {
  said: string[]
  abort: AbortController
}

/** What the runner gives an injector, made by hand: one Kubernetes target per name. */
function context(targets: Record<string, KubernetesTargetSpec>, runId = RUN): TestContext {
  const abort = new AbortController()
  const said: string[] = []
  return {
    runId,
    journal: { faults: [] } as unknown as Journal,
    signal: abort.signal,
    abort,
    ttlMarginMs: 0,
    target: (name) => ({ name, bus: undefined as never, sidecars: [], processes: [], kubernetes: targets[name] }),
    cluster: () => cluster,
    random: seededRandom(7),
    ownNamespace: 'faultline',
    event: () => undefined,
    save: async () => undefined,
    say: (line) => said.push(line),
    log: silentLogger(),
    said,
  }
}

function recoveryContext(runId = RUN): RecoveryContext {
  // A restarted controller: a new client, and nothing but the record.
  const fresh = new Cluster(fake.kubeConfig())
  return { runId, cluster: () => fresh, log: silentLogger() }
}

async function planOne<S, D>(injector: Injector<S, D>, spec: S, ctx: InjectionContext): Promise<Planned<D>> {
  const planned = await injector.plan(spec, { label: `${injector.step} step`, key: 'method/0' }, ctx)
  expect(planned).toHaveLength(1)
  planned[0]!.record.id = 'fault-1'
  return planned[0]!
}

const node = (name: string) => fake.get('nodes', undefined, name)!
const annotations = (o: KubeObject) => o.metadata.annotations ?? {}
const taintsOf = (name: string) => (node(name).spec?.taints ?? []) as { key: string; value?: string; effect: string }[]
const podsOn = (name: string) =>
  fake.list('pods').filter((p) => p.spec?.nodeName === name && !p.metadata.deletionTimestamp)
const podName = (p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}`

/** Merges into a stored node's spec and metadata, as another actor (kubectl, a person) would. */
function editNode(name: string, edit: (n: KubeObject) => void): void {
  const n = node(name)
  edit(n)
  fake.put(n)
}

async function deploy(obj: KubeObject): Promise<void> {
  fake.create(obj)
  const { namespace, name } = obj.metadata
  await fake.waitFor(
    () => {
      const pods = fake
        .list('pods', namespace)
        .filter((p) => p.metadata.labels?.app === name && !p.metadata.deletionTimestamp)
      return pods.length === (obj.spec.replicas ?? pods.length) && pods.length > 0 && pods.every(isPodReady)
    },
    { what: `${name} ready` },
  )
}

const nodes = (over: Partial<KubernetesTargetSpec> = {}): KubernetesTargetSpec => ({
  kind: 'node',
  mode: 'all',
  ...over,
})

describe('nodeCordon', () => {
  it('cordons the selected nodes, leaves an already-cordoned one as it was, and restores exactly the prior state', async () => {
    editNode('node-2', (n) => (n.spec = { ...n.spec, unschedulable: true }))
    const ctx = context({ workers: nodes() })
    const spec = { target: 'workers', duration: 30 }
    const p = await planOne(nodeCordon, spec, ctx)
    expect(p.record).toMatchObject({
      kind: 'nodeCordon',
      on: ['node-1', 'node-2', 'node-3'],
      objects: [
        { kind: 'Node', name: 'node-1' },
        { kind: 'Node', name: 'node-2' },
        { kind: 'Node', name: 'node-3' },
      ],
      selection: { matched: 3, mode: 'all' },
    })
    // Planning changes nothing.
    expect(node('node-1').spec?.unschedulable).toBeUndefined()

    const detail = await nodeCordon.apply(p, spec, ctx)
    expect(detail).toBe('cordoned node-1, node-3; already cordoned, left as they were: node-2')
    for (const name of ['node-1', 'node-3']) {
      expect(node(name).spec.unschedulable).toBe(true)
      expect(annotations(node(name))[RUN_ID]).toBe(RUN)
      expect(JSON.parse(annotations(node(name))[ORIGINAL]!)).toEqual({ unschedulable: false })
    }
    expect(annotations(node('node-2'))[RUN_ID]).toBeUndefined()

    const t0 = Date.now()
    await nodeCordon.hold!(p, spec, ctx, true)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25)

    expect(await nodeCordon.revert(p, spec, ctx)).toBe('uncordoned node-1, node-3')
    for (const name of ['node-1', 'node-3']) {
      expect(node(name).spec.unschedulable).toBeUndefined()
      expect(annotations(node(name))).not.toHaveProperty(RUN_ID)
      expect(annotations(node(name))).not.toHaveProperty(ORIGINAL)
      // The node controller's unschedulable taint went with the cordon.
      expect(taintsOf(name)).toEqual([])
    }
    // Never uncordons a node that was cordoned before.
    expect(node('node-2').spec.unschedulable).toBe(true)
    // Idempotent.
    expect(await nodeCordon.revert(p, spec, ctx)).toBe('nothing left to revert on node-1, node-2, node-3')
  })

  it('a node that disappeared is reverted; selection guards (maxTargets) refuse before anything changes', async () => {
    const ctx = context({ one: nodes({ nodes: ['node-3'] }), many: nodes({ maxTargets: 1 }) })
    const spec = { target: 'one', duration: 10 }
    const p = await planOne(nodeCordon, spec, ctx)
    await nodeCordon.apply(p, spec, ctx)
    fake.remove('nodes', undefined, 'node-3')
    expect(await nodeCordon.revert(p, spec, ctx)).toBe('nothing left to revert on node-3')
    await expect(
      nodeCordon.plan({ target: 'many', duration: 10 }, { label: 's', key: 'k' }, ctx),
    ).rejects.toMatchObject({
      code: 'FL_ERR_TARGET_PROTECTED',
    })
  })

  it('kubectl sees the cordon (SchedulingDisabled) and sees it gone after the revert', async () => {
    const kubectl = async () =>
      (await run(kubectlPath(), ['--kubeconfig', fake.kubeconfigPath, 'get', 'nodes', '--no-headers'])).stdout
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const spec = { target: 'one', duration: 10 }
    const p = await planOne(nodeCordon, spec, ctx)
    await nodeCordon.apply(p, spec, ctx)
    const during = await kubectl()
    expect(during).toMatch(/^node-1\s+Ready,SchedulingDisabled\s/m)
    expect(during).toMatch(/^node-2\s+Ready\s/m)
    await nodeCordon.revert(p, spec, ctx)
    expect(await kubectl()).toMatch(/^node-1\s+Ready\s/m)
  })

  it('refuses a node another run changed (FL_ERR_TARGET_BUSY) and leaves it alone', async () => {
    editNode('node-1', (n) => {
      n.metadata.annotations = { [RUN_ID]: 'someone-else', [ORIGINAL]: '{"unschedulable":false}' }
      n.spec = { ...n.spec, unschedulable: true }
    })
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const spec = { target: 'one', duration: 10 }
    const p = await planOne(nodeCordon, spec, ctx)
    await expect(nodeCordon.apply(p, spec, ctx)).rejects.toMatchObject({ code: 'FL_ERR_TARGET_BUSY' })
    // The revert the runner then runs must not undo the other run's change.
    expect(await nodeCordon.revert(p, spec, ctx)).toBe('nothing left to revert on node-1')
    expect(annotations(node('node-1'))[RUN_ID]).toBe('someone-else')
    expect(node('node-1').spec.unschedulable).toBe(true)
  })

  it('recover() uncordons from the journal record alone, and only what this run changed', async () => {
    const ctx = context({ all: nodes() })
    const spec = { target: 'all', duration: 10 }
    const p = await planOne(nodeCordon, spec, ctx)
    await nodeCordon.apply(p, spec, ctx)
    const record = JSON.parse(JSON.stringify(p.record)) as FaultRecord
    // Another run's recovery touches nothing.
    expect(await nodeCordon.recover!(record, recoveryContext('another-run'))).toBe(
      'nothing left to revert on node-1, node-2, node-3',
    )
    expect(node('node-1').spec.unschedulable).toBe(true)
    expect(await nodeCordon.recover!(record, recoveryContext())).toBe('uncordoned node-1, node-2, node-3')
    for (const name of ['node-1', 'node-2', 'node-3']) {
      expect(node(name).spec.unschedulable).toBeUndefined()
      expect(annotations(node(name))).not.toHaveProperty(RUN_ID)
    }
  })
})

describe('nodeDrain', () => {
  /** web: 3 replicas spread over the 3 nodes; agent: a DaemonSet; a mirror pod on node-1. */
  async function workloads(): Promise<void> {
    await deploy(build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    fake.create(build.daemonSet({ name: 'agent', namespace: 'shop' }))
    fake.create(build.pod({ name: 'etcd-node-1', namespace: 'shop', nodeName: 'node-1', mirror: true }))
    await fake.waitFor(() => fake.list('pods', 'shop').filter((p) => isPodReady(p)).length === 7, {
      what: 'web, agent and the mirror pod ready',
    })
  }

  it('cordons, evicts everything but DaemonSet and mirror pods, waits for them to go, and uncordons on revert', async () => {
    await workloads()
    const before = podsOn('node-1').map(podName)
    const web = podsOn('node-1').filter((p) => p.metadata.labels?.app === 'web')
    expect(web).toHaveLength(1)
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const spec = { target: 'one', duration: 20 }
    const p = await planOne(nodeDrain, spec, ctx)
    const detail = await nodeDrain.apply(p, spec, ctx)
    expect(detail).toBe(
      `cordoned node-1; evicted 1 pod(s): ${podName(web[0]!)}; left 1 DaemonSet pod(s); left 1 mirror pod(s)`,
    )
    // Gone when apply returns (waited for, not just evicted); its replacement runs elsewhere.
    expect(fake.get('pods', 'shop', web[0]!.metadata.name!)).toBeUndefined()
    const left = podsOn('node-1').map(podName)
    expect(left).toHaveLength(2)
    expect(before).toEqual(expect.arrayContaining(left))
    expect(left.some((n) => n.startsWith('shop/agent-'))).toBe(true)
    expect(left).toContain('shop/etcd-node-1')
    expect(node('node-1').spec.unschedulable).toBe(true)
    await fake.waitFor(
      () => fake.list('pods', 'shop').filter((p) => p.metadata.labels?.app === 'web' && isPodReady(p)).length === 3,
      { what: 'web back to 3' },
    )
    expect(podsOn('node-1').filter((p) => p.metadata.labels?.app === 'web')).toEqual([])

    await nodeDrain.hold!(p, spec, ctx, true)
    expect(await nodeDrain.revert(p, spec, ctx)).toBe('uncordoned node-1')
    expect(node('node-1').spec.unschedulable).toBeUndefined()
    expect(annotations(node('node-1'))).not.toHaveProperty(RUN_ID)
    // The evicted pod is not brought back by faultline.
    expect(fake.get('pods', 'shop', web[0]!.metadata.name!)).toBeUndefined()
  })

  it('watches for the evicted pods to go (no polling)', async () => {
    await workloads()
    fake.setDelays({ terminationDelayMs: 400 })
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const spec = { target: 'one', duration: 10 }
    const p = await planOne(nodeDrain, spec, ctx)
    const listsBefore = fake.requests.length
    const t0 = Date.now()
    await nodeDrain.apply(p, spec, ctx)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350)
    const seen = fake.requests.slice(listsBefore).filter((r) => r.method === 'GET' && r.path === '/api/v1/pods')
    expect(seen.some((r) => r.query.watch === 'true')).toBe(true)
    // One list to refuse, one after cordoning, one before watching: not a list every few ms.
    expect(seen.filter((r) => !r.query.watch).length).toBeLessThanOrEqual(4)
    await nodeDrain.revert(p, spec, ctx)
  })

  it('refuses pods no controller owns before changing anything, unless force: true', async () => {
    await workloads()
    fake.create(build.pod({ name: 'bare', namespace: 'shop', nodeName: 'node-1' }))
    await fake.waitFor(() => isPodReady(fake.get('pods', 'shop', 'bare')!), { what: 'bare ready' })
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const spec = { target: 'one', duration: 10 }
    const p = await planOne(nodeDrain, spec, ctx)
    const err = await nodeDrain.apply(p, spec, ctx).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ code: 'FL_ERR_TARGET_PROTECTED', issues: [{ path: '/force' }] })
    expect((err as Error).message).toMatch(/1 pod\(s\) no controller owns.*shop\/bare on node-1/)
    expect(node('node-1').spec.unschedulable).toBeUndefined()
    expect(fake.get('pods', 'shop', 'bare')).toBeDefined()
    expect(podsOn('node-1').filter((p) => p.metadata.labels?.app === 'web')).toHaveLength(1)

    const forced = { ...spec, force: true }
    const detail = await nodeDrain.apply(p, forced, ctx)
    expect(detail).toMatch(/evicted 2 pod\(s\): .*shop\/bare/)
    expect(fake.get('pods', 'shop', 'bare')).toBeUndefined()
    await nodeDrain.revert(p, forced, ctx)
    expect(node('node-1').spec.unschedulable).toBeUndefined()
  })

  it('a PodDisruptionBudget that keeps refusing is a finding after the timeout, not an error', async () => {
    await workloads()
    fake.create(build.pdb({ name: 'web-pdb', namespace: 'shop', matchLabels: { app: 'web' }, minAvailable: 1 }))
    fake.pdbBlocks('shop', 'web-pdb', true)
    const web = podsOn('node-1').find((p) => p.metadata.labels?.app === 'web')!
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const spec = { target: 'one', duration: 10, timeout: 1500 }
    const p = await planOne(nodeDrain, spec, ctx)
    const t0 = Date.now()
    const detail = await nodeDrain.apply(p, spec, ctx)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500)
    expect(detail).toContain(`1 pod(s) blocked by PodDisruptionBudget shop/web-pdb after 1.5s: ${podName(web)}`)
    expect(detail).toContain('evicted 0 pod(s)')
    expect(ctx.said).toContain('  [finding] nodeDrain step: 1 pod(s) blocked by PodDisruptionBudget shop/web-pdb')
    // It was retried, not given up on at the first 429.
    const evictions = fake.requests.filter((r) => r.path.endsWith('/eviction'))
    expect(evictions.length).toBeGreaterThanOrEqual(2)
    expect(fake.get('pods', 'shop', web.metadata.name!)).toBeDefined()
    await nodeDrain.revert(p, spec, ctx)
    expect(node('node-1').spec.unschedulable).toBeUndefined()
  })

  it('leaves pods in protected namespaces unless the target allows them', async () => {
    fake.create(build.deployment({ name: 'dns', namespace: 'kube-system', replicas: 3 }))
    await fake.waitFor(() => fake.list('pods', 'kube-system').filter(isPodReady).length === 3, { what: 'dns ready' })
    const dns = podsOn('node-2').find((p) => p.metadata.namespace === 'kube-system')!
    const ctx = context({
      guarded: nodes({ nodes: ['node-2'] }),
      open: nodes({ nodes: ['node-2'], allowProtectedNamespaces: true }),
    })
    const guarded = { target: 'guarded', duration: 10 }
    const p = await planOne(nodeDrain, guarded, ctx)
    expect(await nodeDrain.apply(p, guarded, ctx)).toBe(
      `cordoned node-2; evicted 0 pod(s); left 1 pod(s) in protected namespaces: ${podName(dns)}`,
    )
    await nodeDrain.revert(p, guarded, ctx)
    const open = { target: 'open', duration: 10 }
    const q = await planOne(nodeDrain, open, ctx)
    expect(await nodeDrain.apply(q, open, ctx)).toBe(`cordoned node-2; evicted 1 pod(s): ${podName(dns)}`)
    await nodeDrain.revert(q, open, ctx)
  })

  it('recover() uncordons a drained node from the record alone', async () => {
    await workloads()
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const spec = { target: 'one', duration: 10 }
    const p = await planOne(nodeDrain, spec, ctx)
    await nodeDrain.apply(p, spec, ctx)
    expect(await nodeDrain.recover!(JSON.parse(JSON.stringify(p.record)), recoveryContext())).toBe('uncordoned node-1')
    expect(node('node-1').spec.unschedulable).toBeUndefined()
  })
})

describe('nodeTaint', () => {
  const taints = [
    { key: 'dedicated', value: 'chaos', effect: 'NoSchedule' as const },
    { key: 'faultline.io/fault', value: 'x', effect: 'NoSchedule' as const },
    { key: 'faultline.io/fault', effect: 'PreferNoSchedule' as const },
  ]

  it('adds taints, keeps the node’s own (same key and effect: left as it was), and restores the exact prior list', async () => {
    const own = [
      { key: 'dedicated', value: 'db', effect: 'NoSchedule' },
      { key: 'zone', value: 'a', effect: 'PreferNoSchedule' },
    ]
    editNode('node-1', (n) => (n.spec = { ...n.spec, taints: own }))
    const ctx = context({ some: nodes({ nodes: ['node-1', 'node-2'] }) })
    const spec = { target: 'some', duration: 10, taints }
    const p = await planOne(nodeTaint, spec, ctx)
    const detail = await nodeTaint.apply(p, spec, ctx)
    expect(detail).toBe(
      'node-1: added faultline.io/fault:NoSchedule, faultline.io/fault:PreferNoSchedule; already present, left as they were: dedicated=chaos:NoSchedule' +
        ' | node-2: added dedicated:NoSchedule, faultline.io/fault:NoSchedule, faultline.io/fault:PreferNoSchedule',
    )
    expect(taintsOf('node-1')).toEqual([
      ...own,
      { key: 'faultline.io/fault', value: 'x', effect: 'NoSchedule' },
      { key: 'faultline.io/fault', effect: 'PreferNoSchedule' },
    ])
    expect(taintsOf('node-2')).toEqual(taints)
    expect(JSON.parse(annotations(node('node-1'))[ORIGINAL]!)).toEqual({
      taints: {
        prior: own,
        added: [
          { key: 'faultline.io/fault', effect: 'NoSchedule' },
          { key: 'faultline.io/fault', effect: 'PreferNoSchedule' },
        ],
        hadList: true,
      },
    })
    await nodeTaint.hold!(p, spec, ctx, true)
    expect(await nodeTaint.revert(p, spec, ctx)).toBe('taints restored on node-1, node-2')
    expect(node('node-1').spec.taints).toEqual(own)
    expect(node('node-2').spec.taints).toBeUndefined()
    expect(annotations(node('node-1'))).not.toHaveProperty(RUN_ID)
    expect(await nodeTaint.revert(p, spec, ctx)).toBe('nothing left to revert on node-1, node-2')
  })

  it('a cordon and a taint of the same run on one node each restore their own part', async () => {
    const ctx = context({ one: nodes({ nodes: ['node-1'] }) })
    const cordonSpec = { target: 'one', duration: 10 }
    const taintSpec = { target: 'one', duration: 10, taints: [taints[1]!] }
    const c = await planOne(nodeCordon, cordonSpec, ctx)
    const t = await planOne(nodeTaint, taintSpec, ctx)
    await Promise.all([nodeCordon.apply(c, cordonSpec, ctx), nodeTaint.apply(t, taintSpec, ctx)])
    expect(Object.keys(JSON.parse(annotations(node('node-1'))[ORIGINAL]!)).sort()).toEqual(['taints', 'unschedulable'])
    // A second cordon in the same run would record the first one's change as "prior": refused.
    await expect(nodeCordon.apply(c, cordonSpec, ctx)).rejects.toMatchObject({ code: 'FL_ERR_TARGET_BUSY' })
    await nodeCordon.revert(c, cordonSpec, ctx)
    expect(node('node-1').spec.unschedulable).toBeUndefined()
    expect(annotations(node('node-1'))[RUN_ID]).toBe(RUN)
    expect(taintsOf('node-1')).toEqual([{ key: 'faultline.io/fault', value: 'x', effect: 'NoSchedule' }])
    await nodeTaint.revert(t, taintSpec, ctx)
    expect(node('node-1').spec.taints ?? []).toEqual([])
    expect(annotations(node('node-1'))).not.toHaveProperty(RUN_ID)
  })

  it('recover() restores the taints from the record alone', async () => {
    const ctx = context({ one: nodes({ nodes: ['node-3'] }) })
    const spec = { target: 'one', duration: 10, taints }
    const p = await planOne(nodeTaint, spec, ctx)
    await nodeTaint.apply(p, spec, ctx)
    expect(await nodeTaint.recover!(JSON.parse(JSON.stringify(p.record)), recoveryContext())).toBe(
      'taints restored on node-3',
    )
    expect(node('node-3').spec.taints).toBeUndefined()
    expect(annotations(node('node-3'))).toEqual({})
  })
})

describe('scale', () => {
  const workload = { kind: 'Deployment' as const, namespace: 'shop', name: 'web' }
  const readyWeb = () => fake.list('pods', 'shop').filter((p) => p.metadata.labels?.app === 'web' && isPodReady(p))

  it('scales a Deployment, records the prior count on it, and restores it', async () => {
    await deploy(build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    const ctx = context({})
    const spec = { workload, replicas: 1, duration: 10 }
    const p = await planOne(scale, spec, ctx)
    expect(p.intent).toBe('scale Deployment shop/web from 3 to 1 replica(s) for 0.01s')
    expect(p.record).toMatchObject({ kind: 'scale', objects: [{ kind: 'Deployment', namespace: 'shop', name: 'web' }] })
    expect(await scale.apply(p, spec, ctx)).toBe('Deployment shop/web scaled from 3 to 1 replica(s)')
    const d = fake.get('deployments', 'shop', 'web')!
    expect(d.spec.replicas).toBe(1)
    expect(annotations(d)).toMatchObject({ [RUN_ID]: RUN, [ORIGINAL]: '{"replicas":3}' })
    await fake.waitFor(() => readyWeb().length === 1 && fake.list('pods', 'shop').length === 1, { what: 'web at 1' })
    await scale.hold!(p, spec, ctx, true)
    expect(await scale.revert(p, spec, ctx)).toBe('Deployment shop/web back to 3 replica(s)')
    expect(fake.get('deployments', 'shop', 'web')!.spec.replicas).toBe(3)
    expect(annotations(fake.get('deployments', 'shop', 'web')!)).not.toHaveProperty(RUN_ID)
    await fake.waitFor(() => readyWeb().length === 3, { what: 'web back at 3' })
    expect(await scale.revert(p, spec, ctx)).toBe('nothing left to revert on Deployment shop/web')
  })

  it('scales a StatefulSet to 0 and back; recover() restores from the record alone', async () => {
    fake.create(build.statefulSet({ name: 'db', namespace: 'shop', replicas: 2, podManagementPolicy: 'Parallel' }))
    const ctx = context({})
    const spec = {
      workload: { kind: 'StatefulSet' as const, namespace: 'shop', name: 'db' },
      replicas: 0,
      duration: 10,
    }
    const p = await planOne(scale, spec, ctx)
    await scale.apply(p, spec, ctx)
    expect(fake.get('statefulsets', 'shop', 'db')!.spec.replicas).toBe(0)
    expect(await scale.recover!(JSON.parse(JSON.stringify(p.record)), recoveryContext())).toBe(
      'StatefulSet shop/db back to 2 replica(s)',
    )
    expect(fake.get('statefulsets', 'shop', 'db')!.spec.replicas).toBe(2)
    expect(annotations(fake.get('statefulsets', 'shop', 'db')!)).not.toHaveProperty(ORIGINAL)
  })

  it('refuses a workload another run changed, a missing one, and protected namespaces', async () => {
    const d = build.deployment({ name: 'web', namespace: 'shop', replicas: 2 })
    d.metadata.annotations = { [RUN_ID]: 'other-run', [ORIGINAL]: '{"replicas":5}' }
    fake.create(d)
    const ctx = context({})
    const spec = { workload, replicas: 0, duration: 10 }
    const p = await planOne(scale, spec, ctx)
    await expect(scale.apply(p, spec, ctx)).rejects.toMatchObject({ code: 'FL_ERR_TARGET_BUSY' })
    expect(await scale.revert(p, spec, ctx)).toBe('nothing left to revert on Deployment shop/web')
    expect(fake.get('deployments', 'shop', 'web')!.spec.replicas).toBe(2)
    await expect(
      scale.plan({ ...spec, workload: { ...workload, name: 'nope' } }, { label: 's', key: 'k' }, ctx),
    ).rejects.toMatchObject({ code: 'FL_ERR_TARGET_UNRESOLVED' })
    for (const namespace of ['kube-system', 'faultline'])
      await expect(
        scale.plan({ ...spec, workload: { ...workload, namespace } }, { label: 's', key: 'k' }, ctx),
      ).rejects.toMatchObject({ code: 'FL_ERR_TARGET_PROTECTED' })
  })
})
