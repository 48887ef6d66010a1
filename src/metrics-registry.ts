/**
 * A Prometheus registry that renders the text exposition format (0.0.4) from metrics that
 * describe themselves through `get()`, the same duck-typed contract prom-client's Registry reads,
 * so prom-client's metric classes and faultline's lean families both register here. The sidecar
 * uses this instead of prom-client: loading prom-client (and the OpenTelemetry API it requires)
 * cost about 3 MB of RSS in every injected pod, for a renderer this size.
 */

/** One exported sample: `metricName` overrides the family name (histogram `_bucket`, `_sum`, `_count`). */
export interface Sample {
  labels?: Readonly<Record<string, string | number>>
  value: number
  metricName?: string
}

export interface MetricData {
  name: string
  help: string
  type: string
  values: Sample[]
}

/** What a registry reads from a metric. `get()` is called at every scrape. */
export interface Exposable {
  readonly name: string
  get(): MetricData | Promise<MetricData>
}

/** Anything metrics can be registered with: this registry, or prom-client's. */
export interface MetricSink {
  registerMetric(metric: Exposable): void
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function escapeLabelValue(v: string | number): string {
  return typeof v === 'string' ? escapeHelp(v).replace(/"/g, '\\"') : String(v)
}

/** Prometheus spells the non-finite values NaN, +Inf and -Inf. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

/** The exposition lines of one family: HELP, TYPE, then one line per sample. */
export function renderFamily(m: MetricData): string {
  const lines = [`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`]
  for (const s of m.values) {
    const labels = s.labels ? Object.entries(s.labels) : []
    const body = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}` : ''
    lines.push(`${s.metricName ?? m.name}${body} ${formatValue(s.value)}`)
  }
  return lines.join('\n')
}

export class MetricsRegistry implements MetricSink {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8'
  readonly #metrics = new Map<string, Exposable>()

  registerMetric(metric: Exposable): void {
    const existing = this.#metrics.get(metric.name)
    if (existing && existing !== metric) throw new Error(`a metric named ${metric.name} is already registered`)
    this.#metrics.set(metric.name, metric)
  }

  getSingleMetric(name: string): Exposable | undefined {
    return this.#metrics.get(name)
  }

  /** The whole exposition, families in registration order, separated by a blank line. */
  async metrics(): Promise<string> {
    const families = await Promise.all([...this.#metrics.values()].map((m) => m.get()))
    return `${families.map(renderFamily).join('\n\n')}\n`
  }
}
