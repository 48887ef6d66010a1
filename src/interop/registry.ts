/**
 * Every experiment format faultline reads, and the one entry point that reads any of them:
 * text in (YAML or JSON, one or more documents), faultline/v1 out, with the approximations
 * made on the way. Used by `faultline run` and `faultline import`.
 */
import { parseAllDocuments } from 'yaml'
import { substitute } from '../experiments/document.ts'
import { type ExperimentDoc, validateExperiment } from '../experiments/schema.ts'
import { errors, type FieldIssue } from '../errors.ts'
import { isPlainObject } from '../schema.ts'
import type { InteropFormat, InteropNote, InteropSchedule, TranslateContext } from './types.ts'
import { chaosMesh } from './chaosmesh/index.ts'
import { litmus } from './litmus/index.ts'
import { chaostoolkit } from './chaostoolkit/index.ts'

/** One line per format; detection tries them in this order after faultline/v1. */
export const interopFormats: readonly InteropFormat[] = [chaostoolkit, chaosMesh, litmus]

export const FAULTLINE_FORMAT = { name: 'faultline', title: 'faultline/v1' } as const

export interface ReadExperiment {
  /** `faultline` or an interop format's name. */
  format: string
  experiment: ExperimentDoc
  approximations: InteropNote[]
  /** A recurring source document's controller schedule (Chaos Mesh Schedule, Litmus ChaosSchedule). */
  schedule?: InteropSchedule
}

/** What `faultline run` and `faultline import` say when a document is none of these. */
export function knownFormatsText(): string {
  return [FAULTLINE_FORMAT.title, ...interopFormats.map((f) => `${f.title} (${f.name})`)].join(', ')
}

/** Parses every YAML/JSON document in the text; a syntax error is FL_ERR_EXPERIMENT_INVALID with its line. */
export function parseDocuments(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text, { prettyErrors: true })
  const list = Array.isArray(docs) ? docs : [docs]
  const out: unknown[] = []
  for (const d of list) {
    if (d.errors.length) {
      const e = d.errors[0]
      throw errors.FL_ERR_EXPERIMENT_INVALID(`${file} is not valid YAML or JSON: ${e.message}`, {
        cause: e,
        issues: d.errors.map((x) => ({ path: '', message: x.message })),
      })
    }
    const value: unknown = d.toJS({ maxAliasCount: 100 })
    // An empty document between separators (`---\n---`) carries nothing.
    if (value !== null && value !== undefined) out.push(value)
  }
  if (!out.length)
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${file} holds no document`, {
      issues: [{ path: '', message: 'is empty' }],
    })
  return out
}

function isFaultline(docs: unknown[]): boolean {
  return docs.length === 1 && isPlainObject(docs[0]) && docs[0].apiVersion === 'faultline/v1'
}

/** faultline/v1 itself: `${NAME}` from --var, then the environment, then full validation. */
function readFaultline(doc: unknown, ctx: TranslateContext): ExperimentDoc {
  const issues: FieldIssue[] = []
  const substituted = substitute(doc, { ...ctx.env, ...ctx.vars }, issues)
  const result = validateExperiment(substituted)
  if (!result.ok) issues.push(...result.issues)
  if (issues.length || !result.ok)
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${ctx.file}: ${issues.length} problem(s)`, { issues })
  return result.experiment
}

/** Finds the format by content and reads the file as faultline/v1; throws FL_ERR_EXPERIMENT_INVALID. */
export function readAnyExperiment(text: string, ctx: TranslateContext): ReadExperiment {
  const docs = parseDocuments(text, ctx.file)
  if (isFaultline(docs))
    return { format: FAULTLINE_FORMAT.name, experiment: readFaultline(docs[0], ctx), approximations: [] }
  const format = interopFormats.find((f) => f.detect(docs))
  if (!format)
    throw errors.FL_ERR_EXPERIMENT_INVALID(
      `${ctx.file} is none of the formats faultline reads (${knownFormatsText()})`,
      {
        issues: [{ path: '', message: `is none of the formats faultline knows: ${knownFormatsText()}` }],
        details: { formats: [FAULTLINE_FORMAT.name, ...interopFormats.map((f) => f.name)] },
      },
    )
  const t = format.translate(docs, ctx)
  return {
    format: t.format,
    experiment: t.experiment,
    approximations: t.approximations,
    ...(t.schedule ? { schedule: t.schedule } : {}),
  }
}
