/**
 * Every Kubernetes check stat through the real runner against the fake API server, with pods
 * whose status the test writes (the fake's kubelet leaves them alone): pods, podsInPhase,
 * podsNotInPhase, restarts, readyPods, availableReplicas and unavailableReplicas measure what
 * the objects say, and a target that selects no pods (or a workload that does not exist) is "no
 * data", so the check is inconclusive, never a 0 that a `max` bound would pass.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { seededRandom } from '../../src/random.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'
import {
  build,
  type FakeKube,
  isPodReady,
  type KubeObject,
  staticStatusAnnotation,
  startFakeKube,
} from '../helpers/fake-kube/index.ts'

const NS = 'shop'
let fake: FakeKube

/** A pod with the status given, bound already, so neither the fake's scheduler nor its kubelet touch it. */
function statusPod(name: string, status: Record<string, unknown>): KubeObject {
  const pod = build.pod({ name, namespace: NS, labels: { app: 'mixed' }, nodeName: 'node-1' })
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { [staticStatusAnnotation]: 'true' } },
    status,
  }
}

const ready = (restartCount: number) => ({
  phase: 'Running',
  conditions: [{ type: 'Ready', status: 'True' }],
  containerStatuses: [{ name: 'app', ready: true, restartCount, image: 'nginx:1.27', imageID: '', started: true }],
})

beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20, namespaces: [NS] })
  fake.put(statusPod('m-running', ready(2)))
  fake.put(statusPod('m-running-2', ready(1)))
  fake.put(statusPod('m-pending', { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }] }))
  fake.put(statusPod('m-failed', { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False' }] }))
  fake.create(build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
  // A Deployment whose pods never become Ready (the fake treats a pause image as failing its probe).
  fake.create(build.deployment({ name: 'stuck', namespace: NS, replicas: 2, image: 'registry.k8s.io/pause:3.10' }))
  await fake.waitFor(() => {
    const web = fake.list('pods', NS).filter((p) => p.metadata.labels?.app === 'web')
    const stuck = fake.list('pods', NS).filter((p) => p.metadata.labels?.app === 'stuck')
    return (
      web.length === 3 &&
      web.every(isPodReady) &&
      stuck.length === 2 &&
      fake.get('deployments', NS, 'web')?.status?.availableReplicas === 3
    )
  })
})
afterEach(async () => {
  await fake.close()
})

/** One check per stat, sampled during a short wait; the samples' values are what is asserted. */
function check(name: string, kubernetes: Record<string, unknown>, tolerance: Record<string, number>) {
  return { name, phases: ['during'], interval: '100ms', failureThreshold: 1, kubernetes, tolerance }
}

/** `app`: the target the checks name (an empty target alone makes a run inconclusive). */
const run = (checks: unknown[], app = 'mixed') =>
  runExperiment(
    experiment({
      targets: { pods: { kubernetes: { namespaces: [NS], labelSelector: `app=${app}` } } },
      hypothesis: { title: 'the cluster is as written', checks },
      method: [{ wait: '300ms' }],
    }),
    { dataDir: dataDir(), cluster: () => new Cluster(fake.kubeConfig()), random: seededRandom(1) },
  )

const web = { kind: 'Deployment', namespace: NS, name: 'web' }
const stuck = { kind: 'Deployment', namespace: NS, name: 'stuck' }

describe('Kubernetes check stats against the fake', () => {
  it('each stat measures what the pods and workloads say', async () => {
    const r = await run([
      check('pods', { target: 'pods', stat: 'pods' }, { min: 4, max: 4 }),
      check('running', { target: 'pods', stat: 'podsInPhase', phase: 'Running' }, { min: 2, max: 2 }),
      check('not-running', { target: 'pods', stat: 'podsNotInPhase', phase: 'Running' }, { min: 2, max: 2 }),
      check('failed', { target: 'pods', stat: 'podsInPhase', phase: 'Failed' }, { min: 1, max: 1 }),
      check('restarts', { target: 'pods', stat: 'restarts' }, { min: 3, max: 3 }),
      check('ready', { target: 'pods', stat: 'readyPods' }, { min: 2, max: 2 }),
      check('web-available', { stat: 'availableReplicas', workload: web }, { min: 3, max: 3 }),
      check('web-unavailable', { stat: 'unavailableReplicas', workload: web }, { max: 0 }),
      check('stuck-available', { stat: 'availableReplicas', workload: stuck }, { max: 0 }),
      check('stuck-unavailable', { stat: 'unavailableReplicas', workload: stuck }, { min: 2, max: 2 }),
    ])
    expect(r.status).toBe('completed')
    const values = Object.fromEntries(
      Object.entries(r.journal.checks).map(([name, c]) => [name, [...new Set(c.samples.map((s) => s.value))]]),
    )
    expect(values).toEqual({
      pods: [4],
      running: [2],
      'not-running': [2],
      failed: [1],
      restarts: [3],
      ready: [2],
      'web-available': [3],
      'web-unavailable': [0],
      'stuck-available': [0],
      'stuck-unavailable': [2],
    })
    expect(r.journal.checks.restarts!.samples[0]!.detail).toMatch(/^3 container restarts across 4 pods/)
    expect(r.journal.checks['not-running']!.samples[0]!.detail).toMatch(/^2 of 4 pods not Running/)
    expect(r.journal.checks['stuck-unavailable']!.samples[0]!.detail).toMatch(/^0 of 2 replicas available/)
    for (const c of Object.values(r.journal.checks)) expect(c.samples.length).toBeGreaterThan(0)
    expect(r.verdict).toBe('pass')
  })

  it('a bound the cluster does not meet fails the check', async () => {
    const r = await run([
      check('restarts', { target: 'pods', stat: 'restarts' }, { max: 2 }),
      check('stuck-available', { stat: 'availableReplicas', workload: stuck }, { min: 1 }),
    ])
    expect(r.verdict).toBe('fail')
    expect(r.journal.checks.restarts!.result).toBe('fail')
    expect(r.journal.checks['stuck-available']!.result).toBe('fail')
  })

  it('no pods is no data: inconclusive, never a 0 that passes `max`', async () => {
    const r = await run(
      [
        check('pods', { target: 'pods', stat: 'pods' }, { max: 10 }),
        check('restarts', { target: 'pods', stat: 'restarts' }, { max: 0 }),
        check('not-running', { target: 'pods', stat: 'podsNotInPhase', phase: 'Running' }, { max: 0 }),
        check('gone', { stat: 'unavailableReplicas', workload: { ...web, name: 'absent' } }, { max: 0 }),
      ],
      'nothing-here',
    )
    expect(r.verdict).toBe('inconclusive')
    for (const [name, c] of Object.entries(r.journal.checks)) {
      expect(c.result, name).toBe('inconclusive')
      expect(c.samples.length, name).toBeGreaterThan(0)
      for (const s of c.samples) {
        expect(s.outcome).toBe('nodata')
        expect(s.value).toBeUndefined()
      }
    }
    expect(r.journal.checks.pods!.samples[0]!.detail).toBe('the target selects no pods')
    expect(r.journal.checks.gone!.samples[0]!.detail).toBe('Deployment shop/absent does not exist')
  })
})
