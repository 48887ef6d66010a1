/**
 * The injector's pure parts: the JSONPatch builder (applied with a real RFC 6902 implementation,
 * the result checked against the Pod schema), the per-pod plan from annotations, the opt-in
 * decision, the configuration file's checks, quantities, and the webhook configuration.
 */
import { applyPatch } from 'fast-json-patch'
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1'
import { Pod } from 'kubernetes-models/v1'
import { describe, expect, it } from 'vitest'
import { type InjectorConfig, resolveInjectorConfig } from '../../controller/injector/config.ts'
import { decide } from '../../controller/injector/decide.ts'
import { buildPatch, captureArgs, pointerToken, sidecarArgs } from '../../controller/injector/patch.ts'
import { type InjectionPlan, planInjection } from '../../controller/injector/plan.ts'
import { type PodJson, readPod } from '../../controller/injector/pod.ts'
import { parseQuantity } from '../../controller/injector/quantity.ts'
import { webhookConfiguration } from '../../controller/injector/webhook-config.ts'
import { parseSidecarConfig } from '../../src/config.ts'
import { isFaultlineError } from '../../src/errors.ts'

const config = (doc: Record<string, unknown> = {}): InjectorConfig =>
  resolveInjectorConfig({ image: 'faultline:test', ...doc })

function pod(over: { metadata?: Record<string, unknown>; spec?: Record<string, unknown> } = {}): PodJson {
  return readPod(
    {
      metadata: { generateName: 'web-7d4b9c-', labels: { app: 'web' }, ...over.metadata },
      spec: {
        containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 8080 }] }],
        ...over.spec,
      },
    },
    '',
  )
}

/** The pod after the patch, applied by fast-json-patch with operation validation, and schema-checked. */
function patched(p: PodJson, ops: unknown[]): any {
  const result = applyPatch(structuredClone(p), ops as never, true, false).newDocument
  new Pod(result as never).validate()
  return result
}

function problem(fn: () => unknown): { code: string; paths: string[]; message: string } {
  try {
    fn()
  } catch (err) {
    if (!isFaultlineError(err)) throw err
    return { code: err.code, paths: (err.issues ?? []).map((i) => i.path), message: err.message }
  }
  throw new Error('expected a FaultlineError')
}

const plan = (p: PodJson, c = config(), namespaceLabels?: Record<string, string>) =>
  planInjection({ pod: p, config: c, namespaceLabels })

describe('buildPatch', () => {
  it('creates missing maps and arrays with one add of the whole value', () => {
    const p = pod()
    const c = config()
    const ops = buildPatch(p, plan(p, c), c)
    expect(ops.map((o) => [o.op, o.path])).toEqual([
      ['add', '/metadata/annotations'],
      ['add', '/spec/initContainers'],
      ['add', '/spec/volumes'],
    ])
    const out = patched(p, ops)
    expect(out.spec.initContainers.map((c: any) => c.name)).toEqual(['faultline-capture', 'faultline-proxy'])
    expect(out.spec.volumes).toEqual([{ name: 'faultline-xtables-lock', emptyDir: {} }])
    expect(out.spec.containers).toEqual(p.spec.containers)
    expect(JSON.parse(out.metadata.annotations['faultline.io/status'])).toEqual({
      version: 1,
      image: 'faultline:test',
      initContainers: ['faultline-capture', 'faultline-proxy'],
      volumes: ['faultline-xtables-lock'],
      appPort: 8080,
      proxyPort: 8480,
      adminPort: 8481,
      capture: 'iptables',
      service: 'web',
      fleet: false,
    })
  })

  it('adds to existing maps and arrays by key (escaped) and index, before the pod’s own init containers', () => {
    const p = pod({
      metadata: { annotations: { 'team/owner': 'shop' } },
      spec: {
        initContainers: [{ name: 'migrate', image: 'migrate' }],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    })
    const c = config()
    const ops = buildPatch(p, plan(p, c), c)
    expect(ops.map((o) => [o.op, o.path])).toEqual([
      ['add', '/metadata/annotations/faultline.io~1status'],
      ['add', '/spec/initContainers/0'],
      ['add', '/spec/initContainers/1'],
      ['add', '/spec/volumes/-'],
    ])
    const out = patched(p, ops)
    expect(out.metadata.annotations['team/owner']).toBe('shop')
    expect(out.spec.initContainers.map((c: any) => c.name)).toEqual(['faultline-capture', 'faultline-proxy', 'migrate'])
    expect(out.spec.volumes.map((v: any) => v.name)).toEqual(['data', 'faultline-xtables-lock'])
  })

  it('treats null maps and lists as missing, and an empty list as present', () => {
    const p = pod({ metadata: { annotations: null }, spec: { initContainers: [], volumes: null } })
    const c = config()
    const ops = buildPatch(p, plan(p, c), c)
    expect(ops.map((o) => o.path)).toEqual([
      '/metadata/annotations',
      '/spec/initContainers/0',
      '/spec/initContainers/1',
      '/spec/volumes',
    ])
    patched(p, ops)
  })

  it('a pod without metadata gets metadata with the annotation', () => {
    const p = readPod({ spec: { containers: [{ name: 'a', image: 'a', ports: [{ containerPort: 80 }] }] } }, '')
    const c = config()
    const out = patched(p, buildPatch(p, plan(p, c), c))
    expect(Object.keys(out.metadata.annotations)).toEqual(['faultline.io/status'])
  })

  it('capture none: the sidecar alone, no volume, no privileges anywhere', () => {
    const p = pod({ metadata: { annotations: { 'faultline.io/capture': 'none' } } })
    const c = config()
    const out = patched(p, buildPatch(p, plan(p, c), c))
    expect(out.spec.initContainers.map((c: any) => c.name)).toEqual(['faultline-proxy'])
    expect(out.spec.volumes).toBeUndefined()
    expect(JSON.stringify(out)).not.toContain('NET_ADMIN')
    expect(JSON.parse(out.metadata.annotations['faultline.io/status'])).toMatchObject({
      capture: 'none',
      initContainers: ['faultline-proxy'],
      volumes: [],
    })
  })

  it('does not add the lock volume twice', () => {
    const p = pod({ spec: { volumes: [{ name: 'faultline-xtables-lock', emptyDir: {} }] } })
    const c = config()
    const ops = buildPatch(p, plan(p, c), c)
    expect(ops.some((o) => o.path.startsWith('/spec/volumes'))).toBe(false)
    patched(p, ops)
  })

  it('the native sidecar: restartPolicy Always, probes on the admin port, non-root, read-only, no capabilities', () => {
    const p = pod()
    const c = config({ adminTokenSecret: { name: 'fl-token', key: 'admin', optional: true } })
    const out = patched(p, buildPatch(p, plan(p, c), c))
    const sidecar = out.spec.initContainers[1]
    expect(sidecar).toMatchObject({
      name: 'faultline-proxy',
      image: 'faultline:test',
      restartPolicy: 'Always',
      ports: [
        { name: 'faultline-proxy', containerPort: 8480, protocol: 'TCP' },
        { name: 'faultline-admin', containerPort: 8481, protocol: 'TCP' },
      ],
      startupProbe: { httpGet: { path: '/healthz', port: 8481 } },
      readinessProbe: { httpGet: { path: '/readyz', port: 8481 } },
      securityContext: {
        runAsUser: 65532,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    })
    expect(sidecar.securityContext.capabilities.add).toBeUndefined()
    expect(sidecar.env).toContainEqual({
      name: 'FAULTLINE_ADMIN_TOKEN',
      valueFrom: { secretKeyRef: { name: 'fl-token', key: 'admin', optional: true } },
    })
    const capture = out.spec.initContainers[0]
    expect(capture.restartPolicy).toBeUndefined()
    expect(capture.securityContext.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] })
    expect(capture.volumeMounts).toEqual([{ name: 'faultline-xtables-lock', mountPath: '/run' }])
  })
})

describe('arguments', () => {
  const base: InjectionPlan = {
    appPort: 8080,
    proxyPort: 8480,
    adminPort: 8481,
    capture: 'iptables',
    excludeInboundPorts: [],
    fleet: false,
    resources: {},
    warnings: [],
  }

  it('sidecar: upstream on loopback, listeners on all addresses (the flags of faultline sidecar)', () => {
    expect(sidecarArgs(base, config())).toEqual([
      'sidecar',
      '--upstream',
      'http://127.0.0.1:8080',
      '--listen',
      '0.0.0.0:8480',
      '--admin',
      '0.0.0.0:8481',
      '--admin-token-required',
    ])
  })

  it('sidecar: the real sidecar parser takes the arguments; with the Secret missing it refuses changes, and fleet mode stays on', () => {
    const c = config({ redisUrl: 'redis://redis.faultline:6379' })
    const args = sidecarArgs({ ...base, service: 'web', fleet: true }, c)
    // What the kubelet gives the container when the optional secretKeyRef finds no Secret: no variable.
    const missing = parseSidecarConfig(args.slice(1), {})
    expect(missing).toMatchObject({
      adminTokenRequired: true,
      redisUrl: 'redis://redis.faultline:6379',
      service: 'web',
    })
    expect(missing.adminToken).toBeUndefined()
    const present = parseSidecarConfig(args.slice(1), { FAULTLINE_ADMIN_TOKEN: 't0ken' })
    expect(present).toMatchObject({ adminTokenRequired: true, adminToken: 't0ken' })
  })

  it('sidecar in fleet mode: service, Redis, and the admin URL at the pod IP', () => {
    const c = config({ redisUrl: 'redis://redis.faultline:6379', logLevel: 'debug' })
    expect(sidecarArgs({ ...base, service: 'web', fleet: true }, c)).toEqual([
      'sidecar',
      '--upstream',
      'http://127.0.0.1:8080',
      '--listen',
      '0.0.0.0:8480',
      '--admin',
      '0.0.0.0:8481',
      '--admin-token-required',
      '--service',
      'web',
      '--redis',
      'redis://redis.faultline:6379',
      '--advertise-admin',
      'http://$(FAULTLINE_POD_IP):8481',
      '--log-level',
      'debug',
    ])
  })

  it('capture: the contract with `faultline capture`', () => {
    expect(captureArgs(base, config())).toEqual([
      'capture',
      '--proxy-port',
      '8480',
      '--app-ports',
      '8080',
      '--sidecar-uid',
      '65532',
    ])
    expect(captureArgs({ ...base, excludeInboundPorts: [9090, 15000] }, config({ sidecarUid: 1337 }))).toEqual([
      'capture',
      '--proxy-port',
      '8480',
      '--app-ports',
      '8080',
      '--sidecar-uid',
      '1337',
      '--exclude-ports',
      '9090,15000',
    ])
  })

  it('pointer tokens escape ~ before /', () => {
    expect(pointerToken('faultline.io/status')).toBe('faultline.io~1status')
    expect(pointerToken('a~/b')).toBe('a~0~1b')
  })
})

describe('planInjection', () => {
  const several = {
    spec: {
      containers: [
        {
          name: 'web',
          image: 'web',
          ports: [
            { name: 'dns', containerPort: 5353, protocol: 'UDP' },
            { name: 'metrics', containerPort: 9090 },
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
          ],
        },
        { name: 'worker', image: 'worker', ports: [{ name: 'grpc', containerPort: 7000 }] },
      ],
    },
  }

  it('fronts the first TCP port of the app containers', () => {
    expect(plan(pod(several)).appPort).toBe(9090)
  })

  it('skips excluded ports (annotation replaces the configured list), which capture also gets', () => {
    const p = pod({ ...several, metadata: { annotations: { 'faultline.io/exclude-inbound-ports': '9090, 15020' } } })
    const r = plan(p, config({ excludeInboundPorts: [8080] }))
    expect(r.appPort).toBe(8080)
    expect(r.excludeInboundPorts).toEqual([9090, 15020])
    expect(plan(pod(several), config({ excludeInboundPorts: [9090, 8080] })).appPort).toBe(7000)
  })

  it('the annotation picks the port by number (declared or not) or by name', () => {
    const at = (v: string) => plan(pod({ ...several, metadata: { annotations: { 'faultline.io/app-port': v } } }))
    expect(at('8080').appPort).toBe(8080)
    expect(at('3000').appPort).toBe(3000)
    expect(at('grpc').appPort).toBe(7000)
    expect(problem(() => at('dns'))).toMatchObject({
      code: 'FL_ERR_CONFIG_INVALID',
      paths: ['/metadata/annotations/faultline.io~1app-port'],
    })
    expect(problem(() => at('70000')).paths).toEqual(['/metadata/annotations/faultline.io~1app-port'])
  })

  it('refuses an app port that is also excluded', () => {
    const p = pod({
      metadata: { annotations: { 'faultline.io/app-port': '8080', 'faultline.io/exclude-inbound-ports': '8080' } },
    })
    expect(problem(() => plan(p)).message).toContain('faultline.io/exclude-inbound-ports')
  })

  it('refuses a pod with no TCP port to front, naming the annotation to set', () => {
    const p = pod({ spec: { containers: [{ name: 'batch', image: 'b' }] } })
    const e = problem(() => plan(p))
    expect(e.paths).toEqual(['/spec/containers'])
    expect(e.message).toContain('faultline.io/app-port')
  })

  it('refuses ports the sidecar would collide with, and takes other ports from annotations', () => {
    const p = pod({
      spec: { containers: [{ name: 'a', image: 'a', ports: [{ containerPort: 8080 }, { containerPort: 8481 }] }] },
    })
    expect(problem(() => plan(p)).paths).toEqual(['/spec/containers/0/ports/1/containerPort'])
    const moved = pod({
      metadata: { annotations: { 'faultline.io/admin-port': '9481', 'faultline.io/proxy-port': '9480' } },
      spec: p.spec,
    })
    expect(plan(moved)).toMatchObject({ appPort: 8080, proxyPort: 9480, adminPort: 9481 })
    const same = pod({ metadata: { annotations: { 'faultline.io/admin-port': '8480' } } })
    expect(problem(() => plan(same)).paths).toEqual(['/metadata/annotations/faultline.io~1admin-port'])
    const front = pod({ metadata: { annotations: { 'faultline.io/app-port': '8480' } } })
    expect(problem(() => plan(front)).paths).toEqual(['/metadata/annotations/faultline.io~1proxy-port'])
  })

  it('resources: annotations override requests and limits; a request over its limit is refused', () => {
    const p = pod({
      metadata: { annotations: { 'faultline.io/proxy-cpu': '200m', 'faultline.io/proxy-memory': '100Mi' } },
    })
    expect(plan(p).resources).toEqual({
      requests: { cpu: '200m', memory: '100Mi' },
      limits: { cpu: '1', memory: '256Mi' },
    })
    const over = pod({ metadata: { annotations: { 'faultline.io/proxy-memory': '1Gi' } } })
    const e = problem(() => plan(over))
    expect(e.paths).toEqual(['/metadata/annotations/faultline.io~1proxy-memory'])
    expect(e.message).toContain('faultline.io/proxy-memory-limit')
    const raised = pod({
      metadata: { annotations: { 'faultline.io/proxy-memory': '1Gi', 'faultline.io/proxy-memory-limit': '2Gi' } },
    })
    expect(plan(raised).resources.limits).toEqual({ cpu: '1', memory: '2Gi' })
    const bad = pod({ metadata: { annotations: { 'faultline.io/proxy-cpu': 'lots', 'faultline.io/capture': 'ebpf' } } })
    expect(problem(() => plan(bad)).paths).toEqual([
      '/metadata/annotations/faultline.io~1capture',
      '/metadata/annotations/faultline.io~1proxy-cpu',
    ])
  })

  it('service: annotation, then app.kubernetes.io/name, then app; fleet mode only with a name', () => {
    const c = config({ redisUrl: 'redis://r:6379' })
    expect(plan(pod({ metadata: { labels: { app: 'a', 'app.kubernetes.io/name': 'b' } } }), c)).toMatchObject({
      service: 'b',
      fleet: true,
    })
    expect(
      plan(pod({ metadata: { labels: { app: 'a' }, annotations: { 'faultline.io/service': 'c' } } }), c).service,
    ).toBe('c')
    const anonymous = plan(pod({ metadata: { labels: {} } }), c)
    expect(anonymous).toMatchObject({ service: undefined, fleet: false })
    expect(anonymous.warnings[0]).toContain('without fleet mode')
    expect(plan(pod({ metadata: { labels: { app: '' } } })).service).toBeUndefined()
    const bad = pod({ metadata: { annotations: { 'faultline.io/service': 'a:b' } } })
    expect(problem(() => plan(bad, c)).paths).toEqual(['/metadata/annotations/faultline.io~1service'])
  })

  it('a namespace enforcing Pod Security baseline or restricted gets no capture, with a warning', () => {
    const r = plan(pod(), config(), { 'pod-security.kubernetes.io/enforce': 'restricted' })
    expect(r.capture).toBe('none')
    expect(r.warnings[0]).toContain('NET_ADMIN')
    expect(plan(pod(), config(), { 'pod-security.kubernetes.io/enforce': 'privileged' }).capture).toBe('iptables')
  })
})

describe('decide', () => {
  const c = config({ ownNamespace: 'faultline' })
  const d = (p: PodJson, namespace = 'shop', namespaceLabels?: Record<string, string>) =>
    decide({ pod: p, namespace, config: c, namespaceLabels })
  const labelled = (v: string) => pod({ metadata: { labels: { 'faultline.io/inject': v } } })

  it('opt-in by pod label, or by namespace (trusting the webhook selector when labels are not looked up)', () => {
    expect(d(labelled('true')).inject).toBe(true)
    expect(d(pod()).inject).toBe(true)
    expect(d(pod(), 'shop', { 'faultline.io/inject': 'enabled' }).inject).toBe(true)
    expect(d(pod(), 'shop', {}).inject).toBe(false)
    expect(d(labelled('true'), 'shop', {}).inject).toBe(true)
  })

  it('opt-out: pod label false, a namespace labelled anything but enabled, excluded namespaces, hostNetwork', () => {
    expect(d(labelled('false'), 'shop', { 'faultline.io/inject': 'enabled' })).toMatchObject({ inject: false })
    expect(d(labelled('true'), 'shop', { 'faultline.io/inject': 'disabled' })).toMatchObject({ inject: false })
    for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'faultline'])
      expect(d(labelled('true'), ns).inject).toBe(false)
    expect(d(pod({ spec: { hostNetwork: true } })).because).toBe('hostNetwork pod')
  })

  it('already injected: by the status annotation or by our containers, whatever the labels say', () => {
    const annotated = pod({ metadata: { annotations: { 'faultline.io/status': '{}' } } })
    expect(d(annotated)).toEqual({ inject: false, because: 'already injected', alreadyInjected: true })
    const withSidecar = pod({ spec: { initContainers: [{ name: 'faultline-proxy', image: 'x' }] } })
    expect(d(withSidecar).inject).toBe(false)
  })
})

describe('readPod', () => {
  it('says where a pod it cannot work on is wrong', () => {
    const e = problem(() =>
      readPod(
        { metadata: { labels: { a: 1 } }, spec: { containers: [{ image: 'x', ports: [{ containerPort: '80' }] }] } },
        '/request/object',
      ),
    )
    expect(e.code).toBe('FL_ERR_BAD_REQUEST')
    expect(e.paths).toEqual([
      '/request/object/metadata/labels/a',
      '/request/object/spec/containers/0/name',
      '/request/object/spec/containers/0/ports/0/containerPort',
    ])
    expect(problem(() => readPod({ spec: { containers: [] } }, '')).paths).toEqual(['/spec/containers'])
    expect(problem(() => readPod('pod', '')).paths).toEqual([''])
  })
})

describe('configuration', () => {
  it('fills defaults', () => {
    expect(resolveInjectorConfig({})).toMatchObject({
      image: expect.stringMatching(/^faultline:\d+\.\d+\.\d+/),
      proxyPort: 8480,
      adminPort: 8481,
      sidecarUid: 65532,
      capture: 'iptables',
      excludeNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
      adminTokenSecret: { name: 'faultline-admin-token', key: 'token', optional: true },
      namespaceLookup: false,
    })
  })

  it('adminTokenSecret.optional defaults to true (a missing Secret never blocks a pod); false is kept', () => {
    expect(resolveInjectorConfig({ adminTokenSecret: { name: 's' } }).adminTokenSecret).toEqual({
      name: 's',
      key: 'token',
      optional: true,
    })
    expect(resolveInjectorConfig({ adminTokenSecret: { name: 's', optional: false } }).adminTokenSecret.optional).toBe(
      false,
    )
  })

  it('reports every problem with its path, and suggests a near field name', () => {
    const e = problem(() =>
      resolveInjectorConfig({
        imgae: 'x',
        proxyPort: 0,
        capture: 'ebpf',
        redisUrl: 'http://r',
        resources: { requests: { cpu: '2' }, limits: { cpu: '1', memory: '1 Gi' } },
        adminTokenSecret: { key: 'token' },
      }),
    )
    expect(e.code).toBe('FL_ERR_CONFIG_INVALID')
    expect(e.paths.sort()).toEqual(
      ['/imgae', '/proxyPort', '/capture', '/redisUrl', '/resources/limits/memory', '/adminTokenSecret/name'].sort(),
    )
    expect(e.message).toContain('did you mean "image"')
    expect(
      problem(() => resolveInjectorConfig({ resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } })).paths,
    ).toEqual(['/resources/requests/cpu'])
    expect(problem(() => resolveInjectorConfig({ adminPort: 8480 })).paths).toEqual(['/adminPort'])
  })
})

describe('quantities', () => {
  it('parses the Kubernetes forms and refuses others', () => {
    expect(parseQuantity('100m')).toBeCloseTo(0.1)
    expect(parseQuantity('1.5')).toBe(1.5)
    expect(parseQuantity('128Mi')).toBe(128 * 2 ** 20)
    expect(parseQuantity('1G')).toBe(1e9)
    expect(parseQuantity('1e3')).toBe(1000)
    expect(parseQuantity('1E')).toBe(1e18)
    expect(parseQuantity('.5')).toBe(0.5)
    for (const bad of ['', 'lots', '1 Gi', '-1', '1mi', ' 1', '1Gib']) expect(parseQuantity(bad)).toBeUndefined()
  })
})

describe('webhookConfiguration', () => {
  it('is a valid MutatingWebhookConfiguration: fail-open, pods CREATE, both opt-ins, exclusions', () => {
    const mwc: any = webhookConfiguration({ namespace: 'faultline', caBundle: Buffer.from('PEM').toString('base64') })
    new MutatingWebhookConfiguration(mwc).validate()
    expect(mwc.webhooks.map((w: any) => w.name)).toEqual([
      'namespace.inject.faultline.io',
      'object.inject.faultline.io',
    ])
    const excluded = {
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: ['kube-system', 'kube-public', 'kube-node-lease', 'faultline'],
    }
    for (const w of mwc.webhooks) {
      expect(w).toMatchObject({
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        timeoutSeconds: 5,
        reinvocationPolicy: 'IfNeeded',
        rules: [
          { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
        ],
        clientConfig: {
          service: { name: 'faultline-injector', namespace: 'faultline', path: '/inject', port: 443 },
          caBundle: 'UEVN',
        },
      })
      expect(w.namespaceSelector.matchExpressions).toContainEqual(excluded)
      expect(w.matchConditions.map((m: any) => m.name)).toEqual(['not-host-network', 'not-injected'])
    }
    const [byNamespace, byPod] = mwc.webhooks
    expect(byNamespace.namespaceSelector.matchExpressions[0]).toEqual({
      key: 'faultline.io/inject',
      operator: 'In',
      values: ['enabled'],
    })
    expect(byNamespace.objectSelector).toEqual({
      matchExpressions: [{ key: 'faultline.io/inject', operator: 'NotIn', values: ['false'] }],
    })
    expect(byPod.namespaceSelector.matchExpressions[0]).toEqual({
      key: 'faultline.io/inject',
      operator: 'DoesNotExist',
    })
    expect(byPod.objectSelector).toEqual({
      matchExpressions: [{ key: 'faultline.io/inject', operator: 'In', values: ['true'] }],
    })
    // No shared objects between the webhooks (they would become YAML aliases).
    expect(byNamespace.clientConfig).not.toBe(byPod.clientConfig)
  })

  it('options: cert-manager, names, exclusions, timeout, reinvocation, no matchConditions', () => {
    const mwc: any = webhookConfiguration({
      namespace: 'chaos',
      name: 'fl',
      service: { name: 'fl-injector', port: 8443 },
      certManagerCertificate: 'chaos/fl-injector',
      excludeNamespaces: ['kube-system', 'chaos', 'cert-manager'],
      timeoutSeconds: 3,
      reinvocationPolicy: 'Never',
      matchConditions: false,
      labels: { 'app.kubernetes.io/name': 'faultline' },
    })
    new MutatingWebhookConfiguration(mwc).validate()
    expect(mwc.metadata).toEqual({
      name: 'fl',
      labels: { 'app.kubernetes.io/name': 'faultline' },
      annotations: { 'cert-manager.io/inject-ca-from': 'chaos/fl-injector' },
    })
    const w = mwc.webhooks[0]
    expect(w.clientConfig).toEqual({
      service: { name: 'fl-injector', namespace: 'chaos', path: '/inject', port: 8443 },
    })
    expect(w.namespaceSelector.matchExpressions[1].values).toEqual(['kube-system', 'chaos', 'cert-manager'])
    expect(w).toMatchObject({ timeoutSeconds: 3, reinvocationPolicy: 'Never' })
    expect(w.matchConditions).toBeUndefined()
    expect(problem(() => webhookConfiguration({ namespace: 'x', timeoutSeconds: 10 })).paths).toEqual([
      '/timeoutSeconds',
    ])
  })
})
