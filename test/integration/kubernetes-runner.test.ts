/**
 * The pod-side Kubernetes faults through the real runner (runExperiment) against the fake API
 * server: registered in controller/injectors/index.ts, planned once, journalled as intent before
 * they are applied, held, and reverted in reverse order; a dry run touches nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { RUN_ID } from '../../controller/drivers/kubernetes/ownership.ts'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { DEFAULT_PAUSE_IMAGE } from '../../controller/injectors/kubernetes/pod-failure.ts'
import { PARTITION_LABEL } from '../../controller/injectors/kubernetes/network-partition.ts'
import { seededRandom } from '../../src/random.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'
import { type FakeKube, type KubeObject, build, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const NS = 'shop'

const pods = (fake: FakeKube, app: string) =>
  fake.list('pods', NS).filter((p) => p.metadata.labels?.app === app && !p.metadata.deletionTimestamp)

async function deployReady(fake: FakeKube, d: KubeObject): Promise<void> {
  fake.create(d)
  await fake.waitFor(() => {
    const all = pods(fake, d.metadata.name!)
    return all.length === d.spec.replicas && all.every(isPodReady)
  })
}

const target = (mode: Record<string, unknown> = { mode: 'one' }) => ({
  kubernetes: { namespaces: [NS], labelSelector: 'app=web', ...mode },
})

const readyChecks = (min: number) => [
  {
    name: 'enough-ready',
    phases: ['before', 'during'],
    interval: '100ms',
    kubernetes: { target: 'app', stat: 'readyPods' },
    tolerance: { min },
  },
  {
    name: 'all-ready-again',
    phases: ['before', 'after'],
    interval: '100ms',
    recoverWithin: '10s',
    kubernetes: { target: 'app', stat: 'readyRatio' },
    tolerance: { min: 1 },
  },
]

describe('Kubernetes pod faults through the runner', () => {
  let fake: FakeKube
  beforeEach(async () => {
    fake = await startFakeKube({ readyDelayMs: 60, terminationDelayMs: 30, namespaces: [NS] })
    await deployReady(fake, build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
  })
  afterEach(async () => {
    await fake.close()
  })

  const run = (spec: Record<string, unknown>, o: { dryRun?: boolean; seed?: number } = {}) =>
    runExperiment(experiment(spec), {
      dataDir: dataDir(),
      cluster: () => new Cluster(fake.kubeConfig()),
      random: seededRandom(o.seed ?? 1),
      dryRun: o.dryRun,
    })

  it('a pod kill passes on a healthy 3-replica Deployment, with the recovery measured', async () => {
    const r = await run({
      targets: { app: target() },
      hypothesis: { title: 'one pod killed, 2 stay Ready, all Ready again', checks: readyChecks(2) },
      method: [{ name: 'kill one', podKill: { target: 'app', gracePeriodSeconds: 0, recoverWithin: '10s' } }],
    })
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('pass')
    const f = r.journal.faults[0]!
    expect(f).toMatchObject({ id: 'fault-1', kind: 'podKill', selection: { matched: 3, mode: 'one' } })
    expect(f.recoveryMs).toBeGreaterThan(0)
    const kinds = r.journal.timeline.filter((e) => e.fault === 'fault-1').map((e) => e.type)
    expect(kinds.indexOf('intent')).toBeLessThan(kinds.indexOf('applied'))
    expect(pods(fake, 'web')).toHaveLength(3)
  })

  it('pod failure, partition, stress and a PDB-blocked eviction: applied, held, reverted, journalled', async () => {
    fake.create(build.pdb({ name: 'web-pdb', namespace: NS, matchLabels: { app: 'web' }, minAvailable: 3 }))
    const r = await run({
      targets: { app: target() },
      hypothesis: { title: 'at least one pod stays Ready', checks: readyChecks(1) },
      method: [
        { name: 'fail', podFailure: { target: 'app', duration: '300ms' } },
        { name: 'cut', networkPartition: { target: 'app', duration: '300ms' } },
        { name: 'stress', podStress: { target: 'app', duration: '200ms', cpu: 1 } },
        { name: 'evict', podEvict: { target: 'app', timeout: '500ms' } },
      ],
    })
    expect(r.status).toBe('completed')
    expect(r.journal.faults.map((f) => f.kind)).toEqual(['podFailure', 'networkPartition', 'podStress', 'podEvict'])
    for (const f of r.journal.faults) expect(f.error).toBeUndefined()
    for (const f of r.journal.faults.slice(0, 3)) expect(f.revertedAt).toBeGreaterThan(f.appliedAt!)
    // Everything undone: images, annotations, labels, policies.
    for (const p of pods(fake, 'web')) {
      expect(p.spec.containers[0].image).not.toBe(DEFAULT_PAUSE_IMAGE)
      expect(p.metadata.annotations?.[RUN_ID]).toBeUndefined()
      expect(p.metadata.labels?.[PARTITION_LABEL]).toBeUndefined()
    }
    expect(fake.list('networkpolicies', NS)).toEqual([])
    expect(pods(fake, 'web').some((p) => (p.spec.ephemeralContainers ?? []).length === 1)).toBe(true)
    // The blocked eviction is a finding in the timeline, not an error.
    const evict = r.journal.faults[3]!
    expect(r.journal.timeline).toContainEqual(
      expect.objectContaining({
        type: 'step',
        fault: evict.id,
        detail: expect.stringContaining('blocked by PodDisruptionBudget web-pdb'),
      }),
    )
    expect(pods(fake, 'web')).toHaveLength(3)
  })

  it('a dry run plans and journals the same selection, and changes nothing', async () => {
    const writes = () => fake.requests.filter((q) => q.method !== 'GET').length
    const before = writes()
    const r = await run(
      {
        targets: { app: target({ mode: 'fixed', value: 2 }) },
        hypothesis: { title: 'nothing happens', checks: readyChecks(3) },
        method: [
          { podKill: { target: 'app' } },
          { podFailure: { target: 'app', duration: '100ms' } },
          { networkPartition: { target: 'app', duration: '100ms' } },
        ],
      },
      { dryRun: true },
    )
    expect(r.status).toBe('completed')
    expect(writes()).toBe(before)
    expect(r.journal.faults.map((f) => f.on.length)).toEqual([2, 2, 2])
    expect(r.journal.faults.every((f) => f.appliedAt === undefined)).toBe(true)
  })

  it('the same seed selects the same pods in another run', async () => {
    const spec = {
      targets: { app: target() },
      hypothesis: { title: 'one pod fails', checks: readyChecks(1) },
      method: [{ podFailure: { target: 'app', duration: '100ms' } }],
    }
    const a = await run(spec, { seed: 42, dryRun: true })
    const b = await run(spec, { seed: 42, dryRun: true })
    expect(b.journal.faults[0]!.on).toEqual(a.journal.faults[0]!.on)
  })
})
