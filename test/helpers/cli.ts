/**
 * Runs the real `faultline` CLI (bin/faultline.js) as a child process and collects its output:
 * what a user at a shell sees, exit code included.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'

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

/**
 * `faultline controller` as its own process (so a test can SIGKILL it), on port 0; resolves to its
 * URL from the "controller listening" log line. The caller kills what it started (`child`).
 */
export async function startControllerProcess(
  dataDir: string,
  extra: string[] = [],
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'controller', '--listen', '127.0.0.1:0', '--data', dataDir, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    for await (const line of readline.createInterface({ input: child.stdout })) {
      const entry = JSON.parse(line)
      if (entry.msg === 'controller listening') {
        child.stdout.resume()
        return { child, url: entry.url }
      }
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  throw new Error('controller exited before listening')
}
