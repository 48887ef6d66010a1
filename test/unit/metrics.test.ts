import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONTROLLER_METRICS } from '../../controller/metrics.ts'
import {
  BUILD_INFO,
  DURATION_BUCKETS,
  SIDECAR_METRICS,
  createSidecarMetrics,
  type RuleShape,
} from '../../src/metrics.ts'
import { MetricsRegistry as Registry } from '../../src/metrics-registry.ts'

const rule = (id: string, ...kinds: string[]): RuleShape => ({
  id,
  actions: kinds.map((kind) => ({ fault: { kind } })),
})

/** The exposition lines of faultline_* series (process metrics left out). */
async function lines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith('faultline_'))
}

describe('sidecar metrics', () => {
  it('labels requests, durations and faults with the service, and counts each exchange once', async () => {
    const registry = new Registry()
    const m = createSidecarMetrics(registry, 'shop')
    m.setRules([rule('slow', 'delay')], 1)
    m.observeRequest('GET', 200, 'none', 0.004)
    m.observeRequest('GET', 200, 'none', 0.004)
    m.observeRequest('PROPFIND', 0, 'delay', 0.2)
    m.faultInjected('slow', 'delay')
    m.faultSkipped('slow', 'not_sampled')
    const out = await lines(registry)
    expect(out).toContain('faultline_requests_total{service="shop",method="GET",code="200",fault="none"} 2')
    expect(out).toContain('faultline_requests_total{service="shop",method="OTHER",code="0",fault="delay"} 1')
    expect(out).toContain(
      'faultline_request_duration_seconds_bucket{le="0.003",service="shop",method="GET",fault="none"} 0',
    )
    expect(out).toContain(
      'faultline_request_duration_seconds_bucket{le="0.005",service="shop",method="GET",fault="none"} 2',
    )
    expect(out).toContain('faultline_request_duration_seconds_sum{service="shop",method="GET",fault="none"} 0.008')
    expect(out).toContain('faultline_faults_injected_total{service="shop",rule="slow",kind="delay"} 1')
    expect(out).toContain('faultline_faults_skipped_total{service="shop",rule="slow",reason="not_sampled"} 1')
    expect(out).toContain('faultline_rule_active{service="shop",rule="slow",kind="delay"} 1')
    expect(out).toContain('faultline_rules_active{service="shop"} 1')
    expect(out).toContain('faultline_rules_generation{service="shop"} 1')
  })

  it('has buckets up to the 60 s upstream timeout, cumulative, with +Inf beyond', async () => {
    expect(DURATION_BUCKETS.slice(-3)).toEqual([15, 30, 60])
    const registry = new Registry()
    const m = createSidecarMetrics(registry, 's')
    for (const s of [20, 59.9, 60, 61]) m.observeRequest('GET', 504, 'none', s)
    const out = await lines(registry)
    const bucket = (le: string) =>
      out.find((l) => l.startsWith(`faultline_request_duration_seconds_bucket{le="${le}",`))!.split(' ')[1]
    expect([bucket('15'), bucket('30'), bucket('60'), bucket('+Inf')]).toEqual(['0', '1', '3', '4'])
  })

  it('drops the series of a rule that is removed, and of a kind a replacing rule no longer has', async () => {
    const registry = new Registry()
    const m = createSidecarMetrics(registry, 's')
    m.setRules([rule('a', 'delay', 'abort'), rule('b', 'abort')], 1)
    m.faultInjected('a', 'abort')
    m.faultSkipped('b', 'max_active')
    // At 0 before the first injection, so increase() sees it.
    expect(await lines(registry)).toContain('faultline_faults_injected_total{service="s",rule="a",kind="delay"} 0')
    m.setRules([rule('a', 'delay')], 2)
    const out = (await lines(registry)).join('\n')
    expect(out).not.toMatch(/rule="b"/)
    expect(out).not.toMatch(/kind="abort"/)
    expect(out).toContain('faultline_rule_active{service="s",rule="a",kind="delay"} 1')
    // A request still in flight on the old rules: the removed rule's series stay gone.
    m.faultSkipped('b', 'client_gone')
    m.faultInjected('b', 'abort')
    expect((await lines(registry)).join('\n')).not.toMatch(/rule="b"/)
    // The same id loaded again counts from 0.
    m.setRules([rule('a', 'delay'), rule('b', 'abort')], 3)
    m.faultInjected('b', 'abort')
    expect(await lines(registry)).toContain('faultline_faults_injected_total{service="s",rule="b",kind="abort"} 1')
    m.setRules([], 4)
    expect((await lines(registry)).filter((l) => /rule=/.test(l))).toEqual([])
    expect(await lines(registry)).toContain('faultline_rules_active{service="s"} 0')
  })

  it('counts faults of rules that were never loaded (header-driven) under their own id', async () => {
    const registry = new Registry()
    const m = createSidecarMetrics(registry, 's')
    m.faultInjected('header-request', 'delay')
    m.setRules([rule('x', 'abort')], 1)
    expect(await lines(registry)).toContain(
      'faultline_faults_injected_total{service="s",rule="header-request",kind="delay"} 1',
    )
  })

  it('exports build info and process metrics in every registry', async () => {
    for (const service of ['one', 'two']) {
      const registry = new Registry()
      createSidecarMetrics(registry, service)
      const text = await registry.metrics()
      expect(text).toMatch(
        /^faultline_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v24[^"]*",component="sidecar"\} 1$/m,
      )
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m)
      expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m)
      expect(text).not.toMatch(/nodejs_active_handles_total/)
    }
  })
})

it('docs/metrics.md lists every metric with its labels, and the bucket list', () => {
  const doc = readFileSync(path.join(import.meta.dirname, '../../docs/metrics.md'), 'utf8')
  for (const m of [...Object.values(SIDECAR_METRICS), BUILD_INFO, ...Object.values(CONTROLLER_METRICS)]) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${m.name}\` |`))
    expect(row, `no table row for ${m.name}`).toBeDefined()
    expect(row).toContain(m.labels.length ? `\`${m.labels.join(', ')}\`` : '| |')
  }
  expect(doc.replace(/\s+/g, ' ')).toContain(DURATION_BUCKETS.join(', '))
})
