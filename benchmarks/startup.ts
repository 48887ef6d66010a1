/**
 * Startup to ready: the time from spawning `faultline sidecar` to its `/readyz` answering 200
 * (upstream reachable, rules loaded), the median of several starts, next to the floors a Node
 * proxy cannot go under: the hand-written node:http + undici proxy answering its first proxied
 * request, and `node -e ''` starting and exiting. Ports are chosen before the spawn, so polling
 * (every 2 ms, from the load core) starts at once and does not wait for a log line.
 *
 *   npm run bench:startup                 # or: npm run bench -- --startup
 *   npm run bench:startup -- --record     # and write it into benchmarks/README.md
 *
 * Environment: BENCH_STARTUP_RUNS (default 5).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from '../controller/drivers/local/ports.ts'
import {
  describePinning,
  HERE,
  loadAverage,
  machine,
  median,
  nonMatchingRules,
  pinning,
  pinSelf,
  ROOT,
  rssMiB,
  spawnPinned,
  startOrigin,
  stopProcess,
  waitForHttp,
} from './harness.ts'

export interface StartupOptions {
  runs: number
}

interface Case {
  name: string
  /** node arguments, and the URL that answers 200 once the process is ready (none: wait for exit). */
  prepare(origin: string): Promise<{ args: string[]; readyUrl?: string }>
}

export interface StartupRow {
  name: string
  ms: number[]
  rssMiB: number[]
}

export interface StartupResult {
  opts: StartupOptions
  rows: StartupRow[]
  pinned: string
  loadAverage: string
}

function sidecarCase(name: string, rulesFile?: string): Case {
  return {
    name,
    async prepare(origin) {
      const [listen, admin] = [await freePort(), await freePort()]
      return {
        args: [
          path.join(ROOT, 'bin/faultline.js'),
          'sidecar',
          '--upstream',
          origin,
          '--listen',
          `127.0.0.1:${listen}`,
          '--admin',
          `127.0.0.1:${admin}`,
          ...(rulesFile ? ['--rules', rulesFile] : []),
        ],
        readyUrl: `http://127.0.0.1:${admin}/readyz`,
      }
    },
  }
}

export async function runStartup(opts: StartupOptions): Promise<StartupResult> {
  const pin = pinning()
  const la = loadAverage()
  const restore = pin ? pinSelf(pin.load) : () => {}
  const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-startup-'))
  const rulesFile = path.join(dir, 'rules.json')
  writeFileSync(rulesFile, JSON.stringify({ rules: nonMatchingRules(100) }))
  const cases: Case[] = [
    sidecarCase('faultline sidecar, no rules: spawn to /readyz 200'),
    sidecarCase('faultline sidecar, --rules file of 100 rules: spawn to /readyz 200', rulesFile),
    {
      name: 'node:http + undici proxy: spawn to first proxied 200',
      async prepare(origin) {
        const port = await freePort()
        return {
          args: [path.join(HERE, 'targets/node-undici.ts'), origin, String(port)],
          readyUrl: `http://127.0.0.1:${port}/`,
        }
      },
    },
    { name: "node -e '': spawn to exit", prepare: async () => ({ args: ['-e', ''] }) },
  ]
  const rows: StartupRow[] = cases.map((c) => ({ name: c.name, ms: [], rssMiB: [] }))
  const origin = await startOrigin(pin?.load)
  try {
    // One unrecorded start per case first, so every recorded one finds the files in the page cache.
    for (let run = -1; run < opts.runs; run++) {
      for (const [i, c] of cases.entries()) {
        const { args, readyUrl } = await c.prepare(origin.url)
        const t0 = performance.now()
        const child = spawnPinned(process.execPath, args, pin?.proxy, {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'inherit'],
        })
        const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(performance.now())))
        try {
          const readyAt = readyUrl
            ? await Promise.race([
                waitForHttp(readyUrl, 20_000, 2),
                exited.then(() => Promise.reject(new Error(`${c.name}: the process exited before it was ready`))),
              ])
            : await exited
          if (run < 0) continue
          rows[i]!.ms.push(readyAt - t0)
          if (readyUrl) rows[i]!.rssMiB.push(rssMiB(child.pid!))
        } finally {
          await stopProcess(child)
        }
      }
    }
  } finally {
    await origin.stop()
    rmSync(dir, { recursive: true, force: true })
    restore()
  }
  return { opts, rows, pinned: describePinning(pin), loadAverage: la }
}

export function render(r: StartupResult): string {
  return [
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
    `${r.opts.runs} starts per row (after one unrecorded start), readiness polled every 2 ms. ${r.pinned} Shared machine: 1-min load average ${r.loadAverage} at the start, so expect noise.`,
    '',
    '| what | median ms | min ms | max ms | RSS when ready MiB |',
    '|---|---:|---:|---:|---:|',
    ...r.rows.map(
      (row) =>
        `| ${row.name} | ${median(row.ms).toFixed(0)} | ${Math.min(...row.ms).toFixed(0)} | ${Math.max(...row.ms).toFixed(0)} | ${row.rssMiB.length ? median(row.rssMiB).toFixed(1) : ''} |`,
    ),
  ].join('\n')
}
