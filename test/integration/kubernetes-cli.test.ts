/**
 * The Kubernetes connection through the real CLI (bin/faultline.js) against the fake API server:
 * a bad --kubeconfig or --context is a usage error (exit 64) naming the flag, before a run
 * directory exists (run) or anything listens (controller); KUBECONFIG as a `:`-separated list is
 * read as kubectl reads it; and a dry run prints what it would hit and writes nothing.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.ts'
import { build, type FakeKube, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const NS = 'shop'
let fake: FakeKube
let dir: string
beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20, namespaces: [NS] })
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-k8s-cli-'))
})
afterEach(async () => {
  await fake.close()
})

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { cwd: dir, env: { ...process.env, KUBECONFIG: '', HOME: dir, ...env } })

/** An experiment file killing one pod of app=web. */
function podKillFile(): string {
  const file = path.join(dir, 'kill.json')
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'kill' },
      spec: {
        targets: { app: { kubernetes: { namespaces: [NS], labelSelector: 'app=web', mode: 'fixed', value: 2 } } },
        hypothesis: { title: 't', checks: [] },
        method: [{ name: 'kill two', podKill: { target: 'app' } }],
      },
    }),
  )
  return file
}

const data = () => path.join(dir, 'data')
const runDirs = () => (existsSync(path.join(data(), 'runs')) ? readdirSync(path.join(data(), 'runs')) : [])

describe('a bad kubeconfig is a usage error', () => {
  it('faultline run: a missing --kubeconfig, a file that is no kubeconfig, an unknown --context: exit 64, no run', async () => {
    const file = podKillFile()
    const missing = path.join(dir, 'missing.yaml')
    const r1 = await cli(['run', file, '--kubeconfig', missing, '--data', data()])
    expect(r1.code).toBe(64)
    expect(r1.stderr).toContain(`--kubeconfig cannot read ${missing}: ENOENT`)
    const garbage = path.join(dir, 'garbage.yaml')
    writeFileSync(garbage, 'clusters: [unclosed')
    const r2 = await cli(['run', file, '--kubeconfig', garbage, '--data', data()])
    expect(r2.code).toBe(64)
    expect(r2.stderr).toContain(`--kubeconfig ${garbage} is not a kubeconfig`)
    const r3 = await cli(['run', file, '--kubeconfig', fake.kubeconfigPath, '--context', 'prod', '--data', data()])
    expect(r3.code).toBe(64)
    expect(r3.stderr).toContain('--context no context "prod" in the kubeconfig: must be one of fake')
    // No kubeconfig anywhere (HOME is empty, no KUBECONFIG, not in a cluster).
    const r4 = await cli(['run', file, '--data', data()])
    expect(r4.code).toBe(64)
    expect(r4.stderr).toMatch(/--kubeconfig give --kubeconfig, set KUBECONFIG/)
    // --output json says the same in its one object.
    const r5 = await cli(['run', file, '--kubeconfig', missing, '--data', data(), '--output', 'json'])
    expect(r5.code).toBe(64)
    expect(JSON.parse(r5.stdout)).toMatchObject({
      ok: false,
      exitCode: 64,
      status: 'usage',
      issues: [{ path: '--kubeconfig', message: `cannot read ${missing}: ENOENT` }],
    })
    expect(runDirs()).toEqual([])
    expect(fake.requests).toEqual([])
  })

  it('faultline controller --kubeconfig or --context that cannot be used: exit 64 before it listens', async () => {
    const missing = path.join(dir, 'missing.yaml')
    const r1 = await cli(['controller', '--listen', '127.0.0.1:0', '--data', data(), '--kubeconfig', missing])
    expect(r1.code).toBe(64)
    expect(r1.stderr).toContain(`--kubeconfig cannot read ${missing}: ENOENT`)
    expect(r1.out).not.toContain('controller listening')
    const r2 = await cli(['controller', '--listen', '127.0.0.1:0', '--data', data()], {
      FAULTLINE_KUBECONFIG: fake.kubeconfigPath,
      FAULTLINE_KUBE_CONTEXT: 'prod',
    })
    expect(r2.code).toBe(64)
    expect(r2.stderr).toContain('--context no context "prod"')
  })

  it('a run without Kubernetes never reads a kubeconfig: a broken KUBECONFIG does not matter', async () => {
    const file = path.join(dir, 'plain.json')
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'faultline/v1',
        kind: 'Experiment',
        metadata: { name: 'plain' },
        spec: {
          targets: { app: { sidecars: ['http://127.0.0.1:9'] } },
          hypothesis: { title: 't', checks: [] },
          method: [{ wait: '10ms' }],
        },
      }),
    )
    const r = await cli(['run', file, '--data', data(), '--dry-run'], { KUBECONFIG: path.join(dir, 'missing') })
    // The listed sidecar does not answer: errored (3), not a usage error about a kubeconfig.
    expect(r.code).toBe(3)
    expect(r.out).not.toMatch(/kubeconfig/i)
  })
})

describe('KUBECONFIG through the CLI', () => {
  it('a :-separated list with a missing file and the fake: the run reaches the fake', async () => {
    fake.create(build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
    await fake.waitFor(() => fake.list('pods', NS).filter(isPodReady).length === 3)
    const list = [path.join(dir, 'missing'), fake.kubeconfigPath].join(path.delimiter)
    const r = await cli(['run', podKillFile(), '--data', data(), '--dry-run'], { KUBECONFIG: list })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(2) // a dry run is never a pass of a hypothesis without checks
    expect(r.out).toMatch(/\[dry run\] kill two: would delete 2 pod\(s\)/)
  })
})

describe('faultline run --dry-run against the fake', () => {
  it('prints every object each step would hit, the pods a drain would evict, once each, and writes nothing', async () => {
    fake.create(build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
    fake.create(build.deployment({ name: 'api', namespace: NS, replicas: 2 }))
    await fake.waitFor(() => fake.list('pods', NS).filter(isPodReady).length === 5)
    const file = path.join(dir, 'dry.json')
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'faultline/v1',
        kind: 'Experiment',
        metadata: { name: 'dry' },
        spec: {
          targets: {
            web: { kubernetes: { namespaces: [NS], labelSelector: 'app=web', mode: 'fixed', value: 2 } },
            node: { kubernetes: { kind: 'node', nodes: ['node-1'] } },
          },
          hypothesis: { title: 't', checks: [] },
          method: [
            { name: 'kill', podKill: { target: 'web' } },
            { name: 'fail', podFailure: { target: 'web', duration: '100ms' } },
            { name: 'cut', networkPartition: { target: 'web', duration: '100ms' } },
            { name: 'drain', nodeDrain: { target: 'node', duration: '100ms' } },
            {
              name: 'shrink',
              scale: { workload: { kind: 'Deployment', namespace: NS, name: 'api' }, replicas: 0, duration: '100ms' },
            },
          ],
        },
      }),
    )
    const before = JSON.stringify(fake.list('pods', NS)) + JSON.stringify(fake.list('nodes'))
    const r = await cli([
      'run',
      file,
      '--kubeconfig',
      fake.kubeconfigPath,
      '--data',
      data(),
      '--dry-run',
      '--seed',
      '7',
    ])
    expect(r.stderr).toBe('')
    const line = (step: string) => r.out.split('\n').find((l) => l.startsWith(`  [dry run] ${step}: would `))!
    const names = (l: string) => l.match(/shop\/[a-z0-9-]+/g) ?? []
    for (const step of ['kill', 'fail', 'cut']) {
      expect(names(line(step))).toHaveLength(2)
      expect(new Set(names(line(step))).size).toBe(2)
    }
    const onNode1 = fake
      .list('pods', NS)
      .filter((p) => p.spec.nodeName === 'node-1')
      .map((p) => `${NS}/${p.metadata.name}`)
      .sort()
    expect(onNode1.length).toBeGreaterThan(0)
    expect(line('drain')).toContain(`drain node(s) node-1 (`)
    expect(line('drain')).toContain(`would evict ${onNode1.length} pod(s): ${onNode1.join(', ')}`)
    expect(line('drain')).not.toMatch(/ on node-1$/)
    expect(line('shrink')).toMatch(/^ {2}\[dry run\] shrink: would scale Deployment shop\/api from 2 to 0 replica\(s\)/)
    expect(r.out).toMatch(/INCONCLUSIVE \(completed\): /)
    expect(fake.requests.filter((q) => q.method !== 'GET')).toEqual([])
    expect(JSON.stringify(fake.list('pods', NS)) + JSON.stringify(fake.list('nodes'))).toBe(before)
  })
})
