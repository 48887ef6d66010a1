/**
 * Statistical verdicts against a real sidecar (test/helpers/world.ts: the sample app behind a
 * sidecar on port 0). The test sends the traffic itself, so the share of slow requests is known
 * exactly: of every 100 requests, `slow` go to a path the fault delays by 1 s, the others take a
 * few ms (well under 500 ms even on a busy machine). "p95 <= 500 ms" then holds (1% slow), breaks
 * (20%), cannot be decided (exactly 5%, on the boundary), or has too few requests to judge (30).
 * The traffic runs for 3 s inside the method's 5 s, so every request completes within the phase.
 */
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { runResultJson } from '../../bin/run.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'
import { send, startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world?.close())

/** Batches of 100 requests (`slow` of them to the delayed path) every 500 ms for 3 s, or `limit` requests. */
function drive(url: string, slow: number, limit = Infinity): Promise<number> {
  return (async () => {
    // A phase's statistics begin with the first whole second after the method started.
    await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)))
    let sent = 0
    const calls: Promise<unknown>[] = []
    const until = Date.now() + 3000
    while (Date.now() < until && sent < limit) {
      const batch = Math.min(100, limit - sent)
      for (let i = 0; i < batch; i++) calls.push(send(`${url}/echo/${i < slow ? 'slow' : 'fast'}/x`))
      sent += batch
      await new Promise((r) => setTimeout(r, 500))
    }
    await Promise.all(calls)
    return sent
  })()
}

async function judged(slowPerHundred: number, opts: { limit?: number } = {}) {
  world = await startWorld()
  const x = experiment({
    targets: { app: { sidecars: [world.adminUrl] } },
    hypothesis: {
      title: 'p95 stays at or under 500 ms',
      checks: [
        {
          name: 'p95',
          phases: ['during'],
          interval: '1s',
          sidecar: { target: 'app', stat: 'p95' },
          tolerance: { max: 500 },
        },
      ],
    },
    method: [
      {
        name: 'slow path',
        sidecarFault: {
          target: 'app',
          duration: '5s',
          rules: [{ id: 'slow', match: { path: '/echo/slow/**' }, delay: { ms: 1000 } }],
        },
      },
    ],
  })
  let load: Promise<number> | undefined
  const run = runExperiment(x, {
    dataDir: dataDir(),
    progress: (line) => {
      // The traffic starts with the method, so every request it sends belongs to the during phase.
      if (!load && line.includes('[fault]')) load = drive(world.proxyUrl, slowPerHundred, opts.limit)
    },
  })
  const r = await run
  const sent = await load
  const phase = r.journal.checks.p95!.phases[0]!
  return { r, phase, sent: sent ?? 0 }
}

describe('statistical verdicts from a real sidecar', () => {
  it('passes when well under the allowed share (1% slow)', async () => {
    const { r, phase } = await judged(1)
    expect(r.verdict).toBe('pass')
    expect(phase.statistics).toMatchObject({
      method: 'clopper-pearson',
      confidence: 0.95,
      decision: 'pass',
      threshold: 0.05,
    })
    expect(phase.statistics!.n).toBeGreaterThan(500)
    expect(phase.statistics!.estimate).toBeLessThan(0.02)
    expect(phase.statistics!.upper).toBeLessThan(0.05)
    expect(phase.reason).toMatch(
      /^p95 <= 500 ms held with 95% confidence: [\d.]+% of [\d,]+ requests were slower \(at most [\d.]+%\)$/,
    )
    // The reports say it in words too, and how the judgement works.
    const markdown = readFileSync(r.markdownPath, 'utf8')
    expect(markdown).toContain(phase.reason)
    expect(markdown).toContain('Clopper-Pearson')
    expect(readFileSync(r.reportPath, 'utf8')).toContain('held with 95% confidence')
    const json = runResultJson('x.yaml', r) as { checks: { phases: { statistics?: unknown }[] }[] }
    expect(json.checks[0]!.phases[0]!.statistics).toMatchObject({ decision: 'pass' })
  })

  it('fails when well over it (20% slow)', async () => {
    const { r, phase } = await judged(20)
    expect(r.verdict).toBe('fail')
    expect(phase.statistics!.decision).toBe('fail')
    expect(phase.statistics!.lower).toBeGreaterThan(0.05)
    expect(phase.reason).toMatch(/^p95 <= 500 ms broken with 95% confidence: /)
  })

  it('is inconclusive on the boundary (exactly 5% slow), saying how many requests would decide', async () => {
    const { r, phase } = await judged(5)
    expect(r.verdict).toBe('inconclusive')
    const s = phase.statistics!
    expect(s.decision).toBe('inconclusive')
    expect(s.lower).toBeLessThan(0.05)
    expect(s.upper).toBeGreaterThan(0.05)
    expect(phase.reason).toMatch(/^p95 <= 500 ms undecided: /)
  })

  it('is "not enough data" with too few requests, stating the number needed', async () => {
    const { r, phase, sent } = await judged(0, { limit: 30 })
    expect(sent).toBe(30)
    expect(r.verdict).toBe('inconclusive')
    expect(phase.statistics).toMatchObject({ decision: 'not-enough-data', n: 30, needed: 59 })
    expect(phase.reason).toBe('not enough data: 30 requests, at least 59 needed (p95 <= 500 ms)')
  })
})
