/**
 * The gRPC example system: gateway (HTTP/1.1) -> echo (gRPC, grpc-js), each behind its own
 * sidecar. The gateway calls echo through echo's sidecar with a retry policy, so a fault on
 * echo's sidecar is felt (or absorbed) at the gateway.
 */
import { buildSidecar, type Sidecar } from '../../sidecar/build.ts'
import { silentLogger } from '../../src/log.ts'
import { startEchoServer } from './echo-service.ts'
import { startGateway } from './gateway.ts'

export interface GrpcSystem {
  /** GATEWAY_URL, GATEWAY_ADMIN, ECHO_URL, ECHO_ADMIN: for ${VAR} in the experiment. */
  vars: Record<string, string>
  close(): Promise<void>
}

function sidecar(upstream: string, service: string): Sidecar {
  return buildSidecar({
    upstream,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    service,
    logger: silentLogger(),
  })
}

export async function startGrpcSystem(): Promise<GrpcSystem> {
  const closers: (() => Promise<void>)[] = []
  const close = async () => {
    for (const c of closers.reverse()) await c()
  }
  try {
    const echo = await startEchoServer()
    closers.push(() => echo.close())
    const echoSidecar = sidecar(echo.url, 'echo')
    const echoUrls = await echoSidecar.listen()
    closers.push(() => echoSidecar.close())
    const gateway = await startGateway(new URL(echoUrls.proxyUrl).host)
    closers.push(() => gateway.close())
    const gatewaySidecar = sidecar(gateway.url, 'gateway')
    const gatewayUrls = await gatewaySidecar.listen()
    closers.push(() => gatewaySidecar.close())
    return {
      vars: {
        GATEWAY_URL: gatewayUrls.proxyUrl,
        GATEWAY_ADMIN: gatewayUrls.adminUrl,
        ECHO_URL: echoUrls.proxyUrl,
        ECHO_ADMIN: echoUrls.adminUrl,
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
