/**
 * The shipped Kubernetes examples run through the real CLI (`faultline run FILE --kubeconfig
 * --var ...`) against the fake API server, like the pod-kill example in kubernetes-e2e.test.ts:
 * - pod-failure.yaml as shipped: one pod runs the pause image (goes NotReady) for 10 s, then its
 *   images are back and faultline's annotations gone; PASS;
 * - node-drain.yaml and pod-delete-http-probe.yaml with only their waits shortened (a 60 s hold
 *   and 5 s pauses; the rest verbatim, and the test fails if those lines change): the drain
 *   evicts the node's pods, they come back elsewhere, the node is uncordoned; the pod deletes
 *   happen three times while a real HTTP service answers the probe.
 * Each test has its own fake and runs concurrently with the others (most of it is waiting).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ORIGINAL, RUN_ID } from '../../controller/drivers/kubernetes/ownership.ts'
import { startSampleApp } from '../../examples/sample-app.ts'
import { runCli } from '../helpers/cli.ts'
import { build, type FakeKube, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const NS = 'shop'

const cli = (args: string[]) => runCli(args)

const live = (fake: FakeKube, app: string) =>
  fake.list('pods', NS).filter((p) => p.metadata.labels?.app === app && !p.metadata.deletionTimestamp)

async function cluster(replicas: number): Promise<FakeKube> {
  const fake = await startFakeKube({ readyDelayMs: 50, terminationDelayMs: 30, namespaces: [NS] })
  fake.create(build.deployment({ name: 'web', namespace: NS, replicas }))
  await fake.waitFor(() => live(fake, 'web').length === replicas && live(fake, 'web').every(isPodReady))
  return fake
}

/** The example with `from` replaced by `to` (each must occur), written to a temp file. */
function shortened(example: string, edits: [string, string][]): string {
  let text = readFileSync(path.join(ROOT, 'examples/kubernetes', example), 'utf8')
  for (const [from, to] of edits) {
    expect(text, `${example} no longer contains "${from}"`).toContain(from)
    text = text.replaceAll(from, to)
  }
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'faultline-example-')), example)
  writeFileSync(file, text)
  return file
}

function journalOf(data: string): any {
  const runs = readdirSync(path.join(data, 'runs'))
  expect(runs).toHaveLength(1)
  return JSON.parse(readFileSync(path.join(data, 'runs', runs[0]!, 'journal.json'), 'utf8'))
}

const dataDir = () => mkdtempSync(path.join(tmpdir(), 'faultline-k8s-example-'))

describe.concurrent('the Kubernetes examples through the CLI', () => {
  it('pod-failure.yaml as shipped: one pod paused for 10 s, then restored and unannotated: PASS', async () => {
    const fake = await cluster(3)
    try {
      const data = dataDir()
      const images = () => live(fake, 'web').map((p) => p.spec.containers[0].image)
      const run = cli([
        'run',
        'examples/kubernetes/pod-failure.yaml',
        '--kubeconfig',
        fake.kubeconfigPath,
        '--var',
        `NAMESPACE=${NS}`,
        '--var',
        'APP=web',
        '--data',
        data,
        '--seed',
        '3',
      ])
      // During the fault exactly one pod runs the pause image and is not Ready.
      const paused = await fake.waitFor(
        () => {
          const p = live(fake, 'web').filter((x) => x.spec.containers[0].image.includes('pause'))
          return p.length === 1 && !isPodReady(p[0]!) && p[0]!
        },
        { timeoutMs: 20_000, what: 'one pod paused and NotReady' },
      )
      expect(paused.metadata.annotations?.[ORIGINAL]).toBeDefined()
      const r = await run
      expect(r.out).toMatch(/PASS \(completed\)/)
      expect(r.code).toBe(0)
      expect(images()).toEqual(['nginx:1.27', 'nginx:1.27', 'nginx:1.27'])
      for (const p of live(fake, 'web')) {
        expect(p.metadata.annotations ?? {}).not.toHaveProperty(RUN_ID)
        expect(p.metadata.annotations ?? {}).not.toHaveProperty(ORIGINAL)
      }
      const j = journalOf(data)
      expect(j.faults[0]).toMatchObject({ kind: 'podFailure', selection: { matched: 3, mode: 'one' } })
      expect(j.faults[0].on).toEqual([`${NS}/${paused.metadata.name}`])
      const held = j.faults[0].revertedAt - j.faults[0].appliedAt
      expect(held).toBeGreaterThanOrEqual(10_000)
      expect(held).toBeLessThan(15_000)
    } finally {
      await fake.close()
    }
  }, 40_000)

  it('node-drain.yaml (hold shortened): the node is drained, its pods come back elsewhere, it is uncordoned: PASS', async () => {
    const fake = await cluster(4)
    try {
      const data = dataDir()
      const file = shortened('node-drain.yaml', [
        ['duration: 60s', 'duration: 1s'],
        ['interval: 2s', 'interval: 200ms'],
      ])
      const onNode1 = live(fake, 'web').filter((p) => p.spec.nodeName === 'node-1')
      expect(onNode1.length).toBeGreaterThan(0)
      const r = await cli([
        'run',
        file,
        '--kubeconfig',
        fake.kubeconfigPath,
        '--var',
        'NODE_SELECTOR=kubernetes.io/hostname=node-1',
        '--var',
        `NAMESPACE=${NS}`,
        '--var',
        'APP=web',
        '--data',
        data,
      ])
      expect(r.out).toMatch(/PASS \(completed\)/)
      expect(r.code).toBe(0)
      // The drained node's pods were evicted and replaced; none is left on it; it is schedulable again.
      const uids = new Set(live(fake, 'web').map((p) => p.metadata.uid))
      for (const p of onNode1) expect(uids.has(p.metadata.uid)).toBe(false)
      expect(live(fake, 'web')).toHaveLength(4)
      expect(live(fake, 'web').filter((p) => p.spec.nodeName === 'node-1')).toEqual([])
      const node = fake.get('nodes', undefined, 'node-1')!
      expect(node.spec.unschedulable).toBeUndefined()
      expect(node.metadata.annotations ?? {}).not.toHaveProperty(RUN_ID)
      const j = journalOf(data)
      expect(j.faults[0]).toMatchObject({ kind: 'nodeDrain', on: ['node-1'] })
      expect(j.timeline.find((e: { type: string }) => e.type === 'applied').detail).toContain(
        `evicted ${onNode1.length} pod(s)`,
      )
    } finally {
      await fake.close()
    }
  }, 40_000)

  it('pod-delete-http-probe.yaml (pauses shortened): three force deletes while the HTTP probe passes: PASS', async () => {
    const fake = await cluster(3)
    const app = await startSampleApp()
    try {
      const data = dataDir()
      const file = shortened('pod-delete-http-probe.yaml', [['wait: 5s', 'wait: 100ms']])
      const before = new Set(live(fake, 'web').map((p) => p.metadata.uid))
      const r = await cli([
        'run',
        file,
        '--kubeconfig',
        fake.kubeconfigPath,
        '--var',
        `NAMESPACE=${NS}`,
        '--var',
        'APP=web',
        '--var',
        `URL=${app.url}/healthz`,
        '--data',
        data,
        '--seed',
        '11',
      ])
      expect(r.out).toMatch(/PASS \(completed\)/)
      expect(r.code).toBe(0)
      const j = journalOf(data)
      expect(j.faults.map((f: { kind: string }) => f.kind)).toEqual(['podKill', 'podKill', 'podKill'])
      for (const f of j.faults) expect(f.recoveryMs).toBeGreaterThan(0)
      // Three pods deleted (each round picks among the pods then), three replacements now.
      const now = live(fake, 'web')
      expect(now).toHaveLength(3)
      expect(now.filter((p) => !before.has(p.metadata.uid)).length).toBeGreaterThanOrEqual(1)
      const samples = j.checks['http-probe'].samples
      expect([...new Set(samples.map((s: { phase: string }) => s.phase))]).toEqual(['before', 'during', 'after'])
      expect(samples.every((s: { outcome: string }) => s.outcome === 'pass')).toBe(true)
    } finally {
      await app.close()
      await fake.close()
    }
  }, 40_000)
})
