/**
 * The http and run steps: one call each, whose output is journalled. Unlike faults they have
 * nothing to revert. A call fails when it gets no answer (connection error, timeout, a program
 * that cannot start) or an answer its step does not accept (`status`, `exitCode`); any answer
 * is accepted when the step names none.
 */
import { spawn } from 'node:child_process'
import { exitCodeAccepted } from '../../src/experiments/codes.ts'
import type { StepSpec } from '../../src/experiments/schema.ts'
import type { CallRecord } from './journal.ts'

const DEFAULT_HTTP_TIMEOUT_MS = 30_000
const DEFAULT_RUN_TIMEOUT_MS = 60_000
/** Output kept per stream: enough to read, not enough to bloat the journal. */
const MAX_OUTPUT = 64 * 1024

type HttpCall = NonNullable<StepSpec['http']>
type RunCall = NonNullable<StepSpec['run']>
export type CallOutcome = Pick<CallRecord, 'status' | 'output' | 'error'>

function statusAccepted(status: number, wanted: (number | string)[] | undefined): boolean {
  if (!wanted) return true
  return wanted.some((w) => {
    if (typeof w === 'number') return w === status
    const [lo, hi] = w.split('-').map(Number) as [number, number]
    return status >= lo && status <= hi
  })
}

/** The body as JSON when the server says it is JSON, else text (as Chaos Toolkit reads it). */
function bodyOf(text: string, contentType: string | null): unknown {
  if (contentType?.split(';')[0]?.trim() !== 'application/json') return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

export async function httpCall(spec: HttpCall, signal?: AbortSignal): Promise<CallOutcome> {
  const timeout = AbortSignal.timeout(spec.timeout ?? DEFAULT_HTTP_TIMEOUT_MS)
  let res: Response
  let text: string
  try {
    res = await fetch(spec.url, {
      method: spec.method ?? 'GET',
      headers: spec.headers,
      body: spec.body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    })
    text = await res.text()
  } catch (err) {
    const e = err as Error
    const why = e.name === 'TimeoutError' ? `timed out after ${spec.timeout ?? DEFAULT_HTTP_TIMEOUT_MS} ms` : e.message
    return { status: 'failed', error: `${spec.method ?? 'GET'} ${spec.url}: ${why}` }
  }
  const output = {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: bodyOf(text.slice(0, MAX_OUTPUT), res.headers.get('content-type')),
  }
  if (!statusAccepted(res.status, spec.status))
    return { status: 'failed', output, error: `status ${res.status}, want ${spec.status!.join(' or ')}` }
  return { status: 'succeeded', output }
}

export function runCall(spec: RunCall, signal?: AbortSignal): Promise<CallOutcome> {
  const [cmd, ...args] = spec.command
  const timeoutMs = spec.timeout ?? DEFAULT_RUN_TIMEOUT_MS
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      cwd: spec.cwd,
      env: spec.env ? { ...process.env, ...spec.env } : process.env,
      signal,
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout = (stdout + d).slice(0, MAX_OUTPUT)))
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(0, MAX_OUTPUT)))
    child.once('error', (err) => resolve({ status: 'failed', error: `cannot run ${cmd}: ${err.message}` }))
    child.once('close', (code, sig) => {
      const output = { status: code, stdout, stderr }
      if (sig)
        return resolve({
          status: 'failed',
          output,
          error: `${cmd} killed by ${sig}${child.killed ? ` (timeout ${timeoutMs} ms)` : ''}`,
        })
      const accepted = spec.exitCode === undefined || exitCodeAccepted(code!, spec.exitCode)
      resolve(accepted ? { status: 'succeeded', output } : { status: 'failed', output, error: `exit code ${code}` })
    })
  })
}

/** Runs an http or run step; never throws (a failure is in the outcome). */
export function callStep(s: StepSpec, signal?: AbortSignal): Promise<CallOutcome> {
  if (s.http) return httpCall(s.http, signal)
  return runCall(s.run!, signal)
}
