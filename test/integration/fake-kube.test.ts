/**
 * The fake Kubernetes API server (test/helpers/fake-kube) is faithful enough to test the
 * Kubernetes driver against: driven here by the real @kubernetes/client-node (typed APIs, every
 * patch type, Watch, makeInformer, ApiException codes and Status bodies) and by the real kubectl
 * v1.33 from the npm layer package (get, delete, cordon, uncordon, taint, scale, drain).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as k8s from '@kubernetes/client-node'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type FakeKube, type KubeObject, build, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'
import { helmPath, kubectlPath } from '../helpers/kube-tools.ts'

const fast = { readyDelayMs: 20, terminationDelayMs: 20 }

/** The ApiException a call rejects with, its code checked, its Status body parsed. */
async function apiError(p: Promise<unknown>, code: number): Promise<Record<string, any>> {
  const err = await p.then(
    () => {
      throw new Error(`expected an ApiException ${code}, the call succeeded`)
    },
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(k8s.ApiException)
  const e = err as k8s.ApiException<string>
  expect(e.code).toBe(code)
  const body = JSON.parse(e.body) as Record<string, any>
  expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code })
  return body
}

/** Client-side happenings (watch and informer callbacks) to await without sleeping. */
class Signal {
  private readonly waiters = new Set<() => void>()

  notify(): void {
    for (const w of [...this.waiters]) w()
  }

  until<T>(check: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(test)
      }
      const test = () => {
        const v = check()
        if (v) {
          done()
          resolve(v)
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      this.waiters.add(test)
      test()
    })
  }
}

const labelled = (fake: FakeKube, ns: string, key: string, value: string) =>
  fake.list('pods', ns).filter((p) => p.metadata.labels?.[key] === value)
const readyPods = (fake: FakeKube, ns: string, app: string) =>
  labelled(fake, ns, 'app', app).filter((p) => isPodReady(p) && !p.metadata.deletionTimestamp)

async function deployReady(fake: FakeKube, d: KubeObject): Promise<KubeObject[]> {
  fake.create(d)
  const want = d.spec.replicas as number
  return fake.waitFor(() => {
    const ready = readyPods(fake, d.metadata.namespace!, d.metadata.name!)
    return (
      ready.length === want && labelled(fake, d.metadata.namespace!, 'app', d.metadata.name!).length === want && ready
    )
  })
}

describe('fake kube API server, through @kubernetes/client-node', () => {
  let fake: FakeKube
  let kc: k8s.KubeConfig
  let core: k8s.CoreV1Api
  let apps: k8s.AppsV1Api
  let policy: k8s.PolicyV1Api
  let net: k8s.NetworkingV1Api

  beforeEach(async () => {
    fake = await startFakeKube({ ...fast, namespaces: ['shop'] })
    kc = fake.kubeConfig()
    core = kc.makeApiClient(k8s.CoreV1Api)
    apps = kc.makeApiClient(k8s.AppsV1Api)
    policy = kc.makeApiClient(k8s.PolicyV1Api)
    net = kc.makeApiClient(k8s.NetworkingV1Api)
  })
  afterEach(async () => {
    await fake.close()
  })

  it('loads as a kubeconfig context and answers discovery like a v1.33 server', async () => {
    expect(kc.getCurrentContext()).toBe(fake.contextName)
    expect(kc.getCurrentCluster()?.server).toBe(fake.url)
    const version = await kc.makeApiClient(k8s.VersionApi).getCode()
    expect(version).toMatchObject({ major: '1', minor: '33' })
    const get = async (p: string) => (await fetch(fake.url + p)).json() as Promise<Record<string, any>>
    const v1 = await get('/api/v1')
    expect(v1.kind).toBe('APIResourceList')
    const byName = new Map((v1.resources as any[]).map((r) => [r.name, r]))
    expect(byName.get('pods')).toMatchObject({ kind: 'Pod', namespaced: true, shortNames: ['po'] })
    expect(byName.get('pods').verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'patch', 'delete']))
    expect(byName.get('pods/eviction')).toMatchObject({
      kind: 'Eviction',
      group: 'policy',
      version: 'v1',
      verbs: ['create'],
    })
    expect(byName.get('pods/ephemeralcontainers')).toMatchObject({ kind: 'Pod', verbs: ['get', 'patch', 'update'] })
    expect(byName.get('nodes')).toMatchObject({ kind: 'Node', namespaced: false })
    const appsV1 = await get('/apis/apps/v1')
    const appsByName = new Map((appsV1.resources as any[]).map((r) => [r.name, r]))
    expect(appsByName.get('deployments/scale')).toMatchObject({ kind: 'Scale', group: 'autoscaling', version: 'v1' })
    expect(appsByName.get('statefulsets/scale')).toMatchObject({ kind: 'Scale', group: 'autoscaling', version: 'v1' })
    const groups = await get('/apis')
    expect((groups.groups as any[]).map((g) => g.name)).toEqual(
      expect.arrayContaining(['apps', 'policy', 'networking.k8s.io']),
    )
    expect(await get('/apis/policy/v1')).toMatchObject({ groupVersion: 'policy/v1' })
    expect(await get('/apis/networking.k8s.io/v1')).toMatchObject({ groupVersion: 'networking.k8s.io/v1' })
    expect(await get('/api/v1/nope')).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 })
  })

  it('lists with every label selector operator and the field selectors', async () => {
    await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    const unmanaged = [
      build.pod({ name: 'a', namespace: 'shop', labels: { app: 'db', tier: 'back' } }),
      build.pod({ name: 'b', namespace: 'shop', labels: { app: 'cache', tier: 'back', canary: 'true' } }),
      build.pod({ name: 'c', namespace: 'shop', labels: { app: 'batch' } }),
    ]
    for (const p of unmanaged) await core.createNamespacedPod({ namespace: 'shop', body: p as k8s.V1Pod })
    await fake.waitFor(() => fake.list('pods', 'shop').every((p) => p.status?.phase === 'Running'))
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedPod({ namespace: 'shop', labelSelector, fieldSelector })).items
        .map((p) => p.metadata!.name!)
        .filter((n) => n.length === 1)
        .sort()
    expect(await names('app=db')).toEqual(['a'])
    expect(await names('app==cache')).toEqual(['b'])
    expect(await names('tier!=back')).toEqual(['c']) // != matches pods without the key
    expect(await names('app in (db, batch)')).toEqual(['a', 'c'])
    expect(await names('app notin (db,web)')).toEqual(['b', 'c'])
    expect(await names('canary')).toEqual(['b'])
    expect(await names('!canary')).toEqual(['a', 'c'])
    expect(await names('tier=back,!canary')).toEqual(['a'])
    expect(await names(undefined, 'metadata.name=b')).toEqual(['b'])
    expect(await names(undefined, 'metadata.name!=b')).toEqual(['a', 'c'])
    expect(await names(undefined, 'status.phase=Running')).toEqual(['a', 'b', 'c'])
    const web = await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=web' })
    expect(web.items).toHaveLength(3)
    expect(web.metadata?.resourceVersion).toMatch(/^\d+$/)
    const node = web.items[0]!.spec!.nodeName!
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` })
    expect(onNode.items.length).toBeGreaterThan(0)
    expect(onNode.items.every((p) => p.spec?.nodeName === node)).toBe(true)
    const all = await core.listPodForAllNamespaces({
      labelSelector: 'app=web',
      fieldSelector: 'metadata.namespace=shop',
    })
    expect(all.items).toHaveLength(3)
    const bad = await apiError(core.listNamespacedPod({ namespace: 'shop', fieldSelector: 'spec.image=x' }), 400)
    expect(bad).toMatchObject({ reason: 'BadRequest', message: 'field label not supported: spec.image' })
    await apiError(core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app in (' }), 400)
  })

  it('gives objects uid, resourceVersion, creationTimestamp and generation, and Status errors', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'shop',
      body: { metadata: { name: 'settings' }, data: { a: '1' } },
    })
    expect(cm.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/)
    expect(cm.metadata?.resourceVersion).toMatch(/^\d+$/)
    expect(cm.metadata?.creationTimestamp).toBeInstanceOf(Date)
    expect(cm.metadata?.generation).toBe(1)
    const exists = await apiError(
      core.createNamespacedConfigMap({ namespace: 'shop', body: { metadata: { name: 'settings' } } }),
      409,
    )
    expect(exists).toMatchObject({ reason: 'AlreadyExists', details: { name: 'settings', kind: 'configmaps' } })
    const missing = await apiError(core.readNamespacedPod({ name: 'ghost', namespace: 'shop' }), 404)
    expect(missing).toMatchObject({ reason: 'NotFound', message: 'pods "ghost" not found' })
    const noNs = await apiError(
      core.createNamespacedConfigMap({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }),
      404,
    )
    expect(noNs.message).toBe('namespaces "nowhere" not found')
    const updated = await core.replaceNamespacedConfigMap({
      name: 'settings',
      namespace: 'shop',
      body: { ...cm, data: { a: '2' } },
    })
    expect(Number(updated.metadata!.resourceVersion)).toBeGreaterThan(Number(cm.metadata!.resourceVersion))
    const stale = await apiError(
      core.replaceNamespacedConfigMap({ name: 'settings', namespace: 'shop', body: { ...cm, data: { a: '3' } } }),
      409,
    )
    expect(stale).toMatchObject({ reason: 'Conflict' })
    expect(stale.message).toContain('the object has been modified')
    const d = await apps.createNamespacedDeployment({
      namespace: 'shop',
      body: build.deployment({ name: 'gen', namespace: 'shop', replicas: 1 }) as k8s.V1Deployment,
    })
    expect(d.metadata?.generation).toBe(1)
    const scaled = await apps.patchNamespacedDeployment(
      { name: 'gen', namespace: 'shop', body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )
    expect(scaled.metadata?.generation).toBe(2)
    const invalid = await apiError(
      apps.createNamespacedDeployment({
        namespace: 'shop',
        body: {
          metadata: { name: 'broken' },
          spec: {
            selector: { matchLabels: { app: 'x' } },
            template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
          },
        },
      }),
      422,
    )
    expect(invalid).toMatchObject({ reason: 'Invalid', details: { name: 'broken', kind: 'Deployment' } })
    const dry = await core.createNamespacedConfigMap({
      namespace: 'shop',
      dryRun: 'All',
      body: { metadata: { name: 'dry' } },
    })
    expect(dry.metadata?.name).toBe('dry')
    expect(fake.get('configmaps', 'shop', 'dry')).toBeUndefined()
    const refused = await fetch(`${fake.url}/api/v1/namespaces/shop/pods/x/eviction`)
    expect(refused.status).toBe(405)
    expect(await refused.json()).toMatchObject({ reason: 'MethodNotAllowed', code: 405 })
  })

  it('applies JSON patches (test on resourceVersion included), merge patches and strategic merge patches', async () => {
    await core.createNamespacedPod({
      namespace: 'shop',
      body: {
        metadata: { name: 'multi', labels: { app: 'multi' }, finalizers: ['a.example/one'] },
        spec: {
          containers: [
            { name: 'app', image: 'nginx:1.27', env: [{ name: 'A', value: '1' }] },
            { name: 'side', image: 'busybox:1.36' },
          ],
        },
      },
    })
    const pod = await core.readNamespacedPod({ name: 'multi', namespace: 'shop' })
    const rv = pod.metadata!.resourceVersion!
    // JSON patch (client-node's default content type), guarded by a test on resourceVersion.
    const patched = await core.patchNamespacedPod({
      name: 'multi',
      namespace: 'shop',
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: rv },
        { op: 'add', path: '/metadata/annotations', value: {} },
        { op: 'add', path: '/metadata/annotations/faultline.io~1run-id', value: 'run-1' },
        { op: 'replace', path: '/spec/containers/1/image', value: 'busybox:1.37' },
      ],
    })
    expect(patched.metadata?.annotations?.['faultline.io/run-id']).toBe('run-1')
    expect(patched.spec?.containers[1]?.image).toBe('busybox:1.37')
    const failedTest = await apiError(
      core.patchNamespacedPod({
        name: 'multi',
        namespace: 'shop',
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: rv },
          { op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.28' },
        ],
      }),
      422,
    )
    expect(failedTest.reason).toBe('Invalid')
    expect(fake.get('pods', 'shop', 'multi')!.spec.containers[0].image).toBe('nginx:1.27')
    // Merge patch: null deletes, lists replace.
    const merged = await core.patchNamespacedPod(
      {
        name: 'multi',
        namespace: 'shop',
        body: { metadata: { labels: { tier: 'front' }, annotations: { 'faultline.io/run-id': null } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )
    expect(merged.metadata?.labels).toEqual({ app: 'multi', tier: 'front' })
    expect(merged.metadata?.annotations?.['faultline.io/run-id']).toBeUndefined()
    // Strategic merge: containers merge by name (the other container and its env survive), finalizers merge as a set.
    const strategic = await core.patchNamespacedPod(
      {
        name: 'multi',
        namespace: 'shop',
        body: {
          metadata: { finalizers: ['b.example/two'] },
          spec: { containers: [{ name: 'app', image: 'nginx:1.28' }] },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    expect(strategic.spec?.containers.map((c) => [c.name, c.image])).toEqual([
      ['app', 'nginx:1.28'],
      ['side', 'busybox:1.37'],
    ])
    expect(strategic.spec?.containers[0]?.env).toEqual([{ name: 'A', value: '1' }])
    expect(strategic.metadata?.finalizers).toEqual(['a.example/one', 'b.example/two'])
    const pruned = await core.patchNamespacedPod(
      {
        name: 'multi',
        namespace: 'shop',
        body: { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.example/one'] } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    expect(pruned.metadata?.finalizers).toEqual(['b.example/two'])
    const cleared = await core.patchNamespacedPod(
      { name: 'multi', namespace: 'shop', body: { metadata: { finalizers: null } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    expect(cleared.metadata?.finalizers).toBeUndefined()
    // Pod updates may only change images (and a few other fields).
    const forbidden = await apiError(
      core.patchNamespacedPod(
        { name: 'multi', namespace: 'shop', body: { spec: { containers: [{ name: 'app', command: ['sh'] }] } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      ),
      422,
    )
    expect(forbidden.message).toContain('pod updates may not change fields other than')
    // Node taints carry no patch strategy in the Go types: a strategic merge patch replaces the list.
    await core.patchNode(
      { name: 'node-1', body: { spec: { taints: [{ key: 'a', value: '1', effect: 'NoSchedule' }] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    const node = await core.patchNode(
      { name: 'node-1', body: { spec: { taints: [{ key: 'b', effect: 'PreferNoSchedule' }] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    expect(node.spec?.taints?.map((t) => t.key)).toEqual(['b'])
    // Cordon with a JSON patch, as the research notes recommend; the node controller adds its taint.
    await core.patchNode({ name: 'node-2', body: [{ op: 'add', path: '/spec/unschedulable', value: true }] })
    const cordoned = await fake.waitFor(() => {
      const n = fake.get('nodes', undefined, 'node-2')!
      return n.spec.taints?.some((t: any) => t.key === 'node.kubernetes.io/unschedulable') && n
    })
    expect(cordoned.spec.unschedulable).toBe(true)
    const unsupported = await fetch(`${fake.url}/api/v1/nodes/node-2`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/apply-patch+yaml' },
      body: '{}',
    })
    expect(unsupported.status).toBe(415)
  })

  it('streams watch events (ADDED, MODIFIED, DELETED), resumes from a resourceVersion and answers 410 past its history', async () => {
    const events: [string, string, string][] = []
    const signal = new Signal()
    const watch = new k8s.Watch(kc)
    const seen = (type: string, name: string) => events.some(([t, n]) => t === type && n === name)
    const until = (type: string, name: string) => signal.until(() => seen(type, name), `${type} ${name}`)
    let doneErr: unknown = 'not done'
    const ac = await watch.watch(
      '/api/v1/namespaces/shop/pods',
      { labelSelector: 'role=probe' },
      (type, obj: k8s.V1Pod) => {
        events.push([type, obj.metadata!.name!, obj.kind!])
        signal.notify()
      },
      (err) => {
        doneErr = err
        signal.notify()
      },
    )
    await fake.waitFor(() => fake.openWatches === 1)
    await core.createNamespacedPod({
      namespace: 'shop',
      body: build.pod({ name: 'w1', namespace: 'shop', labels: { role: 'probe' } }) as k8s.V1Pod,
    })
    await core.createNamespacedPod({
      namespace: 'shop',
      body: build.pod({ name: 'other', namespace: 'shop', labels: { role: 'none' } }) as k8s.V1Pod,
    })
    await until('ADDED', 'w1')
    await until('MODIFIED', 'w1') // scheduled, then running
    expect(events.every(([, , kind]) => kind === 'Pod')).toBe(true)
    // An object that starts matching arrives as ADDED, one that stops matching as DELETED.
    await fake.waitFor(() => fake.get('pods', 'shop', 'other')?.status?.phase === 'Running')
    await core.patchNamespacedPod(
      { name: 'other', namespace: 'shop', body: { metadata: { labels: { role: 'probe' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )
    await until('ADDED', 'other')
    await core.patchNamespacedPod(
      { name: 'other', namespace: 'shop', body: { metadata: { labels: { role: 'gone' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )
    await until('DELETED', 'other')
    await core.deleteNamespacedPod({ name: 'w1', namespace: 'shop', gracePeriodSeconds: 0 })
    await until('DELETED', 'w1')
    expect(events.filter(([, n]) => n === 'other').map(([t]) => t)).toEqual(['ADDED', 'DELETED'])
    ac.abort()
    await signal.until(() => doneErr !== 'not done', 'the watch to end')
    await fake.waitFor(() => fake.openWatches === 0)

    // Resume: events after a resourceVersion, then live.
    const list = await core.listNamespacedPod({ namespace: 'shop' })
    const from = list.metadata!.resourceVersion!
    await core.createNamespacedPod({
      namespace: 'shop',
      body: build.pod({ name: 'later', namespace: 'shop' }) as k8s.V1Pod,
    })
    const resumed: string[] = []
    const ac2 = await watch.watch(
      '/api/v1/namespaces/shop/pods',
      { resourceVersion: from },
      (type, obj: k8s.V1Pod) => {
        resumed.push(`${type} ${obj.metadata!.name}`)
        signal.notify()
      },
      () => signal.notify(),
    )
    await signal.until(() => resumed.includes('ADDED later'), 'the resumed watch to replay ADDED later')
    expect(resumed[0]).toBe('ADDED later')
    ac2.abort()
  })

  it('answers a watch from a compacted resourceVersion with ERROR 410 Expired', async () => {
    const small = await startFakeKube({ ...fast, historyLimit: 5 })
    try {
      const skc = small.kubeConfig()
      const score = skc.makeApiClient(k8s.CoreV1Api)
      for (let i = 0; i < 10; i++)
        await score.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `c${i}` } } })
      const got: [string, any][] = []
      let ended = false
      const signal = new Signal()
      await new k8s.Watch(skc).watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: '1001' },
        (type, obj) => got.push([type, obj]),
        () => {
          ended = true
          signal.notify()
        },
      )
      await signal.until(() => ended, 'the expired watch to end')
      expect(got).toHaveLength(1)
      expect(got[0]![0]).toBe('ERROR')
      expect(got[0]![1]).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' })
    } finally {
      await small.close()
    }
  })

  it('feeds a client-node informer (list, then watch from the list resourceVersion)', async () => {
    const informer = k8s.makeInformer(
      kc,
      '/api/v1/namespaces/shop/pods',
      () => core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=web' }),
      'app=web',
    )
    const added = new Set<string>()
    const deletedNames = new Set<string>()
    let updates = 0
    let failure: unknown
    const signal = new Signal()
    informer.on('add', (p) => {
      added.add(p.metadata!.name!)
      signal.notify()
    })
    informer.on('update', () => {
      updates++
      signal.notify()
    })
    informer.on('delete', (p) => {
      deletedNames.add(p.metadata!.name!)
      signal.notify()
    })
    informer.on('error', (err) => {
      failure = err
      signal.notify()
    })
    await informer.start()
    try {
      const pods = await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 2 }))
      await signal.until(() => pods.every((p) => added.has(p.metadata.name!)) && updates > 0, 'adds and updates')
      const victim = pods[0]!.metadata.name!
      await core.deleteNamespacedPod({ name: victim, namespace: 'shop' })
      await signal.until(() => deletedNames.has(victim), 'the informer to see the delete')
      const ready = (p: k8s.V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      const cached = await signal.until(() => {
        const list = informer.list('shop')
        return list.length === 2 && list.every(ready) && list
      }, 'the cache to hold two Ready pods')
      expect(cached.map((p) => p.metadata!.name)).not.toContain(victim)
      expect(failure).toBeUndefined()
    } finally {
      await informer.stop()
    }
  })

  it('deletes pods gracefully or at once; the ReplicaSet replaces them with new pods that become Ready (recovery is measurable)', async () => {
    fake.setDelays({ readyDelayMs: 150 })
    const [first, second] = await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    const rs = fake.list('replicasets', 'shop')[0]!
    expect(first!.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true }),
    ])
    expect(rs.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'web' })
    expect(first!.status.containerStatuses[0]).toMatchObject({ ready: true, started: true, restartCount: 0 })
    const before = new Set(labelled(fake, 'shop', 'app', 'web').map((p) => p.metadata.uid))
    const t0 = Date.now()
    const graceful = await core.deleteNamespacedPod({ name: first!.metadata.name!, namespace: 'shop' })
    expect(graceful.metadata?.deletionTimestamp).toBeInstanceOf(Date)
    expect(graceful.metadata?.deletionGracePeriodSeconds).toBe(30)
    const replacement = await fake.waitFor(
      () => readyPods(fake, 'shop', 'web').find((p) => !before.has(p.metadata.uid)),
      { what: 'a Ready replacement' },
    )
    const recoveryMs = Date.now() - t0
    expect(replacement.metadata.name).not.toBe(first!.metadata.name)
    expect(replacement.metadata.name).toMatch(new RegExp(`^${rs.metadata.name}-[a-z0-9]{5}$`))
    expect(recoveryMs).toBeGreaterThanOrEqual(150)
    await fake.waitFor(() => !fake.get('pods', 'shop', first!.metadata.name!))
    // Grace 0 removes the pod at once.
    await core.deleteNamespacedPod({ name: second!.metadata.name!, namespace: 'shop', gracePeriodSeconds: 0 })
    expect(fake.get('pods', 'shop', second!.metadata.name!)).toBeUndefined()
    await fake.waitFor(() => readyPods(fake, 'shop', 'web').length === 3)
    const status = (await apps.readNamespacedDeployment({ name: 'web', namespace: 'shop' })).status!
    expect(status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3, updatedReplicas: 3 })
  })

  it('evicts through policy/v1 Eviction: 429 with the PDB named when the budget is spent, and a test toggle', async () => {
    const pods = await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    await policy.createNamespacedPodDisruptionBudget({
      namespace: 'shop',
      body: build.pdb({
        name: 'web-pdb',
        namespace: 'shop',
        matchLabels: { app: 'web' },
        minAvailable: 2,
      }) as k8s.V1PodDisruptionBudget,
    })
    await fake.waitFor(() => fake.get('poddisruptionbudgets', 'shop', 'web-pdb')?.status?.disruptionsAllowed === 1)
    const evict = (name: string) =>
      core.createNamespacedPodEviction({
        name,
        namespace: 'shop',
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'shop' } },
      })
    fake.setDelays({ readyDelayMs: 60_000 }) // the replacement stays not ready: the budget stays spent
    await evict(pods[0]!.metadata.name!)
    expect(fake.get('pods', 'shop', pods[0]!.metadata.name!)?.metadata.deletionTimestamp).toBeDefined()
    const blocked = await apiError(evict(pods[1]!.metadata.name!), 429)
    expect(blocked).toMatchObject({
      reason: 'TooManyRequests',
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      details: {
        causes: [
          {
            reason: 'DisruptionBudget',
            message: 'The disruption budget web-pdb needs 2 healthy pods and has 2 currently',
          },
        ],
      },
    })
    expect(fake.get('pods', 'shop', pods[1]!.metadata.name!)?.metadata.deletionTimestamp).toBeUndefined()
    fake.setDelays({ readyDelayMs: 20 })
    // A pod created from now on gets the short delay; the waiting replacement is deleted to get one.
    const waiting = labelled(fake, 'shop', 'app', 'web').find((p) => !isPodReady(p) && !p.metadata.deletionTimestamp)!
    fake.remove('pods', 'shop', waiting.metadata.name!, 0)
    await fake.waitFor(() => readyPods(fake, 'shop', 'web').length === 3)
    await fake.waitFor(() => fake.get('poddisruptionbudgets', 'shop', 'web-pdb')?.status?.disruptionsAllowed === 1)
    fake.pdbBlocks('shop', 'web-pdb', true)
    const forced = await apiError(evict(pods[1]!.metadata.name!), 429)
    expect(JSON.stringify(forced)).toContain('web-pdb')
    fake.pdbBlocks('shop', 'web-pdb', false)
    await evict(pods[1]!.metadata.name!)
    const notFound = await apiError(evict('ghost'), 404)
    expect(notFound.message).toBe('pods "ghost" not found')
  })

  it('reports a pod whose image is a pause image as not ready, and ready again when the image is restored', async () => {
    const [pod] = await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 1 }))
    const name = pod!.metadata.name!
    await core.patchNamespacedPod(
      {
        name,
        namespace: 'shop',
        body: {
          metadata: { annotations: { 'faultline.io/orig-image-app': 'nginx:1.27' } },
          spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    const failing = await fake.waitFor(() => {
      const p = fake.get('pods', 'shop', name)!
      const c = p.status.containerStatuses[0]
      return c.image.includes('pause') && c.state.running && p
    })
    expect(isPodReady(failing)).toBe(false)
    expect(failing.status.containerStatuses[0]).toMatchObject({ ready: false, restartCount: 1 })
    expect(failing.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
    })
    await fake.waitFor(() => (fake.get('apps/deployments', 'shop', 'web')?.status?.readyReplicas ?? 0) === 0)
    await core.patchNamespacedPod({
      name,
      namespace: 'shop',
      body: [{ op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.27' }],
    })
    const back = await fake.waitFor(() => {
      const p = fake.get('pods', 'shop', name)!
      return isPodReady(p) && p
    })
    expect(back.status.containerStatuses[0]).toMatchObject({ ready: true, restartCount: 2, image: 'nginx:1.27' })
  })

  it('adds ephemeral containers through their subresource only, and reports them running', async () => {
    const [pod] = await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 1 }))
    const name = pod!.metadata.name!
    const stress = {
      name: 'faultline-stress-1',
      image: 'faultline:dev',
      args: ['stress', '--cpu', '1'],
    }
    const patched = await core.patchNamespacedPodEphemeralcontainers(
      { name, namespace: 'shop', body: { spec: { ephemeralContainers: [stress] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    expect(patched.spec?.ephemeralContainers?.map((c) => c.name)).toEqual(['faultline-stress-1'])
    const read = await core.readNamespacedPodEphemeralcontainers({ name, namespace: 'shop' })
    expect(read.spec?.ephemeralContainers?.[0]?.args).toEqual(stress.args)
    await fake.waitFor(() => fake.get('pods', 'shop', name)?.status?.ephemeralContainerStatuses?.[0]?.state?.running)
    fake.terminateEphemeralContainer('shop', name, 'faultline-stress-1', 0)
    const done = await fake.waitFor(
      () => fake.get('pods', 'shop', name)?.status?.ephemeralContainerStatuses?.[0]?.state?.terminated,
    )
    expect(done).toMatchObject({ exitCode: 0, reason: 'Completed' })
    // A second one merges by name; the first cannot be removed or changed.
    await core.patchNamespacedPodEphemeralcontainers(
      { name, namespace: 'shop', body: { spec: { ephemeralContainers: [{ name: 'second', image: 'busybox' }] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    expect(fake.get('pods', 'shop', name)!.spec.ephemeralContainers.map((c: any) => c.name)).toEqual([
      'faultline-stress-1',
      'second',
    ])
    const removed = await apiError(
      core.patchNamespacedPodEphemeralcontainers({
        name,
        namespace: 'shop',
        body: [{ op: 'remove', path: '/spec/ephemeralContainers/0' }],
      }),
      422,
    )
    expect(removed.message).toContain('may not be removed')
    const withPorts = await apiError(
      core.patchNamespacedPodEphemeralcontainers(
        {
          name,
          namespace: 'shop',
          body: { spec: { ephemeralContainers: [{ name: 'p', image: 'x', ports: [{ containerPort: 80 }] }] } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      ),
      422,
    )
    expect(withPorts.message).toContain('cannot be set for an Ephemeral Container')
    const direct = await apiError(
      core.patchNamespacedPod(
        { name, namespace: 'shop', body: { spec: { ephemeralContainers: [{ name: 'sneaky', image: 'x' }] } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      ),
      422,
    )
    expect(direct.reason).toBe('Invalid')
  })

  it('scales Deployments and StatefulSets through the scale subresource; a StatefulSet keeps its ordinals', async () => {
    await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' })
    expect(scale).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      spec: { replicas: 3 },
      status: { replicas: 3, selector: 'app=web' },
    })
    await apps.replaceNamespacedDeploymentScale({
      name: 'web',
      namespace: 'shop',
      body: {
        metadata: { name: 'web', namespace: 'shop', resourceVersion: scale.metadata!.resourceVersion },
        spec: { replicas: 5 },
      },
    })
    await fake.waitFor(
      () => readyPods(fake, 'shop', 'web').length === 5 && labelled(fake, 'shop', 'app', 'web').length === 5,
    )
    await apiError(
      apps.replaceNamespacedDeploymentScale({
        name: 'web',
        namespace: 'shop',
        body: { metadata: { name: 'web', resourceVersion: scale.metadata!.resourceVersion }, spec: { replicas: 1 } },
      }),
      409,
    )
    await apps.patchNamespacedDeploymentScale(
      { name: 'web', namespace: 'shop', body: { spec: { replicas: 1 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )
    await fake.waitFor(() => labelled(fake, 'shop', 'app', 'web').length === 1)
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace: 'shop' })).spec?.replicas).toBe(1)

    await apps.createNamespacedStatefulSet({
      namespace: 'shop',
      body: build.statefulSet({ name: 'db', namespace: 'shop', replicas: 3 }) as k8s.V1StatefulSet,
    })
    await fake.waitFor(() => readyPods(fake, 'shop', 'db').length === 3)
    expect(labelled(fake, 'shop', 'app', 'db').map((p) => p.metadata.name)).toEqual(['db-0', 'db-1', 'db-2'])
    const oldUid = fake.get('pods', 'shop', 'db-1')!.metadata.uid
    await core.deleteNamespacedPod({ name: 'db-1', namespace: 'shop' })
    const reborn = await fake.waitFor(() => {
      const p = fake.get('pods', 'shop', 'db-1')
      return p && p.metadata.uid !== oldUid && isPodReady(p) && p
    })
    expect(reborn.metadata.labels?.['statefulset.kubernetes.io/pod-name']).toBe('db-1')
    await apps.patchNamespacedStatefulSetScale({
      name: 'db',
      namespace: 'shop',
      body: [{ op: 'replace', path: '/spec/replicas', value: 1 }],
    })
    await fake.waitFor(
      () =>
        labelled(fake, 'shop', 'app', 'db')
          .map((p) => p.metadata.name)
          .join() === 'db-0',
    )
    await fake.waitFor(() => fake.get('apps/statefulsets', 'shop', 'db')?.status?.replicas === 1)
    const sts = await apps.readNamespacedStatefulSetStatus({ name: 'db', namespace: 'shop' })
    expect(sts.spec?.replicas).toBe(1)
    expect(sts.status).toMatchObject({ replicas: 1, readyReplicas: 1 })
  })

  it('runs one DaemonSet pod per node (cordoned nodes too), keeps mirror pods and lets unmanaged pods go', async () => {
    await apps.createNamespacedDaemonSet({
      namespace: 'kube-system',
      body: build.daemonSet({ name: 'agent', namespace: 'kube-system' }) as k8s.V1DaemonSet,
    })
    await fake.waitFor(() => readyPods(fake, 'kube-system', 'agent').length === 3)
    expect(
      readyPods(fake, 'kube-system', 'agent')
        .map((p) => p.spec.nodeName)
        .sort(),
    ).toEqual(['node-1', 'node-2', 'node-3'])
    await core.patchNode(
      { name: 'node-1', body: { spec: { unschedulable: true } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    const dsPod = readyPods(fake, 'kube-system', 'agent').find((p) => p.spec.nodeName === 'node-1')!
    await core.deleteNamespacedPod({ name: dsPod.metadata.name!, namespace: 'kube-system', gracePeriodSeconds: 0 })
    await fake.waitFor(() => readyPods(fake, 'kube-system', 'agent').some((p) => p.spec.nodeName === 'node-1'))
    // New regular pods avoid the cordoned node.
    await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 4 }))
    expect(readyPods(fake, 'shop', 'web').every((p) => p.spec.nodeName !== 'node-1')).toBe(true)

    await core.createNamespacedPod({
      namespace: 'kube-system',
      body: build.pod({ name: 'etcd-node-2', namespace: 'kube-system', nodeName: 'node-2', mirror: true }) as k8s.V1Pod,
    })
    const mirror = await fake.waitFor(() => {
      const p = fake.get('pods', 'kube-system', 'etcd-node-2')
      return p && isPodReady(p) && p
    })
    await core.deleteNamespacedPod({ name: 'etcd-node-2', namespace: 'kube-system', gracePeriodSeconds: 0 })
    await fake.waitFor(
      () => {
        const p = fake.get('pods', 'kube-system', 'etcd-node-2')
        return p && p.metadata.uid !== mirror.metadata.uid
      },
      { what: 'the kubelet to re-create its mirror pod' },
    )

    await core.createNamespacedPod({
      namespace: 'shop',
      body: build.pod({ name: 'lonely', namespace: 'shop' }) as k8s.V1Pod,
    })
    await fake.waitFor(() => fake.get('pods', 'shop', 'lonely')?.status?.phase === 'Running')
    await core.deleteNamespacedPod({ name: 'lonely', namespace: 'shop', gracePeriodSeconds: 0 })
    expect(fake.list('pods', 'shop').some((p) => p.metadata.name?.startsWith('lonely'))).toBe(false)
  })

  it("follows node faults: NotReady taints and unready pods, NoExecute evictions, a deleted node's pods", async () => {
    await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 3 }))
    await apps.createNamespacedDaemonSet({
      namespace: 'kube-system',
      body: build.daemonSet({ name: 'agent', namespace: 'kube-system' }) as k8s.V1DaemonSet,
    })
    await fake.waitFor(() => readyPods(fake, 'kube-system', 'agent').length === 3)
    const onNode = (node: string) => readyPods(fake, 'shop', 'web').filter((p) => p.spec.nodeName === node)
    expect(onNode('node-1')).toHaveLength(1)

    fake.setNodeReady('node-1', false)
    const notReady = await fake.waitFor(() => {
      const n = fake.get('nodes', undefined, 'node-1')!
      return (n.spec.taints ?? []).length === 2 && n
    })
    expect(notReady.spec.taints.map((t: any) => `${t.key}:${t.effect}`).sort()).toEqual([
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/unreachable:NoSchedule',
    ])
    // Pods there turn unready; the default 300 s toleration keeps them from eviction meanwhile.
    await fake.waitFor(() => onNode('node-1').length === 0)
    expect(labelled(fake, 'shop', 'app', 'web').filter((p) => p.spec.nodeName === 'node-1')).toHaveLength(1)
    fake.setNodeReady('node-1', true)
    await fake.waitFor(() => onNode('node-1').length === 1 && !fake.get('nodes', undefined, 'node-1')!.spec.taints)

    // A NoSchedule taint keeps running pods (DaemonSet ones too); a NoExecute taint evicts those that do not tolerate it.
    await core.patchNode({
      name: 'node-2',
      body: [{ op: 'add', path: '/spec/taints', value: [{ key: 'chaos', value: 'x', effect: 'NoSchedule' }] }],
    })
    await fake.waitFor(() => fake.get('nodes', undefined, 'node-2')!.spec.taints?.length === 1)
    expect(onNode('node-2')).toHaveLength(1)
    expect(readyPods(fake, 'kube-system', 'agent').filter((p) => p.spec.nodeName === 'node-2')).toHaveLength(1)
    await core.patchNode({
      name: 'node-2',
      body: [{ op: 'replace', path: '/spec/taints/0/effect', value: 'NoExecute' }],
    })
    await fake.waitFor(
      () =>
        readyPods(fake, 'shop', 'web').length === 3 &&
        labelled(fake, 'shop', 'app', 'web').every((p) => p.spec.nodeName !== 'node-2') &&
        labelled(fake, 'kube-system', 'app', 'agent').every((p) => p.spec.nodeName !== 'node-2'),
      { what: 'pods off node-2' },
    )

    // Deleting a Node object deletes the pods bound to it (PodGC); the ReplicaSet replaces them.
    await core.deleteNode({ name: 'node-3' })
    await fake.waitFor(
      () => readyPods(fake, 'shop', 'web').length === 3 && fake.list('pods').every((p) => p.spec.nodeName !== 'node-3'),
      { what: 'pods off node-3' },
    )
    expect(new Set(readyPods(fake, 'shop', 'web').map((p) => p.spec.nodeName))).toEqual(new Set(['node-1']))
  })

  it("stores NetworkPolicies and garbage-collects a deleted Deployment's ReplicaSets and pods", async () => {
    const policyBody: k8s.V1NetworkPolicy = {
      metadata: { name: 'partition', namespace: 'shop', labels: { 'faultline.io/run-id': 'r1' } },
      spec: {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: [
          {
            to: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] } }],
            ports: [{ port: 53, protocol: 'UDP' }],
          },
        ],
      },
    }
    await net.createNamespacedNetworkPolicy({ namespace: 'shop', body: policyBody })
    const listed = await net.listNetworkPolicyForAllNamespaces({ labelSelector: 'faultline.io/run-id=r1' })
    expect(listed.items.map((p) => p.metadata?.name)).toEqual(['partition'])
    expect(listed.items[0]?.spec?.egress?.[0]?.ports?.[0]).toEqual({ port: 53, protocol: 'UDP' })
    await net.deleteNamespacedNetworkPolicy({ name: 'partition', namespace: 'shop' })
    await apiError(net.readNamespacedNetworkPolicy({ name: 'partition', namespace: 'shop' }), 404)

    await deployReady(fake, build.deployment({ name: 'web', namespace: 'shop', replicas: 2 }))
    await apps.deleteNamespacedDeployment({ name: 'web', namespace: 'shop' })
    await fake.waitFor(
      () => fake.list('replicasets', 'shop').length === 0 && labelled(fake, 'shop', 'app', 'web').length === 0,
    )
  })

  it('requires the bearer token when one is configured', async () => {
    const secure = await startFakeKube({ ...fast, token: 'sekret' })
    try {
      const ok = await secure.kubeConfig().makeApiClient(k8s.CoreV1Api).listNode()
      expect(ok.items).toHaveLength(3)
      const anonymous = await fetch(`${secure.url}/api/v1/nodes`)
      expect(anonymous.status).toBe(401)
    } finally {
      await secure.close()
    }
  })

  it("fails requests on demand with a Status error (for the driver's error paths)", async () => {
    fake.failNext({ method: 'DELETE', path: '/pods/', code: 500, message: 'etcd is on fire' })
    await core.createNamespacedPod({
      namespace: 'shop',
      body: build.pod({ name: 'p', namespace: 'shop' }) as k8s.V1Pod,
    })
    const body = await apiError(core.deleteNamespacedPod({ name: 'p', namespace: 'shop' }), 500)
    expect(body.message).toBe('etcd is on fire')
    await core.deleteNamespacedPod({ name: 'p', namespace: 'shop', gracePeriodSeconds: 0 })
    expect(fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([500, 200])
  })
})

describe('fake kube API server, through the real kubectl v1.33', () => {
  let fake: FakeKube
  let cacheDir: string

  const kubectl = (...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        kubectlPath(),
        ['--kubeconfig', fake.kubeconfigPath, '--cache-dir', cacheDir, '--request-timeout', '10s', ...args],
        { env: { PATH: process.env.PATH ?? '', HOME: cacheDir }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
  /** Runs kubectl until its stderr matches `pattern`, then stops it (kubectl drain retries a 429 every 5 s). */
  const kubectlUntil = (pattern: RegExp, ...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        kubectlPath(),
        ['--kubeconfig', fake.kubeconfigPath, '--cache-dir', cacheDir, '--request-timeout', '10s', ...args],
        { env: { PATH: process.env.PATH ?? '', HOME: cacheDir }, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
        if (pattern.test(stderr)) child.kill()
      })
      child.on('error', reject)
      child.on('close', () => (pattern.test(stderr) ? resolve(stderr) : reject(new Error(`kubectl ended: ${stderr}`))))
    })
  const ok = async (...args: string[]): Promise<string> => {
    const r = await kubectl(...args)
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return r.stdout
  }

  beforeAll(() => {
    cacheDir = mkdtempSync(path.join(tmpdir(), 'kubectl-cache-'))
  })
  afterAll(() => {
    rmSync(cacheDir, { recursive: true, force: true })
  })
  beforeEach(async () => {
    fake = await startFakeKube(fast)
    await deployReady(fake, build.deployment({ name: 'web', namespace: 'default', replicas: 3 }))
  })
  afterEach(async () => {
    await fake.close()
  })

  it('uses the binaries from the npm layer, not the machine', async () => {
    expect(kubectlPath()).toMatch(/\.tools\/bin\/kubectl$/)
    expect(await ok('version', '--client')).toContain('Client Version: v1.33')
    const helm = await new Promise<string>((resolve, reject) => {
      const child = spawn(helmPath(), ['version', '--short'], { env: { PATH: process.env.PATH ?? '', HOME: cacheDir } })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.on('error', reject)
      child.on('close', () => resolve(out))
    })
    expect(helm).toMatch(/^v4\./)
  })

  it('gets pods by label as names and as a table', async () => {
    const names = (await ok('get', 'pods', '-l', 'app=web', '-o', 'name')).trim().split('\n').sort()
    expect(names).toEqual(
      labelled(fake, 'default', 'app', 'web')
        .map((p) => `pod/${p.metadata.name}`)
        .sort(),
    )
    const table = await ok('get', 'pods', '-l', 'app=web')
    const lines = table.trim().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/)
    expect(lines.slice(1)).toHaveLength(3)
    for (const line of lines.slice(1)) expect(line).toMatch(/^web-\S+\s+1\/1\s+Running\s+0\s+\d+s$/)
    expect(await ok('get', 'pods', '-l', 'app=nothing', '-o', 'name')).toBe('')
    const wide = await ok('get', 'pods', '-A', '-o', 'wide', '--field-selector', 'spec.nodeName=node-1')
    expect(wide).toMatch(/NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/)
    const json = JSON.parse(await ok('get', 'pods', '-o', 'json')) as { items: KubeObject[] }
    expect(json.items).toHaveLength(3)
  })

  it('deletes a pod and waits for it; the Deployment replaces it', async () => {
    const victim = labelled(fake, 'default', 'app', 'web')[0]!.metadata.name!
    expect(await ok('delete', 'pod', victim)).toBe(`pod "${victim}" deleted\n`)
    expect(fake.get('pods', 'default', victim)).toBeUndefined() // kubectl waited until it was gone
    await fake.waitFor(() => readyPods(fake, 'default', 'web').length === 3)
    const missing = await kubectl('delete', 'pod', victim)
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain(`pods "${victim}" not found`)
  })

  it('cordons, uncordons and taints nodes', async () => {
    expect(await ok('cordon', 'node-1')).toBe('node/node-1 cordoned\n')
    expect(fake.get('nodes', undefined, 'node-1')!.spec.unschedulable).toBe(true)
    expect(await ok('get', 'node', 'node-1')).toMatch(/node-1\s+Ready,SchedulingDisabled/)
    expect(await ok('uncordon', 'node-1')).toBe('node/node-1 uncordoned\n')
    expect(fake.get('nodes', undefined, 'node-1')!.spec.unschedulable).toBeUndefined()
    expect(await ok('taint', 'nodes', 'node-2', 'k=v:NoSchedule')).toBe('node/node-2 tainted\n')
    expect(fake.get('nodes', undefined, 'node-2')!.spec.taints).toEqual([
      { key: 'k', value: 'v', effect: 'NoSchedule' },
    ])
    const twice = await kubectl('taint', 'nodes', 'node-2', 'k=v:NoSchedule')
    expect(twice.code).not.toBe(0)
    expect(await ok('taint', 'nodes', 'node-2', 'k-')).toBe('node/node-2 untainted\n')
    expect(fake.get('nodes', undefined, 'node-2')!.spec.taints ?? []).toEqual([])
    const patches = fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.contentType)
    expect(new Set(patches)).toEqual(new Set(['application/strategic-merge-patch+json']))
  })

  it('creates and applies manifests (kubectl asks OpenAPI v3 whether the server validates fields)', async () => {
    const file = path.join(cacheDir, 'cm.json')
    const manifest = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'demo', namespace: 'default' },
      data: { a: '1' },
    }
    writeFileSync(file, JSON.stringify(manifest))
    expect(await ok('apply', '-f', file)).toBe('configmap/demo created\n')
    writeFileSync(file, JSON.stringify({ ...manifest, data: { a: '2' } }))
    expect(await ok('apply', '-f', file)).toBe('configmap/demo configured\n')
    const cm = fake.get('configmaps', 'default', 'demo')!
    expect(cm.data).toEqual({ a: '2' })
    expect(cm.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('"a":"2"')
    const again = await kubectl('create', '-f', file)
    expect(again.stderr).toContain('configmaps "demo" already exists')
    expect(fake.requests.some((r) => r.path === '/openapi/v3/api/v1')).toBe(true)
    expect(fake.requests.filter((r) => r.method !== 'GET').every((r) => r.query.fieldValidation === 'Strict')).toBe(
      true,
    )
  })

  it('rolls a Deployment out and back (the old ReplicaSet is re-used)', async () => {
    const first = fake.list('replicasets', 'default')[0]!.metadata.name
    await ok('set', 'image', 'deploy/web', 'app=nginx:1.28')
    expect(await ok('rollout', 'status', 'deploy/web', '--timeout=20s')).toContain('successfully rolled out')
    expect(readyPods(fake, 'default', 'web').every((p) => p.spec.containers[0].image === 'nginx:1.28')).toBe(true)
    await ok('rollout', 'undo', 'deploy/web')
    expect(await ok('rollout', 'status', 'deploy/web', '--timeout=20s')).toContain('successfully rolled out')
    const rs = fake.list('replicasets', 'default')
    expect(rs.map((r) => [r.metadata.name === first, r.spec.replicas])).toEqual(
      expect.arrayContaining([
        [true, 3],
        [false, 0],
      ]),
    )
  })

  it('gets and scales a Deployment', async () => {
    expect(await ok('get', 'deploy')).toMatch(
      /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+3\/3\s+3\s+3\s+\d+s\n$/,
    )
    expect(await ok('scale', 'deploy/web', '--replicas=2')).toBe('deployment.apps/web scaled\n')
    await fake.waitFor(() => labelled(fake, 'default', 'app', 'web').length === 2)
    expect(fake.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/web/scale'))).toBe(true)
  })

  it('drains a node: evicts through the API, skips DaemonSet and mirror pods, and reports a PDB that blocks', async () => {
    fake.create(build.daemonSet({ name: 'agent', namespace: 'kube-system' }))
    fake.create(build.pod({ name: 'static-node-1', namespace: 'kube-system', nodeName: 'node-1', mirror: true }))
    await fake.waitFor(
      () =>
        readyPods(fake, 'kube-system', 'agent').length === 3 &&
        isPodReady(fake.get('pods', 'kube-system', 'static-node-1') ?? { metadata: {} }),
    )
    fake.create(build.pdb({ name: 'web-pdb', namespace: 'default', matchLabels: { app: 'web' }, maxUnavailable: 1 }))
    fake.pdbBlocks('default', 'web-pdb', true)
    const blocked = await kubectlUntil(/disruption budget/, 'drain', 'node-1', '--ignore-daemonsets', '--timeout=20s')
    expect(blocked).toMatch(
      /error when evicting pods\/"web-\S+" -n "default" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget/,
    )
    fake.pdbBlocks('default', 'web-pdb', false)
    const out = await ok('drain', 'node-1', '--ignore-daemonsets', '--timeout=20s')
    expect(out).toContain('node/node-1 drained')
    const onNode = fake.list('pods').filter((p) => p.spec.nodeName === 'node-1' && !p.metadata.deletionTimestamp)
    expect(onNode.map((p) => p.metadata.name).sort()).toEqual(
      [
        readyPods(fake, 'kube-system', 'agent').find((p) => p.spec.nodeName === 'node-1')!.metadata.name,
        'static-node-1',
      ].sort(),
    )
    expect(fake.requests.some((r) => r.method === 'POST' && r.path.endsWith('/eviction'))).toBe(true)
    await fake.waitFor(() => readyPods(fake, 'default', 'web').length === 3)
    expect(readyPods(fake, 'default', 'web').every((p) => p.spec.nodeName !== 'node-1')).toBe(true)
  })
})
