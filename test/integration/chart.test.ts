/**
 * charts/faultline with the real Helm v4 (test/helpers/kube-tools.ts): `helm lint --strict` and
 * `helm template` with the default values and with the main switches flipped; every rendered
 * object validated against the Kubernetes API schemas (kubernetes-models, and the cert-manager and
 * prometheus-operator models for the custom resources); the webhook pointing
 * at the injector's Service with the generated CA (checked with node:crypto's X509Certificate);
 * the RBAC equal to docs/kubernetes.md; the dashboard built from the real metric names; typos in
 * values refused by values.schema.json.
 *
 * Reuse across upgrades: `lookup` returns nothing in plain `helm template`, so the generated
 * token, sidecar token and webhook CA are rendered again by `helm template --dry-run=server`
 * against a small in-process API server (below) that holds the Secrets a first render produced,
 * exactly as an API server holds them after `helm install`: Helm's own `lookup` fetches them and
 * the chart must hand back the same values.
 */
import { execFile } from 'node:child_process'
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1'
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1'
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import { ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1'
import { Certificate, Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1'
import { PodMonitor, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { CONTROLLER_FLAGS } from '../../bin/controller.ts'
import { parseInjectorArgs } from '../../bin/injector.ts'
import { resolveInjectorConfig } from '../../controller/injector/config.ts'
import { DEFAULT_IMAGE } from '../../controller/injector/image.ts'
import { sidecarContainer } from '../../controller/injector/patch.ts'
import type { InjectionPlan } from '../../controller/injector/plan.ts'
import { buildInjectorServer } from '../../controller/injector/server.ts'
import { webhookConfiguration } from '../../controller/injector/webhook-config.ts'
import { parseSidecarConfig } from '../../src/config.ts'
import { silentLogger } from '../../src/log.ts'
import { CONTROLLER_METRICS } from '../../controller/metrics.ts'
import { BUILD_INFO, SIDECAR_METRICS } from '../../src/metrics.ts'
import { startController } from '../helpers/controller.ts'
import { helmPath } from '../helpers/kube-tools.ts'

const ROOT = path.join(import.meta.dirname, '../..')
const CHART = path.join(ROOT, 'charts/faultline')
const RELEASE = 'chaos'
const NS = 'faultline-system'
const run = promisify(execFile)

// Helm writes caches and reads kubeconfigs under HOME: keep it in a directory of this test.
const home = mkdtempSync(path.join(tmpdir(), 'faultline-chart-'))
const helmEnv = {
  ...process.env,
  HOME: home,
  KUBECONFIG: path.join(home, 'no-kubeconfig'),
  HELM_CACHE_HOME: path.join(home, 'cache'),
  HELM_CONFIG_HOME: path.join(home, 'config'),
  HELM_DATA_HOME: path.join(home, 'data'),
}
afterAll(() => rmSync(home, { recursive: true, force: true }))

type Obj = Record<string, any>
type Values = Record<string, string | number | boolean>

function setArgs(values: Values): string[] {
  return Object.entries(values).flatMap(([k, v]) => [typeof v === 'string' ? '--set-string' : '--set', `${k}=${v}`])
}

async function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(helmPath(), args, { env: helmEnv, maxBuffer: 64 * 1024 * 1024 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) }
  }
}

/** `helm template` with these values; the rendered objects (empty documents dropped). */
async function render(values: Values = {}, extra: string[] = [], release = RELEASE): Promise<Obj[]> {
  const r = await helm(['template', release, CHART, '--namespace', NS, ...setArgs(values), ...extra])
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`)
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`)
      return d.toJS() as Obj | null
    })
    .filter((o): o is Obj => o !== null)
}

const find = (objs: Obj[], kind: string, name?: string): Obj[] =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name))
function one(objs: Obj[], kind: string, name: string): Obj {
  const found = find(objs, kind, name)
  expect(found, `${kind}/${name}`).toHaveLength(1)
  return found[0]!
}
const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8')
const envOf = (container: Obj, name: string): Obj | undefined => container.env?.find((e: Obj) => e.name === name)

// ---------------------------------------------------------------------------------------------
// Validation: every kind through a maintained model of its API schema: kubernetes-models for the
// built-in kinds, @kubernetes-models/cert-manager and @kubernetes-models/prometheus-operator for
// the custom resources (generated from those projects' CRDs).

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'cert-manager.io/v1/Issuer': Issuer,
  'cert-manager.io/v1/Certificate': Certificate,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

function validateAll(objs: Obj[]): void {
  expect(objs.length).toBeGreaterThan(0)
  const seen = new Set<string>()
  for (const obj of objs) {
    const key = `${obj.apiVersion}/${obj.kind}`
    const id = `${obj.kind}/${obj.metadata?.name}`
    const Model = MODELS[key]
    if (!Model) throw new Error(`${id}: no model for ${key}`)
    try {
      new Model(obj).validate()
    } catch (err) {
      throw new Error(`${id} does not validate: ${(err as Error).message}`, { cause: err })
    }
    expect(obj.metadata.name, id).toMatch(DNS_SUBDOMAIN)
    expect(obj.metadata.name.length, id).toBeLessThanOrEqual(63)
    for (const [k, v] of Object.entries((obj.metadata.labels ?? {}) as Obj)) {
      expect(typeof v, `${id} label ${k}`).toBe('string')
      expect((v as string).length, `${id} label ${k}`).toBeLessThanOrEqual(63)
    }
    const unique = `${key}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`
    expect(seen.has(unique), `${unique} rendered twice`).toBe(false)
    seen.add(unique)
    // The injector's --config: what `faultline injector` itself accepts (it refuses unknown fields).
    if (obj.kind === 'ConfigMap' && obj.data?.['injector.yaml'] !== undefined)
      resolveInjectorConfig(parse(obj.data['injector.yaml']), `${id} injector.yaml`)
  }
}

// ---------------------------------------------------------------------------------------------
// The scenarios: defaults and the main switches flipped. Each is linted and rendered.

const NO_FAMILIES: Values = Object.fromEntries(
  [
    'select',
    'podKill',
    'podEvict',
    'podFailure',
    'podStress',
    'networkPartition',
    'nodeFaults',
    'nodeDrain',
    'scale',
  ].map((f) => [`rbac.families.${f}`, false]),
)
const SCENARIOS: [string, Values][] = [
  ['defaults', {}],
  ['cert-manager with its own self-signed CA', { 'certManager.enabled': true }],
  [
    'cert-manager with an existing ClusterIssuer',
    {
      'certManager.enabled': true,
      'certManager.issuerRef.name': 'corp-ca',
      'certManager.issuerRef.kind': 'ClusterIssuer',
    },
  ],
  ['external Redis', { 'redis.enabled': false, 'redis.url': 'redis://redis.shared.svc:6379/2' }],
  ['no Redis at all', { 'redis.enabled': false }],
  ['Redis with persistence', { 'redis.persistence.enabled': true }],
  ['PodMonitor on', { 'metrics.podMonitor.enabled': true, 'metrics.podMonitor.labels.release': 'prometheus' }],
  [
    'ServiceMonitor on',
    { 'metrics.serviceMonitor.enabled': true, 'metrics.serviceMonitor.labels.release': 'prometheus' },
  ],
  ['every RBAC family off', NO_FAMILIES],
  ['no RBAC, no ServiceAccount', { 'rbac.create': false, 'controller.serviceAccount.create': false }],
  ['capture off', { 'injector.sidecar.capture': 'none' }],
  ['the injector reads namespaces', { 'injector.namespaceLookup': true, 'sidecarToken.optional': false }],
  ['injector off', { 'injector.enabled': false }],
  [
    'persistent data, existing token Secrets, no dashboard',
    {
      'controller.persistence.enabled': true,
      'controller.token.existingSecret': 'my-token',
      'sidecarToken.existingSecret': 'my-sidecar-token',
      'metrics.dashboard.enabled': false,
    },
  ],
  [
    'an existing data claim',
    { 'controller.persistence.enabled': true, 'controller.persistence.existingClaim': 'data' },
  ],
  ['image by digest', { 'image.digest': `sha256:${'ab'.repeat(32)}`, 'injector.sidecar.image.repository': 'reg/fl' }],
]

const ctrl = `${RELEASE}-faultline-controller`
const inj = `${RELEASE}-faultline-injector`

describe('charts/faultline: lint, template, schemas', () => {
  it('Chart.yaml: apiVersion v2 and appVersion from package.json', () => {
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8'))
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    expect(chart.apiVersion).toBe('v2')
    expect(chart.name).toBe('faultline')
    expect(chart.appVersion).toBe(pkg.version)
  })

  it('a release name of 53 characters (the longest Helm takes) still gives valid names of 63 at most', async () => {
    const release = `r${'x'.repeat(44)}-faultln`
    expect(release).toHaveLength(53)
    const objs = await render(
      { 'certManager.enabled': true, 'metrics.podMonitor.enabled': true, 'metrics.serviceMonitor.enabled': true },
      [],
      release,
    )
    validateAll(objs)
    const names = objs.map((o) => o.metadata.name as string)
    expect(new Set(names.filter((n) => n.endsWith('-controller'))).size).toBe(1)
    expect(names.filter((n) => n.endsWith('-injector')).length).toBeGreaterThan(0)
    for (const c of find(objs, 'Certificate')) for (const d of c.spec.dnsNames ?? []) expect(d).toMatch(DNS_SUBDOMAIN)
  })

  it('the models refuse what the API server would: a bad key algorithm, a bad interval, a numeric port name', async () => {
    const objs = await render({
      'certManager.enabled': true,
      'metrics.podMonitor.enabled': true,
      'metrics.serviceMonitor.enabled': true,
    })
    validateAll(objs)
    const broken = (kind: string, change: (o: Obj) => void, message: string) => {
      const copy: Obj[] = structuredClone(objs)
      change(find(copy, kind)[0]!)
      expect(() => validateAll(copy), kind).toThrow(message)
    }
    broken('Certificate', (o) => (o.spec.privateKey.algorithm = 'DSA'), 'spec/privateKey/algorithm')
    broken('Certificate', (o) => delete o.spec.issuerRef, 'issuerRef')
    broken('PodMonitor', (o) => (o.spec.podMetricsEndpoints[0].interval = 'often'), 'interval')
    broken('ServiceMonitor', (o) => (o.spec.endpoints[0].port = 8490), 'spec/endpoints/0/port')
    broken('Issuer', (o) => (o.spec = { selfSigned: 'yes' }), 'selfSigned')
    broken('Deployment', (o) => (o.spec.replicas = 'one'), 'replicas')
  })

  it.each(SCENARIOS)('%s: helm lint --strict passes and every object validates', async (_name, values) => {
    const lint = await helm(['lint', '--strict', CHART, '--namespace', NS, ...setArgs(values)])
    expect(lint.code, lint.stdout + lint.stderr).toBe(0)
    expect(lint.stdout).toContain('0 chart(s) failed')
    validateAll(await render(values))
  })
})

describe('the controller', () => {
  let objs: Obj[]
  beforeAll(async () => {
    objs = await render()
  })

  it('runs non-root on a read-only root, with --data on a volume and /healthz probes', () => {
    const dep = one(objs, 'Deployment', ctrl)
    const pod = dep.spec.template.spec
    const c = pod.containers[0]
    expect(dep.spec.replicas).toBe(1)
    expect(pod.serviceAccountName).toBe(ctrl)
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 })
    expect(c.securityContext).toMatchObject({
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    })
    expect(c.image).toBe('faultline:0.1.0')
    expect(c.args.slice(0, 5)).toEqual(['controller', '--listen', '0.0.0.0:8490', '--data', '/var/lib/faultline'])
    const data = pod.volumes.find((v: Obj) => v.name === 'data')
    expect(data).toEqual({ name: 'data', emptyDir: {} })
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/faultline' })
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
      expect(c[probe].httpGet, probe).toEqual({ path: '/healthz', port: 'http' })
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8490, protocol: 'TCP' }])
    const svc = one(objs, 'Service', ctrl)
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 8490, targetPort: 'http', protocol: 'TCP' }])
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels)
    expect(dep.spec.template.metadata.labels).toMatchObject(dep.spec.selector.matchLabels)
  })

  it('gets its namespace from the downward API, its token from the Secret, the Redis URL and the image', () => {
    const c = one(objs, 'Deployment', ctrl).spec.template.spec.containers[0]
    expect(envOf(c, 'FAULTLINE_NAMESPACE')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } })
    expect(envOf(c, 'FAULTLINE_TOKEN')!.valueFrom).toEqual({
      secretKeyRef: { name: `${RELEASE}-faultline-token`, key: 'token' },
    })
    expect(envOf(c, 'SIDECAR_TOKEN')!.valueFrom).toEqual({
      secretKeyRef: { name: `${RELEASE}-faultline-sidecar-token`, key: 'token' },
    })
    expect(envOf(c, 'FAULTLINE_REDIS')!.value).toBe(`redis://${RELEASE}-faultline-redis.${NS}.svc:6379`)
    // podStress's default image is the controller's own, which defaults to DEFAULT_IMAGE (the tag
    // `npm run image` builds).
    expect(envOf(c, 'FAULTLINE_IMAGE')!.value).toBe(c.image)
    expect(c.image).toBe(DEFAULT_IMAGE)
    const token = one(objs, 'Secret', `${RELEASE}-faultline-token`)
    expect(b64(token.data.token)).toMatch(/^[A-Za-z0-9]{40}$/)
  })

  it.each([
    [
      'a repository and tag',
      { 'image.repository': 'reg.local/chaos/faultline', 'image.tag': '9.9.9' },
      'reg.local/chaos/faultline:9.9.9',
    ],
    ['a digest', { 'image.digest': `sha256:${'cd'.repeat(32)}` }, `faultline@sha256:${'cd'.repeat(32)}`],
  ] as [string, Values, string][])(
    'passes its own image to podStress (FAULTLINE_IMAGE) with %s',
    async (_n, values, image) => {
      const c = one(await render(values), 'Deployment', ctrl).spec.template.spec.containers[0]
      expect(c.image).toBe(image)
      expect(envOf(c, 'FAULTLINE_IMAGE')!.value).toBe(image)
    },
  )

  it('passes only flags and FAULTLINE_ variables that `faultline controller` (bin/controller.ts) reads', () => {
    const c = one(objs, 'Deployment', ctrl).spec.template.spec.containers[0]
    const flags = (c.args as string[]).filter((a) => a.startsWith('--')).map((a) => a.slice(2))
    for (const flag of flags) expect(Object.keys(CONTROLLER_FLAGS), flag).toContain(flag)
    const envNames = Object.values(CONTROLLER_FLAGS).map(([env]) => env as string)
    // FAULTLINE_IMAGE is read by the Kubernetes driver (podStress's default image), not a flag.
    for (const e of c.env as Obj[])
      if (e.name.startsWith('FAULTLINE_') && e.name !== 'FAULTLINE_IMAGE') expect(envNames, e.name).toContain(e.name)
  })

  it('uses a PersistentVolumeClaim, existing Secrets, and an external Redis or none when told', async () => {
    const p = await render({
      'controller.persistence.enabled': true,
      'controller.token.existingSecret': 'my-token',
      'redis.enabled': false,
      'redis.url': 'redis://r.example:6380/1',
    })
    const c = one(p, 'Deployment', ctrl).spec.template.spec
    expect(c.volumes.find((v: Obj) => v.name === 'data')).toEqual({
      name: 'data',
      persistentVolumeClaim: { claimName: ctrl },
    })
    expect(one(p, 'PersistentVolumeClaim', ctrl).spec.resources.requests.storage).toBe('1Gi')
    expect(envOf(c.containers[0], 'FAULTLINE_TOKEN')!.valueFrom.secretKeyRef.name).toBe('my-token')
    expect(find(p, 'Secret', `${RELEASE}-faultline-token`)).toEqual([])
    expect(envOf(c.containers[0], 'FAULTLINE_REDIS')!.value).toBe('redis://r.example:6380/1')
    expect(find(p, 'StatefulSet')).toEqual([])
    expect(parse(one(p, 'ConfigMap', inj).data['injector.yaml']).redisUrl).toBe('redis://r.example:6380/1')

    const none = await render({ 'redis.enabled': false })
    expect(envOf(one(none, 'Deployment', ctrl).spec.template.spec.containers[0], 'FAULTLINE_REDIS')).toBeUndefined()
    expect(parse(one(none, 'ConfigMap', inj).data['injector.yaml']).redisUrl).toBeUndefined()
  })
})

describe('Pod Security', () => {
  it('every pod the chart runs meets the restricted profile', async () => {
    for (const values of [
      {},
      { 'redis.persistence.enabled': true, 'controller.persistence.enabled': true },
    ] as Values[]) {
      const objs = await render(values)
      const workloads = [...find(objs, 'Deployment'), ...find(objs, 'StatefulSet')]
      expect(workloads).toHaveLength(3)
      for (const w of workloads) {
        const pod = w.spec.template.spec
        const id = w.metadata.name
        expect(pod.securityContext.runAsNonRoot, id).toBe(true)
        expect(pod.securityContext.runAsUser, id).toBeGreaterThan(0)
        expect(pod.securityContext.seccompProfile, id).toEqual({ type: 'RuntimeDefault' })
        expect(pod.hostNetwork ?? false, id).toBe(false)
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          expect(c.securityContext, `${id}/${c.name}`).toMatchObject({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          })
          expect(c.securityContext.capabilities.add, `${id}/${c.name}`).toBeUndefined()
          expect(c.securityContext.privileged ?? false, `${id}/${c.name}`).toBe(false)
        }
        for (const v of pod.volumes ?? []) expect(v.hostPath, `${id} volume ${v.name}`).toBeUndefined()
      }
    }
  })
})

describe('Redis', () => {
  it('is one instance without persistence by default, behind a Service on its port', async () => {
    const objs = await render()
    const sts = one(objs, 'StatefulSet', `${RELEASE}-faultline-redis`)
    expect(sts.spec.replicas).toBe(1)
    expect(sts.spec.volumeClaimTemplates).toBeUndefined()
    const c = sts.spec.template.spec.containers[0]
    expect(c.image).toBe('redis:7.4')
    expect(c.args).toEqual(['redis-server', '--port', '6379', '--dir', '/data', '--save', '', '--appendonly', 'no'])
    const svc = one(objs, 'Service', `${RELEASE}-faultline-redis`)
    expect(svc.spec.ports[0]).toMatchObject({ port: 6379, targetPort: 'redis' })
    expect(svc.spec.selector).toEqual(sts.spec.selector.matchLabels)

    const kept = one(await render({ 'redis.persistence.enabled': true }), 'StatefulSet', `${RELEASE}-faultline-redis`)
    expect(kept.spec.volumeClaimTemplates[0].metadata.name).toBe('data')
    expect(kept.spec.template.spec.containers[0].args).toContain('--appendonly')
    expect(kept.spec.template.spec.volumes).toBeUndefined()
  })
})

describe('the injector and its webhook', () => {
  let objs: Obj[]
  beforeAll(async () => {
    objs = await render()
  })

  it('runs `faultline injector` with the TLS Secret and the config mounted, behind Service port 443', () => {
    const dep = one(objs, 'Deployment', inj)
    const pod = dep.spec.template.spec
    const c = pod.containers[0]
    expect(c.args).toEqual([
      'injector',
      '--listen',
      '0.0.0.0:8443',
      '--tls-cert',
      '/tls/tls.crt',
      '--tls-key',
      '/tls/tls.key',
      '--config',
      '/config/injector.yaml',
    ])
    expect(c.securityContext).toMatchObject({ runAsUser: 65532, readOnlyRootFilesystem: true })
    expect(pod.volumes).toContainEqual({ name: 'tls', secret: { secretName: `${inj}-tls` } })
    expect(pod.volumes).toContainEqual({ name: 'config', configMap: { name: inj } })
    expect(dep.spec.template.metadata.labels['faultline.io/inject']).toBe('false')
    for (const probe of ['readinessProbe', 'livenessProbe'])
      expect(c[probe].httpGet, probe).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' })
    expect(pod.automountServiceAccountToken).toBe(false)
    const svc = one(objs, 'Service', inj)
    expect(svc.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }])
    expect(c.ports).toEqual([{ name: 'https', containerPort: 8443, protocol: 'TCP' }])
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels)
  })

  it('has a config with the sidecar image, ports, resources, Redis URL and token Secret', () => {
    const config = parse(one(objs, 'ConfigMap', inj).data['injector.yaml'])
    expect(config).toEqual({
      image: 'faultline:0.1.0',
      imagePullPolicy: 'IfNotPresent',
      ownNamespace: NS,
      excludeNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
      proxyPort: 8480,
      adminPort: 8481,
      logLevel: 'info',
      capture: 'iptables',
      excludeInboundPorts: [],
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      captureResources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
      adminTokenSecret: { name: `${RELEASE}-faultline-sidecar-token`, key: 'token', optional: true },
      namespaceLookup: false,
      redisUrl: `redis://${RELEASE}-faultline-redis.${NS}.svc:6379`,
    })
    // What the injector makes of it: the chart's defaults and the injector's agree.
    const resolved = resolveInjectorConfig(config)
    expect(resolved.image).toBe(
      `faultline:${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}`,
    )
    // The sidecar it injects: a missing Secret never blocks the pod (optional), and the sidecar,
    // told --admin-token-required, then refuses admin changes; its real parser takes the args.
    const plan: InjectionPlan = {
      appPort: 8080,
      proxyPort: 8480,
      adminPort: 8481,
      capture: 'iptables',
      excludeInboundPorts: [],
      fleet: true,
      service: 'web',
      resources: {},
      warnings: [],
    }
    const sidecar = sidecarContainer(plan, resolved) as Obj
    expect(envOf(sidecar, 'FAULTLINE_ADMIN_TOKEN')!.valueFrom.secretKeyRef).toEqual({
      name: `${RELEASE}-faultline-sidecar-token`,
      key: 'token',
      optional: true,
    })
    const parsed = parseSidecarConfig(sidecar.args.slice(1), {})
    expect(parsed).toMatchObject({ adminTokenRequired: true, redisUrl: config.redisUrl, service: 'web' })
    expect(parsed.adminToken).toBeUndefined()
  })

  it('sidecarToken.optional=false: pods wait for the Secret (secretKeyRef not optional)', async () => {
    const config = parse(one(await render({ 'sidecarToken.optional': false }), 'ConfigMap', inj).data['injector.yaml'])
    expect(resolveInjectorConfig(config).adminTokenSecret.optional).toBe(false)
  })

  it('quantities written as numbers reach the injector as strings, which it accepts', async () => {
    const v = await render({
      'injector.sidecar.resources.limits.cpu': 2,
      'injector.sidecar.resources.requests.memory': 1e6,
    })
    const config = parse(one(v, 'ConfigMap', inj).data['injector.yaml'])
    expect(config.resources).toEqual({
      requests: { cpu: '50m', memory: '1000000' },
      limits: { cpu: '2', memory: '256Mi' },
    })
    expect(resolveInjectorConfig(config).resources.limits?.cpu).toBe('2')
  })

  it('is the MutatingWebhookConfiguration controller/injector/webhook-config.ts builds', async () => {
    const rendered = one(objs, 'MutatingWebhookConfiguration', inj)
    const caBundle = rendered.webhooks[0].clientConfig.caBundle
    expect(rendered).toEqual(
      webhookConfiguration({
        namespace: NS,
        name: inj,
        service: { name: inj },
        caBundle,
        labels: rendered.metadata.labels,
      }),
    )
    const cm = await render({
      'certManager.enabled': true,
      'injector.webhook.timeoutSeconds': 2,
      'injector.webhook.reinvocationPolicy': 'Never',
      'injector.webhook.matchConditions': false,
      'injector.webhook.excludeNamespaces[0]': 'cert-manager',
    })
    const withCm = one(cm, 'MutatingWebhookConfiguration', inj)
    expect(withCm).toEqual(
      webhookConfiguration({
        namespace: NS,
        name: inj,
        service: { name: inj },
        certManagerCertificate: `${NS}/${inj}`,
        timeoutSeconds: 2,
        reinvocationPolicy: 'Never',
        matchConditions: false,
        excludeNamespaces: ['cert-manager'],
        labels: withCm.metadata.labels,
      }),
    )
  })

  it('the webhook: fail-open, pods CREATE, both opt-ins, system namespaces excluded, at the injector Service', () => {
    const mwc = one(objs, 'MutatingWebhookConfiguration', inj)
    expect(mwc.webhooks.map((w: Obj) => w.name)).toEqual([
      'namespace.inject.faultline.io',
      'object.inject.faultline.io',
    ])
    for (const w of mwc.webhooks) {
      expect(w).toMatchObject({
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        reinvocationPolicy: 'IfNeeded',
        matchPolicy: 'Equivalent',
      })
      expect(w.timeoutSeconds).toBeLessThanOrEqual(10)
      expect(w.rules).toEqual([
        { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
      ])
      expect(w.clientConfig.service).toEqual({ name: inj, namespace: NS, path: '/inject', port: 443 })
      expect(w.namespaceSelector.matchExpressions).toContainEqual({
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: ['kube-system', 'kube-public', 'kube-node-lease', NS],
      })
    }
    const [byNamespace, byPod] = mwc.webhooks
    expect(byNamespace.namespaceSelector.matchExpressions).toContainEqual({
      key: 'faultline.io/inject',
      operator: 'In',
      values: ['enabled'],
    })
    expect(byNamespace.objectSelector.matchExpressions).toEqual([
      { key: 'faultline.io/inject', operator: 'NotIn', values: ['false'] },
    ])
    expect(byPod.namespaceSelector.matchExpressions).toContainEqual({
      key: 'faultline.io/inject',
      operator: 'DoesNotExist',
    })
    expect(byPod.objectSelector.matchExpressions).toEqual([
      { key: 'faultline.io/inject', operator: 'In', values: ['true'] },
    ])
  })

  it('carries the generated CA, which signed the serving certificate in the Secret the injector mounts', () => {
    const mwc = one(objs, 'MutatingWebhookConfiguration', inj)
    const bundles = mwc.webhooks.map((w: Obj) => w.clientConfig.caBundle)
    expect(new Set(bundles).size).toBe(1)
    const ca = new X509Certificate(b64(bundles[0]))
    expect(ca.ca).toBe(true)
    expect(ca.subject).toBe(`CN=${inj}-ca`)
    expect(ca.verify(ca.publicKey)).toBe(true)

    const secret = one(objs, 'Secret', `${inj}-tls`)
    expect(secret.type).toBe('kubernetes.io/tls')
    expect(b64(secret.data['ca.crt'])).toBe(b64(bundles[0]))
    const cert = new X509Certificate(b64(secret.data['tls.crt']))
    expect(cert.ca).toBe(false)
    expect(cert.issuer).toBe(ca.subject)
    expect(cert.checkIssued(ca)).toBe(true)
    expect(cert.verify(ca.publicKey)).toBe(true)
    expect(cert.checkHost(`${inj}.${NS}.svc`)).toBe(`${inj}.${NS}.svc`)
    expect(cert.checkHost(`other.${NS}.svc`)).toBeUndefined()
    expect(cert.keyUsage ?? []).toContain('1.3.6.1.5.5.7.3.1') // serverAuth
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 3000 * 24 * 3600 * 1000)
    const key = createPrivateKey(b64(secret.data['tls.key']))
    expect(cert.checkPrivateKey(key)).toBe(true)
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' })).toEqual(
      cert.publicKey.export({ format: 'der', type: 'spki' }),
    )
    // The pod template carries a checksum of that certificate: a new one rolls the injector.
    const annotations = one(objs, 'Deployment', inj).spec.template.metadata.annotations
    expect(annotations['checksum/tls']).toMatch(/^[0-9a-f]{64}$/)
  })

  it('with cert-manager: Issuer chain, a Certificate for the Service, inject-ca-from instead of caBundle', async () => {
    const cm = await render({ 'certManager.enabled': true })
    const mwc = one(cm, 'MutatingWebhookConfiguration', inj)
    expect(mwc.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(`${NS}/${inj}`)
    for (const w of mwc.webhooks) expect(w.clientConfig.caBundle).toBeUndefined()
    expect(find(cm, 'Secret', `${inj}-tls`)).toEqual([])
    const serving = one(cm, 'Certificate', inj)
    expect(serving.metadata.namespace).toBe(NS)
    expect(serving.spec.secretName).toBe(`${inj}-tls`)
    expect(serving.spec.dnsNames).toContain(`${inj}.${NS}.svc`)
    expect(serving.spec.usages).toContain('server auth')
    const caCert = one(cm, 'Certificate', `${inj}-ca`)
    expect(caCert.spec.isCA).toBe(true)
    expect(caCert.spec.issuerRef).toEqual({ name: `${inj}-selfsigned`, kind: 'Issuer', group: 'cert-manager.io' })
    expect(one(cm, 'Issuer', `${inj}-selfsigned`).spec).toEqual({ selfSigned: {} })
    expect(one(cm, 'Issuer', `${inj}-ca`).spec).toEqual({ ca: { secretName: caCert.spec.secretName } })
    expect(serving.spec.issuerRef).toEqual({ name: `${inj}-ca`, kind: 'Issuer', group: 'cert-manager.io' })
    const pod = one(cm, 'Deployment', inj).spec.template
    expect(pod.spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: `${inj}-tls` } })
    expect(pod.metadata.annotations['checksum/tls']).toBeUndefined()

    const own = await render({
      'certManager.enabled': true,
      'certManager.issuerRef.name': 'corp',
      'certManager.issuerRef.kind': 'ClusterIssuer',
    })
    expect(find(own, 'Issuer')).toEqual([])
    expect(find(own, 'Certificate').map((c) => c.metadata.name)).toEqual([inj])
    expect(one(own, 'Certificate', inj).spec.issuerRef).toEqual({ name: 'corp', kind: 'ClusterIssuer' })
  })

  it('the real injector, run with the rendered args, config and Secret, is trusted through caBundle as the API server would', async () => {
    // The Deployment's files, where its volumes would put them.
    const dir = mkdtempSync(path.join(home, 'injector-'))
    const secret = one(objs, 'Secret', `${inj}-tls`)
    const files: Record<string, string> = {
      '/tls/tls.crt': b64(secret.data['tls.crt']),
      '/tls/tls.key': b64(secret.data['tls.key']),
      '/config/injector.yaml': one(objs, 'ConfigMap', inj).data['injector.yaml'],
    }
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, path.basename(file)), text)
    const container = one(objs, 'Deployment', inj).spec.template.spec.containers[0]
    expect(container.args[0]).toBe('injector')
    const argv = (container.args.slice(1) as string[]).map((a) =>
      a in files ? path.join(dir, path.basename(a)) : a === '0.0.0.0:8443' ? '127.0.0.1:0' : a,
    )
    const args = parseInjectorArgs(argv, { FAULTLINE_NAMESPACE: NS })
    expect(args.config.ownNamespace).toBe(NS)
    const server = buildInjectorServer({ ...args, logger: silentLogger() })
    const port = Number(new URL(await server.listen()).port)
    try {
      const ca = b64(one(objs, 'MutatingWebhookConfiguration', inj).webhooks[0].clientConfig.caBundle)
      const { service } = one(objs, 'MutatingWebhookConfiguration', inj).webhooks[0].clientConfig
      // TLS verified against caBundle for the name the API server dials: <service>.<namespace>.svc.
      const call = (method: string, urlPath: string, body?: unknown) =>
        new Promise<{ status: number; body: any }>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: '127.0.0.1',
              port,
              method,
              path: urlPath,
              ca,
              servername: `${service.name}.${service.namespace}.svc`,
              headers: { 'content-type': 'application/json' },
            },
            (res) => {
              let text = ''
              res.setEncoding('utf8')
              res.on('data', (c: string) => (text += c))
              res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }))
            },
          )
          req.on('error', reject)
          req.end(body === undefined ? undefined : JSON.stringify(body))
        })
      expect((await call('GET', '/healthz')).status).toBe(200)
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'web-7d4b9c-', namespace: 'shop', labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'shop/web:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
      }
      const resource = { group: '', version: 'v1', resource: 'pods' }
      const reply = await call('POST', service.path, {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'chart-review-1',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource,
          requestKind: { group: '', version: 'v1', kind: 'Pod' },
          requestResource: resource,
          namespace: 'shop',
          operation: 'CREATE',
          userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
          object: pod,
          oldObject: null,
          dryRun: false,
        },
      })
      expect(reply.status).toBe(200)
      expect(reply.body.response).toMatchObject({ uid: 'chart-review-1', allowed: true, patchType: 'JSONPatch' })
      // The patch carries what the chart configured: the image, the ports, the token Secret, Redis.
      const patch = JSON.stringify(JSON.parse(Buffer.from(reply.body.response.patch, 'base64').toString('utf8')))
      expect(patch).toContain('"image":"faultline:0.1.0"')
      expect(patch).toContain(`"name":"${RELEASE}-faultline-sidecar-token"`)
      expect(patch).toContain(`redis://${RELEASE}-faultline-redis.${NS}.svc:6379`)
      expect(patch).toContain('"containerPort":8481')
    } finally {
      await server.close()
    }
  })

  it('off: no injector, no webhook, no TLS; the controller is unchanged', async () => {
    const off = await render({ 'injector.enabled': false })
    expect(off.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'injector')).toEqual([])
    expect(find(off, 'MutatingWebhookConfiguration')).toEqual([])
    expect(find(off, 'Deployment', ctrl)).toHaveLength(1)
  })

  it('webhook settings and exclusions come from values', async () => {
    const v = await render({
      'injector.webhook.timeoutSeconds': 3,
      'injector.webhook.reinvocationPolicy': 'Never',
      'injector.webhook.excludeNamespaces[0]': 'kube-system',
      'injector.webhook.excludeNamespaces[1]': 'cert-manager',
      'injector.sidecar.capture': 'none',
    })
    const w = one(v, 'MutatingWebhookConfiguration', inj).webhooks[0]
    expect(w.timeoutSeconds).toBe(3)
    expect(w.reinvocationPolicy).toBe('Never')
    expect(w.namespaceSelector.matchExpressions[1].values).toEqual(['kube-system', 'cert-manager', NS])
    expect(parse(one(v, 'ConfigMap', inj).data['injector.yaml']).capture).toBe('none')
  })
})

describe('RBAC', () => {
  /** The ClusterRoles of docs/kubernetes.md#rbac, by name. */
  function documentedRoles(): Map<string, Obj[]> {
    const doc = readFileSync(path.join(ROOT, 'docs/kubernetes.md'), 'utf8')
    const section = doc.slice(doc.indexOf('\n## RBAC'), doc.indexOf('\n## Errors'))
    const roles = new Map<string, Obj[]>()
    for (const m of section.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      const obj = parse(m[1]!) as Obj
      if (obj.kind === 'ClusterRole') roles.set(obj.metadata.name, obj.rules)
    }
    return roles
  }
  const FAMILY_ROLE: Record<string, string> = {
    select: 'faultline-select',
    podKill: 'faultline-pod-kill',
    podEvict: 'faultline-pod-evict',
    podFailure: 'faultline-pod-failure',
    podStress: 'faultline-pod-stress',
    networkPartition: 'faultline-network-partition',
    nodeFaults: 'faultline-node',
    nodeDrain: 'faultline-node-drain',
    scale: 'faultline-scale',
  }

  it('one ClusterRole per family, equal to docs/kubernetes.md, each bound to the controller', async () => {
    const documented = documentedRoles()
    expect([...documented.keys()].sort()).toEqual(Object.values(FAMILY_ROLE).sort())
    const objs = await render()
    const roles = find(objs, 'ClusterRole')
    expect(roles).toHaveLength(Object.keys(FAMILY_ROLE).length)
    for (const [family, docName] of Object.entries(FAMILY_ROLE)) {
      const name = docName.replace(/^faultline/, `${RELEASE}-faultline`)
      const role = one(objs, 'ClusterRole', name)
      expect(role.metadata.labels['faultline.io/rbac-family'], name).toBe(family)
      expect(role.rules, name).toEqual(documented.get(docName))
      const binding = one(objs, 'ClusterRoleBinding', name)
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name })
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: ctrl, namespace: NS }])
    }
    expect(one(objs, 'ServiceAccount', ctrl)).toBeDefined()
  })

  it('each family switches alone; all off leaves no role; rbac.create=false none at all', async () => {
    const noKill = await render({ 'rbac.families.podKill': false })
    expect(find(noKill, 'ClusterRole', `${RELEASE}-faultline-pod-kill`)).toEqual([])
    expect(find(noKill, 'ClusterRoleBinding', `${RELEASE}-faultline-pod-kill`)).toEqual([])
    expect(find(noKill, 'ClusterRole')).toHaveLength(Object.keys(FAMILY_ROLE).length - 1)
    const none = await render(NO_FAMILIES)
    expect(find(none, 'ClusterRole')).toEqual([])
    expect(find(none, 'ClusterRoleBinding')).toEqual([])
    const off = await render({
      'rbac.create': false,
      'controller.serviceAccount.name': 'mine',
      'controller.serviceAccount.create': false,
    })
    expect(find(off, 'ClusterRole')).toEqual([])
    expect(find(off, 'ServiceAccount', 'mine')).toEqual([])
    expect(one(off, 'Deployment', ctrl).spec.template.spec.serviceAccountName).toBe('mine')
  })

  it('the injector gets no Kubernetes permission, or get on namespaces for namespaceLookup', async () => {
    const objs = await render()
    const bindings = [...find(objs, 'ClusterRoleBinding'), ...find(objs, 'RoleBinding')]
    for (const b of bindings) expect(b.subjects.map((s: Obj) => s.name)).not.toContain(inj)
    expect(one(objs, 'ServiceAccount', inj)).toBeDefined()

    const lookup = await render({ 'injector.namespaceLookup': true })
    expect(one(lookup, 'ClusterRole', inj).rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
    ])
    const binding = one(lookup, 'ClusterRoleBinding', inj)
    expect(binding.roleRef.name).toBe(inj)
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: inj, namespace: NS }])
    expect(one(lookup, 'Deployment', inj).spec.template.spec.automountServiceAccountToken).toBe(true)
    expect(parse(one(lookup, 'ConfigMap', inj).data['injector.yaml']).namespaceLookup).toBe(true)
  })
})

describe('metrics', () => {
  /** Metric names the sidecar (src/metrics.ts) and the controller (controller/metrics.ts) define (histograms marked). */
  function definedMetrics(): { name: string; histogram: boolean }[] {
    return [...Object.values(SIDECAR_METRICS), BUILD_INFO, ...Object.values(CONTROLLER_METRICS)].map((m) => ({
      name: m.name,
      histogram: m.type === 'histogram',
    }))
  }

  it('the dashboard ConfigMap is labelled for Grafana and charts every faultline metric by its real name', async () => {
    const objs = await render()
    const cm = one(objs, 'ConfigMap', `${RELEASE}-faultline-dashboard`)
    expect(cm.metadata.labels.grafana_dashboard).toBe('1')
    const file = readFileSync(path.join(CHART, 'dashboards/faultline.json'), 'utf8')
    expect(cm.data['faultline.json'].trim()).toBe(file.trim())
    const dashboard = JSON.parse(cm.data['faultline.json'])
    const exprs: string[] = [
      ...dashboard.panels.flatMap((p: Obj) => (p.targets ?? []).map((t: Obj) => t.expr as string)),
      ...dashboard.annotations.list.flatMap((a: Obj) => (a.expr ? [a.expr as string] : [])),
    ]
    const used = new Set(exprs.flatMap((e) => e.match(/faultline_[a-z_]+/g) ?? []))
    const defined = definedMetrics()
    expect(defined.length).toBeGreaterThanOrEqual(20)
    const forms = (m: { name: string; histogram: boolean }) =>
      m.histogram ? [`${m.name}_bucket`, `${m.name}_count`, `${m.name}_sum`] : [m.name]
    const known = new Set(defined.flatMap(forms))
    for (const name of used) expect(known, `${name} is not a metric faultline defines`).toContain(name)
    for (const m of defined)
      expect(
        forms(m).some((f) => used.has(f)),
        `no panel or annotation shows ${m.name}`,
      ).toBe(true)
    const ids = dashboard.panels.map((p: Obj) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('the PodMonitor scrapes the sidecars’ admin /metrics in every namespace', async () => {
    const objs = await render({ 'metrics.podMonitor.enabled': true, 'metrics.podMonitor.labels.release': 'kp' })
    const pm = one(objs, 'PodMonitor', `${RELEASE}-faultline-sidecars`)
    expect(pm.metadata.labels.release).toBe('kp')
    expect(pm.spec.namespaceSelector).toEqual({ any: true })
    expect(pm.spec.podMetricsEndpoints).toEqual([{ port: 'faultline-admin', path: '/metrics', interval: '15s' }])
    expect(find(await render(), 'PodMonitor')).toEqual([])
  })

  it('the ServiceMonitor scrapes the controller Service’s /metrics, which a real controller serves without its token', async () => {
    const objs = await render({ 'metrics.serviceMonitor.enabled': true, 'metrics.serviceMonitor.labels.release': 'kp' })
    const sm = one(objs, 'ServiceMonitor', ctrl)
    expect(sm.metadata.labels.release).toBe('kp')
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: [NS] })
    expect(sm.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }])
    // It selects exactly the controller's Service, by labels that survive a chart upgrade.
    const services = find(objs, 'Service').filter((svc) =>
      Object.entries(sm.spec.selector.matchLabels as Obj).every(([k, v]) => svc.metadata.labels?.[k] === v),
    )
    expect(services.map((svc) => svc.metadata.name)).toEqual([ctrl])
    expect(Object.keys(sm.spec.selector.matchLabels)).not.toContain('helm.sh/chart')
    expect(services[0]!.spec.ports.map((p: Obj) => p.name)).toContain('http')
    // No bearer token in the endpoint: a controller started with a token answers /metrics without it.
    const c = await startController({ token: 'chart-test-token' })
    try {
      const metrics = await fetch(`${c.url}/metrics`)
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toContain('faultline_build_info')
      expect((await fetch(`${c.url}/experiments`)).status).toBe(401)
    } finally {
      await c.close()
    }
    expect(find(await render(), 'ServiceMonitor')).toEqual([])
  })
})

describe('values.schema.json', () => {
  it.each([
    ['a top-level typo', { controler: 1 }, "additional properties 'controler' not allowed"],
    [
      'a nested typo',
      { 'injector.webhook.failurPolicy': 'Ignore' },
      "additional properties 'failurPolicy' not allowed",
    ],
    ['a typo in a family', { 'rbac.families.podkill': false }, "additional properties 'podkill' not allowed"],
    ['a wrong enum', { 'injector.webhook.failurePolicy': 'Sometimes' }, '/injector/webhook/failurePolicy'],
    ['a wrong type', { 'controller.port': 'http' }, '/controller/port'],
    ['a Redis URL that is not one', { 'redis.enabled': false, 'redis.url': 'http://redis:6379' }, '/redis/url'],
    ['a capture mode that does not exist', { 'injector.sidecar.capture': 'ebpf' }, '/injector/sidecar/capture'],
    ['a webhook timeout over 5 s', { 'injector.webhook.timeoutSeconds': 10 }, '/injector/webhook/timeoutSeconds'],
    [
      'a sidecar resource the injector does not take',
      { 'injector.sidecar.resources.limits.ephemeral-storage': '1Gi' },
      "additional properties 'ephemeral-storage' not allowed",
    ],
  ] as [string, Values, string][])('%s fails helm template and helm lint', async (_name, values, message) => {
    const t = await helm(['template', RELEASE, CHART, ...setArgs(values)])
    expect(t.code).not.toBe(0)
    expect(t.stderr).toContain("values don't meet the specifications of the schema")
    expect(t.stderr).toContain(message)
    const lint = await helm(['lint', '--strict', CHART, ...setArgs(values)])
    expect(lint.code).not.toBe(0)
  })

  it('a bundled Redis and an external URL together fail with a message saying which to set', async () => {
    const t = await helm(['template', RELEASE, CHART, ...setArgs({ 'redis.url': 'redis://elsewhere:6379' })])
    expect(t.code).not.toBe(0)
    expect(t.stderr).toContain('set redis.enabled=false')
  })
})

describe('NOTES.txt', () => {
  it('tells how to label a namespace and run the pod-kill example, with the release’s names', async () => {
    const r = await helm(['install', RELEASE, CHART, '--namespace', NS, '--dry-run=client'])
    expect(r.code, r.stderr).toBe(0)
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'))
    expect(notes).toContain('kubectl label namespace NAME faultline.io/inject=enabled')
    expect(notes).toContain('faultline run examples/kubernetes/pod-kill.yaml')
    expect(notes).toContain(`port-forward svc/${ctrl} 8490:8490`)
    expect(notes).toContain(`get secret ${RELEASE}-faultline-token`)
    expect(notes).toContain('/runs')
    // The token Secret's copy: how, and what happens without it (optional by default).
    expect(notes).toContain(`get secret ${RELEASE}-faultline-sidecar-token`)
    expect(notes).toContain('refuse every admin change')
    const strict = await helm([
      'install',
      RELEASE,
      CHART,
      '--namespace',
      NS,
      '--dry-run=client',
      '--set',
      'sidecarToken.optional=false',
    ])
    expect(strict.stdout.slice(strict.stdout.indexOf('NOTES:'))).toContain('CreateContainerConfigError')
  })
})

// ---------------------------------------------------------------------------------------------
// Reuse across upgrades. A small API server (not the project's fake-kube, which has no Secrets):
// discovery for every kind the chart renders, GET of the objects it holds, 404 for the others,
// and nothing else: `helm template --dry-run=server` only reads (its lookups, and a GET per
// rendered object to check ownership), and any write is refused and recorded.

interface MiniApi {
  url: string
  put(obj: Obj): void
  writes: string[]
  gets: string[]
  close(): Promise<void>
}

const API_RESOURCES: Record<string, [string, string, boolean][]> = {
  v1: [
    ['secrets', 'Secret', true],
    ['configmaps', 'ConfigMap', true],
    ['services', 'Service', true],
    ['serviceaccounts', 'ServiceAccount', true],
    ['persistentvolumeclaims', 'PersistentVolumeClaim', true],
  ],
  'apps/v1': [
    ['deployments', 'Deployment', true],
    ['statefulsets', 'StatefulSet', true],
  ],
  'rbac.authorization.k8s.io/v1': [
    ['clusterroles', 'ClusterRole', false],
    ['clusterrolebindings', 'ClusterRoleBinding', false],
  ],
  'admissionregistration.k8s.io/v1': [['mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false]],
}

async function startMiniApi(): Promise<MiniApi> {
  const objects = new Map<string, Obj>()
  const writes: string[] = []
  const gets: string[] = []
  const plural = (apiVersion: string, kind: string) => API_RESOURCES[apiVersion]!.find((r) => r[1] === kind)![0]
  const server: Server = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const status = (code: number, reason: string, message: string) =>
      send(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, code, message })
    const p = new URL(req.url!, 'http://api').pathname
    if (req.method !== 'GET') {
      writes.push(`${req.method} ${p}`)
      return status(405, 'MethodNotAllowed', 'this API server only reads')
    }
    if (p === '/version') return send(200, { major: '1', minor: '33', gitVersion: 'v1.33.0', platform: 'linux/amd64' })
    if (p === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] })
    if (p === '/apis') {
      const groups = Object.keys(API_RESOURCES)
        .filter((gv) => gv !== 'v1')
        .map((gv) => {
          const [name, version] = gv.split('/') as [string, string]
          const v = { groupVersion: gv, version }
          return { name, versions: [v], preferredVersion: v }
        })
      return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups })
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/namespaces\/([^/]+))?(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(p)
    const gv = m?.[1] ?? m?.[2]
    if (!m || !gv || !API_RESOURCES[gv]) return status(404, 'NotFound', `${p} is not served`)
    const [, , , ns = '', resource, name] = m
    if (!resource) {
      const resources = API_RESOURCES[gv].map(([n, kind, namespaced]) => ({
        name: n,
        singularName: kind.toLowerCase(),
        namespaced,
        kind,
        verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
      }))
      return send(200, { kind: 'APIResourceList', groupVersion: gv, resources })
    }
    if (!name) return status(405, 'MethodNotAllowed', 'lists are not served')
    gets.push(`${gv}/${resource}/${ns}/${name}`)
    const obj = objects.get(`${gv}/${resource}/${ns}/${name}`)
    return obj ? send(200, obj) : status(404, 'NotFound', `${resource} "${name}" not found`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    writes,
    gets,
    put(obj) {
      const stored = structuredClone(obj)
      // As `helm install` leaves them: owned by the release, with a resourceVersion.
      stored.metadata.annotations = {
        ...stored.metadata.annotations,
        'meta.helm.sh/release-name': RELEASE,
        'meta.helm.sh/release-namespace': NS,
      }
      stored.metadata.resourceVersion = '1'
      stored.metadata.uid = `uid-${stored.metadata.name}`
      const key = `${stored.apiVersion}/${plural(stored.apiVersion, stored.kind)}/${stored.metadata.namespace ?? ''}/${stored.metadata.name}`
      objects.set(key, stored)
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('generated Secrets are reused across upgrades (lookup)', () => {
  let api: MiniApi
  beforeAll(async () => {
    api = await startMiniApi()
  })
  afterAll(async () => {
    await api?.close()
  })
  const secretNames = [`${RELEASE}-faultline-token`, `${RELEASE}-faultline-sidecar-token`, `${inj}-tls`]
  const againstApi = (values: Values = {}) =>
    render(values, ['--dry-run=server', '--disable-openapi-validation', '--kube-apiserver', api.url])

  it('without a live Secret every render generates new values (what reuse protects against)', async () => {
    const [a, b] = await Promise.all([render(), render()])
    for (const name of secretNames) expect(one(a, 'Secret', name).data, name).not.toEqual(one(b, 'Secret', name).data)
  })

  it('helm looks the Secrets up and the chart hands back their live token, CA and certificate', async () => {
    const installed = await render()
    for (const name of secretNames) api.put(one(installed, 'Secret', name))
    const upgraded = await againstApi({ 'controller.logLevel': 'debug' })
    for (const name of secretNames) {
      expect(api.gets, name).toContain(`v1/secrets/${NS}/${name}`)
      expect(one(upgraded, 'Secret', name).data, name).toEqual(one(installed, 'Secret', name).data)
    }
    const ca = one(installed, 'Secret', `${inj}-tls`).data['ca.crt']
    for (const w of one(upgraded, 'MutatingWebhookConfiguration', inj).webhooks)
      expect(w.clientConfig.caBundle).toBe(ca)
    // Same certificate, same checksum: an upgrade does not roll the injector for nothing.
    const checksum = (objs: Obj[]) => one(objs, 'Deployment', inj).spec.template.metadata.annotations['checksum/tls']
    expect(checksum(upgraded)).toBe(checksum(installed))
    expect(api.writes).toEqual([])
  })

  it('an incomplete live Secret is replaced: a TLS Secret without its key gets a new CA, an empty token a new token', async () => {
    const installed = await render()
    const tls = one(installed, 'Secret', `${inj}-tls`)
    delete tls.data['tls.key']
    api.put(tls)
    const token = one(installed, 'Secret', `${RELEASE}-faultline-token`)
    token.data = {}
    api.put(token)
    const upgraded = await againstApi()
    const newTls = one(upgraded, 'Secret', `${inj}-tls`)
    expect(newTls.data['ca.crt']).not.toBe(tls.data['ca.crt'])
    expect(newTls.data['tls.key']).toBeDefined()
    // Regenerated consistently: the webhook carries the new CA, which signed the new certificate.
    const caBundle = one(upgraded, 'MutatingWebhookConfiguration', inj).webhooks[0].clientConfig.caBundle
    expect(caBundle).toBe(newTls.data['ca.crt'])
    expect(new X509Certificate(b64(newTls.data['tls.crt'])).verify(new X509Certificate(b64(caBundle)).publicKey)).toBe(
      true,
    )
    expect(b64(one(upgraded, 'Secret', `${RELEASE}-faultline-token`).data.token)).toMatch(/^[A-Za-z0-9]{40}$/)
    expect(api.writes).toEqual([])
  })
})
