/**
 * What the controller API answers, as JSON Schema, for the OpenAPI document. Each is a named
 * definition (a component of the document). Responses are not checked at run time; the
 * integration test test/integration/openapi-contract.test.ts validates real answers against these,
 * so a field added to a handler without being described here fails it.
 */
import { errorBody } from '../../src/openapi.ts'
import {
  anyJson,
  array,
  boolean,
  choice,
  definition,
  type JsonSchema,
  number,
  object,
  record,
  required,
  type Schema,
  string,
} from '../../src/schema.ts'

/** A response schema published as `components.schemas.<name>`. */
const named = <T>(name: string, schema: Schema<T>): Schema<T> => definition(name, () => schema)

/** A plain JSON Schema (no checker) for the few shapes the DSL does not express (null, const). */
const raw = (json: JsonSchema): Schema<unknown> => ({ json, check: (v) => v })

const ms = (description: string) =>
  number({ integer: true, min: 0, description: `${description} (ms since the epoch)` })
const nullableNumber = raw({ type: ['number', 'null'] })

const unreadable = named(
  'Unreadable',
  object(
    {
      id: required(string({ description: 'the experiment name, run id, schedule name or shaping id' })),
      record: required(string({ description: 'the file, or the Redis key, that holds it' })),
      code: required(string({ description: 'FL_ERR_STORE_CORRUPT' })),
      error: required(string()),
    },
    { description: 'a stored record that exists but cannot be read: reported, never skipped' },
  ),
)
const unreadableList = required(array(unreadable))

export const Health = named(
  'Health',
  object({ status: required(choice(['ok'])), store: required(choice(['files', 'redis'])) }),
)

export const OpenApiDocument = named('OpenApiDocument', raw({ type: 'object', description: 'this document' }))

export const ExperimentList = named(
  'ExperimentList',
  object({
    experiments: required(
      array(
        object({
          name: required(string()),
          valid: required(boolean('false when the stored document no longer validates')),
          title: string(),
          targets: array(string()),
          steps: number({ integer: true, min: 1 }),
          checks: number({ integer: true, min: 0 }),
        }),
      ),
    ),
    unreadable: unreadableList,
  }),
)

export const ExperimentValid = named(
  'ExperimentValid',
  object({ valid: required(raw({ const: true })), name: required(string()) }),
)

export const ExperimentName = named('ExperimentName', object({ name: required(string()) }))

export const Deleted = named('Deleted', object({ deleted: required(string({ description: 'the name or id' })) }))

const runStatus = choice(['running', 'completed', 'aborted', 'errored'])
const verdict = choice(['pass', 'fail', 'inconclusive'])

export const RunStarted = named(
  'RunStarted',
  object({ runId: required(string()), status: required(choice(['running'])) }),
)

const runSummary = object({
  runId: required(string()),
  experiment: required(string()),
  status: required(runStatus),
  verdict,
  reason: string(),
  dryRun: required(boolean()),
  startedAt: required(ms('start')),
  endedAt: ms('end'),
  schedule: string({ description: 'the schedule that started it' }),
})

export const RunList = named(
  'RunList',
  object({
    active: required(array(object({ runId: required(string()), experiment: required(string()), schedule: string() }))),
    runs: required(array(named('RunSummary', runSummary), { description: 'newest first' })),
    unreadable: unreadableList,
  }),
)

export const RunAborted = named(
  'RunAborted',
  object({
    runId: required(string()),
    status: required(runStatus),
    verdict,
    reason: string(),
    note: string({ description: '"was not running": the run had ended; its recorded outcome' }),
  }),
)

const objectRef = object({
  kind: required(string()),
  namespace: string(),
  name: required(string()),
  uid: string(),
})

const timelineEvent = object({
  at: required(ms('when')),
  type: required(
    choice([
      'run',
      'phase',
      'intent',
      'applied',
      'reverted',
      'revert-failed',
      'evidence-unavailable',
      'step',
      'guardrail',
      'error',
    ]),
  ),
  detail: required(string()),
  code: string({ description: 'the error code of an error event' }),
  step: string(),
  fault: string(),
})

const faultRecord = object({
  id: required(string()),
  kind: required(string({ description: 'sidecar, kill, restart, stress, or a Kubernetes step kind' })),
  step: required(string()),
  target: required(string()),
  source: string({ description: 'the rule source tag on the sidecars' }),
  on: required(array(string(), { description: 'sidecar admin URLs or process names' })),
  service: string(),
  ruleIds: array(string()),
  ttlMs: number({ integer: true, min: 0 }),
  intentAt: required(ms('journalled before the fault')),
  appliedAt: ms('applied'),
  revertedAt: ms('reverted'),
  acknowledged: record(number({ integer: true })),
  evidence: record(
    record(object({ matched: required(number({ integer: true })), injected: required(number({ integer: true })) })),
    { description: 'per sidecar, per rule: requests matched and injected while the fault was on' },
  ),
  evidenceUnavailable: record(object({ code: required(string()), message: required(string()) })),
  objects: array(objectRef),
  selection: object({ matched: required(number({ integer: true })), mode: required(string()), value: number() }),
  recoveryMs: raw({ type: ['number', 'null'], description: 'kills: ms until the process was ready again' }),
  error: string(),
})

const cohortPoint = object({
  count: required(number({ integer: true, min: 0 })),
  errorRate: required(nullableNumber),
  p50: required(nullableNumber),
  p95: required(nullableNumber),
  p99: required(nullableNumber),
})

const seriesPoint = object({
  t: required(ms('second')),
  count: required(number({ integer: true, min: 0 })),
  rps: required(number({ min: 0 })),
  errorRate: required(nullableNumber),
  p50: required(nullableNumber),
  p95: required(nullableNumber),
  p99: required(nullableNumber),
  cohorts: object(
    { faulted: required(cohortPoint), unfaulted: required(cohortPoint) },
    { description: 'the same figures for requests a fault rule matched, and for the others' },
  ),
})

const checkRecord = object({
  kind: required(string()),
  guardrail: required(boolean()),
  phases: required(array(anyJson('a judged phase: result, reason, failures'))),
  samples: required(array(anyJson('one sample: time, phase, value, pass'))),
  result: verdict,
})

const journalTarget = object({
  service: string(),
  sidecars: required(
    array(
      object({
        adminUrl: required(string()),
        reachable: required(boolean()),
        generation: number({ integer: true }),
        instance: string(),
      }),
    ),
  ),
  processes: required(array(object({ name: required(string()), pid: number({ integer: true }) }))),
  kubernetes: object({ matched: required(number({ integer: true })), selected: required(array(objectRef)) }),
})

export const Journal = named(
  'Journal',
  object(
    {
      faultline: required(string({ description: 'the faultline version that ran it' })),
      runId: required(string()),
      experimentHash: required(string()),
      experiment: required(
        raw({ type: 'object', description: 'the experiment as run: checked, durations in milliseconds' }),
      ),
      dryRun: required(boolean()),
      schedule: string(),
      startedAt: required(ms('start')),
      endedAt: ms('end'),
      status: required(runStatus),
      verdict,
      reason: string(),
      errorCode: string({ description: 'the error code behind an errored run' }),
      targets: required(record(journalTarget)),
      timeline: required(array(timelineEvent)),
      faults: required(array(faultRecord)),
      checks: required(record(checkRecord)),
      series: required(record(array(seriesPoint), { description: 'per target, one point per second' })),
      load: raw({
        type: 'object',
        required: ['url'],
        properties: { url: { type: 'string' }, error: { type: 'string', description: 'why there is no summary' } },
        description: 'the client-side load summary (requests, latency, errors), or { url, error }',
      }),
    },
    { description: 'the run journal: everything needed to audit a run or revert its faults' },
  ),
)

export const Sidecars = named(
  'Sidecars',
  object({
    sidecars: required(
      array(
        object({
          adminUrl: required(string()),
          reachable: required(boolean()),
          generation: number({ integer: true }),
          rules: number({ integer: true, min: 0, description: 'how many rules it holds' }),
          usedBy: required(array(string({ description: 'experiment:<name>, shaping:<id> or service:<name>' }))),
          activeRules: array(
            object({
              id: required(string()),
              source: string({ description: 'the owner: a run fault, a shaping, or an operator' }),
              expiresAt: ms('its ttl end'),
            }),
          ),
          stats: object(
            {
              windowSeconds: required(number({ integer: true })),
              count: number({ integer: true, min: 0 }),
              p95: nullableNumber,
              errorRate: nullableNumber,
              error: string({ description: 'why the figures could not be read' }),
            },
            { description: 'its last seconds of traffic' },
          ),
          error: raw(errorBody('why it could not be asked (it is listed, not thrown)')),
        }),
      ),
    ),
    unreadable: unreadableList,
  }),
)

export const HaltState = named(
  'HaltState',
  object({
    halted: required(boolean()),
    reason: string(),
    since: ms('halted at'),
    by: string(),
  }),
)

export const Halted = named(
  'Halted',
  object({
    halted: required(boolean()),
    reason: required(string()),
    aborted: required(array(string(), { description: 'run ids aborted and reverted' })),
    reverted: required(array(string(), { description: 'shaping ids reverted' })),
  }),
)

export const HaltLifted = named('HaltLifted', object({ halted: required(boolean()) }))

const shapingRecord = named(
  'ShapingRecord',
  object({
    id: required(string()),
    name: string(),
    sidecars: required(array(string(), { description: 'admin URLs; empty for a fleet service' })),
    service: string(),
    adminToken: string(),
    rules: required(array(anyJson('a sidecar rule as applied (with ttl and source)'))),
    source: required(string({ description: 'the rule source tag on the sidecars' })),
    createdAt: required(ms('applied')),
    expiresAt: required(ms('expires')),
    revertedAt: ms('reverted'),
    acknowledged: required(record(number({ integer: true }), { description: 'per sidecar: the generation' })),
  }),
)
export const ShapingRecord = shapingRecord

export const ShapingList = named(
  'ShapingList',
  object({ shaping: required(array(shapingRecord)), unreadable: unreadableList }),
)

export const ScheduleEvent = named(
  'ScheduleEvent',
  object({
    at: required(ms('firing')),
    outcome: required(choice(['started', 'skipped'])),
    runId: string(),
    reason: string({ description: 'why a firing was skipped' }),
  }),
)

export const Schedule = named(
  'ScheduleView',
  object({
    name: required(string()),
    experiment: required(string()),
    cron: required(string()),
    timezone: required(string()),
    concurrencyPolicy: required(choice(['forbid', 'allow', 'replace'])),
    windows: array(object({ days: array(string()), start: string(), end: string() })),
    historyLimit: required(number({ integer: true, min: 0 })),
    suspended: boolean(),
    nextRun: string({ description: 'ISO-8601; absent when suspended or never' }),
    history: required(array(ScheduleEvent, { description: 'newest first' })),
  }),
)

export const ScheduleList = named(
  'ScheduleList',
  object({ schedules: required(array(Schedule)), unreadable: unreadableList }),
)

export const StoredExperiment = raw({
  $ref: '#/$defs/Experiment',
  description: 'the experiment as stored (variables filled in when it was stored)',
})
