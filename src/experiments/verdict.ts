/**
 * The verdict of a run, from what happened (status) and what was measured (check results): a
 * pure function, so every rule about honesty lives in one place and is tested on its own.
 *
 * - Status (how the run ended) is never the verdict (what it showed).
 * - An errored or aborted run can still fail (a check failed before it stopped), never pass.
 * - A gate that failed means the hypothesis was not tested: inconclusive, even if checks failed.
 * - An empty target, a dry run, a fault that touched no request, or a fault whose evidence
 *   could not be read is never a pass.
 */
import { type Verdict, worst } from './judge.ts'

export interface VerdictInput {
  status: 'completed' | 'aborted' | 'errored'
  /** Each hypothesis check's result over its phases, by check name. */
  results: Record<string, Verdict>
  /** The error that ended an errored run. */
  error?: string
  /** Why an aborted run stopped. */
  abortReason?: string
  /** The `before` phase failed, so the method never ran. */
  gateFailed: boolean
  /** Why a target resolved to nothing to act on (no sidecars or processes, no pods or nodes matched). */
  emptyTarget?: string
  dryRun: boolean
  /** Applied faults that injected into no request, and those whose evidence could not be read. */
  landing: { notLanded: string[]; unproven: string[] }
}

export function judgeRun(i: VerdictInput): { verdict: Verdict; reason?: string } {
  const results = Object.values(i.results)
  const anyFailed = results.includes('fail')
  if (i.status === 'errored') return { verdict: anyFailed ? 'fail' : 'inconclusive', reason: i.error }
  if (i.status === 'aborted')
    return { verdict: !i.gateFailed && anyFailed ? 'fail' : 'inconclusive', reason: i.abortReason }
  if (i.emptyTarget) return { verdict: 'inconclusive', reason: i.emptyTarget }
  const verdict = worst(results)
  if (verdict === 'pass') {
    if (i.dryRun) return { verdict, reason: 'dry run: checks ran, nothing was injected' }
    // A fault that touched no request proves nothing: never report that as a pass.
    if (i.landing.notLanded.length)
      return { verdict: 'inconclusive', reason: `the fault did not land: ${i.landing.notLanded.join('; ')}` }
    // Nor does a fault whose evidence could not be read: unknown is not "landed".
    if (i.landing.unproven.length)
      return {
        verdict: 'inconclusive',
        reason: `could not show that the fault landed: ${i.landing.unproven.join('; ')}`,
      }
    return { verdict }
  }
  const failed = Object.entries(i.results)
    .filter(([, r]) => r === 'fail')
    .map(([name]) => name)
  if (failed.length) return { verdict, reason: `failed: ${failed.join(', ')}` }
  return { verdict, reason: verdict === 'inconclusive' ? 'not enough data to judge every check' : undefined }
}
