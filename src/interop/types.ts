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
  /**
   * A recurring source document (Chaos Mesh `Schedule`, Litmus `ChaosSchedule`): the controller
   * schedule (`POST /schedules` body, docs/controller.md) that runs `experiment`, stored under
   * its `metadata.name`. Absent for a one-off document.
   */
  schedule?: InteropSchedule
}

/** The controller's schedule body (controller/scheduler.ts `scheduleSchema`), as a translation yields it. */
export interface InteropSchedule {
  name: string
  /** The translated experiment's `metadata.name`. */
  experiment: string
  cron: string
  timezone?: string
  concurrencyPolicy?: 'forbid' | 'allow' | 'replace'
  windows?: { days?: ('sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat')[]; start?: string; end?: string }[]
  historyLimit?: number
  suspended?: boolean
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
