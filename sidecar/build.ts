/**
 * buildSidecar(opts): the whole data plane, not yet listening. One factory so every test and
 * the CLI build the same thing; close() drains in-flight requests and releases every resource.
 */
import { readFileSync } from 'node:fs'
// Pool alone: undici's index loads fetch, WebSocket, caches and mocks too (about 2 MB of RSS idle).
import Pool from 'undici/lib/dispatcher/pool.js'
import { type Clock, systemClock } from '../src/clock.ts'
import type { HostPort } from '../src/config.ts'
import {
  DEFAULT_HEADER_FAULT_MAX_DELAY_MS,
  DEFAULT_HEALTH_PATHS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_STATS_RETENTION_S,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
} from '../src/constants.ts'
import { errors } from '../src/errors.ts'
import { DEFAULT_GRPC_ERROR_CODES } from '../src/grpc.ts'
import { createLogger, type Logger } from '../src/log.ts'
import { createSidecarMetrics } from '../src/metrics.ts'
import { MetricsRegistry } from '../src/metrics-registry.ts'
import { type RandomSource, seededRandom } from '../src/random.ts'
import { StatsWindow } from '../src/stats/window.ts'
import { buildAdminApp } from './admin.ts'
import { exchangeFailureLogger, faultLogger } from './fault-log.ts'
import { type HeaderFaultLimits, headerFaultReader } from './header-faults.ts'
import type { HttpListener } from './listener.ts'
import { buildProxyApp } from './proxy.ts'
import type { ProxyContext } from './proxy-context.ts'
import { RuleStore } from './rule-store.ts'
import { RulesFileSource } from './rules-file.ts'
import { FleetSource } from './fleet.ts'
import { h1Upstream } from './h2/h1-upstream.ts'
import { H2UpstreamPool } from './h2/upstream-pool.ts'

/** How requests go upstream: auto = each over the protocol it arrived in (h2c for http://, h2 for https://). */
export type UpstreamProtocol = 'auto' | 'http1' | 'h2c' | 'h2'

export interface SidecarOptions {
  /** The app behind the sidecar, e.g. http://127.0.0.1:8080 */
  upstream: string
  listen?: HostPort
  admin?: HostPort
  rulesFile?: string
  /** Initial rules (`{ rules: [...] }`), when there is no rules file. */
  rules?: unknown
  /** Fleet mode: follow the desired rules of `service` in this Redis. */
  redisUrl?: string
  /** The admin URL other machines reach this sidecar at (fleet registration); default: the listen address. */
  advertiseAdmin?: string
  service?: string
  adminToken?: string
  /** Without adminToken: the admin API refuses every change (401) instead of taking it from anyone. */
  adminTokenRequired?: boolean
  /** Enable header-driven faults; `true` uses the default caps. */
  headerFaults?: boolean | Partial<HeaderFaultLimits>
  healthPaths?: string[]
  maxBodyBytes?: number
  upstreamTimeoutMs?: number
  upstreamConnections?: number
  statsRetentionSeconds?: number
  /** PEM files: the proxy port serves TLS with ALPN h2 and http/1.1. */
  tlsCert?: string
  tlsKey?: string
  upstreamProtocol?: UpstreamProtocol
  /** gRPC statuses that count as errors in /stats (default UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS). */
  grpcErrorCodes?: readonly number[]
  /** Verify an https:// upstream's certificate (default true). */
  upstreamTlsVerify?: boolean
  /** How long close() waits for in-flight requests before cutting them. */
  drainTimeoutMs?: number
  clock?: Clock
  random?: RandomSource
  seed?: number
  logger?: Logger
}

export interface Sidecar {
  proxy: HttpListener
  /** Present in fleet mode. */
  fleet: FleetSource | undefined
  admin: HttpListener
  store: RuleStore
  stats: StatsWindow
  registry: MetricsRegistry
  /** Starts both listeners; resolves to their base URLs. */
  listen(): Promise<{ proxyUrl: string; adminUrl: string }>
  close(): Promise<void>
}

export function parseUpstream(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID(`upstream "${text}" is not a URL`, {
      cause: err,
      issues: [{ path: '/upstream', message: 'must be an http:// URL such as http://127.0.0.1:8080' }],
    })
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search
  )
    throw errors.FL_ERR_CONFIG_INVALID(`upstream "${text}" must be http://host:port with no path`, {
      issues: [{ path: '/upstream', message: 'must be http://host:port (or https://) with no path or query' }],
    })
  return url
}

export function buildSidecar(opts: SidecarOptions): Sidecar {
  const upstream = parseUpstream(opts.upstream)
  const clock = opts.clock ?? systemClock
  const log = opts.logger ?? createLogger({ name: 'faultline-sidecar' })
  const service = opts.service ?? 'default'
  const registry = new MetricsRegistry()
  const metrics = createSidecarMetrics(registry, service)
  const stats = new StatsWindow({
    retentionSeconds: opts.statsRetentionSeconds ?? DEFAULT_STATS_RETENTION_S,
    now: clock.now,
  })
  const store = new RuleStore(clock)
  const timeout = opts.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS
  const protocol = opts.upstreamProtocol ?? 'auto'
  if ((protocol === 'h2' && upstream.protocol === 'http:') || (protocol === 'h2c' && upstream.protocol === 'https:'))
    throw errors.FL_ERR_CONFIG_INVALID(`--upstream-protocol ${protocol} does not fit ${upstream.origin}`, {
      issues: [
        {
          path: '--upstream-protocol',
          message:
            protocol === 'h2'
              ? 'h2 needs an https:// upstream (use h2c for http://)'
              : 'h2c needs an http:// upstream (use h2 for https://)',
        },
      ],
    })
  const pool = new Pool(upstream.origin, {
    connections: opts.upstreamConnections ?? 256,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    keepAliveTimeout: 30_000,
    // HTTP/1.1 clients go upstream over HTTP/1.1 unless an HTTP/2 upstream protocol is forced.
    allowH2: protocol === 'h2' || protocol === 'h2c',
    ...(protocol === 'h2c' ? { useH2c: true } : {}),
    connect: { rejectUnauthorized: opts.upstreamTlsVerify ?? true },
  })
  const h2Pool = new H2UpstreamPool(upstream, log, { rejectUnauthorized: opts.upstreamTlsVerify ?? true })
  const tls = readTls(opts)
  const logFault = faultLogger(log, clock)
  const logExchangeFailure = exchangeFailureLogger(log, clock)

  store.onChange((change) => {
    metrics.setRules(store.snapshot.rules, change.generation)
    log.info(change, 'rules changed')
  })

  const headerLimits =
    opts.headerFaults === undefined || opts.headerFaults === false
      ? undefined
      : {
          maxDelayMs: DEFAULT_HEADER_FAULT_MAX_DELAY_MS,
          minBytesPerSecond: 1024,
          ...(opts.headerFaults === true ? {} : opts.headerFaults),
        }

  const ctx: ProxyContext = {
    pool,
    store,
    stats,
    metrics,
    observer: {
      matched: (rule) => stats.ruleMatched(rule.id),
      skipped: (rule, reason) => metrics.faultSkipped(rule.id, reason),
    },
    random: opts.random ?? (opts.seed === undefined ? Math.random : seededRandom(opts.seed)),
    clock,
    log,
    healthPaths: new Set(opts.healthPaths ?? DEFAULT_HEALTH_PATHS),
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    headerFaults: headerLimits ? headerFaultReader(headerLimits) : undefined,
    injected(rule, kind) {
      metrics.faultInjected(rule.id, kind)
      logFault(rule.id, kind)
    },
    skipped: (rule, reason) => metrics.faultSkipped(rule.id, reason),
    exchangeFailed(err) {
      metrics.exchangeFailed()
      logExchangeFailure(err)
    },
  }

  if (opts.rulesFile && opts.redisUrl)
    throw errors.FL_ERR_CONFIG_INVALID('--rules and --redis are two sources of truth for the rules; give one', {
      issues: [{ path: '--redis', message: 'cannot be combined with --rules' }],
    })
  const file = opts.rulesFile ? new RulesFileSource(opts.rulesFile, store, log) : undefined
  const fleet = opts.redisUrl
    ? new FleetSource({ redisUrl: opts.redisUrl, service, store, log, now: clock.now })
    : undefined
  if (file) file.start()
  else if (opts.rules !== undefined) store.replace(opts.rules)
  metrics.setRules(store.snapshot.rules, store.generation)

  const proxy = buildProxyApp(ctx, upstream, {
    h2: {
      upstream: protocol === 'http1' ? h1Upstream(pool) : h2Pool,
      upstreamScheme: upstream.protocol === 'https:' ? 'https' : 'http',
      grpcErrorCodes: new Set(opts.grpcErrorCodes ?? DEFAULT_GRPC_ERROR_CODES),
      upstreamTimeoutMs: timeout,
    },
    tls,
  })
  const admin = buildAdminApp({
    store,
    stats,
    registry,
    upstream,
    token: opts.adminToken,
    tokenRequired: opts.adminTokenRequired,
    rulesLoaded: () => file?.loaded ?? fleet?.loaded ?? true,
    fleet: fleet && (() => ({ service, instance: fleet.id, applied: fleet.applied, ...fleet.status() })),
  })

  const listenOn = {
    proxy: opts.listen ?? { host: '0.0.0.0', port: 8480 },
    admin: opts.admin ?? { host: '127.0.0.1', port: 8481 },
  }
  let closing: Promise<void> | undefined

  return {
    proxy,
    fleet,
    admin,
    store,
    stats,
    registry,
    async listen() {
      const proxyUrl = await proxy.listen(listenOn.proxy)
      const adminUrl = await admin.listen(listenOn.admin)
      await fleet?.start({ adminUrl: opts.advertiseAdmin ?? adminUrl, proxyUrl })
      log.info(
        {
          proxy: proxyUrl,
          admin: adminUrl,
          upstream: upstream.origin,
          service,
          rulesFile: file?.file,
          fleet: fleet ? { redis: opts.redisUrl, instance: fleet.id } : undefined,
          headerFaults: headerLimits ?? false,
          adminAuth: opts.adminToken ? 'bearer' : opts.adminTokenRequired ? 'refuse-changes' : 'none',
          generation: store.generation,
        },
        'sidecar listening',
      )
      if (!opts.adminToken && opts.adminTokenRequired)
        log.warn(
          { code: 'FL_ERR_UNAUTHORIZED', reason: 'admin-token-missing' },
          'admin token required (--admin-token-required) but none given (FAULTLINE_ADMIN_TOKEN is empty, e.g. no token Secret in this namespace): the admin API refuses every change; traffic is proxied as usual',
        )
      return { proxyUrl: proxyUrl.replace('0.0.0.0', '127.0.0.1'), adminUrl }
    },
    close() {
      closing ??= (async () => {
        file?.close()
        await fleet?.close()
        const drain = setTimeout(() => {
          proxy.server.closeAllConnections()
          proxy.destroyHttp2()
        }, opts.drainTimeoutMs ?? 30_000)
        // Node closes only the connections idle when close() is called; a keep-alive connection
        // whose request finishes during the drain would otherwise linger for its idle timeout.
        const sweep = setInterval(() => proxy.server.closeIdleConnections(), 50)
        drain.unref()
        proxy.drainHttp2()
        await proxy.close()
        clearTimeout(drain)
        clearInterval(sweep)
        await admin.close()
        store.close()
        await pool.close()
        await h2Pool.close()
      })()
      return closing
    },
  }
}

/** The PEM pair for the proxy port's TLS, read once at build time; a missing half or file is named. */
function readTls(opts: SidecarOptions): { cert: Buffer; key: Buffer } | undefined {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) return undefined
  const read = (file: string | undefined, flag: string, other: string): Buffer => {
    if (file === undefined)
      throw errors.FL_ERR_CONFIG_INVALID(`${flag} is required with ${other}`, {
        issues: [{ path: flag, message: `is required with ${other}` }],
      })
    try {
      return readFileSync(file)
    } catch (err) {
      throw errors.FL_ERR_CONFIG_INVALID(`${flag} ${file} cannot be read`, {
        cause: err,
        issues: [{ path: flag, message: `cannot read ${file}: ${(err as Error).message}` }],
      })
    }
  }
  return { cert: read(opts.tlsCert, '--tls-cert', '--tls-key'), key: read(opts.tlsKey, '--tls-key', '--tls-cert') }
}
