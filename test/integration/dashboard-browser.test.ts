/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core), served by a
 * real controller behind a small reverse proxy under /chaos/ (as an ingress would), with a real
 * sidecar and load: sign in with the token; watch a run's chart grow without a reload, through
 * a dropped event stream that resumes with Last-Event-ID and loses no sample; halt with the
 * keyboard and see the run aborted and the banner; lift the halt; break an experiment in the
 * editor and see the error at its path; hostile text renders as text; the token is in no URL.
 * With FAULTLINE_DASHBOARD_SCREENSHOTS=<dir> it saves the overview and run pages there
 * (`npm run screenshots:dashboard` writes docs/images/).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startController, type ControllerWorld } from '../helpers/controller.ts'
import { startWorld, type World } from '../helpers/world.ts'

const TOKEN = 'dashboard-token-5f1c9e'
const PREFIX = '/chaos'
const SHOTS = process.env.FAULTLINE_DASHBOARD_SCREENSHOTS

interface Seen {
  url: string
  lastEventId?: string
}

/** A prefix-stripping reverse proxy that logs every request and can drop open run event streams. */
async function startProxy(target: string) {
  const seen: Seen[] = []
  const outside: string[] = []
  /** Open run event streams, with their URL and their place in `seen`. */
  const streams = new Map<http.ServerResponse, { url: string; seq: number }>()
  const state = { refuseStreams: false }
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    const seq = seen.push({ url, lastEventId: req.headers['last-event-id'] as string | undefined }) - 1
    if (!url.startsWith(`${PREFIX}/`)) {
      outside.push(url)
      res.writeHead(404).end('outside the prefix')
      return
    }
    // A proxy that cannot stream (or buffers until it gives up): the page must fall back to polling.
    if (state.refuseStreams && /\/events$/.test(url.split('?')[0]!)) {
      res.writeHead(502).end('no streaming here')
      return
    }
    const upstream = http.request(
      `${target}${url.slice(PREFIX.length)}`,
      { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
        if (/\/runs\/[^/]+\/events/.test(url)) {
          streams.set(res, { url, seq })
          res.on('close', () => streams.delete(res))
        }
      },
    )
    upstream.on('error', (err) => res.destroy(err))
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${PREFIX}`,
    state,
    seen,
    outside,
    /** Cuts every open run event stream (as a proxy restart or a network blip would). */
    dropStreams: () => {
      const n = streams.size
      for (const s of streams.keys()) s.destroy()
      return n
    },
    /** Whether a stream whose URL has `part`, requested at or after `since` (a `seen` length), is open. */
    streaming: (part: string, since: number) =>
      [...streams.values()].some((s) => s.seq >= since && s.url.includes(part)),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  }
}

let world: World
let c: ControllerWorld
let proxy: Awaited<ReturnType<typeof startProxy>>
let browser: Browser
let page: Page
const requested: string[] = []
const problems: string[] = []
const auth = { authorization: `Bearer ${TOKEN}` }

function experiment(name: string, faultMs: number, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'faultline/v1',
    kind: 'Experiment',
    metadata: { name },
    spec: {
      ...extra,
      targets: { app: { sidecars: [world.adminUrl] } },
      load: { url: `${world.proxyUrl}/echo/x`, rate: 60, connections: 2 },
      hypothesis: {
        title: 'p95 stays under 250 ms and errors under 5% while the app is slowed',
        checks: [
          {
            name: 'p95',
            sidecar: { target: 'app', stat: 'p95' },
            tolerance: { max: 250 },
            window: '2s',
            interval: '500ms',
          },
          {
            name: 'errors',
            sidecar: { target: 'app', stat: 'errorRate' },
            tolerance: { max: 0.05 },
            window: '2s',
            interval: '500ms',
          },
        ],
      },
      method: [
        { wait: '1s' },
        {
          name: 'slow-app',
          sidecarFault: { target: 'app', duration: `${faultMs}ms`, rules: [{ id: 'slow', delay: { ms: 60 } }] },
        },
        { wait: '1s' },
      ],
    },
  }
}

async function store(doc: unknown) {
  const { status, body } = await c.api('PUT', `/experiments/${(doc as any).metadata.name}`, doc, auth)
  expect(status, JSON.stringify(body)).toBe(200)
}

async function startRun(name: string): Promise<string> {
  const { status, body } = await c.api('POST', '/runs', { experiment: name }, auth)
  expect(status, JSON.stringify(body)).toBe(202)
  return body.runId
}

async function runEnded(runId: string): Promise<any> {
  const deadline = Date.now() + 60_000
  while (c.controller.runs.active().some((r) => r.runId === runId)) {
    if (Date.now() > deadline) throw new Error(`run ${runId} still running`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return (await c.api('GET', `/runs/${runId}`, undefined, auth)).body
}

/** Points drawn on the run page's latency chart (the SVG says how many it drew). */
const drawnPoints = () =>
  page
    .locator('svg.chart.latency')
    .first()
    .getAttribute('data-points')
    .then((v) => Number(v ?? 0))

async function shot(name: string) {
  if (!SHOTS) return
  mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true })
}

beforeAll(async () => {
  world = await startWorld()
  c = await startController({ token: TOKEN })
  proxy = await startProxy(c.url)
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-sync'],
  })
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  page.on('request', (r) => requested.push(r.url()))
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await proxy?.close()
  await c?.close()
  await world?.close()
})

it('signs in with the token, which stays in the tab: a wrong one is refused', async () => {
  const res = await page.goto(`${proxy.url}/ui/`)
  const csp = res!.headers()['content-security-policy']
  expect(csp).toContain("script-src 'self'")
  expect(csp).toContain("connect-src 'self'")
  expect(csp).toContain("frame-ancestors 'none'")
  await page.fill('#token', 'not-the-token')
  await page.press('#token', 'Enter')
  await expect.poll(() => page.locator('[role=alert]').textContent()).toContain('not accepted')
  await page.fill('#token', TOKEN)
  await page.click('button[type=submit]')
  await page.locator('h1', { hasText: 'Overview' }).waitFor()
  expect(await page.evaluate(() => sessionStorage.getItem('faultline.token'))).toBe(TOKEN)
  expect(await page.evaluate(() => localStorage.length)).toBe(0)
}, 30_000)

it('shows a run live: the chart grows without a reload, and a dropped stream resumes without losing a sample', async () => {
  await store(experiment('checkout-latency', 12_000))
  const runId = await startRun('checkout-latency')
  await page.goto(`${proxy.url}/ui/#/runs/${runId}`)
  await page.evaluate(() => ((globalThis as any).__sameDocument = true))
  await expect.poll(drawnPoints, { timeout: 15_000 }).toBeGreaterThanOrEqual(2)
  const early = await drawnPoints()
  // The threshold line and, once the fault is applied, its window.
  await page.locator('svg.chart.latency g.bound.max').first().waitFor()
  await page.locator('svg.chart.latency rect.fault-window').first().waitFor({ timeout: 15_000 })
  // Well into the fault window, for the picture.
  await expect.poll(drawnPoints, { timeout: 15_000 }).toBeGreaterThanOrEqual(early + 4)
  await shot('dashboard-run.png')
  await page.goto(`${proxy.url}/ui/#/`)
  await page.locator('li.active-run svg.chart.spark').first().waitFor({ timeout: 10_000 })
  await shot('dashboard-overview.png')
  const mark = proxy.seen.length
  await page.goto(`${proxy.url}/ui/#/runs/${runId}`)
  await page.evaluate(() => ((globalThis as any).__sameDocument = true))
  await expect.poll(drawnPoints, { timeout: 10_000 }).toBeGreaterThan(early)
  // Cut the stream mid-run (once this page has it open): the page reconnects with the last id
  // it saw, and the chart goes on.
  await expect.poll(() => proxy.streaming(`/runs/${runId}/events`, mark), { timeout: 10_000 }).toBe(true)
  const streamed = await drawnPoints()
  await expect.poll(drawnPoints, { timeout: 10_000 }).toBeGreaterThan(streamed) // a sample came through it
  expect(proxy.dropStreams()).toBeGreaterThan(0)
  expect(c.controller.runs.active().map((r) => r.runId)).toContain(runId)
  const atDrop = await drawnPoints()
  await expect.poll(drawnPoints, { timeout: 10_000 }).toBeGreaterThan(atDrop)
  const journal = await runEnded(runId)
  await page.locator('section.verdict-box').waitFor({ timeout: 15_000 })
  expect(await page.evaluate(() => (globalThis as any).__sameDocument)).toBe(true)
  const resumed = proxy.seen.filter((s) => s.url.includes(`/runs/${runId}/events`) && s.lastEventId)
  expect(resumed.length).toBeGreaterThanOrEqual(1)
  expect(Number(resumed[0]!.lastEventId)).toBeGreaterThan(0)
  // Every sample of the journal is drawn: none lost across the drop, none doubled.
  await expect.poll(drawnPoints).toBe(journal.series.app.length)
  expect(await page.locator('.verdict-box .verdict').textContent()).toBe(journal.verdict)
  await expect.poll(() => page.locator('tr.fault .injected').first().textContent()).toMatch(/^\d+$/)
  expect(await page.locator('tr.check[data-check="p95"] .bound').textContent()).toBe('≤ 250')
  await shot('dashboard-run-ended.png')
}, 90_000)

it('halts with the keyboard: the run is aborted, the banner shows on every page, and the halt lifts', async () => {
  await store(experiment('long-slowdown', 60_000))
  const runId = await startRun('long-slowdown')
  // The sidecars page shows the run's rule with its owner and TTL, and the sidecar's figures.
  await page.goto(`${proxy.url}/ui/#/sidecars`)
  const rule = page.locator('li[data-rule="slow"]')
  await rule.waitFor({ timeout: 15_000 })
  expect(await rule.textContent()).toMatch(new RegExp(`^slow \\(${runId}/method/1, (\\d+m )?\\d+s\\)$`))
  await expect.poll(() => page.locator('td.stats').first().textContent()).toMatch(/^p95 [\d.]+ ms, errors [\d.]+%/)
  await page.goto(`${proxy.url}/ui/#/runs/${runId}`)
  await page.locator('svg.chart.latency').waitFor()
  // Tab to HALT: it is reachable from the keyboard and has its name.
  let focused = ''
  for (let i = 0; i < 30 && focused !== 'HALT'; i++) {
    await page.keyboard.press('Tab')
    focused = await page.evaluate(() => (globalThis as any).document.activeElement?.textContent?.trim() ?? '')
  }
  expect(focused).toBe('HALT')
  await page.keyboard.press('Enter')
  // The confirm button has the focus: a second Enter confirms.
  await expect
    .poll(() => page.evaluate(() => (globalThis as any).document.activeElement?.textContent?.trim()))
    .toBe('Halt now')
  // Tab stays in the dialog: past Cancel it wraps to the reason, and back.
  const active = () =>
    page.evaluate(() => {
      const el = (globalThis as any).document.activeElement
      return el.id || el.textContent.trim()
    })
  const walk: [string, string][] = [
    ['Tab', 'Cancel'],
    ['Tab', 'halt-reason'],
    ['Shift+Tab', 'Cancel'],
    ['Shift+Tab', 'Halt now'],
  ]
  for (const [key, expected] of walk) {
    await page.keyboard.press(key)
    expect(await active(), key).toBe(expected)
  }
  await page.keyboard.press('Enter')
  await expect.poll(() => page.locator('.halt-result').textContent(), { timeout: 20_000 }).toContain('Aborted 1 run(s)')
  expect(await page.locator('.halt-result').textContent()).toContain(runId)
  const journal = await runEnded(runId)
  expect(journal.status).toBe('aborted')
  await page.keyboard.press('Escape')
  await page.locator('.halt-banner').waitFor()
  expect(await page.locator('.halt-banner').textContent()).toContain('halted from the dashboard')
  await expect.poll(() => page.locator('article.run').getAttribute('data-status')).toBe('aborted')
  // The sidecar holds no rule of the run any more.
  const rules = await world.admin('GET', '/rules')
  expect(rules.body.rules).toEqual([])
  // On every page, with Run disabled while halted.
  await page.goto(`${proxy.url}/ui/#/experiments/long-slowdown`)
  await page.locator('.halt-banner').waitFor()
  expect(await page.locator('button', { hasText: /^Run/ }).first().isDisabled()).toBe(true)
  await page.click('.halt-banner button')
  await page.click('text=Yes, lift halt')
  await page.locator('.halt-banner').waitFor({ state: 'detached' })
  expect((await c.api('GET', '/halt', undefined, auth)).body).toEqual({ halted: false })
}, 90_000)

it('validates the editor as you type, with the error at its path, and renders hostile text as text', async () => {
  const hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
  const doc = experiment('hostile', 1000, { description: hostile })
  doc.spec.hypothesis.title = hostile
  await store(doc)
  // A name is refused before it could reach a page.
  const refused = await c.api('POST', '/experiments', experiment('<b>x</b>', 1000), auth)
  expect(refused.status).toBe(400)
  await page.goto(`${proxy.url}/ui/#/experiments/hostile`)
  await page.locator('p.description').waitFor()
  expect(await page.locator('p.title').textContent()).toBe(hostile)
  expect(await page.locator('p.description').textContent()).toBe(hostile)
  expect(await page.locator('p.description img').count()).toBe(0)
  expect(await page.evaluate(() => (globalThis as any).__xss)).toBeUndefined()
  await page.click('button:has-text("Edit")')
  const editor = page.locator('textarea#yaml')
  const text = await editor.inputValue()
  expect(text).toContain('apiVersion: faultline/v1')
  await editor.fill(text.replace('apiVersion: faultline/v1', 'apiVersion: faultline/v9'))
  const problem = page.locator('ul.problems li[data-path="/apiVersion"]')
  await problem.waitFor({ timeout: 10_000 })
  expect(await problem.locator('.message').textContent()).toMatch(/faultline\/v1/)
  expect(await editor.getAttribute('aria-invalid')).toBe('true')
  await editor.fill(text)
  await page.locator('.validation.valid').waitFor({ timeout: 10_000 })
}, 60_000)

it('falls back to polling when event streams cannot be read, says so, and stays readable in a narrow window', async () => {
  proxy.state.refuseStreams = true
  try {
    await page.setViewportSize({ width: 400, height: 800 })
    await store(experiment('polled', 3000))
    const runId = await startRun('polled')
    await page.goto(`${proxy.url}/ui/#/runs/${runId}`)
    await expect.poll(() => page.locator('.run .stream-note').textContent(), { timeout: 15_000 }).toContain('polling')
    const first = await drawnPoints()
    await expect.poll(drawnPoints, { timeout: 15_000 }).toBeGreaterThan(first)
    const journal = await runEnded(runId)
    await page.locator('section.verdict-box').waitFor({ timeout: 15_000 })
    await expect.poll(drawnPoints).toBe(journal.series.app.length)
    // Nothing wider than the window but the tables, which scroll inside themselves.
    const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)
    expect(overflow).toBeLessThanOrEqual(400)
    await shot('dashboard-run-narrow.png')
  } finally {
    proxy.state.refuseStreams = false
    await page.setViewportSize({ width: 1200, height: 900 })
  }
}, 90_000)

it('filters runs, starts a dry run from an experiment, and suspends and resumes a schedule', async () => {
  await page.goto(`${proxy.url}/ui/#/runs`)
  await expect.poll(() => page.locator('.strips li').count()).toBeGreaterThanOrEqual(3)
  await page.selectOption('label:has-text("Status") select', 'aborted')
  const rows = page.locator('table.runs tbody tr')
  await expect.poll(() => rows.count()).toBe(1)
  expect(await rows.first().locator('.chip.status-aborted').count()).toBe(1)
  // A dry run, from the experiment's page, opens its run page.
  await page.goto(`${proxy.url}/ui/#/experiments/polled`)
  await page.click('button:has-text("Dry run")')
  await page.locator('article.run .chip', { hasText: 'dry run' }).waitFor({ timeout: 15_000 })
  const dry = decodeURIComponent(page.url().split('#/runs/')[1] ?? '')
  expect(dry).toMatch(/^polled-/)
  expect((await runEnded(dry)).dryRun).toBe(true)
  const schedule = { name: 'nightly', experiment: 'polled', cron: '0 3 * * *', timezone: 'UTC' }
  expect((await c.api('POST', '/schedules', schedule, auth)).status).toBe(201)
  await page.goto(`${proxy.url}/ui/#/schedules`)
  const row = page.locator('tr[data-schedule="nightly"]')
  await row.locator('button', { hasText: 'Suspend' }).click()
  await row.locator('button', { hasText: 'Resume' }).waitFor()
  expect((await c.api('GET', '/schedules/nightly', undefined, auth)).body.suspended).toBe(true)
  expect(await row.locator('td').nth(2).textContent()).toBe('suspended')
  await row.locator('button', { hasText: 'Resume' }).click()
  await row.locator('button', { hasText: 'Suspend' }).waitFor()
  expect((await c.api('GET', '/schedules/nightly', undefined, auth)).body.suspended).toBe(false)
}, 60_000)

it("says on every page when a running target's sidecar stops answering", async () => {
  const lost = await startWorld()
  const doc = experiment('lost-sidecar', 60_000) as any
  doc.spec.targets.app.sidecars = [lost.adminUrl]
  doc.spec.load.url = `${lost.proxyUrl}/echo/x`
  await store(doc)
  // A fresh page: its controller event stream is open (the polling test above left it polling).
  await page.goto(`${proxy.url}/ui/#/`)
  await page.reload()
  await page.locator('h1', { hasText: 'Overview' }).waitFor()
  const runId = await startRun('lost-sidecar')
  const samples = () => c.controller.runs.liveJournals().find((j) => j.runId === runId)?.series.app?.length ?? 0
  await expect.poll(samples, { timeout: 15_000 }).toBeGreaterThanOrEqual(2)
  await lost.close()
  const notice = page.locator('p.sidecar-down')
  await notice.waitFor({ timeout: 45_000 })
  expect(await notice.textContent()).toContain(`Sidecars of app (run ${runId}) not answering since`)
  expect(await notice.textContent()).toContain(lost.adminUrl)
  await c.api('POST', `/runs/${runId}/abort`, undefined, auth)
  await notice.waitFor({ state: 'detached', timeout: 30_000 })
}, 90_000)

it('never puts the token in a URL or a cookie, stays under its prefix, and breaks no policy', async () => {
  expect(requested.length).toBeGreaterThan(20)
  for (const u of [...requested, ...proxy.seen.map((s) => s.url)]) expect(u).not.toContain(TOKEN)
  expect(await page.context().cookies()).toEqual([])
  expect(proxy.outside).toEqual([])
  expect(problems.filter((p) => /Content Security Policy|pageerror/.test(p))).toEqual([])
})
