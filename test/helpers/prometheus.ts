/** A real Prometheus (Debian package) on a random port, scraping the given targets every second. */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { expect } from 'vitest'
import { freePort } from '../../controller/drivers/local/ports.ts'

export interface Prometheus {
  url: string
  close(): Promise<void>
}

export async function startPrometheus(targets: string[]): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultline-prom-'))
  const config = path.join(dir, 'prometheus.yml')
  writeFileSync(
    config,
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: sidecars\n    static_configs: [{ targets: ${JSON.stringify(targets)} }]\n`,
  )
  const port = await freePort()
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  )
  const url = `http://127.0.0.1:${port}`
  const close = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    // Ready, and every target scraped at least once.
    await expect
      .poll(
        async () => {
          const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('sum(up)')}`).catch(() => undefined)
          if (!res?.ok) return -1
          const body = (await res.json()) as { data: { result: { value: [number, string] }[] } }
          return Number(body.data.result[0]?.value[1] ?? 0)
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe(targets.length)
  } catch (err) {
    await close()
    throw err
  }
  return { url, close }
}
