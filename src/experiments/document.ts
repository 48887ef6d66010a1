/**
 * Reading an experiment document: YAML or JSON text, `${NAME}` substitution in string values
 * (from --var, then the environment), then full validation. An unresolved variable is an error
 * with its path, like any other.
 */
import { parse as parseYaml } from 'yaml'
import { errors, type FieldIssue } from '../errors.ts'
import { pointer } from '../schema.ts'
import { type ExperimentDoc, validateExperiment } from './schema.ts'

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

export function substitute(
  doc: unknown,
  vars: Record<string, string | undefined>,
  issues: FieldIssue[],
  path = '',
): unknown {
  if (typeof doc === 'string')
    return doc.replace(VAR, (whole, name: string) => {
      const v = vars[name]
      if (v === undefined) {
        issues.push({
          path,
          message: `uses \${${name}}, which is not set (pass --var ${name}=... or set the environment variable)`,
        })
        return whole
      }
      return v
    })
  if (Array.isArray(doc)) return doc.map((x, i) => substitute(x, vars, issues, pointer(path, i)))
  if (doc && typeof doc === 'object')
    return Object.fromEntries(Object.entries(doc).map(([k, x]) => [k, substitute(x, vars, issues, pointer(path, k))]))
  return doc
}

/** Parses, substitutes and validates; throws FL_ERR_EXPERIMENT_INVALID with every issue. */
export function parseExperiment(
  text: string,
  vars: Record<string, string | undefined>,
  source = 'experiment',
): ExperimentDoc {
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${source} is not valid YAML or JSON: ${(err as Error).message}`, {
      cause: err,
      issues: [{ path: '', message: (err as Error).message }],
    })
  }
  const issues: FieldIssue[] = []
  const doc = substitute(raw, vars, issues)
  const result = validateExperiment(doc)
  if (!result.ok) issues.push(...result.issues)
  if (issues.length || !result.ok)
    throw errors.FL_ERR_EXPERIMENT_INVALID(`${source}: ${issues.length} problem(s)`, { issues })
  return result.experiment
}
