import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runStress } from '../../controller/drivers/local/stress.ts'
import { SupervisedProcess } from '../../controller/drivers/local/supervisor.ts'
import { freePort } from '../../controller/drivers/local/ports.ts'

const SERVICE = path.resolve(import.meta.dirname, '../../examples/service.ts')
const BIN = path.resolve(import.meta.dirname, '../../bin/faultline.js')
const owned: SupervisedProcess[] = []
afterEach(async () => {
  for (const p of owned.splice(0)) await p.close()
})

async function service(policy: 'never' | 'always') {
  const port = await freePort()
  const p = new SupervisedProcess({
    name: 'svc',
    command: [process.execPath, SERVICE],
    env: { NAME: 'inventory', PORT: String(port) },
    readiness: { url: `http://127.0.0.1:${port}/healthz`, timeout: 10_000, interval: 20 },
    restart: { policy, delay: 50 },
  })
  owned.push(p)
  await p.start()
  return { p, url: `http://127.0.0.1:${port}` }
}

describe('local processes', () => {
  it('kill with restart policy always: restarted, and the recovery time is measured', async () => {
    const { p, url } = await service('always')
    const pid = p.pid
    const r = await p.kill('SIGKILL', 10_000)
    expect(r.recoveryMs).toBeGreaterThanOrEqual(50)
    expect(r.recoveryMs).toBeLessThan(10_000)
    expect(p.pid).not.toBe(pid)
    expect(p.restarts).toBe(1)
    expect((await fetch(url + '/healthz')).status).toBe(200)
  })

  it('kill with restart policy never: stays down, no recovery time', async () => {
    const { p } = await service('never')
    const r = await p.kill('SIGTERM', 1000)
    expect(r.recoveryMs).toBeUndefined()
    expect(p.running).toBe(false)
  })

  it('restart on request waits for readiness', async () => {
    const { p, url } = await service('never')
    const pid = p.pid
    const ms = await p.restart()
    expect(p.pid).not.toBe(pid)
    expect(ms).toBeGreaterThan(0)
    expect((await fetch(url + '/healthz')).status).toBe(200)
  })
})

describe('stress', () => {
  it('keeps CPU workers busy for the duration', async () => {
    const before = process.cpuUsage()
    const t0 = performance.now()
    await runStress({ cpu: 1, load: 100, durationMs: 600 })
    const wall = performance.now() - t0
    const cpuMs = (process.cpuUsage(before).user + process.cpuUsage(before).system) / 1000
    expect(wall).toBeGreaterThanOrEqual(590)
    expect(cpuMs).toBeGreaterThan(400)
  })

  it('faultline stress holds the memory it was asked for, then exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'stress', '--memory', '128MiB', '--duration', '3s'], {
      stdio: 'ignore',
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const rssKiB = () => {
      try {
        return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0)
      } catch {
        return 0
      }
    }
    await expect.poll(rssKiB, { timeout: 5000, interval: 50 }).toBeGreaterThan(128 * 1024)
    expect(await exited).toBe(0)
  })

  it('faultline stress names bad flags', async () => {
    const child = spawn(process.execPath, [BIN, 'stress', '--cpu', '0', '--memory', 'lots'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(64)
    expect(err).toContain('--cpu')
    expect(err).toContain('--memory')
    expect(err).toContain('--duration')
  })
})

describe('programs that cannot start', () => {
  it('start() rejects with the reason; the failure is never an unhandled error event', async () => {
    const p = new SupervisedProcess({ name: 'ghost', command: ['/nonexistent/faultline-test-program'] })
    owned.push(p)
    await expect(p.start()).rejects.toThrow(
      /process ghost: cannot start \/nonexistent\/faultline-test-program: .*ENOENT/,
    )
    expect(p.running).toBe(false)
    expect(p.lastError?.message).toMatch(/ENOENT/)
  })

  it('a run whose process target cannot start ends errored with the reason, instead of taking the runner down', async () => {
    const { runExperiment } = await import('../../controller/experiments/runner.ts')
    const { dataDir, experiment } = await import('../helpers/experiment.ts')
    const x = experiment({
      targets: { app: { processes: [{ name: 'ghost', command: ['/nonexistent/faultline-test-program'] }] } },
      hypothesis: { title: 't', checks: [] },
      method: [{ kill: { target: 'app' } }],
    })
    const r = await runExperiment(x, { dataDir: dataDir() })
    expect(r).toMatchObject({ status: 'errored', verdict: 'inconclusive' })
    expect(r.reason).toMatch(/cannot start \/nonexistent\/faultline-test-program/)
  })
})
