/**
 * toxy (h2non/toxy, npm `toxy`), the Node fault-proxy peer, in front of the origin; with a
 * second argument, every request gets its `latency` poison of that many milliseconds.
 *
 *   node --no-deprecation benchmarks/targets/toxy.ts http://127.0.0.1:PORT [LATENCY_MS]
 *
 * Two things stand between toxy 0.3.16 and Node 24, both worked around here and nowhere else:
 *
 * - Keep-alive. By default toxy forwards through http-proxy with `agent: false`: a new upstream
 *   connection per request with `Connection: close`, which http-proxy then passes on to the
 *   client, so neither side keeps a connection (measured: ~2,500 req/s and ~380 µs of CPU per
 *   request, nearly all of it TCP set-up; autocannon's latencies are meaningless on connections
 *   closed after every response). A keep-alive agent cannot simply be passed in: rocky (toxy's
 *   proxy layer) deep-clones the options for every request (`_.cloneDeep` in
 *   rocky/lib/helpers/clone-request.js), and the cloned agent pools nothing and fails every
 *   request after the first with "Illegal invocation". lodash leaves values of the kinds it does
 *   not clone (WeakMap, Error, functions) as they are, so the agent is tagged as one of those and
 *   every clone shares it. Every other proxy here keeps upstream connections alive (nginx only
 *   with its `keepalive` directive, too), so this compares the proxies, not TCP handshakes.
 * - Forwarding in the same tick (see the no-op poison below).
 *
 * toxy is CommonJS without types; the small interface below is the part used here.
 */
import http from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { freePort } from '../../controller/drivers/local/ports.ts'

interface Toxy {
  forward(url: string): Toxy
  poison(p: unknown): Toxy
  all(path: string): unknown
  listen(port: number, host: string): Toxy
  server: http.Server
}
interface ToxyModule {
  (opts: Record<string, unknown>): Toxy
  poisons: { latency(opts: { jitter: number }): unknown }
}

const toxy = createRequire(import.meta.url)('toxy') as ToxyModule
const [upstream, latency] = [process.argv[2]!, process.argv[3]]

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
Object.defineProperty(agent, Symbol.toStringTag, { value: 'WeakMap' })
const proxy = toxy({ agent })
proxy.forward(upstream)
// `latency(n)` is toxy's fixed delay: it waits n ms (a setTimeout) before forwarding.
if (latency) proxy.poison(toxy.poisons.latency({ jitter: Number(latency) }))
// On Node 24 toxy cannot forward a request in the tick it arrives: rocky forwards a shallow
// clone of the IncomingMessage that shares its stream state and socket, the clone's auto-destroy
// emits 'aborted', and http-proxy answers that by aborting the upstream request and the client's
// socket (an empty reply for every request; h2non/toxy#68 "broken on Node 16"). Any poison that
// defers forwarding by one tick avoids it, so the pass-through row runs with this no-op one.
else proxy.poison((_req: unknown, _res: unknown, next: () => void) => process.nextTick(next))
proxy.all('/*')
// toxy reads port 0 as "use its default, 3000", so it is given a port the OS says is free.
proxy.listen(await freePort(), '127.0.0.1')
proxy.server.keepAliveTimeout = 65_000
proxy.server.once('listening', () => {
  process.stdout.write(
    JSON.stringify({ url: `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}` }) + '\n',
  )
})
