/**
 * The controller API's operations, declared once. This table registers the fastify routes
 * (register.ts: method, path, success status and media type come from here, the handler from
 * app.ts by operationId) and produces the OpenAPI document (openapi.ts). The API also checks every
 * request against it before a handler runs (path parameters against the name grammar, bodies
 * against their declared schema), so an operation cannot exist undocumented or unchecked.
 *
 * To add an operation: an entry here (its id is the key), then its handler in app.ts (the type
 * of the handler table requires one for every id, and only those).
 */
import type { Schema } from '../../src/schema.ts'
import type { BodyName } from './bodies.ts'
import * as R from './responses.ts'

export type Method = 'get' | 'post' | 'put' | 'delete'

/** A success answer: a JSON body described by a schema, or text in a media type. */
export type Answer = { json: Schema<unknown> } | { text: string; description: string }

export interface Operation {
  readonly method: Method
  /** OpenAPI form: `/runs/{id}`. */
  readonly path: string
  readonly summary: string
  readonly tag: Tag
  /** The body this operation takes; every non-GET operation declares one (`Empty` for none). */
  readonly body?: BodyName
  /** Whether the body may be omitted (an empty body with `content-type: application/json` too). */
  readonly optionalBody?: boolean
  /** The body may be YAML too (YAML_TYPES), beside application/json. */
  readonly yaml?: boolean
  /** The success status; 200 unless given. */
  readonly ok?: 200 | 201 | 202
  readonly answer: Answer
  /** Error statuses this operation answers beyond the ones every operation of its kind has (see openapi.ts). */
  readonly errors?: readonly (404 | 409 | 422 | 502)[]
  /** No bearer token needed. */
  readonly open?: boolean
  /** Its one path parameter may be empty: the directory itself (`/ui/`, the dashboard page). */
  readonly emptyParamIsIndex?: boolean
}

export const TAGS = {
  service: 'Liveness and this description',
  experiments: 'Stored experiments',
  runs: 'Runs, their journals and reports',
  sidecars: 'Sidecars the controller knows',
  halt: 'The halt switch',
  shaping: 'Traffic shaping without an experiment',
  schedules: 'Scheduled runs',
  events: 'Live server-sent events (docs/dashboard.md)',
  dashboard: 'The web dashboard (static files, no token; its data comes from this API)',
} as const
export type Tag = keyof typeof TAGS

/** Media types a YAML body may come in; each is parsed like JSON (same limits). */
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'] as const

/** Operations that take no body still accept an empty one, or `{}`; anything else is a 400. */
const NONE = { body: 'Empty', optionalBody: true } as const

const json = (schema: Schema<unknown>) => ({ json: schema })

export const OPERATIONS = {
  getHealth: {
    method: 'get',
    path: '/healthz',
    tag: 'service',
    summary: 'Liveness (no token needed)',
    open: true,
    answer: json(R.Health),
  },
  getOpenApi: {
    method: 'get',
    path: '/openapi.json',
    tag: 'service',
    summary: 'This description (no token needed)',
    open: true,
    answer: json(R.OpenApiDocument),
  },
  getMetrics: {
    method: 'get',
    path: '/metrics',
    tag: 'service',
    summary: 'Prometheus metrics: runs, faults, recovery, halt, schedules, process (no token needed; docs/metrics.md)',
    open: true,
    answer: { text: 'text/plain; version=0.0.4; charset=utf-8', description: 'the Prometheus text exposition format' },
  },
  listExperiments: {
    method: 'get',
    path: '/experiments',
    tag: 'experiments',
    summary: 'List stored experiments (and any stored record that cannot be read)',
    answer: json(R.ExperimentList),
  },
  createExperiment: {
    method: 'post',
    path: '/experiments',
    tag: 'experiments',
    summary: 'Store an experiment (JSON or YAML body); 409 if the name exists',
    body: 'Experiment',
    yaml: true,
    ok: 201,
    answer: json(R.ExperimentName),
    errors: [409],
  },
  validateExperiment: {
    method: 'post',
    path: '/experiments/validate',
    tag: 'experiments',
    summary: 'Validate an experiment without storing it; 400 lists every problem with its path',
    body: 'Experiment',
    yaml: true,
    answer: json(R.ExperimentValid),
  },
  getExperiment: {
    method: 'get',
    path: '/experiments/{name}',
    tag: 'experiments',
    summary: 'Get a stored experiment, as written',
    answer: { json: R.StoredExperiment },
    errors: [404],
  },
  putExperiment: {
    method: 'put',
    path: '/experiments/{name}',
    tag: 'experiments',
    summary: 'Store or replace an experiment (its metadata.name must be the name in the URL)',
    body: 'Experiment',
    yaml: true,
    answer: json(R.ExperimentName),
  },
  deleteExperiment: {
    method: 'delete',
    path: '/experiments/{name}',
    tag: 'experiments',
    summary: 'Delete a stored experiment',
    ...NONE,
    answer: json(R.Deleted),
    errors: [404],
  },
  listRuns: {
    method: 'get',
    path: '/runs',
    tag: 'runs',
    summary: 'Active runs and every recorded run (newest first)',
    answer: json(R.RunList),
  },
  startRun: {
    method: 'post',
    path: '/runs',
    tag: 'runs',
    summary:
      'Start a run of a stored experiment ({experiment}) or of a document ({document, vars}); 409 FL_ERR_HALTED while halted',
    body: 'RunRequest',
    ok: 202,
    answer: json(R.RunStarted),
    errors: [404, 409],
  },
  getRun: {
    method: 'get',
    path: '/runs/{id}',
    tag: 'runs',
    summary: 'The run journal (experiment, targets, faults with evidence, samples, verdict)',
    answer: json(R.Journal),
    errors: [404],
  },
  getRunReport: {
    method: 'get',
    path: '/runs/{id}/report',
    tag: 'runs',
    summary: 'The HTML report, rendered from the journal',
    answer: { text: 'text/html; charset=utf-8', description: 'a self-contained HTML page' },
    errors: [404],
  },
  getRunReportMarkdown: {
    method: 'get',
    path: '/runs/{id}/report.md',
    tag: 'runs',
    summary: 'The Markdown summary, rendered from the journal',
    answer: { text: 'text/markdown; charset=utf-8', description: 'a Markdown document' },
    errors: [404],
  },
  streamRunEvents: {
    method: 'get',
    path: '/runs/{id}/events',
    tag: 'events',
    summary:
      'Server-sent events of one run: status, target, timeline, fault, sample, check, phase, end. Each id is its place in the run (send Last-Event-ID to resume with no gap); the first connection replays the run so far; a ": ping" comment every 15 s; closed after end. 503 FL_ERR_TOO_MANY_STREAMS at the cap',
    answer: {
      text: 'text/event-stream',
      description: 'an event stream (`id`, `event`, `data` as JSON), closed after the `end` event',
    },
    errors: [404],
  },
  abortRun: {
    method: 'post',
    path: '/runs/{id}/abort',
    tag: 'runs',
    summary: 'Abort a running run; answers once its faults are reverted',
    ...NONE,
    answer: json(R.RunAborted),
    errors: [404],
  },
  listSidecars: {
    method: 'get',
    path: '/sidecars',
    tag: 'sidecars',
    summary:
      'Sidecars the controller knows (experiments, shaping, fleet), with reachability, generation and rule count',
    answer: json(R.Sidecars),
  },
  streamEvents: {
    method: 'get',
    path: '/events',
    tag: 'events',
    summary:
      'Server-sent events of the controller: run-started, run-ended, halt, halt-lifted, sidecar-down, sidecar-up (reset when a Last-Event-ID is no longer kept); a ": ping" comment every 15 s. 503 FL_ERR_TOO_MANY_STREAMS at the cap',
    answer: { text: 'text/event-stream', description: 'an event stream (`id`, `event`, `data` as JSON)' },
  },
  getHalt: {
    method: 'get',
    path: '/halt',
    tag: 'halt',
    summary: 'Whether the controller is halted, why and since when',
    answer: json(R.HaltState),
  },
  halt: {
    method: 'post',
    path: '/halt',
    tag: 'halt',
    summary: 'Halt: abort and revert every run and shaping, refuse new ones until lifted',
    body: 'Halt',
    optionalBody: true,
    answer: json(R.Halted),
  },
  liftHalt: {
    method: 'delete',
    path: '/halt',
    tag: 'halt',
    summary: 'Lift the halt',
    ...NONE,
    answer: json(R.HaltLifted),
  },
  listShaping: {
    method: 'get',
    path: '/shaping',
    tag: 'shaping',
    summary: 'Active traffic shaping',
    answer: json(R.ShapingList),
  },
  applyShaping: {
    method: 'post',
    path: '/shaping',
    tag: 'shaping',
    summary: 'Apply named rules to sidecars for a duration, without an experiment; reverted at expiry',
    body: 'Shaping',
    ok: 201,
    answer: json(R.ShapingRecord),
    errors: [409, 422, 502],
  },
  revertShaping: {
    method: 'delete',
    path: '/shaping/{id}',
    tag: 'shaping',
    summary: 'Revert traffic shaping now',
    ...NONE,
    answer: json(R.ShapingRecord),
    errors: [404],
  },
  listSchedules: {
    method: 'get',
    path: '/schedules',
    tag: 'schedules',
    summary: 'Schedules with next run and history (started and skipped, with reasons)',
    answer: json(R.ScheduleList),
  },
  createSchedule: {
    method: 'post',
    path: '/schedules',
    tag: 'schedules',
    summary: 'Create a schedule; 409 if the name exists',
    body: 'Schedule',
    ok: 201,
    answer: json(R.Schedule),
    errors: [409],
  },
  getSchedule: {
    method: 'get',
    path: '/schedules/{name}',
    tag: 'schedules',
    summary: 'One schedule, with its next run and history',
    answer: json(R.Schedule),
    errors: [404],
  },
  putSchedule: {
    method: 'put',
    path: '/schedules/{name}',
    tag: 'schedules',
    summary: 'Create or replace a schedule (its name must be the name in the URL)',
    body: 'Schedule',
    answer: json(R.Schedule),
  },
  deleteSchedule: {
    method: 'delete',
    path: '/schedules/{name}',
    tag: 'schedules',
    summary: 'Delete a schedule',
    ...NONE,
    answer: json(R.Deleted),
    errors: [404],
  },
  triggerSchedule: {
    method: 'post',
    path: '/schedules/{name}/trigger',
    tag: 'schedules',
    summary: 'Fire a schedule now (same policies as a cron firing): the run it started, or why it skipped',
    ...NONE,
    answer: json(R.ScheduleEvent),
    errors: [404],
  },
  getDashboardFile: {
    method: 'get',
    path: '/ui/{file}',
    tag: 'dashboard',
    summary:
      'The dashboard (no token needed: its files hold no data): /ui/ (file empty) is its page (text/html), the others its modules (text/javascript) and stylesheet (text/css)',
    open: true,
    emptyParamIsIndex: true,
    answer: { text: 'text/javascript; charset=utf-8', description: 'a module of the dashboard, or its stylesheet' },
    errors: [404],
  },
} as const satisfies Record<string, Operation>

export type OperationId = keyof typeof OPERATIONS

/** The path parameters of an OpenAPI path, in order. */
export function paramsOf(apiPath: string): string[] {
  return [...apiPath.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)
}

/** The names of the path parameters of `P`, as a type (`/runs/{id}` → `'id'`). */
export type ParamsOf<P extends string> = P extends `${string}{${infer N}}${infer Rest}` ? N | ParamsOf<Rest> : never

/** The fastify form of an OpenAPI path (`/runs/{id}` → `/runs/:id`). */
export function fastifyPath(apiPath: string): string {
  return apiPath.replace(/\{(\w+)\}/g, ':$1')
}

const BY_ROUTE = new Map<string, { id: OperationId; op: Operation }>(
  Object.entries(OPERATIONS).map(([id, op]) => [
    `${op.method.toUpperCase()} ${fastifyPath(op.path)}`,
    { id: id as OperationId, op },
  ]),
)

/** The operation a fastify route (`/runs/:id` style) is, or undefined. */
export function operationOf(method: string, routeUrl: string): { id: OperationId; op: Operation } | undefined {
  return BY_ROUTE.get(`${method.toUpperCase()} ${routeUrl}`)
}
