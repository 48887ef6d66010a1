/** Names and defaults that are part of the public contract (DESIGN §3-4). */

/** Marks every response a fault touched, so nobody mistakes an injected failure for a real one. */
export const FAULT_HEADER = 'x-faultline-fault'

/** Header-driven faults (opt-in with --header-faults); stripped before forwarding. */
export const HEADER_FAULT_PREFIX = 'x-faultline-'
export const HEADER_DELAY_MS = 'x-faultline-delay-ms'
export const HEADER_ABORT_STATUS = 'x-faultline-abort-status'
export const HEADER_THROTTLE_BPS = 'x-faultline-throttle-bps'

export const DEFAULT_PROXY_LISTEN = '0.0.0.0:8480'
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:8481'
export const DEFAULT_HEALTH_PATHS = ['/healthz', '/readyz', '/livez'] as const
/** Largest body a patch buffers; bigger bodies pass through unchanged (fail open). */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 60_000
export const DEFAULT_STATS_RETENTION_S = 120
export const DEFAULT_HEADER_FAULT_MAX_DELAY_MS = 10_000
