/**
 * The load targets the benchmark passes share: how each is started in front of the origin (on
 * a given core) and whether it can run here. The rows of each table pick from these.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import { HERE, putRules, running, type Running, startProcess, startSidecarProcess, stopProcess } from '../harness.ts'

export interface Target {
  name: string
  /** Why this target cannot run on this machine, or undefined when it can. */
  unavailable?(): string | undefined
  /** Starts the target in front of `origin`, on core `cpu` when given. */
  start(origin: Running, cpu?: number): Promise<Running>
}

/** `faultline sidecar` as its own process, with `rules` loaded through the admin API. */
export function faultlineTarget(name: string, rules: unknown[]): Target {
  return {
    name,
    async start(origin, cpu) {
      const { proxy, admin, child } = await startSidecarProcess(origin.url, [], { cpu })
      try {
        await putRules(admin, rules)
      } catch (err) {
        await stopProcess(child)
        throw err
      }
      return running(proxy, child)
    },
  }
}

/** A node script under benchmarks/targets/ that prints {"url"} when it listens. */
export function nodeTarget(name: string, script: string, args: string[] = [], nodeFlags: string[] = []): Target {
  return {
    name,
    async start(origin, cpu) {
      const { url, child } = await startProcess(
        [...nodeFlags, path.join(HERE, 'targets', script), origin.url, ...args],
        (l) => l.url,
        { cpu },
      )
      return running(url, child)
    },
  }
}

export function toxyUnavailable(): string | undefined {
  try {
    createRequire(import.meta.url).resolve('toxy')
    return undefined
  } catch (err) {
    return `the toxy package is not installed (${(err as Error).message.split('\n')[0]})`
  }
}

/** toxy with a latency poison of `latencyMs`, or (without) its no-op pass-through. */
export function toxyTarget(name: string, latencyMs?: number): Target {
  // --no-deprecation: toxy's dependencies use util._extend, which Node 24 warns about on stderr.
  return {
    ...nodeTarget(name, 'toxy.ts', latencyMs === undefined ? [] : [String(latencyMs)], ['--no-deprecation']),
    unavailable: toxyUnavailable,
  }
}
