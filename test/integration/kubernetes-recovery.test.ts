/**
 * Crash recovery of Kubernetes faults: a run left "running" by a dead controller, with cluster
 * changes applied (nodes cordoned and tainted, a Deployment scaled, pod images swapped, a
 * partition policy), is found by a new RunManager's recoverCrashed(), every change reverted
 * through its injector's recover() from the journal record and the objects' own annotations, and
 * the run marked aborted. Against the in-process fake API server with the real client-node;
 * once with a journal written through the FileStore, once with a real `faultline run` SIGKILLed
 * mid-fault.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { KubernetesTargetSpec } from '../../src/experiments/kubernetes-schema.ts'
import { silentLogger } from '../../src/log.ts'
import { seededRandom } from '../../src/random.ts'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { ORIGINAL, RUN_ID } from '../../controller/drivers/kubernetes/ownership.ts'
import type { FaultRecord, Journal } from '../../controller/experiments/journal.ts'
import { INJECTORS } from '../../controller/injectors/index.ts'
import { networkPartition } from '../../controller/injectors/kubernetes/network-partition.ts'
import { nodeCordon } from '../../controller/injectors/kubernetes/node-cordon.ts'
import { nodeTaint } from '../../controller/injectors/kubernetes/node-taint.ts'
import { podFailure } from '../../controller/injectors/kubernetes/pod-failure.ts'
import { podKill } from '../../controller/injectors/kubernetes/pod-kill.ts'
import { scale } from '../../controller/injectors/kubernetes/scale.ts'
import type { InjectionContext, Injector } from '../../controller/injectors/types.ts'
import { RunManager } from '../../controller/runs.ts'
import { FileStore } from '../../controller/store/files.ts'
import { build, type FakeKube, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const injectors = [...INJECTORS]

let fake: FakeKube
let dir: string
const children: ChildProcess[] = []
beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20, namespaces: ['shop'] })
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-k8s-recovery-'))
})
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

const node = (name: string) => fake.get('nodes', undefined, name)!
const webPods = () => fake.list('pods', 'shop').filter((p) => p.metadata.labels?.app === 'web')

async function deploy(name: string, replicas: number): Promise<void> {
  fake.create(build.deployment({ name, namespace: 'shop', replicas }))
  await fake.waitFor(
    () => fake.list('pods', 'shop').filter((p) => p.metadata.labels?.app === name && isPodReady(p)).length === replicas,
    { what: `${name} ready` },
  )
}

function context(runId: string, targets: Record<string, KubernetesTargetSpec>): InjectionContext {
  const cluster = new Cluster(fake.kubeConfig())
  return {
    runId,
    journal: { faults: [] } as unknown as Journal,
    signal: new AbortController().signal,
    ttlMarginMs: 0,
    target: (name) => ({ name, bus: undefined as never, sidecars: [], processes: [], kubernetes: targets[name] }),
    cluster: () => cluster,
    random: seededRandom(3),
    event: () => undefined,
    save: async () => undefined,
    say: () => undefined,
    log: silentLogger(),
  }
}

/** Plans and applies one fault as the runner would (id, intent journalled, applied), without a revert. */
async function applied<S>(
  injector: Injector<S, unknown>,
  spec: S,
  ctx: InjectionContext,
  faults: FaultRecord[],
  opts: { apply?: boolean } = {},
): Promise<FaultRecord> {
  const [p] = await injector.plan(spec, { label: `${injector.step}`, key: `method/${faults.length}` }, ctx)
  p!.record.id = `fault-${faults.length + 1}`
  faults.push(p!.record)
  if (opts.apply !== false) {
    await injector.apply(p!, spec, ctx)
    p!.record.appliedAt = Date.now()
  }
  return p!.record
}

function crashedJournal(runId: string, faults: FaultRecord[]): Journal {
  const experiment = {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name: 'k8s' },
    spec: { targets: {}, hypothesis: { title: 't', checks: [] }, method: [] },
  } as unknown as Journal['experiment']
  return {
    faultline: 'test',
    runId,
    experimentHash: 'x',
    experiment,
    dryRun: false,
    startedAt: Date.now() - 5000,
    status: 'running',
    targets: {},
    timeline: [],
    faults,
    checks: {},
    series: {},
  }
}

describe('crash recovery of Kubernetes faults', () => {
  it('a journal left running: every applied change reverted from the records and annotations, the run aborted', async () => {
    await deploy('web', 2)
    await deploy('api', 3)
    await deploy('cache', 1)
    await deploy('batch', 1)
    const runId = 'k8s-20261130-120000-dead'
    const ctx = context(runId, {
      first: { kind: 'node', nodes: ['node-1'] },
      second: { kind: 'node', nodes: ['node-2'] },
      third: { kind: 'node', nodes: ['node-3'] },
      web: { namespaces: ['shop'], labelSelector: 'app=web', mode: 'all' },
      cache: { namespaces: ['shop'], labelSelector: 'app=cache', mode: 'all' },
      batch: { namespaces: ['shop'], labelSelector: 'app=batch', mode: 'all' },
    })
    const images = () => webPods().map((p) => p.spec.containers[0].image)
    const faults: FaultRecord[] = []
    await applied(nodeCordon, { target: 'first', duration: 600_000 }, ctx, faults)
    await applied(
      nodeTaint,
      { target: 'second', duration: 600_000, taints: [{ key: 'chaos', effect: 'NoSchedule' as const }] },
      ctx,
      faults,
    )
    await applied(
      scale,
      { workload: { kind: 'Deployment' as const, namespace: 'shop', name: 'api' }, replicas: 1, duration: 600_000 },
      ctx,
      faults,
    )
    await applied(podFailure, { target: 'web', duration: 600_000 }, ctx, faults)
    await applied(networkPartition, { target: 'cache', duration: 600_000 }, ctx, faults)
    // Journalled as intent, never applied: the controller died first.
    await applied(nodeCordon, { target: 'third', duration: 600_000 }, ctx, faults, { apply: false })
    // A one-shot fault: nothing to undo.
    await applied(podKill, { target: 'batch', recoverWithin: 5000 }, ctx, faults)
    expect(node('node-1').spec.unschedulable).toBe(true)
    expect(node('node-2').spec.taints).toEqual([{ key: 'chaos', effect: 'NoSchedule' }])
    expect(fake.get('deployments', 'shop', 'api')!.spec.replicas).toBe(1)
    await fake.waitFor(() => webPods().length === 2 && images().every((i) => i.includes('pause')), {
      what: 'web paused',
    })
    expect(fake.list('networkpolicies', 'shop')).toHaveLength(1)

    const store = new FileStore(dir, { log: silentLogger() })
    await store.saveJournal(crashedJournal(runId, faults))

    const manager = new RunManager({
      store,
      dataDir: dir,
      log: silentLogger(),
      cluster: () => new Cluster(fake.kubeConfig()),
      injectors,
    })
    const [result] = await manager.recoverCrashed()
    expect(result!.failed).toEqual([])
    expect(result!.reverted).toEqual([
      'fault-6@nodeCordon: nothing left to revert on node-3',
      expect.stringMatching(/^fault-5@networkPartition: /),
      expect.stringMatching(/^fault-4@podFailure: /),
      'fault-3@scale: Deployment shop/api back to 3 replica(s)',
      'fault-2@nodeTaint: taints restored on node-2',
      'fault-1@nodeCordon: uncordoned node-1',
    ])

    expect(node('node-1').spec.unschedulable).toBeUndefined()
    expect(node('node-2').spec.taints).toBeUndefined()
    expect(node('node-3').spec.unschedulable).toBeUndefined()
    for (const n of ['node-1', 'node-2', 'node-3'])
      expect(node(n).metadata.annotations ?? {}).not.toHaveProperty(RUN_ID)
    const api = fake.get('deployments', 'shop', 'api')!
    expect(api.spec.replicas).toBe(3)
    expect(api.metadata.annotations ?? {}).not.toHaveProperty(ORIGINAL)
    expect(images()).toEqual(['nginx:1.27', 'nginx:1.27'])
    expect(fake.list('networkpolicies', 'shop')).toEqual([])

    const journal = (await store.getJournal(runId))!
    expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive' })
    expect(journal.reason).toMatch(/controller stopped during the run/)
    for (const f of journal.faults.slice(0, 6)) expect(f.revertedAt).toBeGreaterThan(0)
    expect(journal.faults[6]!.revertedAt).toBeUndefined() // the pod kill: nothing was reverted
    expect(journal.timeline.filter((e) => e.type === 'reverted').map((e) => e.fault)).toEqual([
      'fault-6',
      'fault-5',
      'fault-4',
      'fault-3',
      'fault-2',
      'fault-1',
    ])
    expect(journal.timeline.at(-1)!.detail).toMatch(/^recovered after a controller restart: reverted 6 fault placement/)
    // Recovered once: a second start finds nothing running.
    expect(await manager.recoverCrashed()).toEqual([])
  })

  it('one fault that cannot be reverted does not stop the others; without a cluster each says why', async () => {
    const runId = 'k8s-20261130-120000-beef'
    const ctx = context(runId, {
      first: { kind: 'node', nodes: ['node-1'] },
      second: { kind: 'node', nodes: ['node-2'] },
    })
    const faults: FaultRecord[] = []
    await applied(nodeCordon, { target: 'first', duration: 600_000 }, ctx, faults)
    await applied(nodeCordon, { target: 'second', duration: 600_000 }, ctx, faults)
    const store = new FileStore(dir, { log: silentLogger() })
    await store.saveJournal(crashedJournal(runId, faults))

    // First a controller started without any cluster: nothing can be reverted, start-up goes on.
    const blind = new RunManager({ store, dataDir: dir, log: silentLogger(), injectors })
    const [none] = await blind.recoverCrashed()
    expect(none!.reverted).toEqual([])
    expect(none!.failed).toEqual([
      expect.stringMatching(
        /^fault-2@nodeCordon: FL_ERR_CONFIG_INVALID: .*needs a cluster.*faultline.io\/run-id=k8s-20261130-120000-beef\)$/,
      ),
      expect.stringMatching(/^fault-1@nodeCordon: FL_ERR_CONFIG_INVALID: /),
    ])
    const after = (await store.getJournal(runId))!
    expect(after.status).toBe('aborted')
    expect(after.faults[0]!.error).toMatch(/^revert failed: FL_ERR_CONFIG_INVALID/)
    expect(after.timeline.filter((e) => e.type === 'revert-failed')).toHaveLength(2)
    // The changes stay on the nodes, which still name the run.
    expect(node('node-1').metadata.annotations?.[RUN_ID]).toBe(runId)

    // Then with a cluster, where node-2's record of what to restore is unreadable.
    const n2 = node('node-2')
    n2.metadata.annotations = { ...n2.metadata.annotations, [ORIGINAL]: '{not json' }
    fake.put(n2)
    await store.saveJournal(
      crashedJournal(
        runId,
        faults.map((f) => ({ ...f, error: undefined })),
      ),
    )
    const manager = new RunManager({
      store,
      dataDir: dir,
      log: silentLogger(),
      cluster: () => new Cluster(fake.kubeConfig()),
      injectors,
    })
    const [result] = await manager.recoverCrashed()
    expect(result!.failed).toEqual([expect.stringMatching(/^fault-2@nodeCordon: FL_ERR_STORE_CORRUPT: /)])
    expect(result!.reverted).toEqual(['fault-1@nodeCordon: uncordoned node-1'])
    expect(node('node-1').spec.unschedulable).toBeUndefined()
    expect(node('node-2').spec.unschedulable).toBe(true)
  })

  it('a real `faultline run` SIGKILLed mid-fault: a new RunManager reverts the cluster and aborts the run', async () => {
    await deploy('api', 2)
    const doc = {
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'held' },
      spec: {
        targets: { workers: { kubernetes: { kind: 'node', nodes: ['node-1', 'node-2'], mode: 'all' } } },
        hypothesis: { title: 'the cluster copes', checks: [] },
        method: [
          {
            parallel: [
              { nodeCordon: { target: 'workers', duration: '10m' } },
              {
                nodeTaint: {
                  target: 'workers',
                  duration: '10m',
                  taints: [{ key: 'chaos', effect: 'PreferNoSchedule' }],
                },
              },
              {
                scale: {
                  workload: { kind: 'Deployment', namespace: 'shop', name: 'api' },
                  replicas: 0,
                  duration: '10m',
                },
              },
            ],
          },
        ],
      },
    }
    const file = path.join(dir, 'held.json')
    writeFileSync(file, JSON.stringify(doc))
    // `faultline run` itself: the Kubernetes families are registered in INJECTORS.
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/faultline.js'), 'run', file, '--kubeconfig', fake.kubeconfigPath, '--data', dir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    children.push(child)
    let output = ''
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()))
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()))
    await fake
      .waitFor(
        () =>
          ['node-1', 'node-2'].every(
            (n) =>
              node(n).spec.unschedulable === true &&
              node(n).spec.taints?.some((t: { key: string }) => t.key === 'chaos'),
          ) && fake.get('deployments', 'shop', 'api')!.spec.replicas === 0,
        { timeoutMs: 20_000, what: 'every fault applied' },
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}; faultline run said:\n${output}`, { cause: err })
      })
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    // Still cordoned, tainted and scaled down: nothing expires by itself in a cluster.
    expect(node('node-1').spec.unschedulable).toBe(true)
    expect(fake.get('deployments', 'shop', 'api')!.spec.replicas).toBe(0)

    const store = new FileStore(dir, { log: silentLogger() })
    const { items } = await store.listRuns()
    expect(items.map((i) => i.status)).toEqual(['running'])
    const manager = new RunManager({
      store,
      dataDir: dir,
      log: silentLogger(),
      cluster: () => new Cluster(fake.kubeConfig()),
      injectors,
    })
    const [result] = await manager.recoverCrashed()
    expect(result!.failed).toEqual([])
    // The parallel steps are planned concurrently: which one became fault-1 does not matter.
    expect(result!.reverted.map((r) => r.replace(/^fault-\d+@/, '')).sort()).toEqual([
      'nodeCordon: uncordoned node-1, node-2',
      'nodeTaint: taints restored on node-1, node-2',
      'scale: Deployment shop/api back to 2 replica(s)',
    ])
    for (const n of ['node-1', 'node-2']) {
      expect(node(n).spec.unschedulable).toBeUndefined()
      expect(node(n).spec.taints).toBeUndefined()
      expect(node(n).metadata.annotations ?? {}).not.toHaveProperty(RUN_ID)
    }
    expect(fake.get('deployments', 'shop', 'api')!.spec.replicas).toBe(2)
    const journal = (await store.getJournal(items[0]!.runId))!
    expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive' })
  })
})
