/**
 * A Workflow's StatusCheck node (api/v1alpha1/statuscheck_types.go) as a faultline HTTP check.
 * Where it sits decides its phase: a Synchronous check before any fault of the workflow is the
 * `before` gate, one after every fault is the `after` (recovery) check, anything running beside
 * or between faults is judged `during`. `abortWithStatusCheck` on a check judged during the
 * faults makes it a guardrail, which aborts the run as Chaos Mesh aborts the workflow.
 */
import { formatDuration } from '../../duration.ts'
import { pointer } from '../../schema.ts'
import { faultlineName, type Notes, type Obj } from '../kube/notes.ts'

/** A check found while walking the workflow, with what its phase depends on. */
export interface PendingCheck {
  check: Obj
  path: string
  synchronous: boolean
  abort: boolean
  /** Fault steps the walk had produced before this node, and whether a Parallel holds it. */
  faultsBefore: number
  inParallel: boolean
  deadline?: { ms: number; path: string }
}

const STATUS_FIELDS = [
  'mode',
  'type',
  'duration',
  'timeoutSeconds',
  'intervalSeconds',
  'failureThreshold',
  'successThreshold',
  'recordsHistoryLimit',
  'http',
]

function statusCodes(text: string, path: string, notes: Notes): (number | string)[] | undefined {
  if (/^[1-5]\d\d$/.test(text)) return [Number(text)]
  if (/^[1-5]\d\d-[1-5]\d\d$/.test(text)) return [text]
  return notes.refuse(path, 'must be a status code ("200") or a range ("200-299")')
}

/** The HTTP check (without phases) for a StatusCheck spec at `path`. */
export function statusCheck(
  name: string,
  sc: Obj,
  path: string,
  notes: Notes,
): Omit<PendingCheck, 'faultsBefore' | 'inParallel' | 'abort' | 'deadline'> | undefined {
  notes.only(sc, path, STATUS_FIELDS, 'a StatusCheck')
  const type = notes.string(sc, 'type', path) ?? 'HTTP'
  if (type !== 'HTTP') return notes.refuse(pointer(path, 'type'), 'only HTTP status checks exist')
  const mode = notes.string(sc, 'mode', path) ?? 'Synchronous'
  if (mode !== 'Synchronous' && mode !== 'Continuous')
    return notes.refuse(pointer(path, 'mode'), 'must be Synchronous or Continuous')
  const h = notes.object(sc, 'http', path)
  const hpath = pointer(path, 'http')
  if (!h) return notes.refuse(hpath, 'is required')
  notes.only(h, hpath, ['url', 'method', 'headers', 'body', 'criteria'], 'a StatusCheck http')
  const url = notes.string(h, 'url', hpath)
  if (!url) return notes.refuse(pointer(hpath, 'url'), 'is required')
  const http: Obj = { url }
  const method = notes.string(h, 'method', hpath)
  if (method && method !== 'GET') http.method = method
  const headers = notes.object(h, 'headers', hpath)
  if (headers) {
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.map(String).join(', ') : String(v)
    http.headers = out
  }
  const body = notes.string(h, 'body', hpath)
  if (body !== undefined) http.body = body
  const criteria = notes.object(h, 'criteria', hpath)
  if (!criteria) return notes.refuse(pointer(hpath, 'criteria'), 'is required (statusCode)')
  notes.only(criteria, pointer(hpath, 'criteria'), ['statusCode'], 'StatusCheck criteria')
  const status = statusCodes(
    notes.string(criteria, 'statusCode', pointer(hpath, 'criteria')) ?? '',
    pointer(pointer(hpath, 'criteria'), 'statusCode'),
    notes,
  )
  if (status) http.status = status
  http.timeout = `${Number(sc.timeoutSeconds ?? 1)}s`
  const check: Obj = {
    name: faultlineName(name),
    interval: `${Number(sc.intervalSeconds ?? 10)}s`,
    failureThreshold: Number(sc.failureThreshold ?? 3),
    http,
  }
  if (Number(sc.successThreshold ?? 1) > 1)
    notes.approx(
      pointer(path, 'successThreshold'),
      'faultline passes a check at its first passing sample (Chaos Mesh waits for this many in a row)',
    )
  if (sc.recordsHistoryLimit !== undefined)
    notes.approx(pointer(path, 'recordsHistoryLimit'), 'ignored: every sample is in the journal')
  if (sc.duration !== undefined)
    notes.approx(pointer(path, 'duration'), 'faultline checks for the whole phase, not for this duration')
  return { check, path, synchronous: mode === 'Synchronous' }
}

/** Places each pending check by where it ran, once the whole workflow is known. */
export function placeChecks(
  pending: PendingCheck[],
  totalFaults: number,
  notes: Notes,
): { checks: Obj[]; guardrails: Obj[] } {
  const checks: Obj[] = []
  const guardrails: Obj[] = []
  for (const p of pending) {
    let phase: 'before' | 'during' | 'after' = 'during'
    if (p.synchronous && !p.inParallel && p.faultsBefore === 0) phase = 'before'
    else if (p.synchronous && !p.inParallel && p.faultsBefore === totalFaults) phase = 'after'
    else if (p.synchronous && !p.inParallel)
      notes.approx(p.path, 'a Synchronous check between faults: faultline judges it throughout the faults (during)')
    if (phase === 'before' && p.deadline && p.deadline.ms > 30_000)
      notes.approx(p.deadline.path, 'the gate waits at most 30 s for a passing sample')
    if (phase === 'after' && p.deadline) p.check.recoverWithin = formatDuration(p.deadline.ms)
    const check = { ...p.check, phases: [phase] }
    if (p.abort && phase === 'during') guardrails.push(check)
    else checks.push(check)
    if (p.abort && phase === 'after')
      notes.approx(
        p.path,
        'abortWithStatusCheck after the faults: nothing is left to abort; the check is judged as recovery',
      )
  }
  return { checks, guardrails }
}
