/**
 * The controller API's operations, declared once: the OpenAPI document is generated from this
 * table, and the API checks every request against it before a handler runs (path parameters
 * against the name grammar, bodies against their declared schema). app.ts refuses to register
 * a route that is not in the table, so an operation cannot exist undocumented or unchecked.
 */
import type { BodyName } from './bodies.ts'

export type Method = 'get' | 'post' | 'put' | 'delete'

export interface Operation {
  summary: string
  /** The body this operation takes; every non-GET operation declares one (`Empty` for none). */
  body?: BodyName
  /** Whether the body may be omitted (an empty body with `content-type: application/json` too). */
  optionalBody?: boolean
  /** Extra content types the body may come in, beside application/json. */
  alsoAccepts?: string[]
  ok?: number
  /** No bearer token needed. */
  open?: boolean
}

const YAML = ['application/yaml', 'application/x-yaml', 'text/yaml']

/** Operations that take no body still accept an empty one, or `{}`; anything else is a 400. */
const NONE = { body: 'Empty', optionalBody: true } as const

export const API: Record<string, Partial<Record<Method, Operation>>> = {
  '/healthz': { get: { summary: 'Liveness (no token needed)', open: true } },
  '/openapi.json': { get: { summary: 'This description (no token needed)', open: true } },
  '/experiments': {
    get: { summary: 'List stored experiments (and any stored record that cannot be read)' },
    post: {
      summary: 'Store an experiment (JSON or YAML body); 409 if the name exists',
      body: 'Experiment',
      alsoAccepts: YAML,
      ok: 201,
    },
  },
  '/experiments/validate': {
    post: {
      summary: 'Validate an experiment; 400 lists every problem with its path',
      body: 'Experiment',
      alsoAccepts: YAML,
    },
  },
  '/experiments/{name}': {
    get: { summary: 'Get a stored experiment' },
    put: { summary: 'Store or replace an experiment', body: 'Experiment', alsoAccepts: YAML },
    delete: { summary: 'Delete a stored experiment', ...NONE },
  },
  '/runs': {
    get: { summary: 'Active runs and every recorded run (newest first)' },
    post: {
      summary:
        'Start a run of a stored experiment ({experiment}) or of a document ({document, vars}); 409 while halted',
      body: 'RunRequest',
      ok: 202,
    },
  },
  '/runs/{id}': { get: { summary: 'The run journal (experiment, targets, faults with evidence, samples, verdict)' } },
  '/runs/{id}/report': { get: { summary: 'The HTML report' } },
  '/runs/{id}/report.md': { get: { summary: 'The Markdown summary' } },
  '/runs/{id}/abort': { post: { summary: 'Abort a running run; resolves once its faults are reverted', ...NONE } },
  '/sidecars': {
    get: {
      summary:
        'Sidecars the controller knows (experiments, shaping, fleet), with reachability, generation and rule count',
    },
  },
  '/halt': {
    get: { summary: 'Whether the controller is halted' },
    post: {
      summary: 'Halt: abort and revert every run and shaping, refuse new ones until lifted',
      body: 'Halt',
      optionalBody: true,
    },
    delete: { summary: 'Lift the halt', ...NONE },
  },
  '/shaping': {
    get: { summary: 'Active traffic shaping' },
    post: {
      summary: 'Apply named rules to sidecars for a duration, without an experiment; reverted at expiry',
      body: 'Shaping',
      ok: 201,
    },
  },
  '/shaping/{id}': { delete: { summary: 'Revert traffic shaping now', ...NONE } },
  '/schedules': {
    get: { summary: 'Schedules with next run and history (started and skipped, with reasons)' },
    post: { summary: 'Create a schedule', body: 'Schedule', ok: 201 },
  },
  '/schedules/{name}': {
    get: { summary: 'One schedule' },
    put: { summary: 'Create or replace a schedule', body: 'Schedule' },
    delete: { summary: 'Delete a schedule', ...NONE },
  },
  '/schedules/{name}/trigger': {
    post: { summary: 'Fire a schedule now (same policies as a cron firing)', ...NONE },
  },
}

/** The path parameters of an OpenAPI path, in order. */
export function paramsOf(apiPath: string): string[] {
  return [...apiPath.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)
}

/** The table entry for a fastify route (`/runs/:id` style), or undefined. */
export function operationOf(method: string, routeUrl: string): { path: string; op: Operation } | undefined {
  const apiPath = routeUrl.replace(/:(\w+)/g, '{$1}')
  const op = API[apiPath]?.[method.toLowerCase() as Method]
  return op ? { path: apiPath, op } : undefined
}
