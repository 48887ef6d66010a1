/**
 * The controller's API, from the dashboard: URLs relative to the page (the dashboard is at
 * <base>/ui/, the API at <base>/, whatever <base> is behind an ingress), the bearer token in the
 * Authorization header only. The token lives in sessionStorage (this tab), or in localStorage
 * when the user asked to be remembered on this device; never in a URL or a cookie.
 */
import type { ApiErrorBody } from './types.ts'

const KEY = 'faultline.token'

export function savedToken(): string | undefined {
  return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY) ?? undefined
}

export function saveToken(token: string, remember: boolean): void {
  forgetToken()
  ;(remember ? localStorage : sessionStorage).setItem(KEY, token)
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY)
  localStorage.removeItem(KEY)
}

/** An API path (`/runs/x`) as a URL next to the dashboard's directory. */
export function apiUrl(path: string): string {
  return new URL(path.replace(/^\//, ''), new URL('..', location.href)).href
}

export class ApiError extends Error {
  readonly status: number
  readonly body: ApiErrorBody
  constructor(status: number, body: ApiErrorBody) {
    super(`${body.code}: ${body.error}`)
    this.status = status
    this.body = body
  }
}

/** Told when an answer is 401, so the app can ask for the token again. */
let onUnauthorized: () => void = () => undefined
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn
}

export function authHeaders(token = savedToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {}
}

export interface CallOptions {
  body?: unknown
  /** Send `body` as this media type (a YAML string) instead of JSON. */
  contentType?: string
  token?: string
  signal?: AbortSignal
}

/** Calls the API; resolves with the JSON (or text) answer, rejects with an ApiError. */
export async function api<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(opts.token), accept: 'application/json' }
  let body: string | undefined
  if (opts.body !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json'
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
  }
  const res = await fetch(apiUrl(path), { method, headers, body, signal: opts.signal, cache: 'no-store' })
  const text = await res.text()
  const type = res.headers.get('content-type') ?? ''
  const parsed = type.includes('json') && text ? JSON.parse(text) : text
  if (!res.ok) {
    const err: ApiErrorBody =
      parsed && typeof parsed === 'object'
        ? (parsed as ApiErrorBody)
        : { code: `HTTP_${res.status}`, error: String(parsed).slice(0, 300) }
    if (res.status === 401) onUnauthorized()
    throw new ApiError(res.status, err)
  }
  return parsed as T
}

/** A failure as one line for the page (the code, the message, the first paths). */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const paths = (err.body.errors ?? []).slice(0, 3).map((e) => `${e.path || '(body)'}: ${e.message}`)
    return `${err.body.code}: ${err.body.error}${paths.length ? ` (${paths.join('; ')})` : ''}`
  }
  return err instanceof Error ? err.message : String(err)
}
