/**
 * Every request body the controller API accepts, declared once: the JSON Schema the OpenAPI
 * document publishes and the check the API runs come from the same declaration (the DSL of
 * src/schema.ts), so the two cannot drift. Unknown fields are errors, exactly as for rules: a
 * typo such as `"dryrun": true` must never start a run that injects faults.
 *
 * A check either returns the checked value or throws a catalogue error listing every problem
 * with its JSON pointer into the body. Checks that need the store or the clock (does the
 * experiment exist, is the cron expression valid) stay with the handler, after this one.
 */
import { errors, type FaultlineError, type FieldIssue } from '../../src/errors.ts'
import { substitute } from '../../src/experiments/document.ts'
import { type ExperimentDoc, experimentJsonSchema, NAME, validateExperiment } from '../../src/experiments/schema.ts'
import {
  boolean,
  exactlyOne,
  type Infer,
  isPlainObject,
  type JsonSchema,
  object,
  record,
  type Schema,
  string,
} from '../../src/schema.ts'
import { scheduleSchema } from '../scheduler.ts'
import { shapingSchema } from '../shaping.ts'
import type { StoredExperiment } from '../store/types.ts'

export interface BodySpec<T> {
  /** Published as `components.schemas.<name>` in the OpenAPI document. */
  readonly json: JsonSchema
  /** The checked body; throws FL_ERR_BAD_REQUEST (or a more specific code) with every issue. */
  parse(value: unknown): T
}

/** A body checked by a DSL schema; `fail` names the error for the issues found. */
function fromSchema<T>(
  schema: Schema<T>,
  fail: (issues: FieldIssue[]) => FaultlineError,
  extraJson: JsonSchema = {},
): BodySpec<T> {
  return {
    json: { ...schema.json, ...extraJson },
    parse(value) {
      const issues: FieldIssue[] = []
      const checked = schema.check(value, '', issues)
      if (checked === undefined || issues.length) throw fail(issues)
      return checked
    },
  }
}

// ── experiments ──────────────────────────────────────────────────────────────

export interface CheckedExperiment {
  /** The document as written (variables filled in), which is what is stored. */
  raw: StoredExperiment
  experiment: ExperimentDoc
}

/**
 * Experiments stored by the API are concrete: ${VARS} resolve from the controller's environment
 * (or a run request's vars). Issue paths are prefixed with `base` (a document inside a body).
 */
export function checkExperiment(
  body: unknown,
  vars: Record<string, string | undefined> = process.env,
  base = '',
): CheckedExperiment {
  const issues: FieldIssue[] = []
  const raw = substitute(body, vars, issues) as StoredExperiment
  const r = validateExperiment(raw)
  if (!r.ok) issues.push(...r.issues)
  if (issues.length || !r.ok)
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${issues.length} problem(s)`, {
      issues: issues.map((i) => ({ ...i, path: base + i.path })),
    })
  return { raw, experiment: r.experiment }
}

// The definitions it uses (Step, Rule) become components of the OpenAPI document (src/openapi.ts).
const { $schema: _dialect, $defs: _defs, ...experimentJson } = experimentJsonSchema()

const experimentBody: BodySpec<CheckedExperiment> = { json: experimentJson, parse: (v) => checkExperiment(v) }

// ── runs ─────────────────────────────────────────────────────────────────────

/** An experiment document inside another body: checked in full by checkExperiment, with vars. */
const inlineExperiment: Schema<Record<string, unknown>> = {
  json: { $ref: '#/components/schemas/Experiment' },
  check(v, path, issues) {
    if (isPlainObject(v)) return v
    issues.push({ path, message: 'must be an experiment document (an object)' })
    return undefined
  },
}

export const runRequestSchema = object(
  {
    experiment: string({ pattern: NAME, description: 'the name of a stored experiment' }),
    document: inlineExperiment,
    vars: record(string({ maxLength: 65_536 }), {
      key: /^[A-Za-z_][A-Za-z0-9_]*$/,
      description: 'values for ${VAR} references in "document" (over the controller environment)',
    }),
    dryRun: boolean('resolve targets and run the checks without injecting anything'),
  },
  {
    refine(v, path, issues) {
      exactlyOne(v, ['experiment', 'document'], path, issues, 'experiment source')
      if (v.vars && v.experiment !== undefined)
        issues.push({ path: `${path}/vars`, message: 'only applies to "document" (stored experiments are concrete)' })
    },
  },
)
export type RunRequest = Infer<typeof runRequestSchema>

// ── the rest ─────────────────────────────────────────────────────────────────

const haltSchema = object({
  reason: string({ minLength: 1, maxLength: 1024, description: 'shown by GET /halt and logged' }),
})

const emptySchema = object({}, { description: 'this call takes no fields: send no body, or {}' })

const badRequest = (what: string) => (issues: FieldIssue[]) =>
  errors.FL_ERR_BAD_REQUEST(`${what}: ${issues.length} problem(s)`, { issues })

export const BODIES = {
  Experiment: experimentBody,
  RunRequest: fromSchema(runRequestSchema, badRequest('invalid run request'), {
    oneOf: [{ required: ['experiment'] }, { required: ['document'] }],
  }),
  Halt: fromSchema(haltSchema, badRequest('invalid halt request')),
  Shaping: fromSchema(shapingSchema, badRequest('invalid traffic shaping request'), {
    oneOf: [{ required: ['sidecars'] }, { required: ['service'] }],
  }),
  Schedule: fromSchema(scheduleSchema, badRequest('invalid schedule')),
  Empty: fromSchema(emptySchema, badRequest('this call takes no body')),
} as const

export type BodyName = keyof typeof BODIES
export type BodyOf<N extends BodyName> = ReturnType<(typeof BODIES)[N]['parse']>
