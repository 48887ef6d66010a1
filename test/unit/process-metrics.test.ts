import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Registry as PromClientRegistry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { formatValue, MetricsRegistry, renderFamily } from '../../src/metrics-registry.ts'
import { registerCommonMetrics } from '../../src/metrics.ts'

/** `name -> [lines]` of an exposition, HELP/TYPE left out. */
function samples(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const name = /^[a-z_:][a-z0-9_:]*/i.exec(line)![0]
    out.set(name, [...(out.get(name) ?? []), line])
  }
  return out
}

describe('the exposition format', () => {
  it('escapes help and label values as Prometheus reads them, and spells non-finite values', () => {
    const text = renderFamily({
      name: 'x_total',
      help: 'a \\ b\nc',
      type: 'counter',
      values: [{ labels: { path: 'say "hi"\\\n' }, value: 1 }],
    })
    expect(text).toBe('# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{path="say \\"hi\\"\\\\\\n"} 1')
    expect([NaN, Infinity, -Infinity, 0.5].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '0.5'])
  })

  it('refuses a second metric under a name already registered', () => {
    const r = new MetricsRegistry()
    const m = { name: 'a', get: () => ({ name: 'a', help: 'h', type: 'gauge', values: [] }) }
    r.registerMetric(m)
    r.registerMetric(m)
    expect(() => r.registerMetric({ ...m })).toThrow(/a metric named a is already registered/)
  })
})

describe('process metrics', () => {
  it('exports every process metric docs/metrics.md names, with live values', async () => {
    const r = new MetricsRegistry()
    registerCommonMetrics(r, 'sidecar')
    const text = await r.metrics()
    const got = samples(text)
    const doc = readFileSync(path.join(import.meta.dirname, '../../docs/metrics.md'), 'utf8')
    const section = doc.slice(doc.indexOf('Process and Node.js metrics'))
    const names = [...section.slice(0, section.indexOf('Left out')).matchAll(/`((?:process|nodejs)_[a-z0-9_{},]+)`/g)]
      .map((m) => m[1]!)
      .flatMap((n) => {
        const brace = /^(.*)\{(.*)\}(.*)$/.exec(n)
        return brace ? brace[2]!.split(',').map((p) => brace[1] + p + brace[3]) : [n]
      })
    expect(names.length).toBeGreaterThan(20)
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]))
    for (const n of names) expect(families.has(n), `missing ${n}`).toBe(true)
    const value = (name: string) => Number(got.get(name)![0]!.split(' ').at(-1))
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20)
    expect(value('process_open_fds')).toBeGreaterThan(2)
    expect(value('process_max_fds')).toBeGreaterThanOrEqual(value('process_open_fds'))
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2)
    expect(value('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0)
    expect(got.get('nodejs_version_info')![0]).toContain(`version="${process.version}"`)
    expect(got.get('nodejs_heap_space_size_used_bytes')!.some((l) => l.includes('space="old"'))).toBe(true)
  })

  it('counts garbage collections by kind', async () => {
    const r = new MetricsRegistry()
    registerCommonMetrics(r, 'sidecar')
    // More live objects than a young generation holds: at least one scavenge, whose entry the
    // observer gets asynchronously.
    const junk: { i: number }[] = []
    for (let i = 0; i < 500_000; i++) junk.push({ i })
    expect(junk.length).toBe(500_000)
    await new Promise((r) => setTimeout(r, 50))
    const got = samples(await r.metrics())
    const count = got.get('nodejs_gc_duration_seconds_count') ?? []
    expect(count.some((l) => /kind="(minor|major|incremental)"/.test(l))).toBe(true)
  })

  it('registers into prom-client registries too (the controller uses one), sharing one set per process', async () => {
    const a = new PromClientRegistry()
    const b = new MetricsRegistry()
    registerCommonMetrics({ registerMetric: (m) => a.registerMetric(m as never) }, 'controller')
    registerCommonMetrics(b, 'sidecar')
    expect(await a.metrics()).toMatch(/^process_resident_memory_bytes \d+$/m)
    expect(a.getSingleMetric('nodejs_gc_duration_seconds')).toBe(b.getSingleMetric('nodejs_gc_duration_seconds'))
  })
})
