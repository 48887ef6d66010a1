/**
 * Runs the real `faultline` CLI (bin/faultline.js) as a child process and collects its output:
 * what a user at a shell sees, exit code included.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const BIN = path.join(ROOT, 'bin/faultline.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
  /** stdout and stderr interleaved as they arrived. */
  out: string
}

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let out = ''
  child.stdout.on('data', (d) => ((stdout += d), (out += d)))
  child.stderr.on('data', (d) => ((stderr += d), (out += d)))
  return new Promise((resolve, reject) => {
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL')
            reject(new Error(`faultline ${args.join(' ')} still running after ${opts.timeoutMs} ms\n${out}`))
          }, opts.timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, out })
    })
  })
}
