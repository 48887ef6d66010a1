/**
 * Chaos Mesh and Litmus documents from the corpus, translated and run end to end: the fake
 * Kubernetes API server with the real client, real sidecars (the test's world, reached as the
 * fake pods' sidecars at 127.0.0.1), a real Prometheus for promProbe, real commands for
 * cmdProbe. Faults are applied and reverted, observation runs are inconclusive with their
 * measurements, probes give the verdicts, strict bounds stay strict.
 */
import http from 'node:http'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { readAnyExperiment } from '../../src/interop/registry.ts'
import { seededRandom } from '../../src/random.ts'
import { dataDir } from '../helpers/experiment.ts'
import { build, type FakeKube, isPodReady, staticStatusAnnotation, startFakeKube } from '../helpers/fake-kube/index.ts'
import { startPrometheus, type Prometheus } from '../helpers/prometheus.ts'
import { send, startWorld, type World } from '../helpers/world.ts'

const NS = 'shop'
const FIXTURES = path.join(import.meta.dirname, '../fixtures/interop')

let fake: FakeKube
let world: World | undefined
let prometheus: Prometheus | undefined
let server: http.Server | undefined

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
  await prometheus?.close()
  if (server) await new Promise((r) => server!.close(r))
  world = prometheus = server = undefined
  await fake.close()
})

function translate(file: string, vars: Record<string, string> = {}, edit?: (text: string) => string) {
  const text = readFileSync(path.join(FIXTURES, file), 'utf8')
  return readAnyExperiment(edit ? edit(text) : text, { file, env: {}, vars })
}

function run(file: string, vars: Record<string, string> = {}, edit?: (text: string) => string) {
  return runExperiment(translate(file, vars, edit).experiment, {
    dataDir: dataDir(),
    cluster: () => new Cluster(fake.kubeConfig()),
    random: seededRandom(7),
  })
}

/**
 * Pods whose sidecar is the test's world (at 127.0.0.1), left as written by the fake's kubelet.
 * One sidecar serves them all, so a document selecting every pod needs `count` 1 here (real pods
 * each have their own sidecar).
 */
async function sidecarPods(count = 2): Promise<Record<string, string>> {
  world = await startWorld()
  for (const name of ['sc-1', 'sc-2'].slice(0, count))
    fake.put({
      ...build.pod({ name, namespace: NS, labels: { app: 'sidecar' } }),
      metadata: { name, namespace: NS, labels: { app: 'sidecar' }, annotations: { [staticStatusAnnotation]: 'true' } },
      status: { phase: 'Running', podIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
    })
  return { SIDECAR_ADMIN_PORT: new URL(world.adminUrl).port }
}

/** Requests through the sidecar every 50 ms until stopped: what each got, and when. */
function traffic(url: string) {
  const seen: { at: number; status: number | 'error'; ms: number }[] = []
  let stop = false
  const loop = (async () => {
    while (!stop) {
      const at = Date.now()
      try {
        const r = await send(url)
        seen.push({ at, status: r.status, ms: r.ms })
      } catch {
        seen.push({ at, status: 'error', ms: Date.now() - at })
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  return {
    seen,
    async stop() {
      stop = true
      await loop
    },
  }
}

const images = () =>
  fake
    .list('pods', NS)
    .filter((p) => p.metadata.labels?.app === 'web')
    .map((p) => (p.spec as { containers: { image: string }[] }).containers[0]!.image)

describe('Chaos Mesh documents, end to end', () => {
  it('PodChaos pod-kill: one pod killed and replaced; an observation run, inconclusive, with measurements', async () => {
    const before = new Set(fake.list('pods', NS).map((p) => p.metadata.uid))
    const r = await run('chaosmesh/pod-kill.yaml')
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('inconclusive')
    expect(r.reason).toMatch(/^observation run: no hypothesis to judge; 1 observation\(s\) recorded/)
    expect(r.journal.faults[0]).toMatchObject({ kind: 'podKill', selection: { matched: 3, mode: 'one' } })
    expect(r.journal.faults[0]!.recoveryMs).toBeGreaterThan(0)
    const live = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp)
    expect(live.filter((p) => !before.has(p.metadata.uid))).toHaveLength(1)
    const obs = r.journal.checks['pod-kill-example-ready-pods']!
    expect(obs).toMatchObject({ kind: 'kubernetes', observation: true, result: 'inconclusive' })
    expect(obs.phases.map((p) => p.phase)).toEqual(['before', 'during', 'after'])
    expect(obs.samples.every((s) => s.outcome === 'observed' || s.outcome === 'nodata')).toBe(true)
    expect(obs.samples.find((s) => s.phase === 'before')!.value).toBe(3)
    expect(obs.phases[0]!.reason).toMatch(/^observed 1 of 1 sample\(s\): 3/)
  })

  it('PodChaos pod-failure: two pods run the pause image for the duration, then get their images back', async () => {
    const running = run('chaosmesh/pod-failure.yaml')
    await fake.waitFor(() => images().filter((i) => i.includes('pause')).length === 2, { what: 'two paused pods' })
    const r = await running
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('inconclusive')
    expect(r.journal.faults[0]).toMatchObject({ kind: 'podFailure', selection: { mode: 'fixed', value: 2 } })
    expect(r.journal.faults[0]!.revertedAt).toBeGreaterThan(r.journal.faults[0]!.appliedAt!)
    expect(images()).toEqual(['nginx:1.27', 'nginx:1.27', 'nginx:1.27'])
    for (const p of fake.list('pods', NS)) expect(p.metadata.annotations?.['faultline.io/original']).toBeUndefined()
  })

  it('NetworkChaos partition: a NetworkPolicy while it holds, none after', async () => {
    const running = run('chaosmesh/network-partition.yaml')
    const policy = await fake.waitFor(() => fake.list('networkpolicies', NS)[0], { what: 'the partition policy' })
    expect(policy.spec).toMatchObject({ policyTypes: ['Egress'] })
    const r = await running
    expect(r.status).toBe('completed')
    expect(r.journal.faults[0]).toMatchObject({ kind: 'networkPartition' })
    expect(fake.list('networkpolicies', NS)).toEqual([])
    expect(fake.list('pods', NS).filter((p) => p.metadata.labels?.['faultline.io/partition'])).toEqual([])
  })

  it('HTTPChaos abort: GET /echo/* on the selected pods sidecars is cut while it holds, and answers again after', async () => {
    const vars = await sidecarPods(1)
    const load = traffic(`${world!.proxyUrl}/echo/x`)
    const r = await run('chaosmesh/http-abort.yaml', vars)
    const revertedAt = r.journal.faults[0]!.revertedAt!
    await new Promise((res) => setTimeout(res, 300))
    await load.stop()
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('inconclusive')
    const fault = r.journal.faults[0]!
    expect(fault.kind).toBe('sidecar')
    const evidence = Object.values(fault.evidence ?? {})[0]!['test-http-chaos']!
    expect(evidence.injected).toBeGreaterThan(0)
    const during = load.seen.filter((s) => s.at > fault.appliedAt! + 100 && s.at < revertedAt - 100)
    expect(during.length).toBeGreaterThan(5)
    expect(during.every((s) => s.status === 'error')).toBe(true)
    expect(load.seen.filter((s) => s.at > revertedAt + 50).every((s) => s.status === 200)).toBe(true)
    expect((await world!.admin('GET', '/rules')).body.rules).toEqual([])
    // Observed from the sidecars: the aborted requests show as errors.
    const errorRate = r.journal.checks['test-http-chaos-errorrate']!
    expect(errorRate.samples.some((s) => s.phase === 'during' && s.outcome === 'observed' && s.value! > 0.5)).toBe(true)
  })

  it('HTTPChaos delay with no traffic: the observation run says the fault did not land', async () => {
    const vars = await sidecarPods()
    const r = await run('chaosmesh/http-delay.yaml', vars)
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('inconclusive')
    expect(r.reason).toMatch(
      /^observation run: no hypothesis to judge; 2 observation\(s\) recorded \(the fault did not land: /,
    )
    expect((await world!.admin('GET', '/rules')).body.rules).toEqual([])
  })

  it('Workflow: pod-failure, suspend, then partition and pod-kill in parallel; everything reverted', async () => {
    const r = await run('chaosmesh/workflow-serial-parallel.yaml')
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('inconclusive')
    expect(r.journal.faults.map((f) => f.kind).sort()).toEqual(['networkPartition', 'podFailure', 'podKill'])
    for (const f of r.journal.faults) expect(f.appliedAt).toBeGreaterThan(0)
    for (const f of r.journal.faults.filter((f) => f.kind !== 'podKill')) expect(f.revertedAt).toBeGreaterThan(0)
    expect(fake.list('networkpolicies', NS)).toEqual([])
    expect(images().every((i) => i === 'nginx:1.27')).toBe(true)
  })
})

describe('Chaos Mesh status checks, end to end', () => {
  /** A health endpoint whose answer the test sets. */
  async function health(): Promise<{ url: string; status: { code: number } }> {
    const status = { code: 200 }
    server = http.createServer((_req, res) => {
      res.statusCode = status.code
      res.end()
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/healthz`, status }
  }

  it('gate, guarded pod-failure and recovery check all pass: verdict pass', async () => {
    const { url } = await health()
    const r = await run('chaosmesh/workflow-status-check.yaml', { URL: url })
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('pass')
    expect(Object.entries(r.journal.checks).map(([n, c]) => [n, c.result])).toEqual(
      expect.arrayContaining([
        ['gate', 'pass'],
        ['recovered', 'pass'],
        ['guard', 'pass'],
      ]),
    )
    expect(r.journal.faults[0]).toMatchObject({ kind: 'podFailure' })
    expect(images().every((i) => i === 'nginx:1.27')).toBe(true)
  })

  it('the guard (abortWithStatusCheck) breaches while the pod is failed: the run aborts and the images come back', async () => {
    const { url, status } = await health()
    const running = run('chaosmesh/workflow-status-check.yaml', { URL: url })
    await fake.waitFor(() => images().some((i) => i.includes('pause')), { what: 'a paused pod' })
    status.code = 503
    const r = await running
    expect(r.status).toBe('aborted')
    expect(r.reason).toMatch(/^guardrail guard breached/)
    expect(r.journal.faults[0]!.revertedAt).toBeGreaterThan(0)
    expect(images().every((i) => i === 'nginx:1.27')).toBe(true)
  })
})

describe('Litmus documents, end to end', () => {
  it('pod-delete with a Continuous httpProbe: two rounds of force-deletes, the probe passes, verdict pass', async () => {
    server = http.createServer((_req, res) => res.end('ok'))
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/healthz`
    const r = await run('litmus/pod-delete-http-probe.yaml', { URL: url })
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('pass')
    expect(r.journal.faults.map((f) => f.kind)).toEqual(['podKill', 'podKill'])
    // Each round deleted one pod (round 2 may pick round 1's replacement) and waited for its replacement.
    const killed = r.journal.faults.map((f) => f.objects![0]!.uid)
    expect(new Set(killed).size).toBe(2)
    for (const f of r.journal.faults) expect(f.recoveryMs).toBeGreaterThan(0)
    const live = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp)
    expect(live.filter((p) => killed.includes(p.metadata.uid))).toEqual([])
    expect(live.filter(isPodReady)).toHaveLength(3)
    expect(r.journal.checks['check-frontend-access-url']!.phases.map((p) => [p.phase, p.result])).toEqual([
      ['before', 'pass'],
      ['during', 'pass'],
      ['after', 'pass'],
    ])
  })

  it('cmdProbe comparators: echo 5 passes "<= 5" and fails "< 5" (strict stays strict), so the verdict is fail', async () => {
    const r = await run('litmus/cmd-probes-strict.yaml')
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('fail')
    expect(r.reason).toBe('failed: five-below-five')
    expect(r.journal.checks['five-at-most-five']!.result).toBe('pass')
    expect(r.journal.checks['says-ok']!.result).toBe('pass')
    const strict = r.journal.checks['five-below-five']!
    expect(strict.result).toBe('fail')
    expect(strict.samples[0]).toMatchObject({ value: 5, outcome: 'fail' })
    expect(strict.samples[0]!.detail).toMatch(/not below 5/)
  })

  it('pod-http-status-code with an OnChaos httpProbe through the faulted sidecar: the probe sees 500, verdict fail; the rule is removed after', async () => {
    const vars = await sidecarPods()
    const r = await run('litmus/pod-http-status-code.yaml', { ...vars, URL: `${world!.proxyUrl}/echo/x` })
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('fail')
    const probe = r.journal.checks['front-answers-200']!
    expect(probe.result).toBe('fail')
    expect(probe.samples.some((s) => /status 500/.test(s.detail ?? ''))).toBe(true)
    expect((await world!.admin('GET', '/rules')).body.rules).toEqual([])
    const after = await send(`${world!.proxyUrl}/echo/x`)
    expect(after.status).toBe(200)
  })

  it('pod-http-latency with a promProbe on a real Prometheus: "< 1" fails on exactly 1, "<= 1" passes', async () => {
    const vars = await sidecarPods()
    prometheus = await startPrometheus([])
    const results: Record<string, { verdict: string; slowest: number }> = {}
    for (const criteria of ['<', '<='] as const) {
      const load = traffic(`${world!.proxyUrl}/echo/x`)
      const r = await run('litmus/pod-http-latency.yaml', { ...vars, PROM_URL: prometheus.url }, (t) =>
        t.replace("criteria: '<'", `criteria: '${criteria}'`),
      )
      await load.stop()
      expect(r.status).toBe('completed')
      const fault = r.journal.faults[0]!
      const during = load.seen.filter((s) => s.at > fault.appliedAt! + 50 && s.at < fault.revertedAt! - 300)
      results[criteria] = { verdict: r.verdict, slowest: Math.min(...during.map((s) => s.ms)) }
      expect(r.journal.checks['p95-below-a-second']!.samples.some((s) => s.value === 1)).toBe(true)
    }
    expect(results['<']!.verdict).toBe('fail')
    expect(results['<=']!.verdict).toBe('pass')
    // The latency was really injected: every request during the fault took its 200 ms.
    expect(results['<']!.slowest).toBeGreaterThanOrEqual(190)
    expect(results['<=']!.slowest).toBeGreaterThanOrEqual(190)
  }, 60_000)

  it('pod-cpu-hog with an Edge k8sProbe: every web pod gets the stress container, the pods stay present, verdict pass', async () => {
    const r = await run('litmus/pod-cpu-hog.yaml')
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('pass')
    expect(r.journal.faults[0]).toMatchObject({ kind: 'podStress', selection: { matched: 3, mode: 'all' } })
    for (const p of fake.list('pods', NS).filter((x) => x.metadata.labels?.app === 'web')) {
      // args only: the image's own entrypoint (faultline) runs them (pod-stress.ts).
      const eph =
        (p.spec as { ephemeralContainers?: { command?: string[]; args: string[] }[] }).ephemeralContainers ?? []
      expect(eph.map((e) => [e.command, e.args.join(' ')])).toEqual([
        [undefined, expect.stringMatching(/^stress --cpu 1 --load 80/)],
      ])
    }
    expect(r.journal.checks['web-pods-present']!.phases.map((p) => [p.phase, p.result])).toEqual([
      ['before', 'pass'],
      ['after', 'pass'],
    ])
  })

  it('node-drain: the node is cordoned and emptied of web pods while it holds, uncordoned after; the app is observed', async () => {
    const onNode = () =>
      fake
        .list('pods', NS)
        .filter((p) => !p.metadata.deletionTimestamp && (p.spec as { nodeName?: string }).nodeName === 'node-1')
    const drained = onNode().map((p) => p.metadata.uid)
    expect(drained.length).toBeGreaterThan(0)
    const running = run('litmus/node-drain.yaml')
    await fake.waitFor(
      () => (fake.get('nodes', undefined, 'node-1')!.spec as { unschedulable?: boolean }).unschedulable,
      {
        what: 'node-1 cordoned',
      },
    )
    const r = await running
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('inconclusive')
    expect(r.reason).toMatch(/^observation run/)
    expect(r.journal.faults[0]).toMatchObject({ kind: 'nodeDrain' })
    expect((fake.get('nodes', undefined, 'node-1')!.spec as { unschedulable?: boolean }).unschedulable).toBeFalsy()
    const ready = r.journal.checks['app-ready-pods']!
    expect(ready.observation).toBe(true)
    expect(ready.samples.filter((s) => s.outcome === 'observed').length).toBeGreaterThan(2)
    // The web pods that were on node-1 were evicted (their replacements ran elsewhere meanwhile).
    const uids = fake.list('pods', NS).map((p) => p.metadata.uid)
    expect(drained.filter((u) => uids.includes(u))).toEqual([])
  })

  it('node-taint: the labelled node carries the taint while it holds, and only its own taints after', async () => {
    fake.put(build.node('node-9', { pool: 'batch' }))
    const taints = () => (fake.get('nodes', undefined, 'node-9')!.spec as { taints?: { key: string }[] }).taints ?? []
    const running = run('litmus/node-taint.yaml')
    await fake.waitFor(() => taints().some((t) => t.key === 'faultline.io/chaos'), { what: 'the taint' })
    const r = await running
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('inconclusive')
    expect(r.journal.faults[0]).toMatchObject({ kind: 'nodeTaint' })
    expect(taints().some((t) => t.key === 'faultline.io/chaos')).toBe(false)
  })
})
