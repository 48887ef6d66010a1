/**
 * The controller's side of the sidecar admin API (direct bus). A POST answers with the
 * generation that carries the rules: that answer is the acknowledgement that they are live.
 */
import type { EncodedWindow } from '../src/stats/window.ts'

export class SidecarError extends Error {
  readonly status: number
  readonly body: unknown
  constructor(message: string, status: number, body: unknown, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.status = status
    this.body = body
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
    let res: Response
    try {
      res = await fetch(this.adminUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      throw new SidecarError(`sidecar ${this.adminUrl} unreachable: ${(err as Error).message}`, 0, undefined, err)
    }
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {}
    if (res.status >= 400) {
      const detail = (parsed as { error?: string; errors?: { path: string; message: string }[] }) ?? {}
      const list = detail.errors?.map((e) => `${e.path} ${e.message}`).join('; ')
      throw new SidecarError(
        `sidecar ${this.adminUrl} ${method} ${path}: ${res.status} ${detail.error ?? text}${list ? ` (${list})` : ''}`,
        res.status,
        parsed,
      )
    }
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
