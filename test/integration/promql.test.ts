import { afterEach, expect, it } from 'vitest'
import { runExperiment } from '../../controller/experiments/runner.ts'
import { dataDir, experiment } from '../helpers/experiment.ts'
import { type Prometheus, startPrometheus } from '../helpers/prometheus.ts'
import { startWorld, type World } from '../helpers/world.ts'

let world: World | undefined
let prom: Prometheus | undefined
afterEach(async () => {
  await prom?.close()
  await world?.close()
})

it('judges PromQL checks against a real Prometheus scraping the sidecar', async () => {
  world = await startWorld({ service: 'shop' })
  prom = await startPrometheus([new URL(world.adminUrl).host])
  const q = (query: string, tolerance: object, name: string) => ({
    name,
    phases: ['during'],
    interval: '500ms',
    promql: { url: prom!.url, query },
    tolerance,
  })
  const x = experiment({
    targets: { app: { sidecars: [world.adminUrl] } },
    load: { url: `${world.proxyUrl}/echo/x`, rate: 100, connections: 2 },
    hypothesis: {
      title: 'the sidecar reports one active rule while the fault is on, and serves traffic',
      checks: [
        q('max(faultline_rules_active{job="sidecars"})', { max: 1 }, 'one-rule'),
        q('sum(faultline_requests_total{service="shop"})', { min: 1 }, 'has-traffic'),
        // Not aggregated: one series per label set, so Prometheus cannot be judged on it.
        q('{__name__=~"faultline_rules_.*"}', { min: 0 }, 'many-series'),
      ],
    },
    method: [
      {
        sidecarFault: {
          target: 'app',
          duration: '4s',
          rules: [{ id: 'x', match: { path: '/nowhere' }, delay: { ms: 1 } }],
        },
      },
    ],
  })
  const r = await runExperiment(x, { dataDir: dataDir() })
  expect(r.journal.checks['one-rule']!.result).toBe('pass')
  expect(r.journal.checks['has-traffic']!.result).toBe('pass')
  const many = r.journal.checks['many-series']!
  expect(many.result).toBe('inconclusive')
  expect(many.samples.every((s) => s.outcome === 'error' && /series, need exactly one/.test(s.detail!))).toBe(true)
  expect(r.verdict).toBe('inconclusive')
}, 60_000)
