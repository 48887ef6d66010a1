/**
 * Proof that a sidecar fault landed: how many requests each of its rules matched and injected on
 * each sidecar while it was on, read just before the revert. Evidence that cannot be read is a
 * coded condition (FL_ERR_EVIDENCE_UNAVAILABLE), journalled and logged, and never counts as
 * "landed": only a sidecar that reports injected requests proves a fault landed.
 */
import { errors, type FaultlineError } from '../../src/errors.ts'
import type { SidecarClient } from '../sidecar-client.ts'
import type { FaultRecord } from './journal.ts'

/** The sidecar keeps this much history; a longer fault is judged on its last part. */
const MAX_EVIDENCE_WINDOW_MS = 120_000
/** Slack so the window reaches back past the apply, whatever the second boundaries. */
const EVIDENCE_SLACK_MS = 2000

/**
 * Reads one sidecar's counts for the fault's rules into `record.evidence`, or records why it
 * could not into `record.evidenceUnavailable` and returns that error.
 */
export async function collectEvidence(
  record: FaultRecord,
  client: SidecarClient,
  now: number,
): Promise<FaultlineError | undefined> {
  const since = record.appliedAt ?? record.intentAt
  const windowMs = Math.min(MAX_EVIDENCE_WINDOW_MS, now - since + EVIDENCE_SLACK_MS)
  try {
    const stats = await client.statsEncoded(windowMs)
    record.evidence ??= {}
    record.evidence[client.adminUrl] = Object.fromEntries(
      (record.ruleIds ?? []).map((id) => [id, stats.rules[id] ?? { matched: 0, injected: 0 }]),
    )
    return undefined
  } catch (err) {
    const e = errors.FL_ERR_EVIDENCE_UNAVAILABLE(`${record.id} on ${client.adminUrl}: ${(err as Error).message}`, {
      cause: err,
    })
    record.evidenceUnavailable ??= {}
    record.evidenceUnavailable[client.adminUrl] = { code: e.code, message: e.message }
    return e
  }
}

export interface Landing {
  /** Faults every sidecar reported as injecting into no request. */
  notLanded: string[]
  /** Faults no sidecar showed as landed because evidence was missing somewhere. */
  unproven: string[]
}

/** Which applied sidecar faults are not shown to have landed, and why. */
export function landing(faults: FaultRecord[]): Landing {
  const out: Landing = { notLanded: [], unproven: [] }
  for (const f of faults) {
    if (f.kind !== 'sidecar' || f.appliedAt === undefined) continue
    const shown = Object.values(f.evidence ?? {})
    if (shown.some((rules) => Object.values(rules).some((c) => c.injected > 0))) continue
    const missing = Object.entries(f.evidenceUnavailable ?? {})
    if (missing.length) out.unproven.push(`${f.step}: ${missing.map(([, e]) => `${e.message} [${e.code}]`).join('; ')}`)
    else if (shown.length === 0) out.unproven.push(`${f.step}: no evidence was collected`)
    else out.notLanded.push(`${f.step} injected into 0 requests`)
  }
  return out
}
