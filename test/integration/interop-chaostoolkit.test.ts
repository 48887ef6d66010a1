/**
 * Chaos Toolkit documents from test/fixtures/interop/chaostoolkit run end to end through
 * readAnyExperiment and the real runner: against a local HTTP service (real socket), local
 * processes, and the fake Kubernetes API server for the chaosk8s ones. Verdicts, rollbacks,
 * faults applied and reverted, Chaos Toolkit's journal shape, and refusals by path.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { exitCodeOf, runExperiment } from '../../controller/experiments/runner.ts'
import { CTK_JOURNAL_FILE } from '../../controller/interop/journals.ts'
import { FaultlineError } from '../../src/errors.ts'
import { readAnyExperiment } from '../../src/interop/registry.ts'
import { seededRandom } from '../../src/random.ts'
import { dataDir } from '../helpers/experiment.ts'
import { startWorld } from '../helpers/world.ts'
import { build, type FakeKube, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const FIXTURES = path.join(import.meta.dirname, '../fixtures/interop/chaostoolkit')

/** A small service whose health the method can break and a rollback can fix; it counts every call. */
interface App {
  url: string
  calls: string[]
  broken: boolean
  bodies: Record<string, string>
  server: Server
}

async function startApp(): Promise<App> {
  const app = { calls: [] as string[], broken: false, bodies: {} as Record<string, string> } as App
  app.server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const route = `${req.method} ${req.url}`
      app.calls.push(route)
      app.bodies[route] = body
      if (req.url === '/break') app.broken = true
      if (req.url === '/fix' || req.url === '/reset') app.broken = false
      if (req.url === '/version') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ version: '1.2.3' }))
      }
      if (req.url === '/greeting') return res.end('hello there')
      if (req.url === '/health') res.writeHead(app.broken ? 503 : 200)
      res.end('ok')
    })
  })
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r))
  app.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return app
}

/** A port nothing listens on: bound, then closed. */
async function deadUrl(): Promise<string> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return `http://127.0.0.1:${port}`
}

const read = (file: string, env: Record<string, string> = {}) =>
  readAnyExperiment(readFileSync(path.join(FIXTURES, file), 'utf8'), { file, env, vars: {} })

const ctkJournal = (dir: string) => JSON.parse(readFileSync(path.join(dir, CTK_JOURNAL_FILE), 'utf8'))

describe('Chaos Toolkit documents against local services and processes', () => {
  let app: App
  beforeEach(async () => {
    app = await startApp()
  })
  afterEach(async () => {
    await new Promise((r) => app.server.close(r))
  })

  it('http-steady.json passes: hypothesis before and after, the method in order, the rollback last', async () => {
    const t = read('http-steady.json', { APP_URL: app.url })
    expect(t.format).toBe('chaostoolkit')
    const r = await runExperiment(t.experiment, { dataDir: dataDir() })
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('pass')
    expect(exitCodeOf(r)).toBe(0)
    // before (3 probes), the method's POST, after (3 probes), then the rollback.
    expect(app.calls).toEqual([
      'GET /health',
      'GET /greeting',
      'GET /version',
      'POST /poke',
      'GET /health',
      'GET /greeting',
      'GET /version',
      'POST /reset',
    ])
    expect(JSON.parse(app.bodies['POST /poke']!)).toEqual({ strength: 3 })
    const j = ctkJournal(r.dir)
    expect(j).toMatchObject({ status: 'completed', deviated: false, node: expect.any(String) })
    for (const k of [
      'chaoslib-version',
      'platform',
      'experiment',
      'start',
      'end',
      'duration',
      'steady_states',
      'run',
      'rollbacks',
    ])
      expect(j).toHaveProperty(k)
    expect(j.experiment.title).toBe('The service stays healthy while we poke it')
    expect(j.steady_states.before).toMatchObject({ steady_state_met: true })
    expect(j.steady_states.before.probes).toHaveLength(3)
    expect(j.steady_states.after.probes.map((p: { tolerance_met: boolean }) => p.tolerance_met)).toEqual([
      true,
      true,
      true,
    ])
    expect(j.run.map((x: { activity: { name: string }; status: string }) => [x.activity.name, x.status])).toEqual([
      ['log-the-poke', 'succeeded'],
      ['list-the-files', 'succeeded'],
    ])
    expect(j.run[0].output.status).toBe(200)
    expect(j.run[1].output.stdout).toContain('.')
    expect(j.rollbacks[0]).toMatchObject({ activity: { name: 'reset-the-service' }, status: 'succeeded' })
    for (const x of [...j.run, ...j.rollbacks]) expect(typeof x.duration).toBe('number')
  })

  it('http-deviates.yaml fails (exit 1): the after-check deviates, the rollback still repairs', async () => {
    const t = read('http-deviates.yaml', { APP_URL: app.url })
    const r = await runExperiment(t.experiment, { dataDir: dataDir() })
    expect(r.status).toBe('completed')
    expect(r.verdict).toBe('fail')
    expect(exitCodeOf(r)).toBe(1)
    expect(app.calls).toEqual(['GET /health', 'POST /break', 'GET /health', 'POST /fix'])
    expect(app.broken).toBe(false)
    const j = ctkJournal(r.dir)
    expect(j).toMatchObject({ status: 'completed', deviated: true })
    expect(j.steady_states.after).toMatchObject({ steady_state_met: false })
    expect(j.rollbacks[0]).toMatchObject({ activity: { name: 'fix-it' }, status: 'succeeded' })
  })

  it('probe-errors.json: a probe that errors in the first check aborts before the method', async () => {
    const t = read('probe-errors.json', { APP_URL: app.url, DEAD_URL: await deadUrl() })
    const r = await runExperiment(t.experiment, { dataDir: dataDir() })
    expect(r.status).toBe('aborted')
    expect(r.verdict).not.toBe('pass')
    expect(exitCodeOf(r)).not.toBe(0)
    expect(app.calls).not.toContain('POST /break')
    expect(app.calls[0]).toBe('GET /health')
    expect(r.journal.checks.dead!.phases[0]).toMatchObject({ phase: 'before', result: 'fail' })
    const j = ctkJournal(r.dir)
    expect(j.status).toBe('failed')
    expect(j.run).toEqual([])
    expect(j.steady_states.before.probes[1]).toMatchObject({ status: 'failed', tolerance_met: false })
    expect(j.steady_states.after).toBeNull()
  })

  it('process.yaml: exit-code, range and stdout tolerances; the action and the rollback run', async () => {
    const marker = path.join(tmpdir(), `faultline-ctk-marker-${process.pid}-${Date.now()}`)
    const t = read('process.yaml', { MARKER_FILE: marker })
    const r = await runExperiment(t.experiment, { dataDir: dataDir() })
    expect(r.verdict).toBe('pass')
    expect(r.journal.calls!.map((c) => [c.key, c.status])).toEqual([
      ['method/1', 'succeeded'],
      ['rollbacks/0', 'succeeded'],
    ])
    expect(existsSync(marker)).toBe(false)
    const j = ctkJournal(r.dir)
    expect(j.run[0]).toMatchObject({ activity: { name: 'write-the-marker' }, output: { status: 0 } })
  })
})

describe('Chaos Toolkit driving a faultline sidecar in front of the sample app', () => {
  it('sidecar-abort.yaml deviates (exit 1): the abort rule is seen by the second check, the rollback removes it', async () => {
    const world = await startWorld()
    try {
      const t = read('sidecar-abort.yaml', { PROXY_URL: world.proxyUrl, ADMIN_URL: world.adminUrl })
      const r = await runExperiment(t.experiment, { dataDir: dataDir() })
      expect(r.verdict).toBe('fail')
      expect(exitCodeOf(r)).toBe(1)
      expect(r.journal.checks['front-page-ok']!.phases.map((p) => p.result)).toEqual(['pass', 'fail'])
      expect(r.journal.calls!.map((c) => [c.step, c.status, (c.output as { status: number }).status])).toEqual([
        ['abort-the-front-page', 'succeeded', 201],
        ['remove-the-abort', 'succeeded', 200],
      ])
      expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
      const j = ctkJournal(r.dir)
      expect(j).toMatchObject({ status: 'completed', deviated: true })
      expect(j.steady_states.after.probes).toHaveLength(1)
    } finally {
      await world.close()
    }
  })
})

describe('Chaos Toolkit refusals', () => {
  const refusal = (file: string) => {
    try {
      read(file)
    } catch (err) {
      expect(err).toBeInstanceOf(FaultlineError)
      expect((err as FaultlineError).code).toBe('FL_ERR_EXPERIMENT_INVALID')
      return (err as FaultlineError).issues!
    }
    throw new Error(`${file} was not refused`)
  }

  it('an unknown python module and an unknown chaosk8s function are named by path', () => {
    const issues = refusal('unknown-python.json')
    expect(issues.map((i) => i.path)).toEqual(['/method/0/provider/module', '/method/1/provider/func'])
    expect(issues[0]!.message).toContain('chaosaws.ec2.actions')
    expect(issues[1]!.message).toContain('chaosk8s.pod.actions.exec_in_pods')
  })

  it('an unknown provider type and a safeguards control are refused by path', () => {
    const issues = refusal('unknown-provider.yaml')
    expect(issues.map((i) => i.path).sort()).toEqual(['/controls/0', '/steady-state-hypothesis/probes/0/provider/type'])
  })
})

describe('chaosk8s documents against the fake Kubernetes API server', () => {
  let fake: FakeKube
  beforeAll(async () => {
    fake = await startFakeKube({ readyDelayMs: 50, terminationDelayMs: 20, namespaces: ['shop'] })
  })
  afterAll(async () => {
    await fake.close()
  })
  const webPods = () =>
    fake.list('pods', 'shop').filter((p) => p.metadata.labels?.app === 'web' && !p.metadata.deletionTimestamp)

  beforeEach(async () => {
    if (!fake.list('deployments', 'shop').length)
      fake.create(build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    await fake.waitFor(() => webPods().length === 3 && webPods().every(isPodReady))
  })

  const run = (file: string) =>
    runExperiment(read(file).experiment, {
      dataDir: dataDir(),
      cluster: () => new Cluster(fake.kubeConfig()),
      random: seededRandom(7),
    })

  it('k8s-terminate-pods.json: one pod deleted, the hypothesis holds before and after', async () => {
    const before = webPods().map((p) => p.metadata.name)
    const r = await run('k8s-terminate-pods.json')
    expect(r.journal.faults).toHaveLength(1)
    expect(r.journal.faults[0]).toMatchObject({ kind: 'podKill', selection: { matched: 3, mode: 'fixed', value: 1 } })
    expect(before.filter((n) => !webPods().some((p) => p.metadata.name === n))).toHaveLength(1)
    expect(r.verdict).toBe('pass')
    expect(ctkJournal(r.dir).run[0]).toMatchObject({ activity: { name: 'terminate-one-web-pod' }, status: 'succeeded' })
  })

  it('k8s-drain-deny.json: drain and NetworkPolicy stand through the after-check, then are undone; rollbacks recorded', async () => {
    if (!fake.get('deployments', 'shop', 'db'))
      fake.create(build.deployment({ name: 'db', namespace: 'shop', replicas: 1 }))
    // Every pod of the namespace Running and Ready (the hypothesis checks all of them), none on its way out.
    await fake.waitFor(() => {
      const all = fake.list('pods', 'shop')
      return all.length === 4 && all.every((p) => isPodReady(p) && !p.metadata.deletionTimestamp)
    })
    const r = await run('k8s-drain-deny.json')
    expect(r.reason).toBeUndefined()
    expect(r.journal.faults.map((f) => f.kind)).toEqual(['nodeDrain', 'networkPartition'])
    const after = r.journal.checks['microservices-healthy']!.samples.find((s) => s.phase === 'after')!
    for (const f of r.journal.faults) {
      expect(f.error).toBeUndefined()
      expect(f.appliedAt!).toBeLessThan(after.at)
      expect(f.revertedAt!).toBeGreaterThan(after.at)
    }
    expect(fake.list('networkpolicies', 'shop')).toEqual([])
    expect(fake.get('nodes', undefined, 'node-2')!.spec.unschedulable ?? false).toBe(false)
    expect(r.verdict).toBe('pass')
    const j = ctkJournal(r.dir)
    expect(j).toMatchObject({ status: 'completed', deviated: false })
    expect(j.run.map((x: { activity: { name: string } }) => x.activity.name)).toEqual(['drain-node-2', 'cut-off-db'])
    expect(j.rollbacks.map((x: { status: string }) => x.status)).toEqual(['succeeded', 'succeeded'])
  })

  it('k8s-scale-cordon.yaml: scale and cordon stand through the after-check, then are reverted; rollbacks recorded', async () => {
    const r = await run('k8s-scale-cordon.yaml')
    expect(r.journal.faults.map((f) => f.kind)).toEqual(['scale', 'nodeCordon'])
    for (const f of r.journal.faults) expect(f.revertedAt).toBeGreaterThan(0)
    // The after-check ran while both faults were still applied (Chaos Toolkit's order).
    const after = r.journal.checks['web-healthy']!.samples.find((s) => s.phase === 'after')!
    for (const f of r.journal.faults) expect(f.revertedAt!).toBeGreaterThan(after.at)
    expect(fake.get('deployments', 'shop', 'web')!.spec.replicas).toBe(3)
    expect(fake.get('nodes', undefined, 'node-1')!.spec.unschedulable ?? false).toBe(false)
    const j = ctkJournal(r.dir)
    expect(j.rollbacks.map((x: { activity: { name: string }; status: string }) => [x.activity.name, x.status])).toEqual(
      [
        ['uncordon-node-1', 'succeeded'],
        ['scale-web-back', 'succeeded'],
      ],
    )
    expect(r.verdict).toBe('pass')
  })
})
