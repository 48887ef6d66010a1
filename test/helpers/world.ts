/** Each test builds its own world: a sample app and a sidecar in front of it, on port 0. */
import http from 'node:http'
import { type SampleApp, startSampleApp } from '../../examples/sample-app.ts'
import { buildSidecar, type Sidecar, type SidecarOptions } from '../../sidecar/build.ts'
import { silentLogger } from '../../src/log.ts'
import { type JsonCall, jsonClient } from './http.ts'

export interface World {
  app: SampleApp
  sidecar: Sidecar
  proxyUrl: string
  adminUrl: string
  /** PUT /rules; resolves to the parsed response and status. */
  putRules(rules: unknown[]): Promise<{ status: number; body: any }>
  admin: JsonCall
  close(): Promise<void>
}

export async function startWorld(opts: Partial<SidecarOptions> = {}): Promise<World> {
  const app = await startSampleApp()
  const sidecar = buildSidecar({
    upstream: app.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    ...opts,
  })
  const { proxyUrl, adminUrl } = await sidecar.listen()
  const admin = jsonClient(adminUrl)
  return {
    app,
    sidecar,
    proxyUrl,
    adminUrl,
    admin,
    putRules: (rules) => admin('PUT', '/rules', { rules }),
    async close() {
      await sidecar.close()
      await app.close()
    },
  }
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  ms: number
}

/** A plain node:http request; rejects with the socket error (e.g. ECONNRESET) when there is one. */
export function send(
  url: string,
  opts: {
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    agent?: http.Agent
  } = {},
): Promise<Reply> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks),
          ms: performance.now() - t0,
        }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

export function json(reply: Reply): any {
  return JSON.parse(reply.body.toString('utf8'))
}
