/**
 * Chaos Mesh documents (test/fixtures/interop/chaosmesh, shaped like the Chaos Mesh docs'
 * examples) read through the registry: each is recognised by content and translated into a
 * valid faultline/v1 observation run, every approximation noted by source path, and every
 * refusal named by its path. Every fixture in the folder is listed here.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FaultlineError } from '../../src/errors.ts'
import { wildcardToRegex } from '../../src/interop/chaosmesh/http.ts'
import { robfigCron } from '../../src/interop/kube/cron.ts'
import { readAnyExperiment } from '../../src/interop/registry.ts'
import type { StepSpec } from '../../src/experiments/schema.ts'

const DIR = path.join(import.meta.dirname, '../fixtures/interop/chaosmesh')
const read = (file: string, vars: Record<string, string> = {}) =>
  readAnyExperiment(readFileSync(path.join(DIR, file), 'utf8'), { file, env: {}, vars })
const refusal = (file: string): { path: string; message: string }[] => {
  try {
    read(file)
  } catch (err) {
    const e = err as FaultlineError
    expect(e.code).toBe('FL_ERR_EXPERIMENT_INVALID')
    expect(e.details?.issues).toEqual(e.issues)
    return e.issues!
  }
  throw new Error(`${file} was not refused`)
}
const paths = (notes: { path: string }[]) => notes.map((n) => n.path).sort()

/** Each translatable fixture: the method it must become (durations in ms) and its approximations. */
const TRANSLATED: Record<string, { method: StepSpec[]; approximated: string[]; target?: Record<string, unknown> }> = {
  'pod-kill.yaml': {
    method: [{ name: 'pod-kill pod-kill-example', podKill: { target: 'pod-kill-example', gracePeriodSeconds: 0 } }],
    approximated: [],
    target: { namespaces: ['shop'], labelSelector: { matchLabels: { app: 'web' } }, mode: 'one' },
  },
  'pod-failure.yaml': {
    method: [
      { name: 'pod-failure pod-failure-example', podFailure: { target: 'pod-failure-example', duration: 2000 } },
    ],
    approximated: ['/spec/gracePeriod'],
    target: {
      namespaces: ['shop'],
      labelSelector: { matchLabels: { app: 'web' } },
      podPhases: ['Running'],
      mode: 'fixed',
      value: 2,
    },
  },
  'network-partition.yaml': {
    method: [
      {
        name: 'partition partition',
        networkPartition: {
          target: 'partition',
          duration: 2000,
          direction: 'egress',
          to: { podSelector: { matchLabels: { app: 'db' } }, namespaces: ['shop'] },
        },
      },
    ],
    approximated: ['/spec/action'],
  },
  'stress-memory.yaml': {
    method: [
      {
        name: 'stress memory-stress-example',
        podStress: { target: 'memory-stress-example', duration: 2000, memory: '256MB' },
      },
    ],
    approximated: ['/spec/stressors', '/spec/stressors/memory/workers'],
  },
  'stress-cpu.yaml': {
    method: [
      {
        name: 'stress cpu-stress-example',
        podStress: { target: 'cpu-stress-example', duration: 2000, cpu: 1, load: 20 },
      },
    ],
    approximated: ['/spec/stressors'],
    target: {
      namespaces: ['shop'],
      labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
      mode: 'fixed-percent',
      value: 50,
      containers: ['app'],
    },
  },
  'http-abort.yaml': {
    method: [
      {
        name: 'HTTPChaos test-http-chaos',
        sidecarFault: {
          target: 'test-http-chaos',
          duration: 3000,
          rules: [
            {
              id: 'test-http-chaos',
              phase: 'request',
              match: { pathRegex: '^\\/echo\\/.*$', methods: ['GET'] },
              abort: { mode: 'close' },
            },
          ],
        },
      },
    ],
    approximated: ['/spec/port'],
  },
  'http-delay.yaml': {
    method: [
      {
        name: 'HTTPChaos test-http-delay',
        sidecarFault: {
          target: 'test-http-delay',
          duration: 3000,
          rules: [
            {
              id: 'test-http-delay',
              phase: 'request',
              match: { pathRegex: '^\\/echo\\/.*$', methods: ['GET'], headers: [{ name: 'x-tier', exact: 'gold' }] },
              delay: { ms: 300 },
            },
          ],
        },
      },
    ],
    approximated: ['/spec/port'],
  },
  'http-replace.yaml': {
    method: [
      {
        name: 'HTTPChaos test-http-replace',
        sidecarFault: {
          target: 'test-http-replace',
          duration: 3000,
          rules: [
            {
              id: 'test-http-replace',
              phase: 'response',
              match: { pathRegex: '^\\/echo\\/.*$', status: [200] },
              replace: {
                status: 503,
                headers: { 'x-replaced': 'yes' },
                bodyBase64: 'eyJlcnJvciI6InVuYXZhaWxhYmxlIn0=',
              },
            },
          ],
        },
      },
    ],
    approximated: ['/spec/port'],
  },
  'http-patch.yaml': {
    method: [
      {
        name: 'HTTPChaos test-http-patch',
        sidecarFault: {
          target: 'test-http-patch',
          duration: 3000,
          rules: [
            {
              id: 'test-http-patch',
              phase: 'response',
              match: {
                pathRegex: '^\\/json.*$',
                responseHeaders: [{ name: 'content-type', exact: 'application/json' }],
              },
              patch: { headers: [['x-patched', 'true']], json: { merge: { patched: true } } },
            },
          ],
        },
      },
    ],
    approximated: ['/spec/port'],
  },
  'http-request-rewrite.yaml': {
    method: [
      {
        name: 'HTTPChaos test-http-rewrite',
        sidecarFault: {
          target: 'test-http-rewrite',
          duration: 3000,
          rules: [
            {
              id: 'test-http-rewrite',
              phase: 'request',
              match: { pathRegex: '^\\/api\\/.*$' },
              replace: { path: '/api/v2/', method: 'DELETE', query: { foo: 'bar' } },
              patch: { query: [['debug', '1']] },
            },
          ],
        },
      },
    ],
    approximated: ['/spec/port'],
  },
  'workflow-serial-parallel.yaml': {
    method: [
      {
        name: 'Serial serial-of-3-node',
        serial: [
          { name: 'pod-failure workflow-pod-failure', podFailure: { target: 'workflow-pod-failure', duration: 2000 } },
          { name: 'suspend suspending', wait: 1000 },
          {
            name: 'Parallel parallel-chaos',
            parallel: [
              {
                name: 'partition workflow-network-chaos',
                networkPartition: {
                  target: 'workflow-network-chaos',
                  duration: 2000,
                  direction: 'both',
                  to: { cidrs: ['10.20.0.0/16', '192.0.2.7/32'] },
                },
              },
              { name: 'pod-kill workflow-pod-kill', podKill: { target: 'workflow-pod-kill', gracePeriodSeconds: 0 } },
              { name: 'observe workflow-pod-kill', wait: 1000 },
            ],
          },
        ],
      },
    ],
    approximated: ['/spec/templates/0/deadline', '/spec/templates/4/networkChaos/action', '/spec/templates/5/deadline'],
  },
  'schedule-pod-kill.yaml': {
    method: [{ name: 'pod-kill schedule-pod-kill', podKill: { target: 'schedule-pod-kill', gracePeriodSeconds: 0 } }],
    approximated: ['/spec/schedule', '/spec/schedule', '/spec/startingDeadlineSeconds'],
  },
  'schedule-workflow.yaml': {
    method: [
      {
        name: 'Serial the-entry',
        serial: [{ name: 'pod-failure fail-one', podFailure: { target: 'fail-one', duration: 30_000 } }],
      },
    ],
    approximated: [],
  },
}

/** Fixtures with status checks: they judge, so they are not observation runs. */
const JUDGED = ['workflow-status-check.yaml']

const REFUSED: Record<string, string[]> = {
  'refused-network-delay.yaml': ['/spec/action'],
  'refused-time-chaos.yaml': ['/kind'],
  'refused-io-chaos.yaml': ['/kind'],
  'refused-dns-chaos.yaml': ['/kind'],
  'refused-kernel-chaos.yaml': ['/kind'],
  'refused-container-kill.yaml': ['/spec/action'],
  'refused-workflow-netem.yaml': [
    '/spec/templates/1/networkChaos/action',
    '/spec/templates/2/stressChaos/frobnicate',
    '/spec/templates/2/stressChaos/stressors/cpu/options',
  ],
  'refused-selector.yaml': ['/spec/duration', '/spec/selector/nodeSelectors', '/spec/selector/nodes', '/spec/value'],
}

describe('Chaos Mesh corpus', () => {
  it('lists every fixture in the folder', () => {
    expect(readdirSync(DIR).sort()).toEqual([...Object.keys(TRANSLATED), ...JUDGED, ...Object.keys(REFUSED)].sort())
  })

  it.each(Object.entries(TRANSLATED))('%s becomes a valid faultline/v1 observation run', (file, want) => {
    const t = read(file)
    expect(t.format).toBe('chaosmesh')
    const x = t.experiment
    expect(x.spec.method).toEqual(want.method)
    expect(paths(t.approximations)).toEqual([...want.approximated].sort())
    // No hypothesis: nothing is judged, every fault target is observed.
    expect(x.spec.hypothesis.checks).toEqual([])
    const observed = new Set((x.spec.observations ?? []).map((o) => o.kubernetes?.target ?? o.sidecar?.target))
    expect([...observed].sort()).toEqual(Object.keys(x.spec.targets).sort())
    if (want.target) expect(Object.values(x.spec.targets)[0]!.kubernetes).toEqual(want.target)
  })

  it('Workflow StatusCheck nodes become HTTP checks in the phase their place gives them', () => {
    const t = read('workflow-status-check.yaml', { URL: 'http://127.0.0.1:9/healthz' })
    const x = t.experiment
    const http = (status: (number | string)[], extra: object = {}) => ({
      url: 'http://127.0.0.1:9/healthz',
      status,
      timeout: 1000,
      ...extra,
    })
    // The gate before any fault (its abort is the gate's own), the Continuous guard beside the fault
    // as a guardrail, the check after every fault as recovery within its deadline.
    expect(x.spec.hypothesis.checks).toEqual([
      {
        name: 'gate',
        phases: ['before'],
        interval: 1000,
        failureThreshold: 3,
        http: http([200], { headers: { Accept: 'text/plain' } }),
      },
      {
        name: 'recovered',
        phases: ['after'],
        interval: 1000,
        failureThreshold: 3,
        recoverWithin: 10_000,
        http: http([200]),
      },
    ])
    expect(x.spec.guardrails).toEqual([
      { name: 'guard', phases: ['during'], interval: 1000, failureThreshold: 2, http: http(['200-299']) },
    ])
    expect(x.spec.method).toEqual([
      {
        name: 'Serial the-entry',
        serial: [
          {
            name: 'Parallel chaos',
            parallel: [{ name: 'pod-failure fail-one', podFailure: { target: 'fail-one', duration: 3000 } }],
          },
        ],
      },
    ])
    expect(paths(t.approximations)).toEqual(['/spec/templates/0/deadline'])
  })

  it('HTTPChaos targets reach the pods sidecars at --var SIDECAR_ADMIN_PORT with SIDECAR_TOKEN', () => {
    const t = read('http-abort.yaml', { SIDECAR_ADMIN_PORT: '9481', SIDECAR_TOKEN: 'secret' })
    expect(t.experiment.spec.targets['test-http-chaos']).toEqual({
      kubernetes: {
        namespaces: ['shop'],
        labelSelector: { matchLabels: { app: 'sidecar' } },
        mode: 'all',
        sidecarAdminPort: 9481,
      },
      adminToken: 'secret',
    })
    expect(t.experiment.spec.observations?.map((o) => o.sidecar?.stat)).toEqual(['p95', 'errorRate'])
  })

  it('HTTPChaos abort wins over delay, replace and patch, as chaos-tproxy applies it first', () => {
    const text = readFileSync(path.join(DIR, 'http-abort.yaml'), 'utf8').replace(
      '  abort: true',
      '  abort: true\n  delay: 1s\n  patch:\n    headers: [[x-a, b]]',
    )
    const t = readAnyExperiment(text, { file: 'x', env: {}, vars: {} })
    const rule = t.experiment.spec.method[0]!.sidecarFault!.rules[0]!
    expect(rule).toEqual({
      id: 'test-http-chaos',
      phase: 'request',
      match: expect.any(Object),
      abort: { mode: 'close' },
    })
    expect(paths(t.approximations)).toEqual(['/spec/delay', '/spec/patch', '/spec/port'])
  })

  it('a Schedule carries the controller schedule it becomes', () => {
    expect(read('schedule-pod-kill.yaml').schedule).toEqual({
      name: 'schedule-pod-kill',
      experiment: 'schedule-pod-kill',
      cron: '0 */2 * * * *',
      concurrencyPolicy: 'forbid',
      historyLimit: 5,
    })
    expect(read('schedule-workflow.yaml').schedule).toEqual({
      name: 'schedule-workflow',
      experiment: 'schedule-workflow',
      cron: '0 10 * * 1-5',
      timezone: 'Asia/Tokyo',
      concurrencyPolicy: 'allow',
    })
    expect(read('pod-kill.yaml').schedule).toBeUndefined()
  })

  it.each(Object.entries(REFUSED))('%s is refused with the paths of what faultline cannot run', (file, want) => {
    const issues = refusal(file)
    expect(paths(issues)).toEqual([...want].sort())
    for (const i of issues) expect(i.message.length).toBeGreaterThan(10)
  })

  it('node-agent refusals say why', () => {
    expect(refusal('refused-time-chaos.yaml')[0]!.message).toMatch(/TimeChaos: .*node agent/)
    expect(refusal('refused-network-delay.yaml')[0]!.message).toMatch(/netem.*node agent/)
  })

  it('an unknown field anywhere is refused, never dropped', () => {
    const text = readFileSync(path.join(DIR, 'pod-kill.yaml'), 'utf8').replace(
      '  action: pod-kill',
      '  action: pod-kill\n  surprise: 1',
    )
    expect(() => readAnyExperiment(text, { file: 'x', env: {}, vars: {} })).toThrow(/faultline cannot run/)
    try {
      readAnyExperiment(text, { file: 'x', env: {}, vars: {} })
    } catch (err) {
      expect((err as FaultlineError).issues!.map((i) => i.path)).toEqual(['/spec/surprise'])
    }
  })
})

describe('Chaos Mesh pieces', () => {
  it.each([
    ['/api', '^\\/api$', ['/api'], ['/api/x', '/apix']],
    ['/api/*', '^\\/api\\/.*$', ['/api/', '/api/a/b'], ['/api']],
    ['/v?/x', '^\\/v.\\/x$', ['/v1/x'], ['/v10/x']],
    ['/a.b+(c)', '^\\/a\\.b\\+\\(c\\)$', ['/a.b+(c)'], ['/aXb+(c)']],
  ])('path wildcard %s is the anchored regex %s', (glob, regex, yes, no) => {
    expect(wildcardToRegex(glob)).toBe(regex)
    for (const p of yes) expect(new RegExp(regex).test(p)).toBe(true)
    for (const p of no) expect(new RegExp(regex).test(p)).toBe(false)
  })

  it.each([
    ['5 * * * *', { cron: '5 * * * *' }],
    ['*/10 * * * * *', { cron: '*/10 * * * * *' }],
    ['@hourly', { cron: '@hourly' }],
    ['@midnight', { cron: '@daily' }],
    ['CRON_TZ=Europe/Paris 0 3 * * *', { cron: '0 3 * * *', timezone: 'Europe/Paris' }],
    ['@every 30s', { cron: '*/30 * * * * *' }],
    ['@every 5m', { cron: '0 */5 * * * *' }],
    ['@every 6h', { cron: '0 0 */6 * * *' }],
  ])('cron %s', (text, want) => {
    expect(robfigCron(text)).toMatchObject(want)
  })

  it.each(['@every 7m', '@every 90s', '@fortnightly', '* * *'])('cron %s has no equivalent and says why', (text) => {
    expect(robfigCron(text)).toHaveProperty('problem')
  })
})
