/** A controller on port 0 with its own data directory, and a small client for its API. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildController, type Controller, type ControllerOptions } from '../../controller/app.ts'
import { silentLogger } from '../../src/log.ts'
import { type JsonCall, jsonClient } from './http.ts'

export interface ControllerWorld {
  controller: Controller
  url: string
  dataDir: string
  api: JsonCall
  close(): Promise<void>
}

export async function startController(opts: Partial<ControllerOptions> = {}): Promise<ControllerWorld> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'faultline-controller-'))
  const controller = buildController({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    ...opts,
  })
  const url = await controller.start()
  const api = jsonClient(url)
  return {
    controller,
    url,
    dataDir,
    api,
    async close() {
      await controller.close()
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Polls GET /runs/:id until the run is no longer running. */
export async function waitForRun(c: ControllerWorld, runId: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { body } = await c.api('GET', `/runs/${runId}`)
    if (body.status && body.status !== 'running' && !c.controller.runs.active().some((r) => r.runId === runId))
      return body
    if (Date.now() > deadline) throw new Error(`run ${runId} still running`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
