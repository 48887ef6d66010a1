/**
 * `faultline tour`: a sidecar in front of the bundled sample app with examples/demo-rules.yaml,
 * then one request (or a burst) per rule, printing what the client saw.
 */
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startSampleApp } from '../examples/sample-app.ts'
import { buildSidecar } from '../sidecar/build.ts'
import { silentLogger } from '../src/log.ts'
import { defineCommand, displayPath, parseCommandLine, printHelp } from './usage.ts'

const RULES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'demo-rules.yaml')

export const TOUR = defineCommand({
  command: 'tour',
  summary: 'one sidecar in front of a sample app, and one request per example rule: every fault kind at work',
  flags: { keep: { type: 'boolean', help: 'leave the app and the sidecar running afterwards (Ctrl-C stops them)' } },
})

export async function tourCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(TOUR, argv)
  if (parsed.help) return printHelp(TOUR)
  await runTour({ keep: parsed.values.keep })
  return 0
}

interface Seen {
  status: number | string
  ms: number
  body: string
  marker: string | undefined
}

function request(base: string, p: string, headers: Record<string, string> = {}): Promise<Seen> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    const req = http.get(base + p, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          ms: performance.now() - t0,
          body: Buffer.concat(chunks).toString('utf8'),
          marker: res.headers['x-faultline-fault'] as string | undefined,
        }),
      )
    })
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ status: err.code ?? err.message, ms: performance.now() - t0, body: '', marker: undefined }),
    )
  })
}

export async function runTour(opts: { keep?: boolean; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const out = opts.out ?? process.stdout
  const say = (line = '') => out.write(line + '\n')
  const app = await startSampleApp()
  const sidecar = buildSidecar({
    upstream: app.url,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    rulesFile: RULES,
    logger: silentLogger(),
  })
  const { proxyUrl, adminUrl } = await sidecar.listen()
  say('faultline tour: a fault-injecting sidecar in front of a sample app')
  say(`  app      ${app.url}`)
  say(`  sidecar  ${proxyUrl}   (admin API ${adminUrl})`)
  say(`  rules    ${displayPath(RULES)} (generation ${sidecar.store.generation})`)
  say()
  const row = (what: string, rule: string, result: string) => say(`  ${what.padEnd(34)} ${rule.padEnd(16)} ${result}`)
  row('request', 'rule', 'what the client saw')
  row('-------', '----', '-------------------')

  const plain = await request(proxyUrl, '/')
  row('GET /', '(none)', `${plain.status} ${JSON.stringify(plain.body.trim())} in ${plain.ms.toFixed(1)} ms`)

  const slow = await request(proxyUrl, '/echo/slow/report')
  row('GET /echo/slow/report', 'slow-api', `${slow.status} in ${slow.ms.toFixed(0)} ms (delay 200 ms +/- 50)`)

  const bursts = await Promise.all(Array.from({ length: 50 }, () => request(proxyUrl, '/status/200')))
  const failed = bursts.filter((r) => r.status === 503).length
  row('GET /status/200 x 50', 'flaky-status', `${failed}/50 got an injected 503 (percent: 30)`)

  const silver = await request(proxyUrl, '/echo/reset', { 'x-tier': 'silver' })
  const gold = await request(proxyUrl, '/echo/reset', { 'x-tier': 'gold' })
  row('GET /echo/reset (x-tier: silver)', 'gold-only-reset', `${silver.status} (header does not match)`)
  row('GET /echo/reset (x-tier: gold)', 'gold-only-reset', `${gold.status} (TCP reset)`)

  const patched = await request(proxyUrl, '/json')
  row('GET /json', 'tier-downgrade', `${patched.status} ${patched.body}`)

  const download = await request(proxyUrl, '/bytes?n=65536')
  row(
    'GET /bytes?n=65536',
    'slow-download',
    `${download.status} 64 KiB in ${(download.ms / 1000).toFixed(2)} s (64 KiB/s)`,
  )

  const rewritten = await request(proxyUrl, '/echo/v1/orders?beta=1')
  const echoed = JSON.parse(rewritten.body) as { url: string }
  row('GET /echo/v1/orders?beta=1', 'v2-redirect', `${rewritten.status}, the app saw ${echoed.url}`)

  const health = await request(proxyUrl, '/healthz')
  row('GET /healthz', '(exempt)', `${health.status} (health paths are never faulted unless named)`)

  const stats = (await (await fetch(`${adminUrl}/stats?window=30s`)).json()) as {
    count: number
    cohorts: Record<string, { count: number; errorRate: number | null; latencyMs: { p95: number | null } }>
  }
  say()
  say(`  sidecar /stats over 30s: ${stats.count} requests`)
  for (const [name, c] of Object.entries(stats.cohorts))
    say(
      c.count === 0
        ? `    ${name.padEnd(10)}    0 requests (no data)`
        : `    ${name.padEnd(10)} ${String(c.count).padStart(4)} requests, p95 ${c.latencyMs.p95?.toFixed(1)} ms, error rate ${((c.errorRate ?? 0) * 100).toFixed(1)}%`,
    )
  say()
  if (opts.keep) {
    say('  Still running: try the proxy and admin URLs above (Ctrl-C to stop), e.g.')
    say(`    curl -i ${proxyUrl}/status/200`)
    say(`    curl ${adminUrl}/rules`)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
  } else say(`  Next: npx faultline tour --keep to explore, or see README.md for the sidecar's flags and admin API.`)
  await sidecar.close()
  await app.close()
}
