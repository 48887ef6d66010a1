/**
 * A real `faultline controller --kubeconfig` process holding Kubernetes faults (pod failure,
 * node cordon, network partition, scale) against the in-process fake API server is SIGKILLed
 * mid-fault; a controller restarted on the same data directory finds the run, reverts every
 * change from the journal and the objects' own annotations, and marks the run aborted, before
 * it even listens. Like controller-crash.test.ts does for sidecar rules.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { ORIGINAL, RUN_ID } from '../../controller/drivers/kubernetes/ownership.ts'
import { PARTITION_LABEL } from '../../controller/injectors/kubernetes/network-partition.ts'
import { startControllerProcess } from '../helpers/cli.ts'
import { build, type FakeKube, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const NS = 'shop'
const children: ChildProcess[] = []
let fake: FakeKube
let dir: string
beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20, namespaces: [NS] })
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-k8s-crash-'))
})
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

async function controller(): Promise<{ child: ChildProcess; url: string }> {
  const c = await startControllerProcess(dir, ['--kubeconfig', fake.kubeconfigPath])
  children.push(c.child)
  return c
}

const json = async (url: string, init?: RequestInit) => (await fetch(url, init)).json() as Promise<any>
const post = (url: string, body: unknown) =>
  json(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

const live = (app: string) =>
  fake.list('pods', NS).filter((p) => p.metadata.labels?.app === app && !p.metadata.deletionTimestamp)

async function deploy(name: string, replicas: number): Promise<void> {
  fake.create(build.deployment({ name, namespace: NS, replicas }))
  await fake.waitFor(() => live(name).length === replicas && live(name).every(isPodReady), { what: `${name} ready` })
}

const node1 = () => fake.get('nodes', undefined, 'node-1')!

it('a controller SIGKILLed holding pod, node, network and scale faults, restarted: all reverted, run aborted', async () => {
  await deploy('web', 2)
  await deploy('cache', 1)
  await deploy('api', 3)
  const first = await controller()
  await post(`${first.url}/experiments`, {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name: 'k8s-held' },
    spec: {
      targets: {
        web: { kubernetes: { namespaces: [NS], labelSelector: 'app=web', mode: 'all' } },
        cache: { kubernetes: { namespaces: [NS], labelSelector: 'app=cache', mode: 'all' } },
        workers: { kubernetes: { kind: 'node', nodes: ['node-1'], mode: 'all' } },
      },
      hypothesis: { title: 'the cluster copes', checks: [] },
      method: [
        {
          parallel: [
            { podFailure: { target: 'web', duration: '10m' } },
            { nodeCordon: { target: 'workers', duration: '10m' } },
            { networkPartition: { target: 'cache', duration: '10m' } },
            { scale: { workload: { kind: 'Deployment', namespace: NS, name: 'api' }, replicas: 1, duration: '10m' } },
          ],
        },
      ],
    },
  })
  const { runId } = await post(`${first.url}/runs`, { experiment: 'k8s-held' })
  expect(runId).toEqual(expect.any(String))
  // Kill it once the journal says every fault is applied (the API calls come first).
  await expect
    .poll(
      async () => {
        const j = await json(`${first.url}/runs/${runId}`)
        return (j.faults ?? []).filter((f: { appliedAt?: number }) => f.appliedAt).length
      },
      { timeout: 15_000, interval: 50 },
    )
    .toBe(4)
  first.child.kill('SIGKILL')
  await new Promise((r) => first.child.once('exit', r))

  // Everything is still in place: nothing in a cluster expires by itself.
  const images = () => live('web').map((p) => p.spec.containers[0].image)
  await fake.waitFor(() => live('web').length === 2 && images().every((i) => i.includes('pause')), {
    what: 'web pods paused',
  })
  expect(node1().spec.unschedulable).toBe(true)
  expect(fake.list('networkpolicies', NS)).toHaveLength(1)
  expect(live('cache')[0]!.metadata.labels?.[PARTITION_LABEL]).toBeDefined()
  expect(fake.get('deployments', NS, 'api')!.spec.replicas).toBe(1)

  // A controller on the same data reverts it all before it listens.
  const second = await controller()
  expect(images()).toEqual(['nginx:1.27', 'nginx:1.27'])
  for (const p of live('web')) {
    expect(p.metadata.annotations ?? {}).not.toHaveProperty(RUN_ID)
    expect(p.metadata.annotations ?? {}).not.toHaveProperty(ORIGINAL)
  }
  expect(node1().spec.unschedulable).toBeUndefined()
  expect(node1().metadata.annotations ?? {}).not.toHaveProperty(RUN_ID)
  expect(fake.list('networkpolicies', NS)).toEqual([])
  expect(live('cache')[0]!.metadata.labels ?? {}).not.toHaveProperty(PARTITION_LABEL)
  const api = fake.get('deployments', NS, 'api')!
  expect(api.spec.replicas).toBe(3)
  expect(api.metadata.annotations ?? {}).not.toHaveProperty(ORIGINAL)

  const journal = await json(`${second.url}/runs/${runId}`)
  expect(journal).toMatchObject({ status: 'aborted', verdict: 'inconclusive' })
  expect(journal.reason).toMatch(/controller stopped during the run/)
  for (const f of journal.faults) expect(f.revertedAt).toBeGreaterThan(f.appliedAt)
  expect(journal.timeline.at(-1).detail).toMatch(/recovered after a controller restart: reverted 4 fault placement/)
  second.child.kill('SIGTERM')
  expect(await new Promise((r) => second.child.once('exit', r))).toBe(0)
}, 30_000)
