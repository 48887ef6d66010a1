/**
 * The controller's side of the sidecar admin API (direct bus). A POST answers with the
 * generation that carries the rules: that answer is the acknowledgement that they are live.
 *
 * Every failure is a catalogue error, so it keeps its meaning wherever it surfaces (an API
 * answer, a journal, a log): FL_ERR_SIDECAR_UNREACHABLE when no answer came, and
 * FL_ERR_SIDECAR_REJECTED carrying the sidecar's own status, code and field errors when it
 * answered with an error. Both name the admin URL in `details.sidecar`, and keep the cause.
 */
import { errors, FaultlineError, type FieldIssue } from '../src/errors.ts'
import type { EncodedWindow } from '../src/stats/window.ts'

/** What a sidecar said when it refused a call; the body of FL_ERR_SIDECAR_REJECTED carries it. */
export interface SidecarAnswer {
  url: string
  status?: number
  code?: string
  errors?: FieldIssue[]
  /** Fleet mode: the instance that refused. */
  instance?: string
}

/** FL_ERR_SIDECAR_UNREACHABLE for `url`, with a message that names the sidecar first. */
export function sidecarUnreachable(url: string, reason: string, cause?: unknown): FaultlineError {
  const { code, statusCode } = errors.FL_ERR_SIDECAR_UNREACHABLE
  return new FaultlineError(code, `sidecar ${url} unreachable: ${reason}`, statusCode, {
    cause,
    details: { sidecar: { url } },
  })
}

/** FL_ERR_SIDECAR_REJECTED carrying the sidecar's own answer as `details.sidecar`. */
export function sidecarRejected(answer: SidecarAnswer, message: string, cause?: unknown): FaultlineError {
  const { code, statusCode } = errors.FL_ERR_SIDECAR_REJECTED
  return new FaultlineError(code, message, statusCode, { cause, details: { sidecar: answer } })
}

/** Why a fetch failed, as specific as Node tells it (ECONNREFUSED, a timeout, ...). */
function reasonOf(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  if (e.name === 'TimeoutError') return 'no answer in time'
  return e.cause?.code ?? e.cause?.message ?? e.message
}

/** The parsed body when it is JSON; undefined when it is not (an HTML error page, say). */
function jsonOrUndefined(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    // Not JSON: the caller reports the raw text instead, so nothing is lost here.
    return undefined
  }
}

export class SidecarClient {
  readonly adminUrl: string
  readonly #token: string | undefined

  constructor(adminUrl: string, token?: string) {
    this.adminUrl = adminUrl.replace(/\/$/, '')
    this.#token = token
  }

  async #call<T>(method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<T> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    let status: number
    let text: string
    try {
      const res = await fetch(this.adminUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      })
      status = res.status
      // Inside the try: a connection that dies mid-body is as unreachable as one refused.
      text = await res.text()
    } catch (err) {
      throw sidecarUnreachable(this.adminUrl, reasonOf(err), err)
    }
    const parsed = jsonOrUndefined(text) as
      { code?: string; error?: string; errors?: FieldIssue[]; [k: string]: unknown } | undefined
    if (status >= 400) {
      const list = parsed?.errors?.map((e) => `${e.path} ${e.message}`).join('; ')
      throw sidecarRejected(
        { url: this.adminUrl, status, code: parsed?.code, errors: parsed?.errors },
        `sidecar ${this.adminUrl} ${method} ${path}: ${status} ${parsed?.error ?? text.slice(0, 200)}${list ? ` (${list})` : ''}`,
      )
    }
    if (parsed === undefined || typeof parsed !== 'object')
      throw sidecarRejected(
        { url: this.adminUrl, status },
        `sidecar ${this.adminUrl} ${method} ${path}: ${status} answered with something that is not the admin API's JSON (is this the admin port?)`,
      )
    return parsed as T
  }

  /** Adds rules atomically; resolves to the generation that carries them. */
  async addRules(rules: unknown[]): Promise<number> {
    return (await this.#call<{ generation: number }>('POST', '/rules', { rules })).generation
  }

  async removeBySource(source: string): Promise<{ generation: number; removed: string[] }> {
    return this.#call('DELETE', `/rules?source=${encodeURIComponent(source)}`)
  }

  async rules(): Promise<{ generation: number; rules: { id: string; source?: string }[] }> {
    return this.#call('GET', '/rules')
  }

  async statsEncoded(windowMs: number): Promise<EncodedWindow & { generation: number }> {
    return this.#call('GET', `/stats?window=${Math.max(1, Math.round(windowMs / 1000))}s&format=hdr`)
  }
}
