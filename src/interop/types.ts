/**
 * Other tools' experiment documents (Chaos Toolkit, Chaos Mesh, Litmus) read as faultline/v1.
 * One `InteropFormat` per tool, each in its own folder, listed in `registry.ts`.
 */
import type { ExperimentDoc } from '../experiments/schema.ts'

/** A field that could not be carried over exactly. Refusals are errors (FL_ERR_EXPERIMENT_INVALID), not notes. */
export interface InteropNote {
  /** Where in the source document, as a JSON pointer-like path: `/spec/selector/mode`. */
  path: string
  message: string
}

export interface Translation {
  /** `chaostoolkit`, `chaosmesh` or `litmus`. */
  format: string
  /** The equivalent faultline/v1 document, already validated. */
  experiment: ExperimentDoc
  /** Every approximation, by source path. `faultline import` prints each as a comment. */
  approximations: InteropNote[]
}

export interface TranslateContext {
  /** The file's path, for messages. */
  file: string
  /** Environment for `{type: env}` configuration and Litmus variables. */
  env: NodeJS.ProcessEnv
  /** `--var NAME=value` overrides. */
  vars: Record<string, string>
}

export interface InteropFormat {
  name: string
  /** What a person calls it: `Chaos Toolkit`. */
  title: string
  /** True when these parsed documents (one per YAML document) are this format, by content. */
  detect(docs: unknown[]): boolean
  /** Throws a FaultlineError listing every refused field by path (details.issues). */
  translate(docs: unknown[], ctx: TranslateContext): Translation
}
