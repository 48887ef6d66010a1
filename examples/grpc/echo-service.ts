/**
 * The example's gRPC service (echo.proto), on a real grpc-js server. Every call is counted, so a
 * test or the experiment can tell how many attempts reached the app. Request metadata
 * `x-echo-fail: <code>` makes the app itself fail with that status (an application error), and
 * every response carries metadata `x-echo: 1` and a trailer `x-echo-trailer-bin` (binary).
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

export const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url))

export interface EchoRequest {
  text: string
  count: number
}
export interface EchoReply {
  text: string
  index: number
  padding?: Buffer
}

/** The client class grpc-js builds at runtime from echo.proto, typed. */
export interface EchoClient extends grpc.Client {
  Unary(
    req: Partial<EchoRequest>,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: grpc.requestCallback<EchoReply>,
  ): grpc.ClientUnaryCall
  ServerStream(
    req: Partial<EchoRequest>,
    md?: grpc.Metadata,
    opts?: grpc.CallOptions,
  ): grpc.ClientReadableStream<EchoReply>
  ClientStream(cb: grpc.requestCallback<EchoReply>): grpc.ClientWritableStream<Partial<EchoRequest>>
  Bidi(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<Partial<EchoRequest>, EchoReply>
}

export function loadEcho(): { Echo: grpc.ServiceClientConstructor } {
  const def = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, longs: Number, defaults: true })
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    faultline: { echo: { Echo: grpc.ServiceClientConstructor } }
  }
  return { Echo: pkg.faultline.echo.Echo }
}

export interface EchoServer {
  url: string
  /** host:port, as grpc-js clients take it. */
  target: string
  /** Calls received, by method name. */
  calls: Record<string, number>
  /** Request metadata of the last call. */
  lastMetadata: grpc.Metadata | undefined
  close(): Promise<void>
}

function replyMetadata(call: { sendMetadata(m: grpc.Metadata): void }): void {
  const m = new grpc.Metadata()
  m.set('x-echo', '1')
  call.sendMetadata(m)
}

function trailer(): grpc.Metadata {
  const t = new grpc.Metadata()
  t.set('x-echo-trailer-bin', Buffer.from([0, 1, 2, 255]))
  return t
}

function failure(md: grpc.Metadata): grpc.ServiceError | undefined {
  const v = md.get('x-echo-fail')[0]
  if (v === undefined) return undefined
  return Object.assign(new Error('the app failed'), {
    code: Number(v),
    details: 'the app failed',
    metadata: trailer(),
  }) as grpc.ServiceError
}

export async function startEchoServer(host = '127.0.0.1', port = 0): Promise<EchoServer> {
  const { Echo } = loadEcho()
  const server = new grpc.Server()
  const state: EchoServer = {
    url: '',
    target: '',
    calls: {},
    lastMetadata: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve())
        // Streams that never end would hold a graceful shutdown forever.
        setTimeout(() => server.forceShutdown(), 2000).unref()
      }),
  }
  const seen = (name: string, md: grpc.Metadata) => {
    state.calls[name] = (state.calls[name] ?? 0) + 1
    state.lastMetadata = md
  }
  server.addService(Echo.service, {
    Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) {
      seen('Unary', call.metadata)
      const fail = failure(call.metadata)
      if (fail) return cb(fail)
      replyMetadata(call)
      const padding = call.request.count > 0 ? Buffer.alloc(call.request.count, 120) : undefined
      cb(null, { text: call.request.text, index: 0, padding }, trailer())
    },
    ServerStream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
      seen('ServerStream', call.metadata)
      replyMetadata(call)
      const n = call.request.count
      // count < 0: a stream that never ends (until the client cancels).
      if (n < 0) {
        const t = setInterval(() => call.write({ text: call.request.text, index: 0 }), 20)
        call.on('cancelled', () => clearInterval(t))
        return
      }
      for (let i = 0; i < n; i++) call.write({ text: call.request.text, index: i })
      const fail = failure(call.metadata)
      if (fail) return call.destroy(fail)
      call.end(trailer())
    },
    ClientStream(call: grpc.ServerReadableStream<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) {
      seen('ClientStream', call.metadata)
      const texts: string[] = []
      call.on('data', (r: EchoRequest) => texts.push(r.text))
      call.on('end', () => cb(null, { text: texts.join(','), index: texts.length }, trailer()))
    },
    Bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) {
      seen('Bidi', call.metadata)
      replyMetadata(call)
      let i = 0
      call.on('data', (r: EchoRequest) => call.write({ text: r.text.toUpperCase(), index: i++ }))
      call.on('end', () => call.end(trailer()))
    },
  })
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  )
  state.target = `${host}:${bound}`
  state.url = `http://${state.target}`
  return state
}
