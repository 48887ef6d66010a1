/**
 * Applies the capture rules (rules.ts) with the system's iptables: reads the nat table with
 * iptables-save, builds one iptables-restore --noflush input, and applies it in one go (one
 * table commit, so a pod never sees half a capture).
 *
 * Backend: Debian ships iptables in two flavours over two kernel interfaces, nf_tables
 * (iptables-nft) and x_tables (iptables-legacy). Rules in one are invisible to the other's
 * tools, so the binaries are named explicitly rather than trusting the `iptables` alternative.
 * nft is the default (as for Linkerd's proxy-init); legacy is used when nft is unusable in this
 * kernel, or when another tool in the pod already put its rules in legacy (iptables-nft-save
 * warns about those), so that both sets of rules live in one table where their order is defined.
 */
import { errors } from '../../src/errors.ts'
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import type { CaptureOptions } from './options.ts'
import {
  CHAIN_PREFIX,
  hasForeignRules,
  INBOUND_CHAIN,
  installInput,
  type NatTable,
  OUTPUT_CHAIN,
  parseNatTable,
  uninstallInput,
} from './rules.ts'

export interface ExecResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a program with optional stdin; rejects only when it cannot be started or times out. */
export type Exec = (file: string, args: string[], input?: string) => Promise<ExecResult>

/** Finds a program by name (absolute path), or undefined. */
export type Lookup = (name: string) => string | undefined

export type BackendName = 'nft' | 'legacy'

export interface Backend {
  name: BackendName
  save: string
  restore: string
}

export interface CaptureDeps {
  exec: Exec
  lookup: Lookup
}

export interface CaptureStep {
  backend: BackendName
  /** The command, as it would be typed, that takes `input` on stdin. */
  command: string
  input: string
}

export interface CaptureResult {
  /** The restore runs, in order (empty when there was nothing to do). */
  steps: CaptureStep[]
  /** The backend that holds the capture after an install. */
  backend?: BackendName
  /** Why the plan was made without reading the table (dry runs only), for the printed output. */
  assumed?: string
}

/** iptables-nft-save prints this when the legacy backend has tables in the same namespace. */
const LEGACY_PRESENT = /iptables-legacy tables present/

/** iptables-restore's lock wait (seconds): legacy serialises writers on /run/xtables.lock. */
const LOCK_WAIT = '5'

/** Where iptables lives on Debian when PATH (e.g. a minimal image's) leaves out the sbin dirs. */
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin']

export const systemDeps: CaptureDeps = { exec: execFile, lookup: lookupInPath }

export async function applyCapture(options: CaptureOptions, deps: CaptureDeps = systemDeps): Promise<CaptureResult> {
  const backends = findBackends(deps.lookup)
  if (backends.length === 0) {
    if (options.dryRun) return assumedPlan(options, 'nft', 'no iptables binary found on this machine')
    throw errors.FL_ERR_CAPTURE(
      'no iptables found: looked for iptables-nft-save/iptables-nft-restore and iptables-legacy-save/' +
        `iptables-legacy-restore in PATH and ${SBIN.join(', ')} (the capture init container's image needs them)`,
    )
  }
  const tables = await readTables(backends, deps.exec)
  const readable = tables.filter((t): t is ReadTable => 'table' in t)
  if (readable.length === 0) {
    const why = tables.map((t) => ('error' in t ? t.error.message : '')).join('; ')
    if (options.dryRun) return assumedPlan(options, backends[0]!.name, `cannot read the nat table (${why})`)
    throw errors.FL_ERR_CAPTURE(`cannot read the nat table: ${why}`, { cause: (tables[0] as FailedTable).error })
  }
  const steps: CaptureStep[] = []
  let chosen: ReadTable | undefined
  if (options.mode === 'install') {
    chosen = choose(readable)
    steps.push(step(chosen.backend, installInput(options.spec, chosen.table)))
    // A capture left in the other backend (by an older run that chose differently) would
    // redirect twice over; it goes in the same run.
    for (const other of readable) {
      const input = other === chosen ? undefined : uninstallInput(other.table)
      if (input) steps.push(step(other.backend, input))
    }
  } else {
    for (const t of readable) {
      const input = uninstallInput(t.table)
      if (input) steps.push(step(t.backend, input))
    }
  }
  if (!options.dryRun)
    for (const s of steps) {
      const backend = backends.find((b) => b.name === s.backend)!
      const r = await deps.exec(backend.restore, ['--noflush', '-w', LOCK_WAIT], s.input)
      if (r.code !== 0) throw errors.FL_ERR_CAPTURE(failure(path.basename(backend.restore), r, s.input))
    }
  return { steps, backend: chosen?.backend.name }
}

/** The backends whose save and restore binaries both exist, nft first. */
export function findBackends(lookup: Lookup): Backend[] {
  const out: Backend[] = []
  for (const name of ['nft', 'legacy'] as const) {
    const save = lookup(`iptables-${name}-save`)
    const restore = lookup(`iptables-${name}-restore`)
    if (save && restore) out.push({ name, save, restore })
  }
  return out
}

interface ReadTable {
  backend: Backend
  table: NatTable
  raw: string
}
interface FailedTable {
  backend: Backend
  error: Error
}

/**
 * Reads nft's nat table, and legacy's only when it matters (nft unusable, or nft reports legacy
 * tables in this namespace): merely listing legacy's nat table creates it, and iptables-nft then
 * warns about it in every listing.
 */
async function readTables(backends: Backend[], exec: Exec): Promise<(ReadTable | FailedTable)[]> {
  const out: (ReadTable | FailedTable)[] = []
  for (const backend of backends) {
    const previous = out.at(-1)
    if (backend.name === 'legacy' && previous && 'raw' in previous && !LEGACY_PRESENT.test(previous.raw)) break
    const r = await exec(backend.save, ['-t', 'nat'])
    if (r.code === 0) out.push({ backend, table: parseNatTable(r.stdout), raw: r.stdout + r.stderr })
    else out.push({ backend, error: new Error(failure(path.basename(backend.save), r)) })
  }
  return out
}

/** nft unless only legacy can be read, or other tools' rules are in legacy and none in nft. */
function choose(readable: ReadTable[]): ReadTable {
  const nft = readable.find((t) => t.backend.name === 'nft')
  const legacy = readable.find((t) => t.backend.name === 'legacy')
  if (!nft) return legacy!
  if (legacy && hasForeignRules(legacy.table) && !hasForeignRules(nft.table)) return legacy
  return nft
}

function step(backend: Backend, input: string): CaptureStep {
  return { backend: backend.name, command: `${path.basename(backend.restore)} --noflush -w ${LOCK_WAIT}`, input }
}

/**
 * A dry run that cannot read the table (not root, no iptables here) still shows the rules:
 * an install as into a fresh pod namespace, an uninstall as of what this version installs.
 */
function assumedPlan(options: CaptureOptions, backend: BackendName, why: string): CaptureResult {
  const fresh: NatTable = { chains: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'], rules: [] }
  const installed: NatTable = {
    chains: [...fresh.chains, INBOUND_CHAIN, OUTPUT_CHAIN],
    rules: [
      { chain: 'PREROUTING', spec: `-p tcp -j ${INBOUND_CHAIN}` },
      { chain: 'OUTPUT', spec: `-p tcp -j ${OUTPUT_CHAIN}` },
    ],
  }
  const input = options.mode === 'install' ? installInput(options.spec, fresh) : uninstallInput(installed)!
  return {
    steps: [{ backend, command: `iptables-${backend}-restore --noflush -w ${LOCK_WAIT}`, input }],
    backend: options.mode === 'install' ? backend : undefined,
    assumed:
      options.mode === 'install'
        ? `${why}; showing the rules for a namespace without any ${CHAIN_PREFIX} chains`
        : `${why}; showing the removal of what faultline capture installs`,
  }
}

function failure(program: string, r: ExecResult, input?: string): string {
  const what = r.code === null ? 'was killed' : `exited ${r.code}`
  const detail = r.stderr.trim() || r.stdout.trim() || '(no output)'
  // iptables-restore names the failing line by number; the numbered input makes that readable.
  const numbered = input
    ?.trimEnd()
    .split('\n')
    .map((l, i) => `  ${String(i + 1).padStart(3)}  ${l}`)
    .join('\n')
  return `${program} ${what}: ${detail}${numbered ? `\ninput:\n${numbered}` : ''}`
}

function lookupInPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SBIN]
  for (const dir of dirs) {
    const file = path.join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // Not in this directory (or not executable): try the next one.
      continue
    }
  }
  return undefined
}

/** Runs a program to completion; 30 s is far beyond any nat table a pod has. */
function execFile(file: string, args: string[], input?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.once('error', (err) => reject(new Error(`cannot run ${file}: ${err.message}`, { cause: err })))
    child.once('close', (code) => resolve({ code, stdout, stderr }))
    // A program that exits before reading stdin makes the write fail with EPIPE; its exit
    // status and stderr (reported by 'close') say why, so that write error adds nothing.
    child.stdin.once('error', () => undefined)
    child.stdin.end(input ?? '')
  })
}
