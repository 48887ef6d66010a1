/**
 * Everything faultline changes in a cluster says which run changed it and how to undo it, on
 * the object itself (DESIGN §9): a restarted controller reads the journal for the objects a
 * crashed run touched, and reverts each from its own annotations. Two runs never change one
 * object at once.
 *
 *   faultline.io/run-id    the run that owns the change
 *   faultline.io/original  JSON: what to restore (images, unschedulable, taints, replicas)
 */
import { errors } from '../../../src/errors.ts'

export const RUN_ID = 'faultline.io/run-id'
export const ORIGINAL = 'faultline.io/original'

interface Meta {
  metadata?: { name?: string; namespace?: string; annotations?: { [k: string]: string } }
}

/** Throws FL_ERR_TARGET_BUSY when another run already owns a change on `obj`. */
export function assertFree(obj: Meta, runId: string, what: string): void {
  const owner = obj.metadata?.annotations?.[RUN_ID]
  if (owner && owner !== runId)
    throw errors.FL_ERR_TARGET_BUSY(`${what} is already changed by run ${owner}`, {
      details: { object: { namespace: obj.metadata?.namespace, name: obj.metadata?.name }, owner },
    })
}

/** The run that owns a change on `obj`, and what it saved to undo it, if any. */
export function ownerOf<T>(obj: Meta): { runId: string; original: T | undefined } | undefined {
  const a = obj.metadata?.annotations
  if (!a?.[RUN_ID]) return undefined
  let original: T | undefined
  try {
    original = a[ORIGINAL] === undefined ? undefined : (JSON.parse(a[ORIGINAL]) as T)
  } catch (err) {
    throw errors.FL_ERR_STORE_CORRUPT(`${ORIGINAL} on ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`, {
      cause: err,
    })
  }
  return { runId: a[RUN_ID], original }
}

/** Merge-patch metadata that claims `obj` for a run and records what to restore. */
export function claim(runId: string, original: unknown): { metadata: { annotations: Record<string, string> } } {
  return { metadata: { annotations: { [RUN_ID]: runId, [ORIGINAL]: JSON.stringify(original) } } }
}

/** Merge-patch metadata that removes the claim (null deletes a key in a merge patch). */
export function release(): { metadata: { annotations: Record<string, null> } } {
  return { metadata: { annotations: { [RUN_ID]: null, [ORIGINAL]: null } } }
}
