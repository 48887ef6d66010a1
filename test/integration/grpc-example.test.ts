/**
 * examples/grpc end to end: the gRPC example system and its experiment, run as
 * `npm run demo:grpc` runs them. The verdict is the documented one (pass): the retry policy
 * absorbs 10% UNAVAILABLE, while echo's sidecar really injected and counted them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { ProcessRegistry } from '../../controller/drivers/local/supervisor.ts'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { startGrpcSystem } from '../../examples/grpc/system.ts'
import { parseExperiment } from '../../src/experiments/document.ts'
import { silentLogger } from '../../src/log.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-grpc-example-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('10% UNAVAILABLE on echo, retried by the client: the experiment passes and the faults landed', async () => {
  const system = await startGrpcSystem()
  try {
    const file = path.resolve(import.meta.dirname, '../../examples/grpc/unavailable-retried.yaml')
    const experiment = parseExperiment(readFileSync(file, 'utf8'), system.vars, file)
    const result = await runExperiment(experiment, {
      dataDir: dir,
      registry: new ProcessRegistry(),
      logger: silentLogger(),
    })
    expect(result.verdict, result.reason).toBe('pass')
    const metrics = await (await fetch(`${system.vars.ECHO_ADMIN}/metrics`)).text()
    // The injected attempts, by the status the clients saw (the rule is gone, its own series too).
    expect(metrics).toMatch(/faultline_requests_total\{[^}]*fault="abort",grpc_code="Unavailable"\} [1-9]/)
  } finally {
    await system.close()
  }
}, 60_000)
