/**
 * Traffic capture rules (pure): what `faultline capture` writes into a pod's nat table so that
 * inbound TCP for the app's ports reaches the sidecar's proxy port instead. Everything here is
 * text in, text out — the iptables-restore input is built from the spec and from the current
 * table (`iptables-save -t nat`), so the same code decides what a dry run prints and what a real
 * run applies. The runner (iptables.ts) does the I/O. docs/capture.md explains the design.
 *
 * Resulting nat table for `--proxy-port 15001 --app-ports 8080 --exclude-ports 9090 --sidecar-uid 65532`:
 *
 *   -A PREROUTING -p tcp -j FAULTLINE_INBOUND
 *   -A OUTPUT -p tcp -j FAULTLINE_OUTPUT
 *   -A FAULTLINE_INBOUND -p tcp -m tcp --dport 9090 -j RETURN
 *   -A FAULTLINE_INBOUND -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 15001
 *   -A FAULTLINE_OUTPUT -m owner --uid-owner 65532 -j RETURN
 *   -A FAULTLINE_OUTPUT -d 127.0.0.0/8 -j RETURN
 *   -A FAULTLINE_OUTPUT ! -o lo -j RETURN
 *   -A FAULTLINE_OUTPUT -j FAULTLINE_INBOUND
 */

/** Every chain faultline owns starts with this; install and uninstall treat them all as ours. */
export const CHAIN_PREFIX = 'FAULTLINE_'
export const INBOUND_CHAIN = 'FAULTLINE_INBOUND'
export const OUTPUT_CHAIN = 'FAULTLINE_OUTPUT'

export interface CaptureSpec {
  /** The sidecar's proxy listener port (it must listen on 0.0.0.0, see docs/capture.md). */
  proxyPort: number
  /** The app's ports whose inbound TCP goes through the sidecar. */
  appPorts: number[]
  /** The uid the sidecar runs as: its own connections are never redirected (the loop breaker). */
  sidecarUid: number
  /** Ports never redirected, even when listed in appPorts. */
  excludePorts: number[]
}

/** One rule as iptables-save prints it: the chain and the rest of the line after `-A CHAIN `. */
export interface NatRule {
  chain: string
  spec: string
}

/** The nat table as `iptables-save -t nat` shows it. */
export interface NatTable {
  /** Every chain declared in the table (built-in and user-defined), in order. */
  chains: string[]
  rules: NatRule[]
}

const BUILTIN_CHAINS = new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'])

export const isOwnChain = (chain: string): boolean => chain.startsWith(CHAIN_PREFIX)

/** The rules of faultline's chains and the jumps into them, in iptables-save's own spelling. */
export function captureRules(spec: CaptureSpec): { chains: Map<string, string[]>; jumps: NatRule[] } {
  const excluded = new Set(spec.excludePorts)
  const inbound = [
    // Excluded ports first, so a port listed in both places is never redirected.
    ...unique(spec.excludePorts).map((p) => `-p tcp -m tcp --dport ${p} -j RETURN`),
    ...unique(spec.appPorts)
      .filter((p) => !excluded.has(p))
      .map((p) => `-p tcp -m tcp --dport ${p} -j REDIRECT --to-ports ${spec.proxyPort}`),
  ]
  const output = [
    // The sidecar's own connections (its upstream calls) are never redirected, or they would
    // come straight back to it. This is what makes an upstream on the pod IP safe.
    `-m owner --uid-owner ${spec.sidecarUid} -j RETURN`,
    // Loopback stays internal to the pod: the sidecar's upstream (127.0.0.1:<app port>) and
    // the app's calls to itself on 127.0.0.1 are not inbound traffic.
    '-d 127.0.0.0/8 -j RETURN',
    // Anything leaving the pod is outbound, which faultline does not capture.
    '! -o lo -j RETURN',
    // What is left is a process in the pod calling the pod's own IP: treated like inbound.
    `-j ${INBOUND_CHAIN}`,
  ]
  return {
    chains: new Map([
      [INBOUND_CHAIN, inbound],
      [OUTPUT_CHAIN, output],
    ]),
    jumps: [
      { chain: 'PREROUTING', spec: `-p tcp -j ${INBOUND_CHAIN}` },
      { chain: 'OUTPUT', spec: `-p tcp -j ${OUTPUT_CHAIN}` },
    ],
  }
}

/**
 * Parses the nat table out of iptables-save output (other tables and comments are ignored;
 * an absent nat table is an empty one, as in a network namespace nothing has touched yet).
 */
export function parseNatTable(saveOutput: string): NatTable {
  const table: NatTable = { chains: [], rules: [] }
  let inNat = false
  for (const raw of saveOutput.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('*')) inNat = line === '*nat'
    else if (!inNat || line === '' || line.startsWith('#')) continue
    else if (line === 'COMMIT') inNat = false
    else if (line.startsWith(':')) table.chains.push(line.slice(1).split(/\s+/)[0]!)
    else if (line.startsWith('-A ')) {
      const rest = line.slice(3)
      const space = rest.indexOf(' ')
      table.rules.push(
        space < 0 ? { chain: rest, spec: '' } : { chain: rest.slice(0, space), spec: rest.slice(space + 1) },
      )
    }
  }
  return table
}

/** The jump target of a rule (`-j X` or `-g X`), if any. */
function targetOf(spec: string): string | undefined {
  return /(?:^|\s)-[jg]\s+(\S+)/.exec(spec)?.[1]
}

/** True when the table holds anything faultline put there. */
export function hasCapture(table: NatTable): boolean {
  return (
    table.chains.some(isOwnChain) || table.rules.some((r) => isOwnChain(r.chain) || isOwnChain(targetOf(r.spec) ?? ''))
  )
}

/** True when some other tool has rules or chains in this nat table. */
export function hasForeignRules(table: NatTable): boolean {
  const ownTarget = (r: NatRule) => isOwnChain(targetOf(r.spec) ?? '')
  return (
    table.chains.some((c) => !BUILTIN_CHAINS.has(c) && !isOwnChain(c)) ||
    table.rules.some((r) => !isOwnChain(r.chain) && !ownTarget(r))
  )
}

/**
 * The iptables-restore --noflush input that turns `current` into a table with exactly one copy
 * of the capture: each of faultline's chains is declared (which creates it, or flushes it when
 * it exists) and refilled; a jump already in place is kept, duplicates and jumps into
 * faultline's chains that this version does not make are deleted, missing ones are appended;
 * chains with the prefix that this version does not use are removed. Running it on its own
 * result changes nothing, which is what makes a restarted init container safe.
 */
export function installInput(spec: CaptureSpec, current: NatTable): string {
  const { chains, jumps } = captureRules(spec)
  const wanted = new Map(jumps.map((j) => [key(j), j]))
  const kept = new Set<string>()
  const deletes: string[] = []
  for (const rule of current.rules) {
    if (isOwnChain(rule.chain) || !isOwnChain(targetOf(rule.spec) ?? '')) continue
    const k = key(rule)
    if (wanted.has(k) && !kept.has(k)) kept.add(k)
    else deletes.push(`-D ${rule.chain} ${rule.spec}`)
  }
  const stale = current.chains.filter((c) => isOwnChain(c) && !chains.has(c))
  const lines = [
    '*nat',
    ...[...chains.keys()].map((c) => `:${c} - [0:0]`),
    // Stale chains are flushed before any chain is deleted: one may still jump to another.
    ...stale.map((c) => `-F ${c}`),
    ...deletes,
    ...stale.map((c) => `-X ${c}`),
    ...[...chains].flatMap(([chain, rules]) => rules.map((r) => `-A ${chain} ${r}`)),
    ...jumps.filter((j) => !kept.has(key(j))).map((j) => `-A ${j.chain} ${j.spec}`),
    'COMMIT',
  ]
  return lines.join('\n') + '\n'
}

/**
 * The iptables-restore --noflush input that removes every trace of faultline from `current`
 * (the jumps into its chains, then the chains), or undefined when there is nothing to remove.
 */
export function uninstallInput(current: NatTable): string | undefined {
  if (!hasCapture(current)) return undefined
  const own = current.chains.filter(isOwnChain)
  const jumps = current.rules.filter((r) => !isOwnChain(r.chain) && isOwnChain(targetOf(r.spec) ?? ''))
  const lines = [
    '*nat',
    ...jumps.map((r) => `-D ${r.chain} ${r.spec}`),
    // Flush all before deleting any: FAULTLINE_OUTPUT jumps to FAULTLINE_INBOUND.
    ...own.map((c) => `-F ${c}`),
    ...own.map((c) => `-X ${c}`),
    'COMMIT',
  ]
  return lines.join('\n') + '\n'
}

const key = (r: NatRule) => `${r.chain} ${r.spec}`

function unique(ports: number[]): number[] {
  return [...new Set(ports)]
}
