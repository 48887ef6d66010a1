/**
 * Local processes that faultline starts and supervises: start, wait for readiness, restart by
 * policy, and kill on purpose with the recovery time measured (kill -> ready again).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import type { ProcessSpec } from '../../../src/experiments/schema.ts'

const DEFAULT_READY_TIMEOUT_MS = 10_000
const DEFAULT_READY_INTERVAL_MS = 100
const DEFAULT_RESTART_DELAY_MS = 200

export interface KillResult {
  process: string
  signal: NodeJS.Signals
  pid: number | undefined
  killedAt: number
  /** ms from the kill to ready again; undefined when it did not come back in time. */
  recoveryMs: number | undefined
}

/** True when ready; otherwise why not (kept for the error a start that never gets ready raises). */
async function probe(url: string): Promise<true | string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
    await res.arrayBuffer()
    return (res.status >= 200 && res.status < 300) || `answered ${res.status}`
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    return e.cause?.code ?? e.message
  }
}

export class SupervisedProcess extends EventEmitter {
  readonly spec: ProcessSpec
  #child: ChildProcess | undefined
  #stopping = false
  #restarts = 0
  #log: WriteStream | undefined
  #restartTimer: NodeJS.Timeout | undefined
  #lastError: Error | undefined
  #notReady = 'no answer yet'

  constructor(spec: ProcessSpec, logDir?: string) {
    super()
    this.spec = spec
    if (logDir) {
      mkdirSync(logDir, { recursive: true })
      this.#log = createWriteStream(path.join(logDir, `${spec.name}.log`), { flags: 'a' })
    }
  }

  get name(): string {
    return this.spec.name
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  get restarts(): number {
    return this.#restarts
  }

  get running(): boolean {
    const c = this.#child
    // A child that never started has no pid, and no exit code either.
    return c !== undefined && c.pid !== undefined && c.exitCode === null && c.signalCode === null
  }

  /** Why the last start or restart failed, if it did (also written to the process's log). */
  get lastError(): Error | undefined {
    return this.#lastError
  }

  /** Starts the process and resolves once it is ready (or at once, with no readiness URL). */
  async start(): Promise<void> {
    this.#stopping = false
    await this.#spawn()
    if (!(await this.waitReady()))
      throw new Error(
        `process ${this.name} did not become ready at ${this.spec.readiness?.url} (last probe: ${this.#notReady})`,
      )
  }

  /**
   * Resolves once the child runs; rejects when it cannot start (no such program, not
   * executable, bad cwd). Such a failure must never surface as an unhandled 'error' event:
   * that would take the whole runner, or the controller, down with it.
   */
  #spawn(): Promise<void> {
    const [cmd, ...args] = this.spec.command!
    const child = spawn(cmd!, args, {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.on('error', (err) => {
        const e = new Error(
          `process ${this.name}: ${child.pid === undefined ? `cannot start ${cmd}` : 'error'}: ${err.message}`,
          {
            cause: err,
          },
        )
        this.#lastError = e
        this.#log?.write(`[faultline] ${e.message}\n`)
        reject(e)
      })
    })
    if (this.#log) {
      child.stdout!.pipe(this.#log, { end: false })
      child.stderr!.pipe(this.#log, { end: false })
    } else {
      child.stdout!.resume()
      child.stderr!.resume()
    }
    child.once('exit', (code, signal) => {
      this.emit('exit', { code, signal })
      if (this.#stopping) return
      const policy = this.spec.restart?.policy ?? 'never'
      if (policy === 'always' || (policy === 'on-failure' && code !== 0)) {
        this.#restartTimer = setTimeout(() => {
          this.#restarts++
          this.emit('restart', this.#restarts)
          // A restart that cannot start is recorded in lastError and the log; kill() then
          // reports no recovery, which is what happened.
          this.#spawn().catch((err: Error) => this.emit('restart-failed', err))
        }, this.spec.restart?.delay ?? DEFAULT_RESTART_DELAY_MS)
      }
    })
    return spawned
  }

  /** Polls the readiness URL until it answers 2xx or the timeout passes. */
  async waitReady(timeoutMs = this.spec.readiness?.timeout ?? DEFAULT_READY_TIMEOUT_MS): Promise<boolean> {
    const readiness = this.spec.readiness
    if (!readiness) return this.running
    const deadline = Date.now() + timeoutMs
    const interval = readiness.interval ?? DEFAULT_READY_INTERVAL_MS
    while (Date.now() < deadline) {
      const answer = await probe(readiness.url)
      if (answer === true) return true
      this.#notReady = answer
      await new Promise((r) => setTimeout(r, interval))
    }
    return false
  }

  /** Kills the process on purpose and measures how long it takes to be ready again. */
  async kill(signal: NodeJS.Signals, recoverWithinMs: number): Promise<KillResult> {
    const pid = this.#child?.pid
    const exited = new Promise<void>((resolve) => {
      if (!this.running) resolve()
      else this.#child!.once('exit', () => resolve())
    })
    const killedAt = Date.now()
    this.#child?.kill(signal)
    await exited
    const policy = this.spec.restart?.policy ?? 'never'
    if (policy === 'never') return { process: this.name, signal, pid, killedAt, recoveryMs: undefined }
    // Wait for the supervisor's restart, then for readiness.
    const deadline = killedAt + recoverWithinMs
    while (!this.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const ready = this.running && (await this.waitReady(Math.max(0, deadline - Date.now())))
    return { process: this.name, signal, pid, killedAt, recoveryMs: ready ? Date.now() - killedAt : undefined }
  }

  /** Restarts on request: stop, then start again and wait for readiness. */
  async restart(): Promise<number> {
    const t0 = Date.now()
    await this.stop()
    await this.start()
    return Date.now() - t0
  }

  async stop(): Promise<void> {
    this.#stopping = true
    clearTimeout(this.#restartTimer)
    const child = this.#child
    if (!child || !this.running) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const forced = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(forced)
  }

  async close(): Promise<void> {
    await this.stop()
    await new Promise<void>((resolve) => (this.#log ? this.#log.end(() => resolve()) : resolve()))
  }
}

/** The processes a run can act on: those its experiment starts and those the host registered. */
export class ProcessRegistry {
  readonly #byName = new Map<string, SupervisedProcess>()

  register(p: SupervisedProcess): void {
    this.#byName.set(p.name, p)
  }

  get(name: string): SupervisedProcess | undefined {
    return this.#byName.get(name)
  }

  unregister(name: string): void {
    this.#byName.delete(name)
  }
}
