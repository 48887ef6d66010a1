/**
 * The experiment document (apiVersion faultline/v1, kind Experiment): one schema for the CLI,
 * the API and the docs. Every problem is reported with its JSON pointer; unknown fields are
 * errors; durations are strings with units. Fault rules inside the method are checked with the
 * sidecar's own rule compiler, so an experiment never starts with a rule a sidecar would refuse.
 */
import { DEFAULT_STATS_RETENTION_S } from '../constants.ts'
import type { FieldIssue } from '../errors.ts'
import { compileLinearRegex } from '../regex.ts'
import { compileRuleSet } from '../rules/compile.ts'
import { ruleReference } from '../rules/schema.ts'
import { kubernetesCheck, type KubernetesStepKind, kubernetesSteps, kubernetesTarget } from './kubernetes-schema.ts'
import {
  anyJson,
  array,
  boolean,
  choice,
  definition,
  duration,
  exactlyOne,
  type Infer,
  isPlainObject,
  jsonSchemaDocument,
  number,
  object,
  oneOfTypes,
  record,
  required,
  type Schema,
  string,
} from '../schema.ts'

export const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const NAME_HINT = 'lower-case letters, digits and "-", at most 63'

const name = (description?: string) => string({ pattern: NAME, description: description ?? NAME_HINT })
const url = (description?: string) => string({ pattern: /^https?:\/\/[^\s]+$/, maxLength: 2048, description })
const argv = array(string({ minLength: 1, maxLength: 8192 }), { minItems: 1, description: 'program and arguments' })

/**
 * A regex a check runs on every sample. Compiled here, so a pattern that cannot run is refused
 * with its path before anything starts, instead of a check that can never fail.
 */
function linearRegex(description: string): Schema<string> {
  const text = string({ maxLength: 1024, description: `${description} (linear-time, RE2-style)` })
  return {
    json: text.json,
    check(v, path, issues) {
      const s = text.check(v, path, issues)
      if (s === undefined) return undefined
      const compiled = compileLinearRegex(s)
      if (!compiled.ok) return void issues.push({ path, message: `is not a usable regex: ${compiled.message}` })
      return s
    },
  }
}

// ── targets ──────────────────────────────────────────────────────────────────

const processSpec = object(
  {
    name: required(name('process name, unique in the experiment')),
    command: argv,
    env: record(string()),
    cwd: string(),
    readiness: object({
      url: required(url('ready when this answers 2xx')),
      timeout: duration({ min: 1, description: 'default 10s' }),
      interval: duration({ min: 1, description: 'default 100ms' }),
    }),
    restart: object({
      policy: choice(['never', 'on-failure', 'always'], 'default never'),
      delay: duration({ description: 'default 200ms' }),
    }),
  },
  { description: 'a local process: started and supervised when it has a command, else one the host already runs' },
)

const target = object(
  {
    sidecars: array(url('sidecar admin URL, e.g. http://127.0.0.1:8481'), { minItems: 1 }),
    service: name('fleet mode: every live sidecar instance registered for this service in Redis'),
    adminToken: string({ description: 'bearer token for the sidecars admin APIs' }),
    processes: array(processSpec, { minItems: 1 }),
    kubernetes: kubernetesTarget,
  },
  {
    refine(v, path, issues) {
      if (!v.sidecars && !v.service && !v.processes && !v.kubernetes)
        issues.push({ path, message: 'must have "sidecars", "service", "processes" or "kubernetes"' })
      if (v.sidecars && v.service)
        issues.push({ path: `${path}/service`, message: 'cannot be combined with "sidecars"' })
      if (v.sidecars && v.kubernetes)
        issues.push({
          path: `${path}/sidecars`,
          message: 'cannot be combined with "kubernetes" (its pods\' sidecars are reached by pod IP or by service)',
        })
    },
  },
)

// ── load ─────────────────────────────────────────────────────────────────────

const load = object({
  url: required(url()),
  method: string({ pattern: /^[A-Z]+$/ }),
  headers: record(string()),
  body: string(),
  connections: number({ integer: true, min: 1, max: 1000, description: 'default 10' }),
  rate: number({
    min: 1,
    max: 100_000,
    description: 'requests per second across all connections; default as fast as possible',
  }),
})

// ── checks ───────────────────────────────────────────────────────────────────

/** A sidecar cannot answer for a longer window than the statistics history it keeps. */
const MAX_WINDOW_MS = DEFAULT_STATS_RETENTION_S * 1000

export const STATS = ['p50', 'p90', 'p95', 'p99', 'max', 'errorRate', 'count', 'throughput'] as const
const statusSpec = oneOfTypes<number | string>([
  number({ integer: true, min: 100, max: 599 }) as Schema<number | string>,
  string({ pattern: /^[1-5]\d\d-[1-5]\d\d$/ }) as Schema<number | string>,
])

const sidecarCheck = object({
  target: required(name('a target with sidecars')),
  stat: required(choice(STATS, 'latency in ms, errorRate as a fraction 0..1, throughput in req/s')),
  cohort: choice(['all', 'faulted', 'unfaulted'], 'default all'),
})
const httpCheck = object({
  url: required(url()),
  method: string({ pattern: /^[A-Z]+$/ }),
  headers: record(string()),
  body: string(),
  timeout: duration({ min: 1, description: 'default 5s' }),
  status: array(statusSpec, { minItems: 1, description: 'default 200-399' }),
  bodyRegex: linearRegex('the response body must match'),
  jsonPath: object({ path: required(string({ pattern: /^\$/ })), equals: anyJson(), exists: boolean() }),
  maxLatency: duration({ min: 1 }),
})
const promqlCheck = object({
  url: required(url('Prometheus base URL')),
  query: required(string({ minLength: 1, maxLength: 8192, description: 'must return exactly one series' })),
})
type ExitCodeSpec = number | string | (number | string)[]
const exitCodeNumber = number({ integer: true, min: 0, max: 255 }) as Schema<number | string>
const exitCodeRange = string({
  pattern: /^(25[0-5]|2[0-4]\d|1?\d?\d)-(25[0-5]|2[0-4]\d|1?\d?\d)$/,
  description: 'an inclusive range, "0-255"',
}) as Schema<number | string>
/** One exit code or range, or any of a list of them (one level of oneOfTypes: it picks by JSON type). */
const exitCodes = (description: string) =>
  oneOfTypes<ExitCodeSpec>(
    [
      exitCodeNumber as Schema<ExitCodeSpec>,
      exitCodeRange as Schema<ExitCodeSpec>,
      array(oneOfTypes([exitCodeNumber, exitCodeRange]), { minItems: 1 }) as Schema<ExitCodeSpec>,
    ],
    description,
  )

const commandCheck = object({
  run: required(argv),
  timeout: duration({ min: 1, description: 'default 10s' }),
  exitCode: exitCodes('default 0'),
  outputRegex: linearRegex('stdout and stderr together must match'),
  stdoutRegex: linearRegex('stdout alone must match'),
  outputNumber: boolean('stdout, trimmed, is a number judged by the tolerance (the exit code must still match)'),
})

const TOLERANCE_KINDS = ['max', 'min', 'exclusiveMax', 'exclusiveMin', 'oneOf', 'noneOf', 'relative'] as const

const tolerance = object(
  {
    max: number({ description: 'value <= max' }),
    min: number({ description: 'value >= min' }),
    exclusiveMax: number({ description: 'value < exclusiveMax (strict)' }),
    exclusiveMin: number({ description: 'value > exclusiveMin (strict)' }),
    oneOf: array(number(), { minItems: 1, description: 'value is one of these' }),
    noneOf: array(number(), { minItems: 1, description: 'value is none of these' }),
    relative: object(
      {
        to: required(
          choice(
            ['before', 'unfaulted'],
            'before: the value measured in the before phase; unfaulted: the unfaulted cohort now',
          ),
        ),
        maxRatio: number({ min: 0, description: 'value / baseline must stay <= this' }),
        maxIncrease: number({ min: 0, description: 'value - baseline must stay <= this' }),
      },
      {
        refine(v, path, issues) {
          if (v.maxRatio === undefined && v.maxIncrease === undefined)
            issues.push({ path, message: 'must have "maxRatio" or "maxIncrease"' })
        },
      },
    ),
  },
  {
    refine(v, path, issues) {
      if (TOLERANCE_KINDS.every((k) => v[k] === undefined))
        issues.push({ path, message: `must have one of ${TOLERANCE_KINDS.map((k) => `"${k}"`).join(', ')}` })
      const lower = Math.max(v.min ?? -Infinity, v.exclusiveMin ?? -Infinity)
      const upper = Math.min(v.max ?? Infinity, v.exclusiveMax ?? Infinity)
      // Equal bounds leave one value, unless one of them is strict: then none.
      const strictTouch = lower === upper && (lower === v.exclusiveMin || upper === v.exclusiveMax)
      if (lower > upper || strictTouch)
        issues.push({
          path: `${path}/min`,
          message: 'no value can meet these bounds (the lower one is not below the upper one)',
        })
    },
  },
)

export const CHECK_KINDS = ['sidecar', 'http', 'promql', 'command', 'kubernetes'] as const
export const PHASES = ['before', 'during', 'after'] as const

/** What every check and observation shares: when and how often it samples, and what it measures. */
const sampling = {
  name: required(name()),
  phases: array(choice(PHASES), {
    minItems: 1,
    description: 'default: all three for the hypothesis and observations, during for guardrails',
  }),
  interval: duration({ min: 100, description: 'time between samples; default 2s' }),
  window: duration({
    min: 1000,
    max: MAX_WINDOW_MS,
    description: 'sidecar statistics window, whole seconds (a sidecar keeps 120); default 10s',
  }),
  minSamples: number({ integer: true, min: 1, description: 'requests a sidecar window needs to count; default 20' }),
}

const judgement = choice(
  ['statistical', 'point'],
  "statistical (default): a sidecar percentile or error-rate bound is judged on every request of the phase with exact confidence bounds; point: each sample's figure against the bound, as before",
)

const check = object(
  {
    ...sampling,
    failureThreshold: number({
      integer: true,
      min: 1,
      description: 'consecutive failing samples that fail a phase; default 2',
    }),
    recoverWithin: duration({ min: 1, description: 'after phase: deadline to pass again; default 30s' }),
    judgement,
    once: boolean(
      'one sample per phase decides it; once-checks run one after another in declared order and stop at the first that does not pass',
    ),
    sidecar: sidecarCheck,
    http: httpCheck,
    promql: promqlCheck,
    command: commandCheck,
    kubernetes: kubernetesCheck,
    tolerance,
  },
  {
    refine(v, path, issues) {
      const kind = exactlyOne(v, CHECK_KINDS, path, issues, 'check kind')
      const numeric = kind === 'sidecar' || kind === 'promql' || kind === 'kubernetes' || v.command?.outputNumber
      if (numeric && !v.tolerance)
        issues.push({
          path: `${path}/tolerance`,
          message: `is required for a ${kind === 'command' ? 'command check with outputNumber' : `${kind} check`}`,
        })
      if (v.tolerance?.relative?.to === 'unfaulted' && kind !== 'sidecar')
        issues.push({ path: `${path}/tolerance/relative/to`, message: '"unfaulted" needs a sidecar check' })
      if (v.tolerance?.relative?.to === 'unfaulted' && v.sidecar?.cohort === 'unfaulted')
        issues.push({ path: `${path}/sidecar/cohort`, message: 'cannot compare the unfaulted cohort with itself' })
      if (v.tolerance?.relative?.to === 'before' && v.phases && !v.phases.includes('before'))
        issues.push({
          path: `${path}/phases`,
          message: 'must include "before" to have a baseline for tolerance.relative',
        })
      if (v.tolerance && !numeric)
        issues.push({
          path: `${path}/tolerance`,
          message: `does not apply to a ${kind} check (use its own expectations${kind === 'command' ? ', or outputNumber' : ''})`,
        })
    },
  },
)

export const OBSERVATION_KINDS = ['sidecar', 'promql', 'kubernetes'] as const

/**
 * A figure measured and recorded through the run, never judged: what an observation run (a
 * document with no hypothesis checks, such as a Chaos Mesh object) shows in its report.
 */
const observation = object(
  {
    ...sampling,
    observeAfter: duration({
      min: 1,
      description: 'after phase: how long to keep observing after the revert; default 10s',
    }),
    sidecar: sidecarCheck,
    promql: promqlCheck,
    kubernetes: kubernetesCheck,
  },
  {
    refine(v, path, issues) {
      exactlyOne(v, OBSERVATION_KINDS, path, issues, 'observation kind')
    },
  },
)

// ── method ───────────────────────────────────────────────────────────────────

const anyRules: Schema<unknown[]> = array(ruleReference(), { minItems: 1 })

/** A method step that calls an HTTP endpoint once; any response counts unless `status` says otherwise. */
const httpCall = object({
  url: required(url()),
  method: string({ pattern: /^[A-Z]+$/, description: 'default GET' }),
  headers: record(string()),
  body: string(),
  timeout: duration({ min: 1, description: 'default 30s' }),
  status: array(statusSpec, { minItems: 1, description: 'the step fails on any other status; default any' }),
})
/** A method step that runs a program once; any exit code counts unless `exitCode` says otherwise. */
const runCall = object({
  command: required(argv),
  env: record(string()),
  cwd: string(),
  timeout: duration({ min: 1, description: 'default 60s' }),
  exitCode: exitCodes('the step fails on any other exit code; default any'),
})

export const STEP_KINDS = [
  'sidecarFault',
  'kill',
  'restart',
  'stress',
  ...(Object.keys(kubernetesSteps) as KubernetesStepKind[]),
  'http',
  'run',
  'wait',
  'parallel',
  'serial',
] as const

const step: Schema<StepSpec> = object(
  {
    name: string({ maxLength: 128 }),
    continueOnFailure: boolean('http and run steps: a failure is journalled and the method goes on'),
    keep: boolean(
      'Kubernetes faults: apply and go on; the fault stands until the run reverts everything (see spec.revertAt)',
    ),
    http: httpCall,
    run: runCall,
    sidecarFault: object({
      target: required(name()),
      duration: required(duration({ min: 1, max: 86_400_000 })),
      rules: required(anyRules),
    }),
    kill: object({
      target: required(name()),
      process: name(),
      signal: choice(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'], 'default SIGKILL'),
      recoverWithin: duration({
        min: 1,
        description: 'fail the step unless the process is ready again within this; default 30s',
      }),
    }),
    restart: object({ target: required(name()), process: name() }),
    stress: object(
      {
        cpu: number({ integer: true, min: 1, max: 256, description: 'busy workers' }),
        load: number({ min: 1, max: 100, description: 'percent busy per worker; default 100' }),
        memory: string({ pattern: /^\d+(\.\d+)?(B|KiB|MiB|GiB|KB|MB|GB)$/, description: 'e.g. 256MiB' }),
        duration: required(duration({ min: 1 })),
      },
      {
        refine(v, path, issues) {
          if (v.cpu === undefined && v.memory === undefined)
            issues.push({ path, message: 'must have "cpu" or "memory"' })
        },
      },
    ),
    ...kubernetesSteps,
    wait: duration({ min: 1 }),
    parallel: array(
      definition('Step', () => step),
      { minItems: 1 },
    ),
    serial: array(
      definition('Step', () => step),
      { minItems: 1 },
    ),
  },
  {
    refine(v, path, issues) {
      exactlyOne(v, STEP_KINDS, path, issues, 'step kind')
    },
  },
) as Schema<StepSpec>

export interface StepSpec {
  name?: string
  continueOnFailure?: boolean
  keep?: boolean
  http?: Infer<typeof httpCall>
  run?: Infer<typeof runCall>
  sidecarFault?: { target: string; duration: number; rules: Record<string, unknown>[] }
  kill?: { target: string; process?: string; signal?: NodeJS.Signals; recoverWithin?: number }
  restart?: { target: string; process?: string }
  stress?: { cpu?: number; load?: number; memory?: string; duration: number }
  podKill?: Infer<(typeof kubernetesSteps)['podKill']>
  podEvict?: Infer<(typeof kubernetesSteps)['podEvict']>
  podFailure?: Infer<(typeof kubernetesSteps)['podFailure']>
  nodeCordon?: Infer<(typeof kubernetesSteps)['nodeCordon']>
  nodeDrain?: Infer<(typeof kubernetesSteps)['nodeDrain']>
  nodeTaint?: Infer<(typeof kubernetesSteps)['nodeTaint']>
  networkPartition?: Infer<(typeof kubernetesSteps)['networkPartition']>
  scale?: Infer<(typeof kubernetesSteps)['scale']>
  podStress?: Infer<(typeof kubernetesSteps)['podStress']>
  wait?: number
  parallel?: StepSpec[]
  serial?: StepSpec[]
}

// ── the document ─────────────────────────────────────────────────────────────

const experiment = object({
  apiVersion: required(choice(['faultline/v1'])),
  kind: required(choice(['Experiment'])),
  metadata: required(
    object({
      name: required(name()),
      labels: record(string({ maxLength: 256 })),
      annotations: record(string({ maxLength: 1_000_000 }), {
        description: 'free-form; faultline.io/source-format says which format a document was translated from',
      }),
    }),
  ),
  spec: required(
    object({
      description: string({ maxLength: 4096 }),
      targets: required(record(target, { key: NAME })),
      load,
      hypothesis: required(
        object({
          title: required(string({ minLength: 1, maxLength: 256 })),
          checks: required(array(check)),
          confidence: number({
            min: 0.5,
            max: 0.9999,
            description:
              'confidence of statistical verdicts (pass and fail each wrong at most 1 - confidence); default 0.95',
          }),
          judgement,
        }),
      ),
      guardrails: array(check),
      observations: array(observation, {
        description: 'figures recorded before, during and after the method and never judged',
      }),
      revertAt: choice(
        ['method-end', 'after-phase'],
        'when faults still applied are reverted: when the method ends (default, the after phase measures recovery) or after the after phase',
      ),
      rollbacks: array(step, {
        minItems: 1,
        description: 'http, run and wait steps played after the run, in order, each whatever the others did',
      }),
      method: required(
        array(
          definition('Step', () => step),
          { minItems: 1 },
        ),
      ),
    }),
  ),
})

export type ExperimentDoc = Infer<typeof experiment>
export type CheckSpec = Infer<typeof check>
export type ObservationSpec = Infer<typeof observation>
export type TargetSpec = Infer<typeof target>
export type ProcessSpec = Infer<typeof processSpec>
export type LoadSpec = Infer<typeof load>

/** The published schema: a method step under `$defs/Step`, the sidecar's own rule under `$defs/Rule`. */
export function experimentJsonSchema(): Record<string, unknown> {
  return jsonSchemaDocument(experiment, { title: 'faultline experiment' })
}

/**
 * Checks a parsed document completely. Cross-references (targets named by checks and steps,
 * unique check and process names, rules valid for a sidecar) are checked too.
 */
export function validateExperiment(
  doc: unknown,
): { ok: true; experiment: ExperimentDoc } | { ok: false; issues: FieldIssue[] } {
  const issues: FieldIssue[] = []
  const checked = experiment.check(doc, '', issues)
  if (!checked) {
    crossCheckRules(doc, issues)
    return { ok: false, issues }
  }
  crossCheck(checked, issues)
  crossCheckRules(doc, issues)
  return issues.length ? { ok: false, issues } : { ok: true, experiment: checked }
}

function crossCheck(x: ExperimentDoc, issues: FieldIssue[]): void {
  const targets = x.spec.targets
  const names = new Map<string, string>()
  const seenProcess = new Set<string>()
  for (const [tname, t] of Object.entries(targets))
    t.processes?.forEach((p, i) => {
      if (seenProcess.has(p.name))
        issues.push({
          path: `/spec/targets/${tname}/processes/${i}/name`,
          message: `process "${p.name}" is defined twice`,
        })
      seenProcess.add(p.name)
    })
  const needTarget = (tname: string, path: string, what: 'sidecars' | 'processes' | 'pod' | 'node') => {
    const t = targets[tname]
    if (!t)
      return void issues.push({
        path,
        message: `names no target (targets: ${Object.keys(targets).join(', ') || 'none'})`,
      })
    if (what === 'sidecars' && !t.sidecars && !t.service && !t.kubernetes)
      issues.push({ path, message: `target "${tname}" has no sidecars, service or kubernetes pods` })
    if (what === 'processes' && !t.processes) issues.push({ path, message: `target "${tname}" has no processes` })
    if ((what === 'pod' || what === 'node') && (t.kubernetes?.kind ?? (t.kubernetes ? 'pod' : undefined)) !== what)
      issues.push({ path, message: `target "${tname}" is not a kubernetes ${what} target` })
  }
  const checkList = (list: (CheckSpec | ObservationSpec)[] | undefined, base: string) =>
    list?.forEach((c, i) => {
      const path = `${base}/${i}`
      const prev = names.get(c.name)
      if (prev) issues.push({ path: `${path}/name`, message: `duplicates the check at ${prev}` })
      else names.set(c.name, path)
      if (c.sidecar) needTarget(c.sidecar.target, `${path}/sidecar/target`, 'sidecars')
      if (c.kubernetes?.target) needTarget(c.kubernetes.target, `${path}/kubernetes/target`, 'pod')
    })
  checkList(x.spec.hypothesis.checks, '/spec/hypothesis/checks')
  checkList(x.spec.guardrails, '/spec/guardrails')
  checkList(x.spec.observations, '/spec/observations')
  const walk = (steps: StepSpec[], base: string) =>
    steps.forEach((s, i) => {
      const path = `${base}/${i}`
      if (s.sidecarFault) needTarget(s.sidecarFault.target, `${path}/sidecarFault/target`, 'sidecars')
      for (const k of ['kill', 'restart'] as const) {
        const spec = s[k]
        if (!spec) continue
        needTarget(spec.target, `${path}/${k}/target`, 'processes')
        const procs = targets[spec.target]?.processes
        if (spec.process && procs && !procs.some((p) => p.name === spec.process))
          issues.push({
            path: `${path}/${k}/process`,
            message: `target "${spec.target}" has no process "${spec.process}"`,
          })
      }
      for (const k of ['podKill', 'podEvict', 'podFailure', 'networkPartition', 'podStress'] as const)
        if (s[k]) needTarget(s[k].target, `${path}/${k}/target`, 'pod')
      for (const k of ['nodeCordon', 'nodeDrain', 'nodeTaint'] as const)
        if (s[k]) needTarget(s[k].target, `${path}/${k}/target`, 'node')
      if (s.parallel) walk(s.parallel, `${path}/parallel`)
      if (s.serial) walk(s.serial, `${path}/serial`)
    })
  walk(x.spec.method, '/spec/method')
  crossCheckCalls(x, issues)
}

const KEEPABLE = [
  'podKill',
  'podFailure',
  'nodeCordon',
  'nodeDrain',
  'nodeTaint',
  'networkPartition',
  'scale',
  'podStress',
]
const ROLLBACK_KINDS = ['http', 'run', 'wait']

/** Where `keep` and `continueOnFailure` apply, and what a rollback may be. */
function crossCheckCalls(x: ExperimentDoc, issues: FieldIssue[]): void {
  const walk = (steps: StepSpec[], base: string) =>
    steps.forEach((s, i) => {
      const path = `${base}/${i}`
      if (s.keep && !KEEPABLE.some((k) => k in s))
        issues.push({ path: `${path}/keep`, message: `applies to ${KEEPABLE.join(', ')} steps only` })
      if (s.continueOnFailure && !s.http && !s.run)
        issues.push({ path: `${path}/continueOnFailure`, message: 'applies to http and run steps only' })
      if (s.parallel) walk(s.parallel, `${path}/parallel`)
      if (s.serial) walk(s.serial, `${path}/serial`)
    })
  walk(x.spec.method, '/spec/method')
  x.spec.rollbacks?.forEach((s, i) => {
    const kind = STEP_KINDS.find((k) => k in s)
    if (kind && !ROLLBACK_KINDS.includes(kind))
      issues.push({
        path: `/spec/rollbacks/${i}/${kind}`,
        message: `a rollback is an ${ROLLBACK_KINDS.join(', ')} step`,
      })
  })
}

/** Rules in sidecarFault steps: the sidecar's own validation, plus fields the runner owns. */
function crossCheckRules(doc: unknown, issues: FieldIssue[]): void {
  const method = isPlainObject(doc) && isPlainObject(doc.spec) && Array.isArray(doc.spec.method) ? doc.spec.method : []
  const walk = (steps: unknown[], base: string) =>
    steps.forEach((s, i) => {
      if (!isPlainObject(s)) return
      const path = `${base}/${i}`
      if (Array.isArray(s.parallel)) walk(s.parallel, `${path}/parallel`)
      if (Array.isArray(s.serial)) walk(s.serial, `${path}/serial`)
      const fault = s.sidecarFault
      if (!isPlainObject(fault) || !Array.isArray(fault.rules)) return
      const rpath = `${path}/sidecarFault/rules`
      fault.rules.forEach((r, j) => {
        for (const owned of ['ttl', 'expiresAt', 'source'] as const)
          if (isPlainObject(r) && r[owned] !== undefined)
            issues.push({
              path: `${rpath}/${j}/${owned}`,
              message: 'is set by the runner (from the step duration and the run id)',
            })
      })
      const rules = fault.rules.map((r) =>
        isPlainObject(r) ? { ...r, ttl: undefined, expiresAt: undefined, source: undefined } : r,
      )
      const result = compileRuleSet({ rules: JSON.parse(JSON.stringify(rules)) }, { now: 0, generation: 0 })
      if (!result.ok)
        for (const issue of result.issues) issues.push({ ...issue, path: rpath + issue.path.replace(/^\/rules/, '') })
    })
  walk(method, '/spec/method')
}
