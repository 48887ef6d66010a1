/**
 * The Chaos Toolkit translation, field by field: what maps exactly, what is approximated (and
 * listed), what is refused (with its path). Runs nothing; the end-to-end runs are in
 * test/integration/interop-chaostoolkit.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { importYaml } from '../../bin/import.ts'
import { FaultlineError } from '../../src/errors.ts'
import { CTK_ACTIVITIES, SOURCE_FORMAT } from '../../src/interop/annotations.ts'
import { chaostoolkit } from '../../src/interop/chaostoolkit/index.ts'
import { experimentDocument } from '../../src/interop/document.ts'
import { readAnyExperiment } from '../../src/interop/registry.ts'
import type { Translation } from '../../src/interop/types.ts'

type Obj = Record<string, unknown>
const ctx = (env: Obj = {}, vars: Record<string, string> = {}) => ({
  file: 'exp.json',
  env: env as NodeJS.ProcessEnv,
  vars,
})

const URL_ = 'http://127.0.0.1:8080'
const probe = (provider: Obj, tolerance: unknown, extra: Obj = {}) => ({
  type: 'probe',
  name: 'p',
  provider,
  tolerance,
  ...extra,
})
const httpP = (extra: Obj = {}) => ({ type: 'http', url: `${URL_}/health`, timeout: 2, ...extra })
const procP = (extra: Obj = {}) => ({ type: 'process', path: 'true', timeout: 2, ...extra })
const action = (provider: Obj, extra: Obj = {}) => ({ type: 'action', name: 'a', provider, ...extra })

function doc(over: Obj = {}): Obj {
  return {
    title: 'T',
    description: 'd',
    method: [action(procP())],
    ...over,
  }
}
const withProbes = (probes: unknown[], over: Obj = {}) =>
  doc({ 'steady-state-hypothesis': { title: 'h', probes }, ...over })

function translate(d: Obj, c = ctx()): Translation {
  return chaostoolkit.translate([d], c)
}

function refused(d: Obj, c = ctx()): { path: string; message: string }[] {
  try {
    translate(d, c)
  } catch (err) {
    expect(err).toBeInstanceOf(FaultlineError)
    expect((err as FaultlineError).code).toBe('FL_ERR_EXPERIMENT_INVALID')
    return (err as FaultlineError).issues!
  }
  throw new Error('not refused')
}

const check0 = (t: Translation) => t.experiment.spec.hypothesis.checks[0]!
const paths = (t: Translation) => t.approximations.map((a) => a.path)

describe('detection', () => {
  it('a document with title and method, without apiVersion/kind, is Chaos Toolkit', () => {
    expect(chaostoolkit.detect([doc()])).toBe(true)
    expect(chaostoolkit.detect([{ ...doc(), apiVersion: 'chaos-mesh.org/v1alpha1', kind: 'PodChaos' }])).toBe(false)
    expect(chaostoolkit.detect([{ title: 'x' }])).toBe(false)
    expect(chaostoolkit.detect([doc(), doc()])).toBe(false)
  })

  it('readAnyExperiment picks it by content, JSON or YAML, and names the known formats otherwise', () => {
    const json = readAnyExperiment(JSON.stringify(doc()), ctx())
    expect(json.format).toBe('chaostoolkit')
    const yaml = readAnyExperiment(
      'title: T\ndescription: d\nmethod:\n  - {type: action, name: a, provider: {type: process, path: "true", timeout: 1}}\n',
      ctx(),
    )
    expect(yaml.experiment.spec.method[0]!.run!.command).toEqual(['true'])
    try {
      readAnyExperiment('kind: Nothing\n', ctx())
      throw new Error('not refused')
    } catch (err) {
      expect((err as FaultlineError).code).toBe('FL_ERR_EXPERIMENT_INVALID')
      expect((err as Error).message).toMatch(/faultline\/v1.*Chaos Toolkit \(chaostoolkit\)/)
    }
  })
})

describe('configuration, secrets and substitution', () => {
  const d = (over: Obj = {}) =>
    doc({
      configuration: {
        base: { type: 'env', key: 'BASE', default: 'http://127.0.0.1:1' },
        port: { type: 'env', key: 'PORT', env_var_type: 'int' },
        pause: 0.5,
      },
      secrets: { s: { token: { type: 'env', key: 'TOKEN' } } },
      method: [
        action(
          {
            type: 'http',
            url: '${base}:${port}/x',
            method: 'POST',
            headers: { Authorization: 'Bearer ${token}', Cost: '$$5' },
            timeout: 1,
            arguments: 'raw ${unknown}',
          },
          { pauses: { after: '${pause}' } },
        ),
      ],
      ...over,
    })

  it('env values, defaults, secrets, $$ and unknown names as safe_substitute leaves them', () => {
    const t = translate(d(), ctx({ PORT: '9000', TOKEN: 'tk' }))
    const [call, pause] = t.experiment.spec.method
    expect(call!.http).toMatchObject({
      url: 'http://127.0.0.1:1:9000/x',
      headers: { Authorization: 'Bearer tk', Cost: '$5' },
      body: 'raw ${unknown}',
    })
    // A pause that is exactly "${pause}" keeps the number.
    expect(pause).toEqual({ name: 'pause after a', wait: 500 })
  })

  it('--var overrides configuration; a missing env variable without default is refused by path', () => {
    const t = translate(d(), ctx({ PORT: '1', TOKEN: 't' }, { base: 'http://10.0.0.1' }))
    expect(t.experiment.spec.method[0]!.http!.url).toBe('http://10.0.0.1:1/x')
    expect(refused(d(), ctx({ TOKEN: 't' })).map((i) => i.path)).toEqual(['/configuration/port'])
    expect(refused(d(), ctx({ PORT: 'x', TOKEN: 't' }))[0]!.message).toContain('not an integer')
    expect(refused(d({ secrets: { s: { v: { type: 'vault', path: 'a' } } } }), ctx({ PORT: '1' }))[0]!.path).toBe(
      '/secrets/s/v/type',
    )
  })
})

describe('hypothesis probes and tolerances', () => {
  it('every probe is a once-check before and after the method', () => {
    const c = check0(translate(withProbes([probe(httpP(), 200)])))
    expect(c).toMatchObject({
      name: 'p',
      phases: ['before', 'after'],
      once: true,
      http: { status: [200], timeout: 2000 },
    })
  })

  it.each([
    ['an int', 503, { status: [503] }],
    ['a list (membership, with a status)', [200, 204], { status: [200, 204] }],
    ['a status range', { type: 'range', range: [200, 299], target: 'status' }, { status: ['200-299'] }],
    ['a body regex', { type: 'regex', pattern: 'ok', target: 'body' }, { status: ['100-599'], bodyRegex: 'ok' }],
    [
      'a body jsonpath',
      { type: 'jsonpath', path: '$.a[0].b', expect: 3, target: 'body' },
      { jsonPath: { path: '$.a[0].b', equals: 3 } },
    ],
    ['a $.body jsonpath', { type: 'jsonpath', path: '$.body.ok' }, { jsonPath: { path: '$.ok', exists: true } }],
    [
      'a jsonpath expect list of one',
      { type: 'jsonpath', path: '$.a', expect: ['x'], target: 'body' },
      { jsonPath: { path: '$.a', equals: 'x' } },
    ],
    [
      'a jsonpath expect of nothing',
      { type: 'jsonpath', path: '$.a', expect: [], target: 'body' },
      { jsonPath: { path: '$.a', exists: false } },
    ],
    [
      'a jsonpath count 0',
      { type: 'jsonpath', path: '$.err', count: 0, target: 'body' },
      { jsonPath: { path: '$.err', exists: false } },
    ],
  ])('http: %s', (_, tolerance, want) => {
    expect(check0(translate(withProbes([probe(httpP(), tolerance)]))).http).toMatchObject(want)
  })

  it.each([
    ['a string', 'ok', '/steady-state-hypothesis/probes/0/tolerance'],
    ['a boolean', true, '/steady-state-hypothesis/probes/0/tolerance'],
    [
      'a jsonpath filter',
      { type: 'jsonpath', path: '$.items[?(@.a)]', target: 'body' },
      '/steady-state-hypothesis/probes/0/tolerance/path',
    ],
    ['a regex without target', { type: 'regex', pattern: 'x' }, '/steady-state-hypothesis/probes/0/tolerance/target'],
    [
      'a probe tolerance',
      { type: 'probe', name: 't', provider: { type: 'python', module: 'm', func: 'f' } },
      '/steady-state-hypothesis/probes/0/tolerance/type',
    ],
  ])('http: %s is refused by path', (_, tolerance, path) => {
    expect(refused(withProbes([probe(httpP(), tolerance)])).map((i) => i.path)).toEqual([path])
  })

  it.each([
    ['an int', 2, { exitCode: 2 }],
    ['a list', [0, 1], { exitCode: [0, 1] }],
    ['a range', { type: 'range', range: [1, 3], target: 'status' }, { exitCode: '1-3' }],
    ['a stdout regex', { type: 'regex', pattern: '^up', target: 'stdout' }, { exitCode: '0-255', stdoutRegex: '^up' }],
  ])('process: %s', (_, tolerance, want) => {
    expect(check0(translate(withProbes([probe(procP(), tolerance)]))).command).toMatchObject(want)
  })

  it('process: a stderr regex is approximated (stdout and stderr together); jsonpath is refused', () => {
    const t = translate(withProbes([probe(procP(), { type: 'regex', pattern: 'x', target: 'stderr' })]))
    expect(check0(t).command!.outputRegex).toBe('x')
    expect(paths(t)).toContain('/steady-state-hypothesis/probes/0/tolerance/target')
    expect(refused(withProbes([probe(procP(), { type: 'jsonpath', path: '$.a' })]))[0]!.path).toBe(
      '/steady-state-hypothesis/probes/0/tolerance/type',
    )
  })

  it('probe pauses and a missing timeout are approximations, listed by path', () => {
    const t = translate(withProbes([probe({ type: 'http', url: `${URL_}/` }, 200, { pauses: { after: 2 } })]))
    expect(paths(t)).toEqual(
      expect.arrayContaining([
        '/steady-state-hypothesis/probes/0/pauses/after',
        '/steady-state-hypothesis/probes/0/provider/timeout',
      ]),
    )
    expect(check0(t).http!.timeout).toBe(30_000)
  })
})

describe('providers in the method', () => {
  it('http: GET arguments are the query string; JSON and form bodies otherwise; expected_status', () => {
    const t = translate(
      doc({
        method: [
          action(httpP({ arguments: { q: 'a b', n: 1 } })),
          action(httpP({ method: 'post', headers: { 'content-type': 'application/json' }, arguments: { a: [1] } })),
          action(httpP({ method: 'PUT', arguments: { a: 1 }, expected_status: 204 })),
        ],
      }),
    )
    const [get, json, form] = t.experiment.spec.method.map((s) => s.http!)
    expect(get!.url).toBe(`${URL_}/health?q=a+b&n=1`)
    expect(json).toMatchObject({ method: 'POST', body: '{"a":[1]}' })
    expect(form).toMatchObject({
      body: 'a=1',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      status: [204],
    })
    for (const s of t.experiment.spec.method) expect(s.continueOnFailure).toBe(true)
  })

  it('process: list, object (key value pairs) and string (shell) arguments; the path is not substituted', () => {
    const t = translate(
      doc({
        configuration: { x: 'X' },
        method: [
          action(procP({ path: '${x}', arguments: ['-a', '${x}', '', null] })),
          action(procP({ path: 'kubectl', arguments: { '--namespace': 'n', '-o': 'json' } })),
          action(procP({ path: 'echo', arguments: '${x} | wc -c' })),
        ],
      }),
    )
    expect(t.experiment.spec.method.map((s) => s.run!.command)).toEqual([
      ['${x}', '-a', 'X'],
      ['kubectl', '--namespace', 'n', '-o', 'json'],
      ['/bin/sh', '-c', 'echo X | wc -c'],
    ])
  })

  it('pauses become waits around the step; refs resolve; method probe tolerances are noted as not judged', () => {
    const t = translate(
      doc({
        method: [
          action(procP(), { name: 'first', pauses: { before: 1, after: 0.25 } }),
          { ref: 'first' },
          { type: 'probe', name: 'look', provider: procP(), tolerance: 0 },
        ],
      }),
    )
    expect(t.experiment.spec.method.map((s) => s.name)).toEqual([
      'pause before first',
      'first',
      'pause after first',
      'pause before first',
      'first',
      'pause after first',
      'look',
    ])
    expect(paths(t)).toContain('/method/2/tolerance')
  })

  it('unknown provider types, python modules and functions are refused by path, never skipped', () => {
    const issues = refused(
      doc({
        method: [
          action({ type: 'grpc' }),
          action({ type: 'python', module: 'chaosaws.ec2.actions', func: 'stop_instance' }),
          action({ type: 'python', module: 'chaosk8s.pod.actions', func: 'exec_in_pods' }),
        ],
      }),
    )
    expect(issues.map((i) => i.path)).toEqual([
      '/method/0/provider/type',
      '/method/1/provider/module',
      '/method/2/provider/func',
    ])
    expect(issues[2]!.message).toContain('chaosk8s.pod.actions.exec_in_pods')
  })

  it('fields Chaos Toolkit does not read are listed as ignored; an argument a chaosk8s function does not take is refused', () => {
    const t = translate(doc({ method: [action(procP({ retries: 3 }), { owner: 'me' })] }))
    expect(paths(t)).toEqual(expect.arrayContaining(['/method/0/owner', '/method/0/provider/retries']))
    const issues = refused(
      doc({
        method: [
          action({
            type: 'python',
            module: 'chaosk8s.deployment.actions',
            func: 'scale_deployment',
            arguments: { name: 'w', replicas: 1, namespace: 'x' },
          }),
        ],
      }),
    )
    expect(issues.map((i) => i.path)).toEqual(['/method/0/provider/arguments/namespace'])
    expect(issues[0]!.message).toContain('name, replicas, ns')
  })

  it('background activities are refused (faultline runs the method in order)', () => {
    expect(refused(doc({ method: [action(procP(), { background: true }), action(procP())] }))[0]!.path).toBe(
      '/method/0/background',
    )
  })
})

describe('chaosk8s', () => {
  const k8s = (module: string, func: string, args: Obj) => ({ type: 'python', module, func, arguments: args })

  it('actions become kept Kubernetes faults', () => {
    const t = translate(
      doc({
        method: [
          action(
            k8s('chaosk8s.pod.actions', 'terminate_pods', {
              label_selector: 'app=web',
              ns: 'shop',
              qty: 2,
              rand: true,
              grace_period: 0,
            }),
          ),
          action(k8s('chaosk8s.deployment.actions', 'scale_deployment', { name: 'web', replicas: 0, ns: 'shop' })),
          action(k8s('chaosk8s.node.actions', 'cordon_node', { name: 'node-1' })),
          action(k8s('chaosk8s.node.actions', 'drain_nodes', { label_selector: 'pool=a', count: 1, timeout: 30 })),
          action(
            k8s('chaosk8s.networking.actions', 'deny_all_ingress', { label_selectors: { app: 'db' }, ns: 'shop' }),
          ),
        ],
      }),
    )
    const [kill, scale, cordon, drain, deny] = t.experiment.spec.method
    for (const s of t.experiment.spec.method) expect(s.keep).toBe(true)
    expect(kill!.podKill).toMatchObject({ gracePeriodSeconds: 0 })
    expect(t.experiment.spec.targets[kill!.podKill!.target]!.kubernetes).toMatchObject({
      namespaces: ['shop'],
      labelSelector: 'app=web',
      mode: 'fixed',
      value: 2,
    })
    expect(scale!.scale).toMatchObject({
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      replicas: 0,
    })
    expect(t.experiment.spec.targets[cordon!.nodeCordon!.target]!.kubernetes).toMatchObject({
      kind: 'node',
      nodes: ['node-1'],
    })
    expect(drain!.nodeDrain).toMatchObject({ timeout: 30_000 })
    expect(t.experiment.spec.targets[drain!.nodeDrain!.target]!.kubernetes).toMatchObject({
      labelSelector: 'pool=a',
      mode: 'fixed',
      value: 1,
    })
    expect(deny!.networkPartition).toMatchObject({ direction: 'ingress' })
    expect(t.experiment.spec.targets[deny!.networkPartition!.target]!.kubernetes!.labelSelector).toEqual({
      matchLabels: { app: 'db' },
    })
    expect(t.experiment.spec.revertAt).toBe('after-phase')
  })

  it('terminate_pods without rand is approximated (random, not alphabetical); name_pattern is refused', () => {
    const t = translate(
      doc({ method: [action(k8s('chaosk8s.pod.actions', 'terminate_pods', { label_selector: 'a=b' }))] }),
    )
    expect(paths(t)).toContain('/method/0/provider/arguments/rand')
    expect(
      refused(doc({ method: [action(k8s('chaosk8s.pod.actions', 'terminate_pods', { name_pattern: 'web-.*' }))] }))[0]!
        .path,
    ).toBe('/method/0/provider/arguments/name_pattern')
  })

  it('probes become Kubernetes checks', () => {
    const t = translate(
      withProbes([
        probe(k8s('chaosk8s.pod.probes', 'pods_in_phase', { label_selector: 'app=web', ns: 'shop' }), true, {
          name: 'a',
        }),
        probe(k8s('chaosk8s.pod.probes', 'pods_not_in_phase', { label_selector: 'app=web', phase: 'Failed' }), true, {
          name: 'b',
        }),
        probe(k8s('chaosk8s.pod.probes', 'count_pods', { label_selector: 'app=web', phase: 'Running' }), [2, 4], {
          name: 'c',
        }),
        probe(
          k8s('chaosk8s.deployment.probes', 'deployment_available_and_healthy', { name: 'web', ns: 'shop' }),
          true,
          { name: 'd' },
        ),
        probe(k8s('chaosk8s.probes', 'all_microservices_healthy', { ns: 'shop' }), true, { name: 'e' }),
      ]),
    )
    const cs = t.experiment.spec.hypothesis.checks
    expect(cs.map((c) => [c.kubernetes!.stat, c.kubernetes!.phase, c.tolerance])).toEqual([
      ['podsNotInPhase', 'Running', { max: 0 }],
      ['podsInPhase', 'Failed', { max: 0 }],
      ['podsInPhase', 'Running', { min: 2, max: 4 }],
      ['unavailableReplicas', undefined, { max: 0 }],
      ['podsNotInPhase', 'Running', { max: 0 }],
    ])
    expect(paths(t)).toContain('/steady-state-hypothesis/probes/4/provider/arguments')
  })

  it("undo functions in the rollbacks stand for faultline's revert; without a matching action they are refused", () => {
    const t = translate(
      doc({
        method: [action(k8s('chaosk8s.node.actions', 'cordon_node', { name: 'n1' }), { name: 'cordon' })],
        rollbacks: [action(k8s('chaosk8s.node.actions', 'uncordon_node', { name: 'n1' }), { name: 'uncordon' })],
        runtime: { rollbacks: { strategy: 'always' } },
      }),
    )
    expect(t.experiment.spec.rollbacks).toBeUndefined()
    const map = JSON.parse(t.experiment.metadata.annotations![CTK_ACTIVITIES]!)
    expect(map).toContainEqual({ section: 'rollbacks', index: 0, revertOf: ['cordon'] })
    expect(paths(t)).toContain('/rollbacks/0/provider')
    expect(
      refused(doc({ rollbacks: [action(k8s('chaosk8s.networking.actions', 'remove_deny_all_ingress', {}))] }))[0]!.path,
    ).toBe('/rollbacks/0/provider')
    expect(
      refused(doc({ method: [action(k8s('chaosk8s.node.actions', 'uncordon_node', { name: 'n' }))] }))[0]!.path,
    ).toBe('/method/0/provider/arguments')
  })
})

describe('the rest of the document', () => {
  it('title, description, tags and the source annotations', () => {
    const t = translate(doc({ title: 'My Exp!', tags: ['a', 'b'] }))
    expect(t.experiment.metadata).toMatchObject({ name: 'my-exp', labels: { a: 'true', b: 'true' } })
    expect(t.experiment.metadata.annotations![SOURCE_FORMAT]).toBe('chaostoolkit')
    expect(t.experiment.spec.description).toBe('d')
  })

  it('controls: safeguards refused, others approximated; runtime strategies', () => {
    const ctl = (module: string) => [{ name: 'c', provider: { type: 'python', module } }]
    expect(refused(doc({ controls: ctl('chaosaddons.controls.safeguards') }))[0]!.path).toBe('/controls/0')
    expect(paths(translate(doc({ controls: ctl('chaostracing.control') })))).toContain('/controls/0')
    expect(refused(doc({ runtime: { hypothesis: { strategy: 'continuously' } } }))[0]!.path).toBe(
      '/runtime/hypothesis/strategy',
    )
    const never = translate(doc({ rollbacks: [action(procP())], runtime: { rollbacks: { strategy: 'never' } } }))
    expect(never.experiment.spec.rollbacks).toBeUndefined()
    const dflt = translate(doc({ rollbacks: [action(procP())] }))
    expect(dflt.experiment.spec.rollbacks![0]!.run).toBeDefined()
    expect(paths(dflt)).toContain('/rollbacks')
  })

  it('no hypothesis and unknown top-level fields are approximations, listed', () => {
    const t = translate(doc({ extras: 1, 'steady-state-hypothesis': undefined }))
    expect(paths(t)).toEqual(expect.arrayContaining(['/extras', '/steady-state-hypothesis']))
  })
})

describe('faultline import output', () => {
  it('lists every approximation in the header and reads back as the same experiment', () => {
    const t = translate(withProbes([probe({ type: 'http', url: `${URL_}/` }, 200)], { rollbacks: [action(procP())] }))
    const text = importYaml('exp.json', t.format, experimentDocument(t.experiment), t.approximations)
    for (const a of t.approximations) expect(text).toContain(`# approximated: ${a.path} -> ${a.message}`)
    const again = readAnyExperiment(text, ctx())
    expect(again.format).toBe('faultline')
    expect(again.experiment).toEqual(t.experiment)
  })
})
