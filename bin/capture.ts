/**
 * `faultline capture`: the init container that redirects a pod's inbound app ports to its
 * sidecar (docs/capture.md). Bad flags throw FL_ERR_CONFIG_INVALID; an iptables failure throws
 * with iptables' own stderr; both end the process non-zero through the CLI's error handler, so
 * the pod does not start half-captured.
 */
import { applyCapture, type CaptureDeps, systemDeps } from '../sidecar/capture/iptables.ts'
import { parseCaptureArgs } from '../sidecar/capture/options.ts'
import { asUsageError, defineCommand, parseCommandLine, printHelp } from './usage.ts'

/** The flags sidecar/capture/options.ts parses (a contract with the injector), for --help. */
export const CAPTURE = defineCommand({
  command: 'capture',
  summary: "the pod's init step: redirect inbound TCP to the app's ports to the sidecar with iptables",
  flags: {
    'proxy-port': { type: 'string', value: 'P', help: "the sidecar's proxy port (required)" },
    'app-ports': {
      type: 'string',
      value: 'A[,B...]',
      help: "the app's ports whose inbound traffic is captured (required)",
    },
    'sidecar-uid': {
      type: 'string',
      value: 'UID',
      help: "the sidecar's uid; its own traffic is never captured (required)",
    },
    'exclude-ports': { type: 'string', value: 'X[,Y...]', help: 'app ports left uncaptured' },
    uninstall: { type: 'boolean', help: 'remove every faultline chain (the other flags are accepted and unused)' },
    'dry-run': { type: 'boolean', help: 'print the iptables-restore input, change nothing' },
  },
  notes: 'docs/capture.md. Runs as root with NET_ADMIN; exit 64 on a bad flag, 1 when iptables refuses.',
})

export async function captureCommand(
  argv: string[],
  deps: CaptureDeps = systemDeps,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  if (parseCommandLine(CAPTURE, argv, {}).help) return printHelp(CAPTURE, out)
  let options: ReturnType<typeof parseCaptureArgs>
  try {
    options = parseCaptureArgs(argv)
  } catch (err) {
    throw asUsageError('capture', err)
  }
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
