/**
 * Litmus documents (test/fixtures/interop/litmus, shaped like the Litmus docs' and chaos-charts'
 * examples) read through the registry: each is recognised by content and translated into a valid
 * faultline/v1 document, or refused with the paths of what faultline cannot run. Comparators
 * keep their strictness, from the translation to the judge.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FaultlineError } from '../../src/errors.ts'
import { judgeValue } from '../../src/experiments/judge.ts'
import { validateExperiment } from '../../src/experiments/schema.ts'
import { Notes } from '../../src/interop/kube/notes.ts'
import { numericTolerance } from '../../src/interop/litmus/probes.ts'
import { readAnyExperiment } from '../../src/interop/registry.ts'

const DIR = path.join(import.meta.dirname, '../fixtures/interop/litmus')
const VARS = { URL: 'http://127.0.0.1:9/healthz', PROM_URL: 'http://127.0.0.1:9090' }
const read = (file: string, vars: Record<string, string> = VARS) =>
  readAnyExperiment(readFileSync(path.join(DIR, file), 'utf8'), { file, env: {}, vars })
const refusal = (file: string, vars: Record<string, string> = VARS): { path: string; message: string }[] => {
  try {
    read(file, vars)
  } catch (err) {
    const e = err as FaultlineError
    expect(e.code).toBe('FL_ERR_EXPERIMENT_INVALID')
    expect(e.details?.issues).toEqual(e.issues)
    return e.issues!
  }
  throw new Error(`${file} was not refused`)
}
const paths = (notes: { path: string }[]) => [...new Set(notes.map((n) => n.path))].sort()
const APP = { namespaces: ['shop'], labelSelector: 'app=web' }
const SIDECAR_APP = { namespaces: ['shop'], labelSelector: 'app=sidecar', mode: 'one' }
const rule = (file: string) => read(file).experiment.spec.method[0]!.sidecarFault!.rules[0]

const TRANSLATED = [
  'pod-delete-http-probe.yaml',
  'pod-delete-chart.yaml',
  'pod-cpu-hog.yaml',
  'pod-memory-hog.yaml',
  'node-drain.yaml',
  'node-taint.yaml',
  'pod-network-partition.yaml',
  'pod-http-latency.yaml',
  'pod-http-status-code.yaml',
  'pod-http-modify-header.yaml',
  'pod-http-modify-body.yaml',
  'pod-http-reset-peer.yaml',
  'cmd-probes-strict.yaml',
  'chaos-schedule.yaml',
  'selectors-pods.yaml',
  'selectors-workloads.yaml',
]

const REFUSED: Record<string, string[]> = {
  'refused-container-kill.yaml': ['/spec/experiments/0/name'],
  'refused-network-latency.yaml': ['/spec/experiments/0/name'],
  'refused-disk-fill.yaml': ['/spec/experiments/0/name'],
  'refused-ec2-terminate.yaml': ['/spec/experiments/0/name'],
  'refused-probes-and-env.yaml': [
    '/spec/experiments/0/spec/components/env/1/value',
    '/spec/experiments/0/spec/probe/0/cmdProbe~1inputs/comparator/criteria',
    '/spec/experiments/0/spec/probe/1/data',
    '/spec/experiments/0/spec/probe/1/k8sProbe~1inputs/operation',
    '/spec/experiments/0/spec/probe/2/cmdProbe~1inputs/source',
    '/spec/experiments/0/spec/probe/3/type',
  ],
}

describe('Litmus corpus', () => {
  it('lists every fixture in the folder', () => {
    expect(readdirSync(DIR).sort()).toEqual([...TRANSLATED, ...Object.keys(REFUSED)].sort())
  })

  it.each(TRANSLATED)('%s becomes valid faultline/v1', (file) => {
    const t = read(file)
    expect(t.format).toBe('litmus')
    expect(t.experiment.spec.method.length).toBeGreaterThan(0)
    // Probes judge; without probes the run observes.
    const probes = /probe:/.test(readFileSync(path.join(DIR, file), 'utf8'))
    expect(t.experiment.spec.hypothesis.checks.length > 0).toBe(probes)
    expect((t.experiment.spec.observations ?? []).length > 0).toBe(!probes)
    for (const a of t.approximations) expect(a.message.length).toBeGreaterThan(10)
  })

  it('pod-delete: rounds of force-kill + interval, the app by appinfo, a Continuous httpProbe in every phase', () => {
    const t = read('pod-delete-http-probe.yaml')
    const x = t.experiment
    expect(x.spec.targets.app!.kubernetes).toEqual({ ...APP, mode: 'one' })
    expect(x.spec.method).toEqual([
      { name: 'delete pods (round 1)', podKill: { target: 'app', gracePeriodSeconds: 0, recoverWithin: 180_000 } },
      { wait: 1000 },
      { name: 'delete pods (round 2)', podKill: { target: 'app', gracePeriodSeconds: 0, recoverWithin: 180_000 } },
      { wait: 1000 },
    ])
    expect(x.spec.hypothesis.checks).toEqual([
      {
        name: 'check-frontend-access-url',
        phases: ['before', 'during', 'after'],
        failureThreshold: 2,
        interval: 1000,
        recoverWithin: 2000,
        http: { url: VARS.URL, timeout: 2000, status: [200] },
      },
    ])
    expect(paths(t.approximations)).toEqual([
      '/spec/appinfo/appkind',
      '/spec/chaosServiceAccount',
      '/spec/experiments/0/spec/components/env/0/value',
      '/spec/experiments/0/spec/probe/0/mode',
      '/spec/experiments/0/spec/probe/0/runProperties/probeTimeout',
      '/spec/jobCleanUpPolicy',
    ])
  })

  it('a ChaosExperiment in the file gives the env defaults; the engine overrides them; RBAC is noted', () => {
    const t = read('pod-delete-chart.yaml')
    expect(t.experiment.spec.targets.app!.kubernetes).toEqual({ ...APP, mode: 'fixed-percent', value: 50 })
    expect(t.experiment.spec.method).toHaveLength(2)
    expect(paths(t.approximations)).toEqual(
      expect.arrayContaining(['/0', '/1', '/2', '/3/spec/experiments/0/spec/components/env/2/value']),
    )
  })

  it('stress experiments become podStress', () => {
    expect(read('pod-cpu-hog.yaml').experiment.spec.method).toEqual([
      { name: 'pod-cpu-hog', podStress: { target: 'app', duration: 2000, cpu: 1, load: 80 } },
    ])
    expect(read('pod-cpu-hog.yaml').experiment.spec.targets.app!.kubernetes).toEqual({ ...APP, mode: 'all' })
    expect(read('pod-memory-hog.yaml').experiment.spec.method).toEqual([
      { name: 'pod-memory-hog', podStress: { target: 'app', duration: 2000, memory: '500MiB' } },
    ])
  })

  it('k8sProbe present counts the pods it selects', () => {
    const x = read('pod-cpu-hog.yaml').experiment
    expect(x.spec.hypothesis.checks[0]).toMatchObject({
      name: 'web-pods-present',
      phases: ['before', 'after'],
      kubernetes: { target: 'probe-web-pods-present', stat: 'pods' },
      tolerance: { min: 1 },
      interval: 1000,
    })
    expect(x.spec.targets['probe-web-pods-present']!.kubernetes).toEqual({ ...APP, mode: 'all' })
  })

  it('node experiments target nodes; the app is observed', () => {
    const drain = read('node-drain.yaml').experiment
    expect(drain.spec.targets.nodes!.kubernetes).toEqual({ kind: 'node', nodes: ['node-1'], mode: 'all' })
    expect(drain.spec.method).toEqual([
      { name: 'node-drain', nodeDrain: { target: 'nodes', duration: 2000, force: true } },
    ])
    expect(drain.spec.observations?.[0]).toMatchObject({ kubernetes: { target: 'app', stat: 'readyPods' } })
    const taint = read('node-taint.yaml').experiment
    expect(taint.spec.targets.nodes!.kubernetes).toEqual({ kind: 'node', labelSelector: 'pool=batch', mode: 'one' })
    expect(taint.spec.method[0]!.nodeTaint!.taints).toEqual([
      { key: 'faultline.io/chaos', value: 'true', effect: 'NoSchedule' },
    ])
  })

  it('pod-network-partition cuts DESTINATION_IPS with a NetworkPolicy', () => {
    expect(read('pod-network-partition.yaml').experiment.spec.method[0]!.networkPartition).toEqual({
      target: 'app',
      duration: 2000,
      direction: 'egress',
      to: { cidrs: ['10.20.0.5/32', '10.30.0.0/16'] },
    })
    expect(read('selectors-workloads.yaml').experiment.spec.method[0]!.networkPartition).toEqual({
      target: 'app',
      duration: 60_000,
      direction: 'both',
    })
  })

  it('pod-http-* become sidecar rules on the selected pods', () => {
    expect(read('pod-http-latency.yaml').experiment.spec.targets.app!.kubernetes).toEqual(SIDECAR_APP)
    expect(rule('pod-http-latency.yaml')).toEqual({ id: 'pod-http-latency', phase: 'response', delay: { ms: 200 } })
    expect(rule('pod-http-status-code.yaml')).toEqual({
      id: 'pod-http-status-code',
      phase: 'response',
      replace: { status: 500, body: 'injected by pod-http-status-code', headers: { 'content-type': 'text/plain' } },
    })
    expect(rule('pod-http-modify-header.yaml')).toEqual({
      id: 'pod-http-modify-header',
      phase: 'response',
      replace: { headers: { 'X-Litmus-Test-Header': 'true' } },
    })
    expect(rule('pod-http-modify-body.yaml')).toEqual({
      id: 'pod-http-modify-body',
      percent: 50,
      phase: 'response',
      replace: { body: '<h1>Chaos</h1>', headers: { 'content-type': 'text/html' } },
    })
    expect(rule('pod-http-reset-peer.yaml')).toEqual({
      id: 'pod-http-reset-peer',
      phase: 'request',
      delay: { ms: 100 },
      abort: { mode: 'reset' },
    })
  })

  it('comparators keep their strictness: promProbe < is exclusiveMax, cmdProbe numbers use outputNumber', () => {
    expect(read('pod-http-latency.yaml').experiment.spec.hypothesis.checks[0]).toMatchObject({
      phases: ['during'],
      promql: { url: VARS.PROM_URL, query: 'vector(1)' },
      tolerance: { exclusiveMax: 1 },
    })
    const checks = read('cmd-probes-strict.yaml').experiment.spec.hypothesis.checks
    expect(checks.map((c) => [c.name, c.phases, c.command, c.tolerance])).toEqual([
      [
        'five-at-most-five',
        ['before', 'after'],
        { run: ['sh', '-c', 'echo 5'], timeout: 5000, outputNumber: true },
        { max: 5 },
      ],
      [
        'five-below-five',
        ['after'],
        { run: ['sh', '-c', 'echo 5'], timeout: 5000, outputNumber: true },
        { exclusiveMax: 5 },
      ],
      [
        'says-ok',
        ['before'],
        { run: ['sh', '-c', 'echo ok'], timeout: 5000, stdoutRegex: '^\\s*(ok)\\s*$' },
        undefined,
      ],
    ])
  })

  it('stopOnFailure on a Continuous probe adds the same check as a guardrail', () => {
    const text = readFileSync(path.join(DIR, 'pod-delete-http-probe.yaml'), 'utf8').replace(
      'probePollingInterval: 1s',
      'probePollingInterval: 1s\n              stopOnFailure: true',
    )
    const x = readAnyExperiment(text, { file: 'x', env: {}, vars: VARS }).experiment
    expect(x.spec.guardrails).toEqual([
      expect.objectContaining({ name: 'check-frontend-access-url-stop', phases: ['during'], failureThreshold: 2 }),
    ])
  })

  it('a ChaosSchedule becomes the controller schedule of its engine', () => {
    const t = read('chaos-schedule.yaml')
    expect(t.schedule).toEqual({
      name: 'schedule-nginx',
      experiment: 'schedule-nginx',
      cron: '*/10 10-16 * * MON,TUE,WED,THU,FRI',
      timezone: 'UTC',
      concurrencyPolicy: 'forbid',
    })
    expect(t.experiment.spec.method[0]).toEqual({
      name: 'delete pods (round 1)',
      podKill: { target: 'app', recoverWithin: 180_000 },
    })
    expect(t.experiment.spec.method.filter((s) => s.podKill)).toHaveLength(3)
  })

  it('selectors.pods names the pods; statusCheckTimeouts and RAMP_TIME are kept', () => {
    const x = read('selectors-pods.yaml').experiment
    expect(x.spec.targets.app!.kubernetes).toEqual({ pods: { shop: ['web-0', 'web-1'] }, mode: 'one' })
    expect(x.spec.method[0]).toEqual({ name: 'ramp time', wait: 2000 })
    expect(x.spec.method.at(-1)).toEqual({ name: 'ramp time', wait: 2000 })
    expect(x.spec.method[1]!.podKill!.recoverWithin).toBe(90_000)
  })

  it('TARGET_CONTAINER names the stressed container; STATUS_CHECK_TIMEOUT the replacement wait; NODE_LABEL on pods is refused', () => {
    const engine = (experiment: string, env: Record<string, string>) =>
      `apiVersion: litmuschaos.io/v1alpha1\nkind: ChaosEngine\nmetadata: { name: e, namespace: shop }\nspec:\n  appinfo: { appns: shop, applabel: app=web }\n  experiments:\n    - name: ${experiment}\n      spec:\n        components:\n          env: ${JSON.stringify(Object.entries(env).map(([name, value]) => ({ name, value })))}\n`
    const ctx = { file: 'e.yaml', env: {}, vars: {} }
    const hog = readAnyExperiment(engine('pod-cpu-hog', { TARGET_CONTAINER: 'app' }), ctx).experiment
    expect(hog.spec.targets.app!.kubernetes).toMatchObject({ containers: ['app'] })
    const del = readAnyExperiment(engine('pod-delete', { STATUS_CHECK_TIMEOUT: '60' }), ctx).experiment
    expect(del.spec.method[0]!.podKill!.recoverWithin).toBe(60_000)
    expect(() => readAnyExperiment(engine('pod-delete', { NODE_LABEL: 'zone=a' }), ctx)).toThrow(/cannot run/)
  })

  it.each(Object.entries(REFUSED))('%s is refused with the paths of what faultline cannot run', (file, want) => {
    expect(paths(refusal(file))).toEqual([...want].sort())
  })

  it('a variable the document uses but nobody set is refused at its source path', () => {
    expect(refusal('pod-delete-http-probe.yaml', {})).toEqual([
      {
        path: '/spec/experiments/0/spec/probe/0/httpProbe~1inputs/url',
        message: 'uses ${URL}, which is not set (pass --var URL=...)',
      },
    ])
  })
})

describe('Litmus comparators', () => {
  const tol = (criteria: string, value: string) => numericTolerance(criteria, value, '/c', new Notes())
  it.each([
    [
      '==',
      '5',
      [
        [5, 'pass'],
        [4.9, 'fail'],
        [5.1, 'fail'],
      ],
    ],
    [
      '!=',
      '5',
      [
        [5, 'fail'],
        [4, 'pass'],
      ],
    ],
    [
      '<',
      '5',
      [
        [5, 'fail'],
        [4.999, 'pass'],
        [6, 'fail'],
      ],
    ],
    [
      '<=',
      '5',
      [
        [5, 'pass'],
        [5.001, 'fail'],
      ],
    ],
    [
      '>',
      '5',
      [
        [5, 'fail'],
        [5.001, 'pass'],
      ],
    ],
    [
      '>=',
      '5',
      [
        [5, 'pass'],
        [4.999, 'fail'],
      ],
    ],
    [
      'oneOf',
      '[1,2,3]',
      [
        [2, 'pass'],
        [4, 'fail'],
      ],
    ],
    [
      'between',
      '[1,5]',
      [
        [1, 'pass'],
        [5, 'pass'],
        [0.9, 'fail'],
        [5.1, 'fail'],
      ],
    ],
  ] as const)('%s %s is judged as Litmus judges it', (criteria, value, cases) => {
    const t = tol(criteria, value)!
    // The tolerance is valid faultline/v1, and the judge applies it with the same strictness.
    const doc = {
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'x' },
      spec: {
        targets: {},
        hypothesis: { title: 't', checks: [{ name: 'c', promql: { url: 'http://p', query: 'q' }, tolerance: t }] },
        method: [{ wait: '1s' }],
      },
    }
    expect(validateExperiment(doc).ok).toBe(true)
    for (const [v, outcome] of cases) expect([v, judgeValue(v, t).outcome]).toEqual([v, outcome])
  })

  it.each([
    ['<', 'five'],
    ['between', '[1]'],
    ['~', '1'],
  ])('%s %s is refused', (criteria, value) => {
    const notes = new Notes()
    expect(numericTolerance(criteria, value, '/c', notes)).toBeUndefined()
    expect(notes.refusals.length).toBe(1)
  })

  it('faultline refuses bounds no value can meet', () => {
    const doc = (tolerance: object) => ({
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'x' },
      spec: {
        targets: {},
        hypothesis: { title: 't', checks: [{ name: 'c', promql: { url: 'http://p', query: 'q' }, tolerance }] },
        method: [{ wait: '1s' }],
      },
    })
    expect(validateExperiment(doc({ min: 5, exclusiveMax: 5 })).ok).toBe(false)
    expect(validateExperiment(doc({ exclusiveMin: 5, max: 5 })).ok).toBe(false)
    expect(validateExperiment(doc({ min: 6, max: 5 })).ok).toBe(false)
    expect(validateExperiment(doc({ min: 5, max: 5 })).ok).toBe(true)
    expect(validateExperiment(doc({})).ok).toBe(false)
  })
})
