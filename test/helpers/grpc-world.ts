/** A real grpc-js echo server behind a real sidecar, and grpc-js clients pointed at the sidecar. */
import * as grpc from '@grpc/grpc-js'
import {
  type EchoClient,
  type EchoReply,
  type EchoServer,
  loadEcho,
  startEchoServer,
} from '../../examples/grpc/echo-service.ts'
import { buildSidecar, type Sidecar, type SidecarOptions } from '../../sidecar/build.ts'
import { silentLogger } from '../../src/log.ts'
import { type JsonCall, jsonClient } from './http.ts'

export interface GrpcWorld {
  echo: EchoServer
  sidecar: Sidecar
  proxyUrl: string
  /** host:port of the sidecar's proxy port. */
  target: string
  admin: JsonCall
  putRules(rules: unknown[]): Promise<{ status: number; body: any }>
  /** A new client (its own channel); closed with the world. Insecure (h2c) unless `credentials` are given. */
  client(options?: grpc.ChannelOptions, credentials?: grpc.ChannelCredentials): EchoClient
  close(): Promise<void>
}

export async function startGrpcWorld(opts: Partial<SidecarOptions> = {}): Promise<GrpcWorld> {
  const echo = await startEchoServer()
  const sidecar = buildSidecar({
    upstream: echo.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    ...opts,
  })
  const { proxyUrl, adminUrl } = await sidecar.listen()
  const admin = jsonClient(adminUrl)
  const { Echo } = loadEcho()
  const clients: EchoClient[] = []
  const target = new URL(proxyUrl).host
  return {
    echo,
    sidecar,
    proxyUrl,
    target,
    admin,
    putRules: (rules) => admin('PUT', '/rules', { rules }),
    client(options = {}, credentials = grpc.credentials.createInsecure()) {
      const c = new Echo(target, credentials, options) as unknown as EchoClient
      clients.push(c)
      return c
    },
    async close() {
      for (const c of clients) c.close()
      await sidecar.close()
      await echo.close()
    },
  }
}

export interface UnaryResult {
  err: grpc.ServiceError | null
  reply: EchoReply | undefined
  metadata: grpc.Metadata | undefined
  trailers: grpc.Metadata | undefined
}

/** One unary call; never rejects: the status is in `err`. */
export function unary(
  client: EchoClient,
  req: { text: string; count?: number },
  opts: { metadata?: grpc.Metadata; deadlineMs?: number } = {},
): Promise<UnaryResult> {
  return new Promise((resolve) => {
    const out: UnaryResult = { err: null, reply: undefined, metadata: undefined, trailers: undefined }
    const callOpts: grpc.CallOptions = opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {}
    const call = client.Unary(
      { count: 0, ...req },
      opts.metadata ?? new grpc.Metadata(),
      callOpts,
      (err: grpc.ServiceError | null, reply?: EchoReply) => {
        out.err = err
        out.reply = reply
        resolve(out)
      },
    )
    call.on('metadata', (m: grpc.Metadata) => (out.metadata = m))
    call.on('status', (s: grpc.StatusObject) => (out.trailers = s.metadata))
  })
}
