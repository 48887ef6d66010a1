/**
 * The injector with real parts: real HTTPS on 127.0.0.1 with a CA and a serving certificate made
 * by Debian's `openssl` CLI, AdmissionReview documents shaped like the ones the API server sends
 * (defaults applied, the service account volume already added, no name but generateName), the
 * returned JSONPatch applied with a real RFC 6902 implementation (fast-json-patch), and the
 * patched pod validated against the Pod schema (kubernetes-models). Namespace labels come from
 * the in-process fake API server through the real client-node.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import tls from 'node:tls'
import { applyPatch } from 'fast-json-patch'
import { Pod } from 'kubernetes-models/v1'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type InjectorConfig, resolveInjectorConfig } from '../../controller/injector/config.ts'
import { buildInjectorServer, type InjectorServer } from '../../controller/injector/server.ts'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { parseInjectorArgs } from '../../bin/injector.ts'
import { isFaultlineError } from '../../src/errors.ts'
import { type FakeKube, build, startFakeKube } from '../helpers/fake-kube/index.ts'
import { runCli } from '../helpers/cli.ts'
import { capturedLogger } from '../helpers/log.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
let dir: string
let ca: string

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A serving certificate for 127.0.0.1 signed by the test CA, as `<name>.crt` / `<name>.key`. */
function issue(name: string, cn: string): { cert: string; key: string } {
  openssl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-subj',
    `/CN=${cn}`,
    '-out',
    `${name}.csr`,
  )
  writeFileSync(
    path.join(dir, `${name}.ext`),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n',
  )
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  )
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-injector-'))
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=faultline-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  )
  ca = readFileSync(path.join(dir, 'ca.crt'), 'utf8')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Reply {
  status: number
  body: any
}

/** A request as the API server makes it: HTTPS, verifying the injector against the CA bundle. */
function request(
  url: string,
  method: string,
  urlPath: string,
  body?: string,
  contentType = 'application/json',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(urlPath, url),
      {
        method,
        ca,
        headers: body === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** The certificate the server presents, by its subject CN. */
function servedCn(url: string): Promise<string> {
  const { port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: Number(port), ca }, () => {
      const cn: string | string[] | undefined = socket.getPeerCertificate().subject.CN
      socket.end()
      resolve(String(Array.isArray(cn) ? cn[0] : cn))
    })
    socket.on('error', reject)
  })
}

// ── AdmissionReviews as the API server sends them ────────────────────────────

let seq = 0

/** A pod as a ReplicaSet creates it, after defaulting and the ServiceAccount admission plugin. */
function deploymentPod(
  over: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Record<string, unknown> } = {},
) {
  return {
    metadata: {
      generateName: 'web-7d4b9c6f8-',
      namespace: 'shop',
      labels: { app: 'web', 'pod-template-hash': '7d4b9c6f8', ...over.labels },
      ...(over.annotations ? { annotations: over.annotations } : {}),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web-7d4b9c6f8',
          uid: '5b0e8f86-3f7e-4c4a-9f3e-2d1c1a4b7e21',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-01-01T00:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:generateName': {} } },
        },
      ],
    },
    spec: {
      volumes: [
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: [
        {
          name: 'web',
          image: 'registry.example/web:1.4.2',
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
            { name: 'discovery', containerPort: 5353, protocol: 'UDP' },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
          volumeMounts: [
            {
              name: 'kube-api-access-x7k2p',
              readOnly: true,
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            },
          ],
          readinessProbe: {
            httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
        {
          name: 'log-shipper',
          image: 'registry.example/shipper:2',
          ports: [{ name: 'admin', containerPort: 2020, protocol: 'TCP' }],
          resources: {},
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      ...over.spec,
    },
    status: {},
  }
}

function review(object: unknown, o: { namespace?: string; operation?: string; kind?: string; dryRun?: boolean } = {}) {
  const kind = o.kind ?? 'Pod'
  const resource = { group: '', version: 'v1', resource: `${kind.toLowerCase()}s` }
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid: `0df28fbd-5f5f-11e8-bc74-36e6bb280816-${++seq}`,
      kind: { group: '', version: 'v1', kind },
      resource,
      requestKind: { group: '', version: 'v1', kind },
      requestResource: resource,
      namespace: o.namespace ?? 'shop',
      operation: o.operation ?? 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: 'a1b2c3',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: o.dryRun ?? false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  }
}

function decodePatch(reply: Reply): any[] | undefined {
  const p = reply.body.response.patch
  return p === undefined ? undefined : JSON.parse(Buffer.from(p, 'base64').toString('utf8'))
}

/** Applies the patch as the API server would (RFC 6902, every operation validated), then the schema. */
function applyAndValidate(pod: any, patch: any[]): any {
  const out = applyPatch(structuredClone(pod), patch, true, false).newDocument as any
  new Pod(out).validate()
  // What the schema cannot say: container names are unique across the pod.
  const names = [...out.spec.containers, ...(out.spec.initContainers ?? [])].map((c: any) => c.name)
  expect(new Set(names).size).toBe(names.length)
  return out
}

// ── a server per test group ──────────────────────────────────────────────────

interface Running {
  server: InjectorServer
  url: string
  lines: Record<string, any>[]
}

const running: InjectorServer[] = []
afterEach(async () => {
  for (const s of running.splice(0)) await s.close()
})

async function start(
  config: InjectorConfig,
  o: { cluster?: () => Cluster; certFile?: string; keyFile?: string; tlsPollMs?: number } = {},
): Promise<Running> {
  const { log, lines } = capturedLogger('debug')
  const pair = o.certFile ? { cert: o.certFile, key: o.keyFile! } : issue(`srv${++seq}`, 'faultline-injector')
  const server = buildInjectorServer({
    listen: { host: '127.0.0.1', port: 0 },
    certFile: pair.cert,
    keyFile: pair.key,
    config,
    logger: log,
    cluster: o.cluster,
    tlsPollMs: o.tlsPollMs,
  })
  running.push(server)
  const url = await server.listen()
  return { server, url, lines }
}

const CONFIG = resolveInjectorConfig({
  image: 'faultline:0.1.0',
  ownNamespace: 'faultline',
  redisUrl: 'redis://faultline-redis.faultline.svc:6379',
  adminTokenSecret: { name: 'faultline-sidecar-token', key: 'token' },
})

async function inject(r: Running, object: unknown, o: Parameters<typeof review>[1] = {}) {
  const doc = review(object, o)
  const reply = await request(r.url, 'POST', '/inject', JSON.stringify(doc))
  expect(reply.status).toBe(200)
  expect(reply.body.apiVersion).toBe('admission.k8s.io/v1')
  expect(reply.body.kind).toBe('AdmissionReview')
  expect(reply.body.response.uid).toBe(doc.request.uid)
  expect(reply.body.response.allowed).toBe(true)
  return { reply, patch: decodePatch(reply), warnings: reply.body.response.warnings as string[] | undefined }
}

describe('injection over HTTPS', () => {
  it('a Deployment-created pod with several ports: native sidecar in fleet mode fronting the first TCP port, capture first', async () => {
    const r = await start(CONFIG)
    const pod = deploymentPod()
    const { reply, patch, warnings } = await inject(r, pod)
    expect(reply.body.response.patchType).toBe('JSONPatch')
    expect(warnings).toBeUndefined()
    const out = applyAndValidate(pod, patch!)

    expect(out.spec.initContainers.map((c: any) => c.name)).toEqual(['faultline-capture', 'faultline-proxy'])
    const [capture, sidecar] = out.spec.initContainers
    expect(capture.args).toEqual(['capture', '--proxy-port', '8480', '--app-ports', '8080', '--sidecar-uid', '65532'])
    expect(capture.securityContext.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] })
    expect(sidecar.restartPolicy).toBe('Always')
    expect(sidecar.args).toEqual([
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
      'redis://faultline-redis.faultline.svc:6379',
      '--advertise-admin',
      'http://$(FAULTLINE_POD_IP):8481',
    ])
    // Optional: a namespace without the Secret still starts the pod; the sidecar then proxies and
    // refuses every admin change (--admin-token-required).
    expect(sidecar.env).toEqual([
      { name: 'FAULTLINE_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      {
        name: 'FAULTLINE_ADMIN_TOKEN',
        valueFrom: { secretKeyRef: { name: 'faultline-sidecar-token', key: 'token', optional: true } },
      },
      {
        name: 'FAULTLINE_MEMORY_LIMIT_MB',
        valueFrom: {
          resourceFieldRef: { containerName: 'faultline-proxy', resource: 'limits.memory', divisor: '1Mi' },
        },
      },
    ])
    // The pod's own parts are untouched; the lock volume is appended after the service account's.
    expect(out.spec.containers).toEqual(pod.spec.containers)
    expect(out.spec.volumes.map((v: any) => v.name)).toEqual(['kube-api-access-x7k2p', 'faultline-xtables-lock'])
    expect(out.metadata.generateName).toBe('web-7d4b9c6f8-')
    expect(out.metadata.name).toBeUndefined()
    expect(JSON.parse(out.metadata.annotations['faultline.io/status'])).toMatchObject({
      initContainers: ['faultline-capture', 'faultline-proxy'],
      appPort: 8080,
      capture: 'iptables',
      service: 'web',
      fleet: true,
    })
    expect(r.lines.filter((l) => l.msg === 'sidecar injected')).toEqual([
      expect.objectContaining({ level: 30, pod: 'shop/web-7d4b9c6f8-*', appPort: 8080, fleet: true }),
    ])

    // Reinvocation (reinvocationPolicy: IfNeeded) sees the injected pod: nothing changes.
    const again = await inject(r, out)
    expect(again.patch).toBeUndefined()
    expect(again.reply.body.response.patchType).toBeUndefined()
    expect(again.warnings).toBeUndefined()
  })

  it('annotations choose the port, resources, exclusions and service', async () => {
    const r = await start(CONFIG)
    const pod = deploymentPod({
      annotations: {
        'faultline.io/app-port': 'metrics',
        'faultline.io/exclude-inbound-ports': '8080,2020',
        'faultline.io/proxy-cpu': '250m',
        'faultline.io/proxy-memory-limit': '512Mi',
        'faultline.io/service': 'web-metrics',
      },
    })
    const { patch } = await inject(r, pod)
    const out = applyAndValidate(pod, patch!)
    const [capture, sidecar] = out.spec.initContainers
    expect(capture.args).toEqual([
      'capture',
      '--proxy-port',
      '8480',
      '--app-ports',
      '9090',
      '--sidecar-uid',
      '65532',
      '--exclude-ports',
      '2020,8080',
    ])
    expect(sidecar.args.slice(0, 3)).toEqual(['sidecar', '--upstream', 'http://127.0.0.1:9090'])
    expect(sidecar.args[sidecar.args.indexOf('--service') + 1]).toBe('web-metrics')
    expect(sidecar.resources).toEqual({
      requests: { cpu: '250m', memory: '64Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    })
    // The existing annotations map got one more key, through an escaped pointer.
    expect(patch![0]).toMatchObject({ op: 'add', path: '/metadata/annotations/faultline.io~1status' })
    expect(out.metadata.annotations['faultline.io/app-port']).toBe('metrics')
  })

  it('faultline.io/capture: none adds the sidecar alone, without privileges', async () => {
    const r = await start(CONFIG)
    const pod = deploymentPod({ annotations: { 'faultline.io/capture': 'none' } })
    const { patch } = await inject(r, pod)
    const out = applyAndValidate(pod, patch!)
    expect(out.spec.initContainers.map((c: any) => c.name)).toEqual(['faultline-proxy'])
    expect(out.spec.volumes).toEqual(pod.spec.volumes)
    expect(JSON.stringify(out.spec.initContainers)).not.toMatch(/NET_ADMIN|NET_RAW|"runAsUser":0/)
  })

  it('a dry-run create is answered the same (the injector has no side effects)', async () => {
    const r = await start(CONFIG)
    const { patch } = await inject(r, deploymentPod(), { dryRun: true })
    expect(patch).toBeDefined()
  })

  it('leaves alone: hostNetwork, already injected, labelled "false", kube-system, its own namespace', async () => {
    const r = await start(CONFIG)
    const injected = applyAndValidate(deploymentPod(), (await inject(r, deploymentPod())).patch!)
    const haveSidecar = deploymentPod({
      spec: { initContainers: [{ name: 'faultline-proxy', image: 'faultline:0.0.9' }] },
    })
    const cases: [string, unknown, string?][] = [
      ['hostNetwork', deploymentPod({ labels: { 'faultline.io/inject': 'true' }, spec: { hostNetwork: true } })],
      ['already injected (annotation)', injected],
      ['already injected (container, no annotation)', haveSidecar],
      ['labelled "false"', deploymentPod({ labels: { 'faultline.io/inject': 'false' } })],
      ['kube-system', deploymentPod({ labels: { 'faultline.io/inject': 'true' } }), 'kube-system'],
      ['own namespace', deploymentPod({ labels: { 'faultline.io/inject': 'true' } }), 'faultline'],
    ]
    for (const [what, pod, namespace] of cases) {
      const { reply, patch, warnings } = await inject(r, pod, { namespace })
      expect({ what, patch, warnings, patchType: reply.body.response.patchType }).toEqual({
        what,
        patch: undefined,
        warnings: undefined,
        patchType: undefined,
      })
    }
    const skipped = r.lines.filter((l) => l.msg === 'not injected').map((l) => l.because)
    expect(skipped).toEqual([
      'hostNetwork pod',
      'already injected',
      'already injected',
      'pod label faultline.io/inject=false',
      'kube-system is an excluded namespace',
      "faultline is the injector's namespace",
    ])
  })
})

describe('fail-open', () => {
  it('an internal error admits the pod unchanged, with a warning and one log line', async () => {
    // A fault injected into the configuration: the patch builder throws reading the image.
    const broken = { ...CONFIG }
    Object.defineProperty(broken, 'image', {
      get() {
        throw new Error('injected fault: image unreadable')
      },
    })
    const r = await start(broken)
    const { reply, patch, warnings } = await inject(r, deploymentPod())
    expect(patch).toBeUndefined()
    expect(reply.body.response.patchType).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings![0]).toMatch(
      /^faultline: shop\/web-7d4b9c6f8-\* admitted without the sidecar: injected fault: image unreadable \[FL_ERR_INTERNAL\]$/,
    )
    const logged = r.lines.filter((l) => l.uid === reply.body.response.uid)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ level: 40, code: 'FL_ERR_INTERNAL', msg: 'pod admitted without the sidecar' })
    expect(logged[0]!.stack).toContain('injected fault')
  })

  it('a pod it cannot understand, or a bad annotation, is admitted unchanged with the reason', async () => {
    const r = await start(CONFIG)
    const cases: [unknown, RegExp][] = [
      [
        { metadata: { generateName: 'x-' }, spec: { containers: 'web' } },
        /\/request\/object\/spec\/containers must be an array/,
      ],
      [
        deploymentPod({ annotations: { 'faultline.io/app-port': 'grpc' } }),
        /faultline.io~1app-port names no TCP containerPort/,
      ],
      [
        deploymentPod({ annotations: { 'faultline.io/proxy-memory': '1Gi' } }),
        /memory request 1Gi is more than its limit 256Mi/,
      ],
      [
        deploymentPod({ spec: { containers: [{ name: 'a', image: 'a', ports: [{ containerPort: 8480 }] }] } }),
        /8480 is the sidecar's proxy port/,
      ],
    ]
    for (const [object, reason] of cases) {
      const { patch, warnings } = await inject(r, object)
      expect(patch).toBeUndefined()
      expect(warnings).toHaveLength(1)
      expect(warnings![0]).toMatch(reason)
      expect(warnings![0]!.length).toBeLessThanOrEqual(256)
    }
    expect(r.lines.filter((l) => l.msg === 'pod admitted without the sidecar')).toHaveLength(cases.length)
  })

  it('a review that is not a pod CREATE is admitted unchanged with a warning', async () => {
    const r = await start(CONFIG)
    const { patch, warnings } = await inject(r, { metadata: { name: 'web' } }, { kind: 'Service' })
    expect(patch).toBeUndefined()
    expect(warnings![0]).toContain('only handles pod CREATE, not CREATE Service')
  })
})

describe('malformed reviews are a 400 with the reason', () => {
  it('not JSON, wrong apiVersion or kind, no request uid, no body', async () => {
    const r = await start(CONFIG)
    const good = review(deploymentPod())
    const cases: [string | undefined, string, string[]][] = [
      ['{"apiVersion":', 'application/json', ['']],
      [JSON.stringify({ ...good, apiVersion: 'admission.k8s.io/v1beta1' }), 'application/json', ['/apiVersion']],
      [JSON.stringify({ ...good, kind: 'Pod' }), 'application/json', ['/kind']],
      [JSON.stringify({ ...good, request: { ...good.request, uid: '' } }), 'application/json', ['/request/uid']],
      [
        JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
        'application/json',
        ['/request'],
      ],
      ['', 'application/json', ['']],
      [JSON.stringify(good), 'text/plain', []],
    ]
    for (const [body, type, paths] of cases) {
      const reply = await request(r.url, 'POST', '/inject', body, type)
      if (paths.length === 0) {
        // The content type is not what makes a review: a JSON body is read whatever it says.
        expect(reply.status).toBe(200)
        continue
      }
      expect({ body, status: reply.status, code: reply.body.code }).toEqual({
        body,
        status: 400,
        code: 'FL_ERR_BAD_REQUEST',
      })
      expect(reply.body.errors.map((e: any) => e.path)).toEqual(paths)
    }
    expect(r.lines.filter((l) => l.msg === 'malformed AdmissionReview refused')).toHaveLength(6)
  })

  it("healthz answers; other paths are a 404 in faultline's error shape", async () => {
    const r = await start(CONFIG)
    expect(await request(r.url, 'GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } })
    for (const [method, urlPath] of [
      ['GET', '/inject'],
      ['POST', '/nowhere?x=1'],
      ['DELETE', '/healthz'],
    ])
      expect(await request(r.url, method!, urlPath!)).toEqual({
        status: 404,
        body: {
          code: 'FL_ERR_NOT_FOUND',
          error: `not found: no route ${method} ${urlPath!.split('?')[0]} (the injector serves POST /inject and GET /healthz)`,
        },
      })
  })

  it("a body over 4 MiB is a 413 in faultline's error shape", async () => {
    const r = await start(CONFIG)
    const reply = await request(r.url, 'POST', '/inject', `"${'x'.repeat(4 * 1024 * 1024)}"`)
    expect(reply).toMatchObject({ status: 413, body: { code: 'FL_ERR_BAD_REQUEST' } })
    expect(Object.keys(reply.body).sort()).toEqual(['code', 'error', 'errors'])
  })
})

describe('namespace labels through the Kubernetes API (namespaceLookup)', () => {
  let fake: FakeKube
  beforeAll(async () => {
    fake = await startFakeKube({ nodes: 1 })
    fake.put(build.namespace('shop', { 'faultline.io/inject': 'enabled' }))
    fake.put(build.namespace('plain'))
    fake.put(build.namespace('locked', { 'faultline.io/inject': 'disabled' }))
    fake.put(
      build.namespace('strict', {
        'faultline.io/inject': 'enabled',
        'pod-security.kubernetes.io/enforce': 'restricted',
      }),
    )
  })
  afterAll(() => fake.close())

  it('re-checks the namespace opt-in and turns capture off where Pod Security forbids NET_ADMIN', async () => {
    const cluster = new Cluster(fake.kubeConfig())
    const r = await start({ ...CONFIG, namespaceLookup: true }, { cluster: () => cluster })
    const unlabelled = deploymentPod()
    const opted = deploymentPod({ labels: { 'faultline.io/inject': 'true' } })

    expect((await inject(r, unlabelled, { namespace: 'shop' })).patch).toBeDefined()
    expect((await inject(r, unlabelled, { namespace: 'plain' })).patch).toBeUndefined()
    expect((await inject(r, opted, { namespace: 'plain' })).patch).toBeDefined()
    expect((await inject(r, opted, { namespace: 'locked' })).patch).toBeUndefined()

    const strict = await inject(r, unlabelled, { namespace: 'strict' })
    const out = applyAndValidate(unlabelled, strict.patch!)
    expect(out.spec.initContainers.map((c: any) => c.name)).toEqual(['faultline-proxy'])
    expect(strict.warnings![0]).toContain('Pod Security "restricted"')

    // Cached: one read per namespace however many pods.
    await inject(r, unlabelled, { namespace: 'shop' })
    const reads = fake.requests.filter((q) => q.method === 'GET' && /^\/api\/v1\/namespaces\/shop$/.test(q.path))
    expect(reads).toHaveLength(1)
    // A pod skipped on what the review says costs no read at all.
    expect((await inject(r, opted, { namespace: 'kube-system' })).patch).toBeUndefined()
    expect(fake.requests.some((q) => q.path === '/api/v1/namespaces/kube-system')).toBe(false)
  })

  it('when the lookup fails, decides on the webhook selectors and says so', async () => {
    const cluster = new Cluster(fake.kubeConfig())
    const r = await start({ ...CONFIG, namespaceLookup: true }, { cluster: () => cluster })
    fake.failNext({
      method: 'GET',
      path: '/api/v1/namespaces/shop',
      code: 403,
      reason: 'Forbidden',
      message: 'namespaces "shop" is forbidden',
    })
    const { patch, warnings } = await inject(r, deploymentPod(), { namespace: 'shop' })
    expect(patch).toBeDefined()
    expect(warnings![0]).toMatch(/cannot read namespace shop's labels .*forbidden.*decided on the webhook's selectors/)
    const line = r.lines.find((l) => l.msg === 'sidecar injected')
    expect(line).toMatchObject({ level: 40, namespaceLookupError: expect.stringContaining('forbidden') })
  })
})

describe('TLS', () => {
  it('reloads the certificate when its files change, and keeps the old one while they disagree', async () => {
    const first = issue('rot1', 'injector-first')
    const live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') }
    writeFileSync(live.cert, readFileSync(first.cert))
    writeFileSync(live.key, readFileSync(first.key))
    const r = await start(CONFIG, { certFile: live.cert, keyFile: live.key, tlsPollMs: 200 })
    expect(await servedCn(r.url)).toBe('injector-first')

    // Half a rotation: the new certificate without its key is not applied.
    const second = issue('rot2', 'injector-second')
    writeFileSync(`${live.cert}.tmp`, readFileSync(second.cert))
    renameSync(`${live.cert}.tmp`, live.cert)
    await expect
      .poll(() => r.lines.some((l) => l.msg === 'TLS files not reloaded; keeping the current certificate'))
      .toBe(true)
    expect(await servedCn(r.url)).toBe('injector-first')

    writeFileSync(`${live.key}.tmp`, readFileSync(second.key))
    renameSync(`${live.key}.tmp`, live.key)
    await expect.poll(() => servedCn(r.url), { timeout: 5000 }).toBe('injector-second')
    expect(r.lines.filter((l) => l.msg === 'TLS certificate reloaded')).toHaveLength(1)
    // Requests still work on the new certificate.
    expect((await request(r.url, 'GET', '/healthz')).status).toBe(200)
  })

  it('refuses to start on a key that is not the certificate’s', () => {
    const a = issue('mis1', 'a')
    const b = issue('mis2', 'b')
    try {
      buildInjectorServer({ listen: { host: '127.0.0.1', port: 0 }, certFile: a.cert, keyFile: b.key, config: CONFIG })
      expect.unreachable()
    } catch (err) {
      expect(isFaultlineError(err) && err.code).toBe('FL_ERR_CONFIG_INVALID')
      expect(isFaultlineError(err) && err.issues).toEqual([
        { path: '--tls-key', message: 'does not match the certificate' },
      ])
    }
  })
})

describe('faultline injector (the command)', () => {
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  })

  it('parses flags and environment, with every problem named', () => {
    const configFile = path.join(dir, 'injector.yaml')
    writeFileSync(configFile, 'image: reg/faultline:1\ncapture: none\nexcludeNamespaces: [kube-system]\n')
    // Parsing checks that the files can be read, not what they hold (that is buildInjectorServer's).
    const [cert, key] = ['c.pem', 'k.pem'].map((name) => path.join(dir, name))
    writeFileSync(cert!, 'cert')
    writeFileSync(key!, 'key')
    const args = parseInjectorArgs(['--tls-cert', cert!, '--config', configFile], {
      FAULTLINE_TLS_KEY: key,
      FAULTLINE_NAMESPACE: 'chaos',
    })
    expect(args).toMatchObject({
      listen: { host: '0.0.0.0', port: 8443 },
      certFile: cert,
      keyFile: key,
      config: { image: 'reg/faultline:1', capture: 'none', excludeNamespaces: ['kube-system'], ownNamespace: 'chaos' },
    })
    try {
      parseInjectorArgs(['--listen', 'nowhere'], {})
      expect.unreachable()
    } catch (err) {
      expect(isFaultlineError(err) && err.issues!.map((i) => i.path)).toEqual(['--listen', '--tls-cert', '--tls-key'])
    }
    writeFileSync(configFile, 'image: reg/faultline:1\ncapture: ebpf\nproxyport: 1\n')
    try {
      parseInjectorArgs(['--tls-cert', cert!, '--tls-key', key!, '--config', configFile], {})
      expect.unreachable()
    } catch (err) {
      expect(isFaultlineError(err) && err.issues!.map((i) => i.path)).toEqual(['/proxyport', '/capture'])
      expect((err as Error).message).toContain('did you mean "proxyPort"')
    }
  })

  it('refuses to start without its certificate, naming the flags', () => {
    const result = spawnSync(process.execPath, [path.join(ROOT, 'bin/faultline.js'), 'injector'], { encoding: 'utf8' })
    expect(result.status).toBe(64) // a usage error (bin/usage.ts)
    expect(result.stderr).toMatch(/^faultline injector: .*--tls-cert is required/)
  })

  it('a missing or unreadable --tls-cert, --tls-key or --config is a usage error (exit 64) naming each flag', async () => {
    const pair = issue('files', 'faultline-injector')
    const missing = path.join(dir, 'missing.pem')
    const r1 = await runCli(['injector', '--listen', '127.0.0.1:0', '--tls-cert', missing, '--tls-key', pair.key])
    expect(r1.code).toBe(64)
    expect(r1.stderr).toBe(
      `faultline injector: --tls-cert cannot read ${missing}: ENOENT (see faultline injector --help)\n`,
    )
    const r2 = await runCli(['injector', '--tls-cert', pair.cert, '--tls-key', dir, '--config', missing])
    expect(r2.code).toBe(64)
    expect(r2.stderr).toBe(
      `faultline injector: --tls-key cannot read ${dir}: EISDIR; --config cannot read ${missing}: ENOENT` +
        ' (see faultline injector --help)\n',
    )
    // A file that is there but holds no certificate is not a usage error: exit 1, the flag named.
    const r3 = await runCli(['injector', '--listen', '127.0.0.1:0', '--tls-cert', pair.key, '--tls-key', pair.key])
    expect(r3.code).toBe(1)
    expect(r3.stderr).toContain('--tls-cert: must be a PEM certificate')
  })

  it('--help lists the exit codes', async () => {
    const r = await runCli(['injector', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/exit codes: 0 stopped by SIGTERM\/SIGINT, 64 usage error/)
  })

  it('serves until SIGTERM, then exits 0', async () => {
    const pair = issue('cli', 'faultline-injector')
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin/faultline.js'),
        'injector',
        '--listen',
        '127.0.0.1:0',
        '--tls-cert',
        pair.cert,
        '--tls-key',
        pair.key,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FAULTLINE_NAMESPACE: 'faultline' } },
    )
    children.push(child)
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    let url: string | undefined
    for await (const line of readline.createInterface({ input: child.stdout! })) {
      const entry = JSON.parse(line)
      if (entry.msg === 'injector listening') {
        url = entry.url
        break
      }
    }
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const reply = await request(url!, 'POST', '/inject', JSON.stringify(review(deploymentPod())))
    expect(decodePatch(reply)!.length).toBeGreaterThan(0)
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
