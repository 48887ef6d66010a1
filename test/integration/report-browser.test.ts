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

/** The text of every tick label of one kind (`y` or `x`) inside the first chart of class `cls`. */
function tickLabels(dom: string, cls: string, axis: 'x' | 'y'): string[] {
  const svg = dom.match(new RegExp(`<svg class="chart ${cls}"[\\s\\S]*?</svg>`))?.[0] ?? ''
  return [...svg.matchAll(new RegExp(`<text class="tick ${axis}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => m[1]!)
}

/** Round ticks: evenly spaced by 1, 2, 2.5 or 5 times a power of ten (5 s, 15 s also for time). */
function expectRound(labels: string[], unit = ''): void {
  expect(labels.length).toBeGreaterThanOrEqual(3)
  const values = labels.map((l) => {
    expect(l).toMatch(new RegExp(`^-?\\d+(\\.\\d+)?${unit}$`))
    return Number(l.slice(0, l.length - unit.length))
  })
  const step = values[1]! - values[0]!
  values.forEach((v, i) => expect(v).toBeCloseTo(values[0]! + i * step, 9))
  const mantissa = step / 10 ** Math.floor(Math.log10(step))
  expect([1, 1.5, 2, 2.5, 3, 5]).toContainEqual(Number(mantissa.toPrecision(3)))
  expect(values[0]).toBe(0)
}

it('the HTML report renders in a real headless Chromium: verdict, charts with bounds, fault and recovery windows, round ticks, check figures', async () => {
  world = await startWorld()
  const x = experiment({
    targets: { app: { sidecars: [world.adminUrl] } },
    load: { url: `${world.proxyUrl}/echo/x`, rate: 100, connections: 2 },
    hypothesis: {
      title: 'p95 under 200 ms, at most 100 ms above the unfaulted requests, errors under 5%',
      checks: [
        {
          name: 'p95',
          sidecar: { target: 'app', stat: 'p95' },
          tolerance: { max: 200 },
          window: '2s',
          interval: '500ms',
          minSamples: 5,
        },
        {
          name: 'p95-vs-unfaulted',
          sidecar: { target: 'app', stat: 'p95' },
          tolerance: { relative: { to: 'unfaulted', maxIncrease: 100 } },
          window: '2s',
          interval: '500ms',
          minSamples: 5,
        },
        {
          name: 'errors',
          sidecar: { target: 'app', stat: 'errorRate' },
          tolerance: { max: 0.05 },
          window: '2s',
          interval: '500ms',
          minSamples: 5,
        },
      ],
    },
    method: [
      { wait: '1s' },
      {
        name: 'slow',
        sidecarFault: { target: 'app', duration: '2s', rules: [{ id: 'slow', percent: 50, delay: { ms: 30 } }] },
      },
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
  // Latency beside error rate and throughput, each a chart of the target.
  for (const cls of ['latency', 'error-rate', 'throughput'])
    expect(dom).toContain(`<svg class="chart ${cls}" data-target="app"`)
  expect(dom).toMatch(/<polyline class="series p95"[^>]+points="[\d., ]{20,}"/)
  expect(dom).toMatch(/<polyline class="series errorRate"[^>]+points="[\d., ]{20,}"/)
  expect(dom).toMatch(/<polyline class="series rps"[^>]+points="[\d., ]{20,}"/)
  expect(dom).toMatch(/<rect class="fault-window"/)
  // The recovery phase: from the revert to where the checks recovered.
  expect(dom).toMatch(/<rect class="recovery-window"[^>]*width="[\d.]+"/)
  expect(dom).toMatch(/recovery [\d.]+ s<\/text>/)
  // Each check's bound on its chart: constant (p95 max, errors max) and resolved against the baseline.
  const latency = dom.match(/<svg class="chart latency"[\s\S]*?<\/svg>/)![0]
  expect(latency).toMatch(/<g class="bound max"><line [^>]*y1="[\d.]+"/)
  expect(latency).toMatch(/<g class="bound max relative"><polyline points="[\d., ]{10,}"/)
  const errorRate = dom.match(/<svg class="chart error-rate"[\s\S]*?<\/svg>/)![0]
  expect(errorRate).toMatch(/<g class="bound max"><line [^>]*>.*errors: errorRate max/)
  expect(latency).toMatch(/<circle class="check-sample pass"/)
  // Round ticks on every axis.
  for (const cls of ['latency', 'error-rate', 'throughput']) {
    expectRound(tickLabels(dom, cls, 'y'))
    expectRound(tickLabels(dom, cls, 'x'), 's')
  }
  // The table: what was measured, against which bound and baseline.
  expect(dom).toMatch(/<tr class="check pass"><td>p95<\/td>/)
  expect(dom).toMatch(
    /<td class="measured">before [\d.]+ ms · during max [\d.]+ ms · after recovered at [\d.]+ ms<\/td>/,
  )
  expect(dom).toContain('<td class="bound">≤ 200 ms</td>')
  expect(dom).toMatch(
    /<td class="bound">≤ \+100 ms the unfaulted baseline( \(= [\d.]+ ms\))?<\/td><td class="baseline">[\d.]+ ms( \.\. [\d.]+ ms)? \(unfaulted\)<\/td>/,
  )
  expect(dom).toContain('<td class="bound">≤ 5%</td>')
  expect(dom).toMatch(/slow: \d+ injected \/ \d+ matched/)
  const png = path.join(r.dir, 'report.png')
  await run('chromium', [...chromiumArgs(), `--screenshot=${png}`, '--window-size=1100,1600', url], { timeout: 60_000 })
  expect(statSync(png).size).toBeGreaterThan(20_000)
  expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
  if (process.env.FAULTLINE_KEEP_SCREENSHOT) writeFileSync(process.env.FAULTLINE_KEEP_SCREENSHOT, readFileSync(png))
}, 90_000)
