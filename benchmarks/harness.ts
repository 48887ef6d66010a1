/** What every benchmark script shares: starting the pieces as processes, and recording results. */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

export const HERE = path.dirname(fileURLToPath(import.meta.url))
export const ROOT = path.join(HERE, '..')

/** Starts a node process and waits for the first JSON stdout line `pick` finds a URL in. */
export async function startProcess(
  args: string[],
  pick: (line: any) => string | undefined,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: child.stdout! })
  for await (const line of lines) {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      continue
    }
    const url = pick(parsed)
    if (url) {
      lines.removeAllListeners('line')
      child.stdout!.resume()
      return { url, child }
    }
  }
  throw new Error(`${args.join(' ')} exited before it was ready`)
}

/** `faultline sidecar` in front of `upstream`, on free ports; resolves once it is listening. */
export async function startSidecarProcess(
  upstream: string,
  extra: string[] = [],
): Promise<{ proxy: string; admin: string; child: ChildProcess }> {
  let admin = ''
  const { url, child } = await startProcess(
    [
      path.join(ROOT, 'bin/faultline.js'),
      'sidecar',
      '--upstream',
      upstream,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      ...extra,
    ],
    (l) => {
      if (l.msg !== 'sidecar listening') return undefined
      admin = l.admin
      return l.proxy
    },
  )
  return { proxy: url, admin, child }
}

/** One line naming the machine, for the top of a recorded table. */
export function machine(): string {
  return `Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, ${os.platform()} ${os.release()}`
}

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in benchmarks/README.md. */
export function recordSection(name: string, text: string): void {
  const file = path.join(HERE, 'README.md')
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const before = readFileSync(file, 'utf8')
  if (!before.includes(start)) throw new Error(`benchmarks/README.md has no ${start} marker`)
  writeFileSync(file, before.replace(new RegExp(`${start}[\\s\\S]*${end}`), `${start}\n${text}\n${end}`))
  process.stderr.write(`recorded in ${path.relative(process.cwd(), file)}\n`)
}
