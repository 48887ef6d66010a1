/**
 * Sidecar configuration from flags and environment variables (flags win). Every problem is
 * reported with the flag it came from; nothing starts on a half-valid configuration.
 */
import { parseArgs } from 'node:util'
import { DEFAULT_ADMIN_LISTEN, DEFAULT_PROXY_LISTEN } from './constants.ts'
import { parseDuration } from './duration.ts'
import { errors, type FieldIssue } from './errors.ts'
import { GRPC_STATUS_NAMES, parseGrpcStatus } from './grpc.ts'

export interface HostPort {
  host: string
  port: number
}

export interface SidecarConfig {
  upstream: string
  listen: HostPort
  admin: HostPort
  rulesFile?: string
  service: string
  adminToken?: string
  /** With no adminToken: refuse every admin change rather than accept them unauthenticated. */
  adminTokenRequired: boolean
  headerFaults: false | { maxDelayMs: number }
  healthPaths?: string[]
  maxBodyBytes?: number
  upstreamTimeoutMs?: number
  seed?: number
  logLevel?: string
  redisUrl?: string
  advertiseAdmin?: string
  tlsCert?: string
  tlsKey?: string
  upstreamProtocol?: 'auto' | 'http1' | 'h2c' | 'h2'
  grpcErrorCodes?: number[]
}

/** flag -> [environment variable, description]; the CLI help is generated from this. */
export const SIDECAR_FLAGS = {
  upstream: ['FAULTLINE_UPSTREAM', 'URL of the app behind the sidecar (required), e.g. http://127.0.0.1:8080'],
  listen: ['FAULTLINE_LISTEN', `proxy listener HOST:PORT (default ${DEFAULT_PROXY_LISTEN})`],
  admin: ['FAULTLINE_ADMIN', `admin listener HOST:PORT (default ${DEFAULT_ADMIN_LISTEN})`],
  rules: ['FAULTLINE_RULES', 'YAML or JSON rules file, reloaded on change'],
  service: ['FAULTLINE_SERVICE', 'service name for metrics labels and fleet mode (default "default")'],
  redis: ['FAULTLINE_REDIS', 'fleet mode: follow the desired rules of --service in this Redis (redis://host:port)'],
  'advertise-admin': [
    'FAULTLINE_ADVERTISE_ADMIN',
    'fleet mode: admin URL the controller reaches this sidecar at (default: the admin listener)',
  ],
  'admin-token': ['FAULTLINE_ADMIN_TOKEN', 'bearer token required by mutating admin endpoints'],
  'admin-token-required': [
    'FAULTLINE_ADMIN_TOKEN_REQUIRED',
    'without --admin-token, refuse every admin change (401) instead of taking it from anyone; traffic still flows',
  ],
  'header-faults': ['FAULTLINE_HEADER_FAULTS', 'enable x-faultline-* request headers as faults (off by default)'],
  'header-fault-max-delay': ['FAULTLINE_HEADER_FAULT_MAX_DELAY', 'cap on header-requested delays (default 10s)'],
  'health-paths': [
    'FAULTLINE_HEALTH_PATHS',
    'comma-separated paths never faulted unless named (default /healthz,/readyz,/livez)',
  ],
  'max-body-bytes': [
    'FAULTLINE_MAX_BODY_BYTES',
    'largest body a patch buffers; larger ones pass unchanged (default 1048576)',
  ],
  'upstream-timeout': ['FAULTLINE_UPSTREAM_TIMEOUT', 'upstream headers/body timeout (default 60s)'],
  'tls-cert': [
    'FAULTLINE_TLS_CERT',
    'PEM certificate: the proxy port serves TLS with ALPN h2 and http/1.1 (with --tls-key)',
  ],
  'tls-key': ['FAULTLINE_TLS_KEY', 'PEM private key for --tls-cert'],
  'upstream-protocol': [
    'FAULTLINE_UPSTREAM_PROTOCOL',
    'auto|http1|h2c|h2: how requests go upstream (default auto: HTTP/2 requests over h2c for http://, h2 for https://)',
  ],
  'grpc-error-codes': [
    'FAULTLINE_GRPC_ERROR_CODES',
    'gRPC statuses counted as errors, codes or names (default UNKNOWN,DEADLINE_EXCEEDED,UNIMPLEMENTED,INTERNAL,UNAVAILABLE,DATA_LOSS)',
  ],
  seed: ['FAULTLINE_SEED', 'seed for the sampling random source (reproducible runs)'],
  'log-level': ['FAULTLINE_LOG_LEVEL', 'trace|debug|info|warn|error (default info)'],
} as const

/** The flags that take no value (their variables: 1, true, yes or on). */
export const BOOLEAN_FLAGS: readonly string[] = ['header-faults', 'admin-token-required']

const isOn = (v: string | undefined) => ['1', 'true', 'yes', 'on'].includes((v ?? '').toLowerCase())

export function parseHostPort(text: string, flag: string, issues: FieldIssue[]): HostPort | undefined {
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(text)
  const port = m ? Number(m[2]) : Number.NaN
  if (!m || port > 65535) {
    issues.push({ path: `--${flag}`, message: `must be HOST:PORT (e.g. 0.0.0.0:8480), got "${text}"` })
    return undefined
  }
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0', port }
}

export function parseSidecarConfig(argv: string[], env: NodeJS.ProcessEnv): SidecarConfig {
  let values: Record<string, string | boolean | undefined>
  try {
    const options = Object.fromEntries(
      Object.keys(SIDECAR_FLAGS).map((k) => [k, { type: BOOLEAN_FLAGS.includes(k) ? 'boolean' : 'string' }]),
    ) as Record<string, { type: 'boolean' | 'string' }>
    values = parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID((err as Error).message, { cause: err })
  }
  const get = (flag: keyof typeof SIDECAR_FLAGS): string | undefined => {
    const v = values[flag]
    if (typeof v === 'string') return v
    if (v === true) return 'true'
    return env[SIDECAR_FLAGS[flag][0]] || undefined
  }
  const issues: FieldIssue[] = []
  const upstream = get('upstream')
  if (!upstream) issues.push({ path: '--upstream', message: 'is required (or set FAULTLINE_UPSTREAM)' })
  const listen = parseHostPort(get('listen') ?? DEFAULT_PROXY_LISTEN, 'listen', issues)
  const admin = parseHostPort(get('admin') ?? DEFAULT_ADMIN_LISTEN, 'admin', issues)
  const duration = (flag: 'header-fault-max-delay' | 'upstream-timeout') => {
    const v = get(flag)
    if (v === undefined) return undefined
    const ms = parseDuration(v)
    if (ms === undefined) issues.push({ path: `--${flag}`, message: `must be a duration such as "10s", got "${v}"` })
    return ms
  }
  const integer = (flag: 'max-body-bytes' | 'seed') => {
    const v = get(flag)
    if (v === undefined) return undefined
    if (!/^\d+$/.test(v)) issues.push({ path: `--${flag}`, message: `must be a whole number, got "${v}"` })
    return Number(v)
  }
  const headerFaultsOn = isOn(get('header-faults'))
  const maxDelay = duration('header-fault-max-delay')
  const protocol = get('upstream-protocol')
  if (protocol !== undefined && !['auto', 'http1', 'h2c', 'h2'].includes(protocol))
    issues.push({ path: '--upstream-protocol', message: `must be auto, http1, h2c or h2, got "${protocol}"` })
  const grpcCodes = get('grpc-error-codes')
    ?.split(',')
    .map((c) => c.trim())
    .filter(Boolean)
  const grpcErrorCodes = grpcCodes?.map((c) => parseGrpcStatus(c) ?? -1)
  grpcCodes?.forEach((c, i) => {
    if (grpcErrorCodes![i] === -1)
      issues.push({
        path: '--grpc-error-codes',
        message: `"${c}" is not a gRPC status (0-16 or ${GRPC_STATUS_NAMES.join(', ')})`,
      })
  })
  const tlsCert = get('tls-cert')
  const tlsKey = get('tls-key')
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    issues.push({
      path: tlsCert ? '--tls-key' : '--tls-cert',
      message: `is required with ${tlsCert ? '--tls-cert' : '--tls-key'}`,
    })
  const config: SidecarConfig = {
    upstream: upstream ?? '',
    listen: listen!,
    admin: admin!,
    rulesFile: get('rules'),
    service: get('service') ?? 'default',
    adminToken: get('admin-token'),
    adminTokenRequired: isOn(get('admin-token-required')),
    headerFaults: headerFaultsOn ? { maxDelayMs: maxDelay ?? 10_000 } : false,
    healthPaths: get('health-paths')
      ?.split(',')
      .map((p) => p.trim())
      .filter(Boolean),
    maxBodyBytes: integer('max-body-bytes'),
    upstreamTimeoutMs: duration('upstream-timeout'),
    seed: integer('seed'),
    logLevel: get('log-level'),
    redisUrl: get('redis'),
    advertiseAdmin: get('advertise-admin'),
    tlsCert,
    tlsKey,
    upstreamProtocol: protocol as SidecarConfig['upstreamProtocol'],
    grpcErrorCodes,
  }
  if (config.redisUrl && !/^rediss?:\/\//.test(config.redisUrl))
    issues.push({ path: '--redis', message: 'must be a redis:// URL' })
  if (config.redisUrl && config.rulesFile)
    issues.push({ path: '--redis', message: 'cannot be combined with --rules (two sources of truth)' })
  if (issues.length)
    throw errors.FL_ERR_CONFIG_INVALID(issues.map((i) => `${i.path} ${i.message}`).join('; '), { issues })
  return config
}
