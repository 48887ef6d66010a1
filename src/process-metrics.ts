/**
 * The process and Node.js metrics both services export, under the names and help texts of
 * prom-client's default metrics (dashboards and alerts written for those keep working). Every
 * figure is read at scrape time from Node and /proc; between scrapes nothing runs but the
 * event-loop delay monitor and the GC observer, and nothing at all per request.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { constants, monitorEventLoopDelay, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks'
import v8 from 'node:v8'
import type { Exposable, MetricData, Sample } from './metrics-registry.ts'

type Labels = Record<string, string>

/** A family whose samples are computed when scraped. */
function family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string, read: () => Sample[]): Exposable {
  return { name, get: (): MetricData => ({ name, help, type, values: read() }) }
}

const gauge = (name: string, help: string, read: () => number): Exposable =>
  family(name, 'gauge', help, () => [{ value: read() }])

/** Counts by label value, e.g. active handles by their class name. */
function byType(items: readonly unknown[]): Sample[] {
  const counts = new Map<string, number>()
  for (const item of items) {
    const type = typeof item === 'string' ? item : ((item as object | null)?.constructor?.name ?? 'unknown')
    counts.set(type, (counts.get(type) ?? 0) + 1)
  }
  return [...counts].map(([type, value]) => ({ labels: { type }, value }))
}

/** `VmRSS`, `VmSize` and `VmData` of /proc/self/status in bytes (Linux only). */
function procStatus(): { rss: number; vsize: number; data: number } | undefined {
  try {
    const text = readFileSync('/proc/self/status', 'utf8')
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024
    return { rss: kb('VmRSS'), vsize: kb('VmSize'), data: kb('VmData') }
  } catch (err) {
    // Not Linux (no /proc): the resident size still comes from Node below; the others are absent.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** The soft limit of open files, from /proc/self/limits; undefined where there is none. */
function maxFds(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return line ? Number(line[1]) : undefined
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}
const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5]

/** GC pauses by kind, observed as they happen (PerformanceObserver), exported as a histogram. */
function gcDurations(): Exposable {
  const byKind = new Map<string, { counts: number[]; sum: number; count: number }>()
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail
      const kind = GC_KINDS[detail?.kind ?? -1] ?? 'unknown'
      let h = byKind.get(kind)
      if (!h) byKind.set(kind, (h = { counts: GC_BUCKETS.map(() => 0), sum: 0, count: 0 }))
      const seconds = entry.duration / 1000
      GC_BUCKETS.forEach((le, i) => {
        if (seconds <= le) h.counts[i]!++
      })
      h.sum += seconds
      h.count++
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  const name = 'nodejs_gc_duration_seconds'
  return family(
    name,
    'histogram',
    'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    () =>
      [...byKind].flatMap(([kind, h]): Sample[] => [
        ...GC_BUCKETS.map((le, i) => ({ labels: { le, kind }, value: h.counts[i]!, metricName: `${name}_bucket` })),
        { labels: { le: '+Inf', kind }, value: h.count, metricName: `${name}_bucket` },
        { labels: { kind }, value: h.sum, metricName: `${name}_sum` },
        { labels: { kind }, value: h.count, metricName: `${name}_count` },
      ]),
  )
}

/**
 * Event-loop lag: `nodejs_eventloop_lag_seconds` is how long a setImmediate takes at scrape time;
 * the other figures summarise the delay monitor's samples since the previous scrape.
 */
function eventLoopLag(sampleMs: number): Exposable[] {
  const monitor = monitorEventLoopDelay({ resolution: sampleMs })
  monitor.enable()
  const lag: Exposable = {
    name: 'nodejs_eventloop_lag_seconds',
    get: () =>
      new Promise<MetricData>((resolve) => {
        const start = process.hrtime.bigint()
        setImmediate(() =>
          resolve({
            name: 'nodejs_eventloop_lag_seconds',
            help: 'Lag of event loop in seconds.',
            type: 'gauge',
            values: [{ value: Number(process.hrtime.bigint() - start) / 1e9 }],
          }),
        )
      }),
  }
  // Read together at one scrape, then reset, as prom-client does.
  let snapshot = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 }
  let taken = false
  const take = () => {
    if (!taken) {
      snapshot = {
        min: monitor.min,
        max: monitor.max,
        mean: monitor.mean,
        stddev: monitor.stddev,
        p50: monitor.percentile(50),
        p90: monitor.percentile(90),
        p99: monitor.percentile(99),
      }
      monitor.reset()
      taken = true
      setImmediate(() => (taken = false))
    }
    return snapshot
  }
  const stats: [keyof typeof snapshot, string][] = [
    ['min', 'The minimum recorded event loop delay.'],
    ['max', 'The maximum recorded event loop delay.'],
    ['mean', 'The mean of the recorded event loop delays.'],
    ['stddev', 'The standard deviation of the recorded event loop delays.'],
    ['p50', 'The 50th percentile of the recorded event loop delays.'],
    ['p90', 'The 90th percentile of the recorded event loop delays.'],
    ['p99', 'The 99th percentile of the recorded event loop delays.'],
  ]
  return [lag, ...stats.map(([k, help]) => gauge(`nodejs_eventloop_lag_${k}_seconds`, help, () => take()[k] / 1e9))]
}

/** Every process metric, created once per process (see metrics.ts). */
export function processMetrics(opts: { eventLoopSampleMs: number }): Exposable[] {
  const startTime = Math.round(Date.now() / 1000 - process.uptime())
  const [major, minor, patch] = process.versions.node.split('.')
  const cpu = (pick: (u: NodeJS.CpuUsage) => number) => () => pick(process.cpuUsage()) / 1e6
  const heapSpace = (field: 'space_size' | 'space_used_size' | 'space_available_size') => () =>
    v8
      .getHeapSpaceStatistics()
      .map((s) => ({ labels: { space: s.space_name.replace(/_space$/, '') }, value: s[field] }))
  const optional = (read: () => number | undefined) => () => {
    const v = read()
    return v === undefined ? [] : [{ value: v }]
  }
  return [
    family('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', () => [
      { value: cpu((u) => u.user)() },
    ]),
    family('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', () => [
      { value: cpu((u) => u.system)() },
    ]),
    family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', () => [
      { value: cpu((u) => u.user + u.system)() },
    ]),
    gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => startTime),
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss()),
    family(
      'process_virtual_memory_bytes',
      'gauge',
      'Virtual memory size in bytes.',
      optional(() => procStatus()?.vsize),
    ),
    family(
      'process_heap_bytes',
      'gauge',
      'Process heap size in bytes.',
      optional(() => procStatus()?.data),
    ),
    family('process_open_fds', 'gauge', 'Number of open file descriptors.', optional(openFds)),
    family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', optional(maxFds)),
    ...eventLoopLag(opts.eventLoopSampleMs),
    family(
      'nodejs_active_handles',
      'gauge',
      'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
      () => byType((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()),
    ),
    family(
      'nodejs_active_requests',
      'gauge',
      'Number of active libuv requests grouped by request type. Every request type is C++ class name.',
      () => byType((process as unknown as { _getActiveRequests(): unknown[] })._getActiveRequests()),
    ),
    family(
      'nodejs_active_resources',
      'gauge',
      'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
      () => byType(process.getActiveResourcesInfo()),
    ),
    gauge(
      'nodejs_heap_size_total_bytes',
      'Process heap size from Node.js in bytes.',
      () => process.memoryUsage().heapTotal,
    ),
    gauge(
      'nodejs_heap_size_used_bytes',
      'Process heap size used from Node.js in bytes.',
      () => process.memoryUsage().heapUsed,
    ),
    gauge(
      'nodejs_external_memory_bytes',
      'Node.js external memory size in bytes.',
      () => process.memoryUsage().external,
    ),
    family(
      'nodejs_heap_space_size_total_bytes',
      'gauge',
      'Process heap space size total from Node.js in bytes.',
      heapSpace('space_size'),
    ),
    family(
      'nodejs_heap_space_size_used_bytes',
      'gauge',
      'Process heap space size used from Node.js in bytes.',
      heapSpace('space_used_size'),
    ),
    family(
      'nodejs_heap_space_size_available_bytes',
      'gauge',
      'Process heap space size available from Node.js in bytes.',
      heapSpace('space_available_size'),
    ),
    family('nodejs_version_info', 'gauge', 'Node.js version info.', () => [
      { labels: { version: process.version, major: major!, minor: minor!, patch: patch! } satisfies Labels, value: 1 },
    ]),
    gcDurations(),
  ]
}
