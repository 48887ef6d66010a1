/**
 * The controller's OpenAPI 3.1 description, served at GET /openapi.json. Request bodies point at
 * the same schemas the handlers validate with, so the description cannot drift from them.
 */
import { experimentJsonSchema } from '../../src/experiments/schema.ts'
import { ruleSetJsonSchema } from '../../src/rules/schema.ts'
import { scheduleSchema } from '../scheduler.ts'
import { shapingSchema } from '../shaping.ts'

type Op = { summary: string; body?: string; ok?: number }
const ROUTES: Record<string, Record<string, Op>> = {
  '/healthz': { get: { summary: 'Liveness (no token needed)' } },
  '/experiments': {
    get: { summary: 'List stored experiments' },
    post: { summary: 'Store an experiment (JSON or YAML body); 409 if the name exists', body: 'Experiment', ok: 201 },
  },
  '/experiments/validate': {
    post: { summary: 'Validate an experiment; 400 lists every problem with its path', body: 'Experiment' },
  },
  '/experiments/{name}': {
    get: { summary: 'Get a stored experiment' },
    put: { summary: 'Store or replace an experiment', body: 'Experiment' },
    delete: { summary: 'Delete a stored experiment' },
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
  '/runs/{id}/abort': { post: { summary: 'Abort a running run; resolves once its faults are reverted' } },
  '/sidecars': {
    get: {
      summary: 'Sidecars the controller knows (experiments, shaping), with reachability, generation and rule count',
    },
  },
  '/halt': {
    get: { summary: 'Whether the controller is halted' },
    post: { summary: 'Halt: abort and revert every run and shaping, refuse new ones until lifted', body: 'Halt' },
    delete: { summary: 'Lift the halt' },
  },
  '/shaping': {
    get: { summary: 'Active traffic shaping' },
    post: {
      summary: 'Apply named rules to sidecars for a duration, without an experiment; reverted at expiry',
      body: 'Shaping',
      ok: 201,
    },
  },
  '/shaping/{id}': { delete: { summary: 'Revert traffic shaping now' } },
  '/schedules': {
    get: { summary: 'Schedules with next run and history (started and skipped, with reasons)' },
    post: { summary: 'Create a schedule', body: 'Schedule', ok: 201 },
  },
  '/schedules/{name}': {
    get: { summary: 'One schedule' },
    put: { summary: 'Create or replace a schedule', body: 'Schedule' },
    delete: { summary: 'Delete a schedule' },
  },
  '/schedules/{name}/trigger': { post: { summary: 'Fire a schedule now (same policies as a cron firing)' } },
}

const ERROR = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    error: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {}
  for (const [p, ops] of Object.entries(ROUTES)) {
    const item: Record<string, unknown> = {}
    for (const [method, op] of Object.entries(ops)) {
      const params = [...p.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }))
      item[method] = {
        summary: op.summary,
        ...(params.length ? { parameters: params } : {}),
        ...(op.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.body}` } } },
              },
            }
          : {}),
        responses: {
          [String(op.ok ?? 200)]: { description: 'OK' },
          '4XX': {
            description: 'Client error with field paths',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        },
        ...(p === '/healthz' ? { security: [] } : {}),
      }
    }
    paths[p] = item
  }
  const { $schema: _e, ...experiment } = experimentJsonSchema()
  const { $schema: _r, ...ruleSet } = ruleSetJsonSchema()
  return {
    openapi: '3.1.0',
    info: { title: 'faultline controller', version: '1' },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Experiment: experiment,
        RuleSet: ruleSet,
        Shaping: shapingSchema.json,
        Schedule: scheduleSchema.json,
        Halt: { type: 'object', properties: { reason: { type: 'string' } } },
        RunRequest: {
          type: 'object',
          properties: {
            experiment: { type: 'string' },
            document: { $ref: '#/components/schemas/Experiment' },
            vars: { type: 'object', additionalProperties: { type: 'string' } },
            dryRun: { type: 'boolean' },
          },
        },
        Error: ERROR,
      },
    },
  }
}
