/**
 * Pod selection against the fake API server with the real client-node: the namespace opt-in
 * (`requireOptIn`, annotation faultline.io/chaos: enabled), annotationSelector, podPhases,
 * explicit pod names, and a fieldSelector the server applies (it travels in the list call); and
 * the controller's own namespace (FAULTLINE_NAMESPACE) refused like kube-system, through the
 * real `faultline run`, before anything is written.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { OPT_IN_ANNOTATION, selectPods } from '../../controller/drivers/kubernetes/select.ts'
import type { KubernetesTargetSpec } from '../../src/experiments/kubernetes-schema.ts'
import { seededRandom } from '../../src/random.ts'
import {
  build,
  type FakeKube,
  isPodReady,
  type KubeObject,
  staticStatusAnnotation,
  startFakeKube,
} from '../helpers/fake-kube/index.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
let fake: FakeKube
let cluster: Cluster

/** A bound pod whose status the fake leaves as written. */
function pod(name: string, o: { ns?: string; node?: string; phase?: string; annotations?: Record<string, string> }) {
  const p = build.pod({ name, namespace: o.ns ?? 'shop', labels: { app: 'web' }, nodeName: o.node ?? 'node-1' })
  const obj: KubeObject = {
    ...p,
    metadata: { ...p.metadata, annotations: { [staticStatusAnnotation]: 'true', ...o.annotations } },
    status: { phase: o.phase ?? 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  }
  fake.put(obj)
}

beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 20, terminationDelayMs: 20, namespaces: ['shop', 'lab'] })
  cluster = new Cluster(fake.kubeConfig())
  pod('a', { node: 'node-1', annotations: { team: 'blue' } })
  pod('b', { node: 'node-2', annotations: { team: 'red' } })
  pod('c', { node: 'node-1', phase: 'Pending' })
  pod('d', { node: 'node-2', phase: 'Pending', annotations: { team: 'blue' } })
  pod('e', { ns: 'lab', node: 'node-3' })
})
afterEach(async () => {
  await fake.close()
})

const select = (spec: Partial<KubernetesTargetSpec>, ownNamespace?: string) =>
  selectPods(
    cluster,
    { namespaces: ['shop'], labelSelector: 'app=web', mode: 'all', ...spec } as KubernetesTargetSpec,
    {
      random: seededRandom(1),
      ownNamespace,
    },
  )
/** The refusal as plain fields (an error object is not compared whole). */
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'selected',
    (e: { code: string; message: string; issues?: { path: string }[] }) => ({
      code: e.code,
      message: e.message,
      paths: e.issues?.map((i) => i.path),
    }),
  )
const names = async (spec: Partial<KubernetesTargetSpec>) => (await select(spec)).refs.map((r) => r.name)

describe('pod selection against the fake', () => {
  it('annotationSelector, podPhases and explicit names filter the listed pods', async () => {
    expect(await names({})).toEqual(['a', 'b', 'c', 'd'])
    expect(await names({ annotationSelector: 'team=blue' })).toEqual(['a', 'd'])
    expect(await names({ annotationSelector: 'team in (blue,red),team!=red' })).toEqual(['a', 'd'])
    expect(await names({ annotationSelector: '!team' })).toEqual(['c'])
    expect(await names({ podPhases: ['Pending'] })).toEqual(['c', 'd'])
    expect(await names({ podPhases: ['Running'], annotationSelector: 'team' })).toEqual(['a', 'b'])
    expect(await names({ namespaces: undefined, pods: { shop: ['b', 'zz'], lab: ['e'] } })).toEqual(['e', 'b'])
  })

  it('a fieldSelector is applied by the server, in the list call', async () => {
    const before = fake.requests.length
    const sel = await select({ fieldSelector: 'spec.nodeName=node-2' })
    expect(sel.refs.map((r) => r.name)).toEqual(['b', 'd'])
    expect(sel.matched).toBe(2)
    const lists = fake.requests.slice(before).filter((q) => q.path === '/api/v1/namespaces/shop/pods')
    expect(lists.map((q) => q.query.fieldSelector)).toEqual(['spec.nodeName=node-2'])
    expect(await names({ fieldSelector: 'status.phase=Pending,spec.nodeName=node-1' })).toEqual(['c'])
  })

  it('requireOptIn: a namespace without faultline.io/chaos: enabled is refused; annotated, it is selected', async () => {
    expect(OPT_IN_ANNOTATION).toBe('faultline.io/chaos')
    expect(await refusal(select({ requireOptIn: true }))).toEqual({
      code: 'FL_ERR_TARGET_PROTECTED',
      message: 'a target guard refused the selection: namespace shop has not opted in',
      paths: ['/requireOptIn'],
    })
    fake.put(build.namespace('shop', undefined, { [OPT_IN_ANNOTATION]: 'disabled' }))
    expect(await refusal(select({ requireOptIn: true }))).toMatchObject({ code: 'FL_ERR_TARGET_PROTECTED' })
    fake.put(build.namespace('shop', undefined, { [OPT_IN_ANNOTATION]: 'enabled' }))
    expect((await select({ requireOptIn: true })).refs.map((r) => r.name)).toEqual(['a', 'b', 'c', 'd'])
    // Every namespace of the target must have opted in, not just one.
    expect(await refusal(select({ requireOptIn: true, namespaces: ['shop', 'lab'] }))).toMatchObject({
      message: 'a target guard refused the selection: namespace lab has not opted in',
    })
  })

  it("the controller's own namespace is protected like kube-system, unless explicitly allowed", async () => {
    expect(await refusal(select({}, 'shop'))).toEqual({
      code: 'FL_ERR_TARGET_PROTECTED',
      message: 'a target guard refused the selection: namespace shop is protected',
      paths: ['/namespaces'],
    })
    expect((await select({ allowProtectedNamespaces: true }, 'shop')).refs).toHaveLength(4)
    expect((await select({}, 'lab')).refs).toHaveLength(4)
  })

  it('faultline run with FAULTLINE_NAMESPACE refuses a pod target there before writing anything', async () => {
    fake.create(build.deployment({ name: 'web', namespace: 'lab', replicas: 1 }))
    const labWeb = () => fake.list('pods', 'lab').filter((p) => p.metadata.labels?.app === 'web')
    await fake.waitFor(() => labWeb().length === 2 && labWeb().every(isPodReady))
    const dir = mkdtempSync(path.join(tmpdir(), 'faultline-k8s-own-'))
    const file = path.join(dir, 'exp.json')
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'faultline/v1',
        kind: 'Experiment',
        metadata: { name: 'own' },
        spec: {
          targets: { app: { kubernetes: { namespaces: ['lab'], labelSelector: 'app=web' } } },
          hypothesis: { title: 't', checks: [] },
          method: [{ podKill: { target: 'app' } }],
        },
      }),
    )
    const writes = () => fake.requests.filter((q) => q.method !== 'GET').length
    const before = writes()
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'bin/faultline.js'), 'run', file, '--kubeconfig', fake.kubeconfigPath, '--data', dir],
        { env: { ...process.env, FAULTLINE_NAMESPACE: 'lab' }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (out += d))
      child.on('close', (code) => resolve({ code, out }))
    })
    expect(r.out).toMatch(/namespace lab is protected/)
    expect(r.code).toBe(3)
    expect(writes()).toBe(before)
    expect(labWeb()).toHaveLength(2)
  })
})
