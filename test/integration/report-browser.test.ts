import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, expect, it } from 'vitest'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'
import { startWorld, type World } from '../helpers/world.ts'

const run = promisify(execFile)
let world: World | undefined
let profile: string | undefined
afterEach(async () => {
  await world?.close()
  if (profile) rmSync(profile, { recursive: true, force: true })
})

/** Flags the machine needs for headless Chromium as root with no network (see env docs). */
function chromiumArgs(): string[] {
  profile = mkdtempSync(path.join(tmpdir(), 'faultline-chromium-'))
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
  ]
}

it('the HTML report renders in a real headless Chromium: verdict, chart with fault window, checks, evidence', async () => {
  world = await startWorld()
  const x = experiment({
    targets: { app: { sidecars: [world.adminUrl] } },
    load: { url: `${world.proxyUrl}/echo/x`, rate: 100, connections: 2 },
    hypothesis: {
      title: 'p95 under 500 ms',
      checks: [
        {
          name: 'p95',
          sidecar: { target: 'app', stat: 'p95' },
          tolerance: { max: 500 },
          window: '2s',
          interval: '500ms',
          minSamples: 5,
        },
      ],
    },
    method: [
      { wait: '1s' },
      { name: 'slow', sidecarFault: { target: 'app', duration: '2s', rules: [{ id: 'slow', delay: { ms: 30 } }] } },
      { wait: '1s' },
    ],
  })
  const r = await runExperiment(x, { dataDir: dataDir() })
  const url = `file://${r.reportPath}`
  const { stdout: dom } = await run('chromium', [...chromiumArgs(), '--dump-dom', url], {
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  })
  expect(dom).toMatch(/<span class="verdict pass" id="verdict">pass<\/span>/)
  expect(dom).toContain('<svg class="chart" data-target="app"')
  expect(dom).toMatch(/<polyline class="series p95"[^>]+points="[\d., ]{20,}"/)
  expect(dom).toMatch(/<rect class="fault-window"/)
  expect(dom).toMatch(/<tr class="check pass"><td>p95<\/td>/)
  expect(dom).toMatch(/slow: \d+ injected \/ \d+ matched/)
  const png = path.join(r.dir, 'report.png')
  await run('chromium', [...chromiumArgs(), `--screenshot=${png}`, '--window-size=1100,1400', url], { timeout: 60_000 })
  expect(statSync(png).size).toBeGreaterThan(20_000)
  expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
  if (process.env.FAULTLINE_KEEP_SCREENSHOT) writeFileSync(process.env.FAULTLINE_KEEP_SCREENSHOT, readFileSync(png))
}, 90_000)
