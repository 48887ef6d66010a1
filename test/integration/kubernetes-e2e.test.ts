/**
 * The Kubernetes path end to end against the fake API server: the real CLI running the shipped
 * example with --kubeconfig, sidecar faults reaching a Kubernetes target's sidecars by pod IP,
 * nothing matched (nothing touched, inconclusive), guards refusing before anything is touched,
 * and a dry run printing exactly which objects would be hit.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { seededRandom } from '../../src/random.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'
import { runCli } from '../helpers/cli.ts'
import { build, type FakeKube, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

/** The fake's kubelet leaves a pod with this annotation exactly as the test wrote it. */
const STATIC_STATUS = 'fake-kube.faultline.io/static-status'
import { startWorld, type World } from '../helpers/world.ts'

const NS = 'shop'

let fake: FakeKube
let world: World | undefined
beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 60, terminationDelayMs: 30, namespaces: [NS] })
  fake.create(build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
  await fake.waitFor(() => {
    const pods = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp)
    return pods.length === 3 && pods.every(isPodReady)
  })
})
afterEach(async () => {
  await world?.close()
  world = undefined
  await fake.close()
})

const run = (spec: Record<string, unknown>, o: { dryRun?: boolean; progress?: (l: string) => void } = {}) =>
  runExperiment(experiment(spec), {
    dataDir: dataDir(),
    cluster: () => new Cluster(fake.kubeConfig()),
    random: seededRandom(3),
    dryRun: o.dryRun,
    progress: o.progress,
  })

const cli = (args: string[]) => runCli(args)

describe('Kubernetes end to end', () => {
  it('faultline run examples/kubernetes/pod-kill.yaml --kubeconfig passes on a healthy 3-replica Deployment', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'faultline-k8s-'))
    const before = new Set(fake.list('pods', NS).map((p) => p.metadata.uid))
    const r = await cli([
      'run',
      'examples/kubernetes/pod-kill.yaml',
      '--kubeconfig',
      fake.kubeconfigPath,
      '--var',
      `NAMESPACE=${NS}`,
      '--var',
      'APP=web',
      '--data',
      data,
      '--seed',
      '5',
    ])
    expect(r.out).toMatch(/PASS \(completed\)/)
    expect(r.code).toBe(0)
    const now = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp)
    expect(now.filter((p) => !before.has(p.metadata.uid))).toHaveLength(1)
    const runDir = path.join(data, 'runs', readdirSync(path.join(data, 'runs'))[0]!)
    const journal = JSON.parse(readFileSync(path.join(runDir, 'journal.json'), 'utf8'))
    expect(journal.faults[0]).toMatchObject({ kind: 'podKill', selection: { matched: 3, mode: 'one' } })
    expect(journal.faults[0].recoveryMs).toBeGreaterThan(0)
  }, 60_000)

  it('a sidecar fault on a Kubernetes target reaches the selected pods sidecars by pod IP', async () => {
    world = await startWorld()
    const adminPort = Number(new URL(world.adminUrl).port)
    // Pods whose status the fake leaves alone, all at 127.0.0.1 (where the test's sidecar is): a
    // test never sends anything to the fake's generated pod addresses.
    for (const name of ['sc-1', 'sc-2'])
      fake.put({
        ...build.pod({ name, namespace: NS, labels: { app: 'sidecar' } }),
        metadata: { name, namespace: NS, labels: { app: 'sidecar' }, annotations: { [STATIC_STATUS]: 'true' } },
        status: { phase: 'Running', podIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
      })
    const r = await run({
      targets: {
        app: {
          kubernetes: { namespaces: [NS], labelSelector: 'app=sidecar', mode: 'one', sidecarAdminPort: adminPort },
        },
      },
      load: { url: `${world.proxyUrl}/echo/x`, rate: 50, connections: 2 },
      hypothesis: { title: 'errors are injected', checks: [] },
      method: [
        { sidecarFault: { target: 'app', duration: '1500ms', rules: [{ id: 'boom', abort: { status: 503 } }] } },
      ],
    })
    expect(r.status).toBe('completed')
    expect(r.journal.targets.app!.kubernetes).toMatchObject({ matched: 2, selected: [{ kind: 'Pod', namespace: NS }] })
    expect(r.journal.faults[0]!.acknowledged).toEqual({ [`http://127.0.0.1:${adminPort}`]: expect.any(Number) })
    const injected = Object.values(r.journal.faults[0]!.evidence ?? {})[0]?.boom?.injected ?? 0
    expect(injected).toBeGreaterThan(0)
    expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
  })

  it('nothing matched: nothing touched, inconclusive', async () => {
    const requestsBefore = fake.requests.filter((q) => q.method !== 'GET').length
    const r = await run({
      targets: { app: { kubernetes: { namespaces: [NS], labelSelector: 'app=nothing' } } },
      hypothesis: { title: 't', checks: [] },
      method: [{ podKill: { target: 'app' } }],
    })
    expect(r.verdict).toBe('inconclusive')
    expect(r.reason).toBe(
      'target app resolved to no pods (namespaces shop; labelSelector app=nothing): nothing was touched',
    )
    expect(r.journal.faults).toEqual([])
    expect(fake.requests.filter((q) => q.method !== 'GET').length).toBe(requestsBefore)
  })

  it('a protected namespace is refused before anything is touched', async () => {
    const r = await run({
      targets: { sys: { kubernetes: { namespaces: ['kube-system'], labelSelector: 'k8s-app=kube-dns' } } },
      hypothesis: { title: 't', checks: [] },
      method: [{ podKill: { target: 'sys' } }],
    })
    expect(r.status).toBe('errored')
    expect(r.journal.errorCode).toBe('FL_ERR_TARGET_PROTECTED')
    expect(r.journal.faults).toEqual([])
  })

  it('a dry run prints exactly which pods would be hit, and deletes nothing', async () => {
    const lines: string[] = []
    const uids = fake
      .list('pods', NS)
      .map((p) => p.metadata.uid)
      .sort()
    const r = await run(
      {
        targets: { app: { kubernetes: { namespaces: [NS], labelSelector: 'app=web', mode: 'fixed', value: 2 } } },
        hypothesis: { title: 't', checks: [] },
        method: [{ name: 'kill two', podKill: { target: 'app' } }],
      },
      { dryRun: true, progress: (l) => lines.push(l) },
    )
    expect(r.status).toBe('completed')
    const line = lines.find((l) => l.includes('[dry run] kill two'))!
    const named = r.journal.faults[0]!.on
    expect(named).toHaveLength(2)
    for (const n of named) expect(line).toContain(n)
    expect(
      fake
        .list('pods', NS)
        .map((p) => p.metadata.uid)
        .sort(),
    ).toEqual(uids)
  })
})
