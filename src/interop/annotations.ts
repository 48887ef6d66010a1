/**
 * Annotations a translated document carries (metadata.annotations), so what runs it can honour
 * the source format: the runner writes Chaos Toolkit's own journal for a Chaos Toolkit document.
 */
export const SOURCE_FORMAT = 'faultline.io/source-format'
/** The Chaos Toolkit experiment as written (JSON): journal.json's `experiment`. */
export const CTK_EXPERIMENT = 'chaostoolkit.org/experiment'
/** Which faultline check or step each Chaos Toolkit activity became (JSON, `CtkActivityMap[]`). */
export const CTK_ACTIVITIES = 'chaostoolkit.org/activities'

export interface CtkActivityMap {
  section: 'steady-state-hypothesis' | 'method' | 'rollbacks'
  /** Index in the section's list (probes for the hypothesis). */
  index: number
  /** The faultline check it became (hypothesis probes). */
  check?: string
  /** The faultline step name it became (method activities, http/process rollbacks). */
  step?: string
  /** A chaosk8s undo in the rollbacks: the method steps whose faults faultline's revert undoes. */
  revertOf?: string[]
}
