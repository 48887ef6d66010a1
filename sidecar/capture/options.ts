/**
 * `faultline capture` flags. The injector emits exactly these, so they are a contract:
 *   --proxy-port P --app-ports A[,B...] --sidecar-uid UID [--exclude-ports X,Y] [--uninstall] [--dry-run]
 * Every problem is reported at once, each with its flag as the path.
 */
import { parseArgs } from 'node:util'
import { errors, type FieldIssue } from '../../src/errors.ts'
import type { CaptureSpec } from './rules.ts'

export const CAPTURE_USAGE =
  'usage: faultline capture --proxy-port P --app-ports A[,B...] --sidecar-uid UID [--exclude-ports X,Y] [--dry-run]\n' +
  '       faultline capture --uninstall [--dry-run]'

export type CaptureOptions =
  { mode: 'install'; spec: CaptureSpec; dryRun: boolean } | { mode: 'uninstall'; dryRun: boolean }

/** The highest uid Linux accepts ((uid_t)-1 means "no change"). */
const MAX_UID = 2 ** 32 - 2

export function parseCaptureArgs(argv: string[]): CaptureOptions {
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: argv,
      options: {
        'proxy-port': { type: 'string' },
        'app-ports': { type: 'string' },
        'sidecar-uid': { type: 'string' },
        'exclude-ports': { type: 'string' },
        uninstall: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    }))
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID(`${(err as Error).message}\n${CAPTURE_USAGE}`, { cause: err })
  }
  const issues: FieldIssue[] = []
  if (positionals.length)
    issues.push({ path: positionals[0]!, message: 'unexpected argument (capture takes flags only)' })
  const dryRun = values['dry-run'] === true
  if (values.uninstall === true) {
    // Uninstall removes every FAULTLINE_ chain, whatever ports it was installed with, so the
    // other flags are accepted (the same command line with --uninstall added works) but unused.
    fail(issues)
    return { mode: 'uninstall', dryRun }
  }
  const proxyPort = port(values['proxy-port'], '--proxy-port', issues)
  const appPorts = portList(values['app-ports'], '--app-ports', issues, true)
  const excludePorts = portList(values['exclude-ports'], '--exclude-ports', issues, false)
  const sidecarUid = uid(values['sidecar-uid'], issues)
  if (proxyPort !== undefined && appPorts?.includes(proxyPort))
    issues.push({
      path: '--app-ports',
      message: `must not include the proxy port ${proxyPort} (the sidecar would receive its own traffic)`,
    })
  if (proxyPort !== undefined && excludePorts?.includes(proxyPort))
    issues.push({ path: '--exclude-ports', message: `must not include the proxy port ${proxyPort}` })
  fail(issues)
  return {
    mode: 'install',
    spec: { proxyPort: proxyPort!, appPorts: appPorts!, sidecarUid: sidecarUid!, excludePorts: excludePorts ?? [] },
    dryRun,
  }
}

function fail(issues: FieldIssue[]): void {
  if (issues.length)
    throw errors.FL_ERR_CONFIG_INVALID(issues.map((i) => `${i.path} ${i.message}`).join('; '), { issues })
}

function port(text: string | boolean | undefined, flag: string, issues: FieldIssue[]): number | undefined {
  if (typeof text !== 'string' || text === '') {
    issues.push({ path: flag, message: 'is required' })
    return undefined
  }
  return portNumber(text, flag, issues)
}

function portNumber(text: string, flag: string, issues: FieldIssue[]): number | undefined {
  const n = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN
  if (!(n >= 1 && n <= 65535)) {
    issues.push({ path: flag, message: `must be a port number 1-65535, got "${text}"` })
    return undefined
  }
  return n
}

function portList(
  text: string | boolean | undefined,
  flag: string,
  issues: FieldIssue[],
  required: boolean,
): number[] | undefined {
  if (typeof text !== 'string' || text.trim() === '') {
    if (required) issues.push({ path: flag, message: 'is required (comma-separated ports, e.g. 8080,8443)' })
    return required ? undefined : []
  }
  const before = issues.length
  const ports = text.split(',').map((p) => portNumber(p, flag, issues))
  return issues.length > before ? undefined : [...new Set(ports as number[])]
}

function uid(text: string | boolean | undefined, issues: FieldIssue[]): number | undefined {
  if (typeof text !== 'string' || text === '') {
    issues.push({ path: '--sidecar-uid', message: 'is required (the uid the sidecar runs as, e.g. 65532)' })
    return undefined
  }
  const n = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN
  if (!(n <= MAX_UID)) {
    issues.push({ path: '--sidecar-uid', message: `must be a numeric uid, got "${text}"` })
    return undefined
  }
  // Every process running as this uid bypasses capture for calls to the pod's own IP; for
  // root that would be nearly everything, and the sidecar is meant to run unprivileged.
  if (n === 0) {
    issues.push({ path: '--sidecar-uid', message: 'must not be 0: the sidecar runs as a non-root user' })
    return undefined
  }
  return n
}
