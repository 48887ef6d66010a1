import { describe, expect, it } from 'vitest'
import { parseExperiment, substitute } from '../../src/experiments/document.ts'
import { experimentJsonSchema, validateExperiment } from '../../src/experiments/schema.ts'

const valid = () => ({
  apiVersion: 'faultline/v1',
  kind: 'Experiment',
  metadata: { name: 'exp-1' },
  spec: {
    targets: {
      front: { sidecars: ['http://127.0.0.1:8481'] },
      app: { processes: [{ name: 'app', command: ['node', 'x.js'] }] },
    },
    hypothesis: {
      title: 't',
      checks: [{ name: 'p95', sidecar: { target: 'front', stat: 'p95' }, tolerance: { max: 100 } }],
    },
    method: [{ sidecarFault: { target: 'front', duration: '5s', rules: [{ id: 'r', delay: { ms: 10 } }] } }],
  },
})

type Doc = ReturnType<typeof valid>
const edit = (f: (d: any) => void) => {
  const d = valid()
  f(d)
  return d
}

/** [what is wrong, document, JSON pointer(s) that must be reported] */
const MALFORMED: [string, unknown, string[]][] = [
  ['not an object', 'hello', ['']],
  ['wrong apiVersion', edit((d) => (d.apiVersion = 'v2')), ['/apiVersion']],
  ['wrong kind', edit((d) => (d.kind = 'Workflow')), ['/kind']],
  ['missing metadata.name', edit((d) => delete d.metadata.name), ['/metadata/name']],
  ['bad name', edit((d) => (d.metadata.name = 'Bad Name')), ['/metadata/name']],
  ['unknown top-level spec field', edit((d) => (d.spec.hypothesys = {})), ['/spec/hypothesys']],
  ['no method', edit((d) => delete d.spec.method), ['/spec/method']],
  ['empty method', edit((d) => (d.spec.method = [])), ['/spec/method']],
  ['target with nothing', edit((d) => (d.spec.targets.front = {})), ['/spec/targets/front']],
  [
    'sidecar URL not a URL',
    edit((d) => (d.spec.targets.front.sidecars = ['localhost:8481'])),
    ['/spec/targets/front/sidecars/0'],
  ],
  [
    'process without name',
    edit((d) => delete d.spec.targets.app.processes[0].name),
    ['/spec/targets/app/processes/0/name'],
  ],
  [
    'restart policy unknown',
    edit((d) => (d.spec.targets.app.processes[0].restart = { policy: 'sometimes' })),
    ['/spec/targets/app/processes/0/restart/policy'],
  ],
  [
    'check with two kinds',
    edit((d) => (d.spec.hypothesis.checks[0].http = { url: 'http://x' })),
    ['/spec/hypothesis/checks/0'],
  ],
  ['check with no kind', edit((d) => delete d.spec.hypothesis.checks[0].sidecar), ['/spec/hypothesis/checks/0']],
  [
    'sidecar check without tolerance',
    edit((d) => delete d.spec.hypothesis.checks[0].tolerance),
    ['/spec/hypothesis/checks/0/tolerance'],
  ],
  [
    'unknown stat',
    edit((d) => (d.spec.hypothesis.checks[0].sidecar.stat = 'p42')),
    ['/spec/hypothesis/checks/0/sidecar/stat'],
  ],
  [
    'check names an unknown target',
    edit((d) => (d.spec.hypothesis.checks[0].sidecar.target = 'back')),
    ['/spec/hypothesis/checks/0/sidecar/target'],
  ],
  [
    'sidecar check on a process target',
    edit((d) => (d.spec.hypothesis.checks[0].sidecar.target = 'app')),
    ['/spec/hypothesis/checks/0/sidecar/target'],
  ],
  [
    'window without unit',
    edit((d) => (d.spec.hypothesis.checks[0].window = '10')),
    ['/spec/hypothesis/checks/0/window'],
  ],
  [
    'min above max',
    edit((d) => (d.spec.hypothesis.checks[0].tolerance = { min: 5, max: 1 })),
    ['/spec/hypothesis/checks/0/tolerance/min'],
  ],
  [
    'relative without a bound',
    edit((d) => (d.spec.hypothesis.checks[0].tolerance = { relative: { to: 'before' } })),
    ['/spec/hypothesis/checks/0/tolerance/relative'],
  ],
  [
    'relative to before without a before phase',
    edit((d) => {
      d.spec.hypothesis.checks[0].tolerance = { relative: { to: 'before', maxRatio: 2 } }
      d.spec.hypothesis.checks[0].phases = ['during']
    }),
    ['/spec/hypothesis/checks/0/phases'],
  ],
  [
    'unknown phase',
    edit((d) => (d.spec.hypothesis.checks[0].phases = ['sometimes'])),
    ['/spec/hypothesis/checks/0/phases/0'],
  ],
  [
    'duplicate check names',
    edit((d) => (d.spec.guardrails = [{ ...d.spec.hypothesis.checks[0] }])),
    ['/spec/guardrails/0/name'],
  ],
  ['step with two kinds', edit((d) => (d.spec.method[0].wait = '1s')), ['/spec/method/0']],
  ['step kind unknown', edit((d) => (d.spec.method = [{ explode: {} }])), ['/spec/method/0/explode']],
  [
    'fault duration missing',
    edit((d) => delete d.spec.method[0].sidecarFault.duration),
    ['/spec/method/0/sidecarFault/duration'],
  ],
  [
    'bad rule inside a fault',
    edit((d) => (d.spec.method[0].sidecarFault.rules[0].delay.ms = -1)),
    ['/spec/method/0/sidecarFault/rules/0/delay/ms'],
  ],
  [
    'rule with a ttl (the runner owns it)',
    edit((d) => (d.spec.method[0].sidecarFault.rules[0].ttl = '1m')),
    ['/spec/method/0/sidecarFault/rules/0/ttl'],
  ],
  [
    'kill on a sidecar target',
    edit((d) => (d.spec.method = [{ kill: { target: 'front' } }])),
    ['/spec/method/0/kill/target'],
  ],
  [
    'kill of an unknown process',
    edit((d) => (d.spec.method = [{ kill: { target: 'app', process: 'nope' } }])),
    ['/spec/method/0/kill/process'],
  ],
  [
    'nested step error',
    edit((d) => (d.spec.method = [{ parallel: [{ wait: '1s' }, { serial: [{ wait: 'soon' }] }] }])),
    ['/spec/method/0/parallel/1/serial/0/wait'],
  ],
  [
    'stress with neither cpu nor memory',
    edit((d) => (d.spec.method = [{ stress: { duration: '1s' } }])),
    ['/spec/method/0/stress'],
  ],
  [
    'stress memory without unit',
    edit((d) => (d.spec.method = [{ stress: { memory: '256', duration: '1s' } }])),
    ['/spec/method/0/stress/memory'],
  ],
  ['load rate of zero', edit((d) => (d.spec.load = { url: 'http://x', rate: 0 })), ['/spec/load/rate']],
  [
    'http check with a tolerance',
    edit((d) => (d.spec.hypothesis.checks = [{ name: 'h', http: { url: 'http://x' }, tolerance: { max: 1 } }])),
    ['/spec/hypothesis/checks/0/tolerance'],
  ],
  [
    'http bodyRegex that does not compile',
    edit((d) => (d.spec.hypothesis.checks = [{ name: 'h', http: { url: 'http://x', bodyRegex: '(unclosed' } }])),
    ['/spec/hypothesis/checks/0/http/bodyRegex'],
  ],
  [
    'http bodyRegex that needs backtracking (a backreference)',
    edit((d) => (d.spec.hypothesis.checks = [{ name: 'h', http: { url: 'http://x', bodyRegex: '(a)\\1' } }])),
    ['/spec/hypothesis/checks/0/http/bodyRegex'],
  ],
  [
    'command outputRegex that does not compile, in a guardrail',
    edit((d) => (d.spec.guardrails = [{ name: 'c', command: { run: ['true'], outputRegex: '[z-a]' } }])),
    ['/spec/guardrails/0/command/outputRegex'],
  ],
  [
    'window longer than a sidecar keeps statistics',
    edit((d) => (d.spec.hypothesis.checks[0].window = '5m')),
    ['/spec/hypothesis/checks/0/window'],
  ],
  [
    'promql without query',
    edit((d) => (d.spec.hypothesis.checks = [{ name: 'q', promql: { url: 'http://x' }, tolerance: { max: 1 } }])),
    ['/spec/hypothesis/checks/0/promql/query'],
  ],
]

describe('experiment validation', () => {
  it('has at least 20 malformed cases', () => expect(MALFORMED.length).toBeGreaterThanOrEqual(20))

  it('accepts the valid document', () => {
    const r = validateExperiment(valid())
    expect(r.ok ? [] : r.issues).toEqual([])
  })

  it.each(MALFORMED)('rejects %s with its path', (_name, doc, paths) => {
    const r = validateExperiment(doc)
    expect(r.ok).toBe(false)
    if (r.ok) return
    for (const p of paths) expect(r.issues.map((i) => i.path)).toContain(p)
  })

  it('reports every problem at once', () => {
    const d = edit((x) => {
      x.metadata.name = 'BAD'
      x.spec.hypothesis.checks[0].sidecar.stat = 'nope'
      x.spec.method[0].sidecarFault.rules[0].delay.ms = 'x'
    })
    const r = validateExperiment(d)
    expect(!r.ok && r.issues.map((i) => i.path)).toEqual([
      '/metadata/name',
      '/spec/hypothesis/checks/0/sidecar/stat',
      '/spec/method/0/sidecarFault/rules/0/delay/ms',
    ])
  })
})

describe('experiment documents', () => {
  const yaml = `
apiVersion: faultline/v1
kind: Experiment
metadata: { name: v }
spec:
  targets: { front: { sidecars: ["\${ADMIN}"] } }
  hypothesis: { title: t, checks: [] }
  method: [{ wait: 1s }]
`
  it('substitutes ${VARS} from the given variables', () => {
    const x = parseExperiment(yaml, { ADMIN: 'http://127.0.0.1:9' })
    expect(x.spec.targets.front!.sidecars).toEqual(['http://127.0.0.1:9'])
    expect(x.spec.method[0]!.wait).toBe(1000)
  })
  it('names an unset variable with its path', () => {
    expect(() => parseExperiment(yaml, {})).toThrow(
      expect.objectContaining({
        code: 'FL_ERR_EXPERIMENT_INVALID',
        issues: expect.arrayContaining([expect.objectContaining({ path: '/spec/targets/front/sidecars/0' })]),
      }),
    )
  })
  it('rejects text that is not YAML', () => {
    expect(() => parseExperiment('a: [', {})).toThrow(expect.objectContaining({ code: 'FL_ERR_EXPERIMENT_INVALID' }))
  })
  it('leaves non-strings alone when substituting', () => {
    expect(substitute({ a: 1, b: [true, '${X}'] }, { X: 'y' }, [])).toEqual({ a: 1, b: [true, 'y'] })
  })
})

export type { Doc }

describe('published schema', () => {
  it('every $ref of the experiment JSON Schema resolves inside the schema itself', () => {
    const schema = experimentJsonSchema()
    const refs: string[] = []
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk)
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x)
          else walk(x)
        }
    }
    walk(schema)
    expect(refs.length).toBeGreaterThan(0)
    for (const ref of refs) {
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], schema)
      expect(target, ref).toBeTypeOf('object')
    }
  })
})
