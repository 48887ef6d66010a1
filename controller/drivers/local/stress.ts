/**
 * CPU and memory stress on this machine. `faultline stress` runs it in its own process (so a
 * revert is a kill); CPU workers are threads that stay busy for `load` percent of every 100 ms
 * slot, memory is allocated and every page touched, then held until the duration ends.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

export interface StressOptions {
  cpu?: number
  /** Percent busy per worker, 1..100. */
  load?: number
  memoryBytes?: number
  durationMs: number
}

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }

export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(B|KiB|MiB|GiB|KB|MB|GB)$/.exec(text)
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : undefined
}

const WORKER = `
const { workerData } = require('node:worker_threads')
const slot = 100, busy = Math.max(1, Math.round(slot * workerData.load / 100))
const nap = new Int32Array(new SharedArrayBuffer(4))
const end = Date.now() + workerData.durationMs
let x = 0
while (Date.now() < end) {
  const t = Date.now()
  while (Date.now() - t < busy) x = (x + Math.sqrt(x + 1)) % 1e9
  if (busy < slot) Atomics.wait(nap, 0, 0, slot - busy)
}
`

/** Runs the stress in this process and resolves when the duration has passed. */
export async function runStress(opts: StressOptions): Promise<void> {
  let memory: Buffer | undefined
  if (opts.memoryBytes) {
    memory = Buffer.allocUnsafe(opts.memoryBytes)
    // Touch every page so the memory is really resident, not just reserved.
    for (let i = 0; i < memory.length; i += 4096) memory[i] = 1
  }
  const workers = Array.from(
    { length: opts.cpu ?? 0 },
    () => new Worker(WORKER, { eval: true, workerData: { load: opts.load ?? 100, durationMs: opts.durationMs } }),
  )
  await Promise.all([
    ...workers.map((w) => new Promise((resolve) => w.once('exit', resolve))),
    new Promise((resolve) => setTimeout(resolve, opts.durationMs)),
  ])
  if (memory) memory[0] = 0
}

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'faultline.js')

export interface StressProcess {
  child: ChildProcess
  /** Resolves once it exits (or failed to start): kill the child to revert early. */
  exited: Promise<void>
}

/**
 * Starts `faultline stress` as a child process; resolves once it runs, rejects (with the cause)
 * when it cannot start, so a failed spawn fails the step instead of an unhandled 'error' event.
 */
export async function spawnStress(opts: {
  cpu?: number
  load?: number
  memory?: string
  durationMs: number
}): Promise<StressProcess> {
  const args = [BIN, 'stress', '--duration', `${opts.durationMs}ms`]
  if (opts.cpu) args.push('--cpu', String(opts.cpu))
  if (opts.load) args.push('--load', String(opts.load))
  if (opts.memory) args.push('--memory', opts.memory)
  const child = spawn(process.execPath, args, { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.on('error', () => resolve()) // stays: a later 'error' must never go unhandled
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', (err) => reject(new Error(`cannot start the stress process: ${err.message}`, { cause: err })))
  })
  return { child, exited }
}
