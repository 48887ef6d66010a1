/**
 * The example's gateway: an HTTP/1.1 service whose every request makes one gRPC call to the
 * echo service, through the echo service's sidecar, with a grpc-js retry policy (UNAVAILABLE is
 * retried up to 3 attempts). It answers 200 when the call succeeded after retries and 502 with
 * the gRPC status when it did not, so the gateway's own sidecar measures what callers see.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as grpc from '@grpc/grpc-js'
import { type EchoClient, type EchoReply, loadEcho } from './echo-service.ts'

/** The client's retry policy (gRFC A6): what makes 10% UNAVAILABLE invisible to callers. */
export const RETRY_SERVICE_CONFIG = {
  methodConfig: [
    {
      name: [{ service: 'faultline.echo.Echo' }],
      retryPolicy: {
        maxAttempts: 3,
        initialBackoff: '0.01s',
        maxBackoff: '0.1s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'],
      },
    },
  ],
}

export interface Gateway {
  url: string
  close(): Promise<void>
}

/** `echoTarget` is host:port of the echo service's sidecar. */
export async function startGateway(echoTarget: string, port = 0): Promise<Gateway> {
  const { Echo } = loadEcho()
  const client = new Echo(echoTarget, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify(RETRY_SERVICE_CONFIG),
  }) as unknown as EchoClient
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return res.end('ok')
    const text = decodeURIComponent((req.url ?? '/').split('/').pop() ?? '')
    client.Unary({ text }, new grpc.Metadata(), { deadline: Date.now() + 2000 }, (err, reply?: EchoReply) => {
      const body = err ? { code: err.code, details: err.details } : { text: reply?.text }
      res.writeHead(err ? 502 : 200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    })
  })
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        client.close()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
