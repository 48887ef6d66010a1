/**
 * `faultline capture`: the init container that redirects a pod's inbound app ports to its
 * sidecar (docs/capture.md). Bad flags throw FL_ERR_CONFIG_INVALID; an iptables failure throws
 * with iptables' own stderr; both end the process non-zero through the CLI's error handler, so
 * the pod does not start half-captured.
 */
import { applyCapture, type CaptureDeps, systemDeps } from '../sidecar/capture/iptables.ts'
import { parseCaptureArgs } from '../sidecar/capture/options.ts'

export async function captureCommand(
  argv: string[],
  deps: CaptureDeps = systemDeps,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const options = parseCaptureArgs(argv)
  const result = await applyCapture(options, deps)
  if (options.dryRun) {
    // The dry run prints iptables-restore input: the lines starting with # are comments to it too.
    if (result.assumed) out.write(`# ${result.assumed}\n`)
    if (result.steps.length === 0) out.write('# nothing to do: no faultline chains in the nat table\n')
    for (const s of result.steps) out.write(`# ${s.command}\n${s.input}`)
    return 0
  }
  if (options.mode === 'uninstall') {
    out.write(
      result.steps.length === 0
        ? 'faultline capture: nothing to remove\n'
        : `faultline capture: removed (${result.steps.map((s) => `iptables-${s.backend}`).join(', ')})\n`,
    )
    return 0
  }
  const { spec } = options
  const excluded = new Set(spec.excludePorts)
  const captured = spec.appPorts.filter((p) => !excluded.has(p))
  out.write(
    `faultline capture: inbound TCP to ${captured.length ? captured.join(',') : '(no ports)'} -> ${spec.proxyPort}` +
      `${spec.excludePorts.length ? `, excluded ${spec.excludePorts.join(',')}` : ''}` +
      `, uid ${spec.sidecarUid} exempt (iptables-${result.backend})\n`,
  )
  // Every app port excluded is a legal configuration (the pod runs, nothing is captured), but
  // almost certainly not what was meant; say so where the init container's log shows it.
  if (captured.length === 0)
    process.stderr.write('faultline capture: warning: every app port is excluded, no traffic is captured\n')
  return 0
}
