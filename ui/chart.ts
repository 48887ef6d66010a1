/**
 * The run charts in the page: the same geometry as the HTML report (timeChartGeometry in
 * controller/experiments/charts.ts), drawn as Preact SVG so they update in place as samples
 * arrive. Thresholds are the hypothesis checks' bounds; shaded windows are the faults.
 */
import {
  type Band,
  BOUND_COLOR,
  BOUND_STROKE,
  type BoundLine,
  type Mark,
  type TimeChart,
  timeChartGeometry,
} from '../controller/experiments/chart-geometry.ts'
import { html } from './html.ts'
import type { CheckSpec, Journal, SeriesPoint } from './types.ts'

export type ChartKind = 'latency' | 'errorRate' | 'throughput'

/** Which chart a sidecar check's statistic belongs on (as the report places it). */
export function chartOf(spec: CheckSpec): ChartKind | undefined {
  const stat = spec.sidecar?.stat
  if (stat === undefined || stat === 'count') return undefined
  if (stat === 'errorRate') return 'errorRate'
  if (stat === 'throughput') return 'throughput'
  return 'latency'
}

export function checkSpecs(j: Journal): CheckSpec[] {
  return [...(j.experiment.spec.hypothesis?.checks ?? []), ...(j.experiment.spec.guardrails ?? [])]
}

/** Fault windows on a target: its sidecar faults, and every other kind (they touch the whole system). */
function faultBands(j: Journal, target: string, end: number): Band[] {
  return j.faults
    .filter((f) => f.appliedAt !== undefined && (f.kind !== 'sidecar' || f.target === target))
    .map((f) => ({ cls: 'fault-window', from: f.appliedAt!, to: f.revertedAt ?? end, color: '#f59e0b', label: f.step }))
}

/** The checks' bounds and judged samples that belong on `chart`; `scale` turns fractions into %. */
function overlays(j: Journal, target: string, chart: ChartKind, scale: number): { bounds: BoundLine[]; marks: Mark[] } {
  const bounds: BoundLine[] = []
  const marks: Mark[] = []
  for (const spec of checkSpecs(j)) {
    if (spec.sidecar?.target !== target || chartOf(spec) !== chart) continue
    const tol = spec.tolerance ?? {}
    const stat = spec.sidecar.stat
    if (tol.max !== undefined) bounds.push({ kind: 'max', value: tol.max * scale, label: `${spec.name}: ${stat} max` })
    if (tol.min !== undefined) bounds.push({ kind: 'min', value: tol.min * scale, label: `${spec.name}: ${stat} min` })
    for (const s of j.checks[spec.name]?.samples ?? [])
      if (s && s.value !== undefined && (s.outcome === 'pass' || s.outcome === 'fail'))
        marks.push({ x: s.at, y: s.value * scale, outcome: s.outcome, title: `${spec.name} ${s.phase}: ${s.outcome}` })
  }
  return { bounds, marks }
}

export type Cohort = 'all' | 'faulted' | 'unfaulted'

export interface ChartOptions {
  /** The time axis end: now while running (the axis grows), the end once over. */
  end: number
  /** Whose figures: every request, or only those a fault rule matched (faulted) or did not. */
  cohort?: Cohort
  width?: number
  height?: number
}

type Figure = 'p50' | 'p95' | 'p99' | 'errorRate'

/** A figure of a point for a cohort; null where that cohort had no requests (or is not recorded). */
function figureOf(p: SeriesPoint, key: Figure, cohort: Cohort): number | null {
  if (cohort === 'all') return p[key]
  return p.cohorts?.[cohort]?.[key] ?? null
}

const line = (key: string, color: string, width: number, pts: SeriesPoint[], y: (p: SeriesPoint) => number | null) => ({
  key,
  color,
  width,
  points: pts.map((p) => ({ x: p.t, y: y(p) })),
})

export function chartsOf(j: Journal, target: string, o: ChartOptions): Record<ChartKind, TimeChart> {
  const pts = (j.series[target] ?? []).filter(Boolean)
  const cohort = o.cohort ?? 'all'
  const frame = { target, start: j.startedAt, end: o.end, bands: faultBands(j, target, o.end) }
  const lat = (k: Figure, color: string, width: number) => line(k, color, width, pts, (p) => figureOf(p, k, cohort))
  const who = cohort === 'all' ? '' : ` (${cohort} requests)`
  // Side by side under a wide latency chart; one under the other (as wide) in a narrow window.
  const small = o.width ? (o.width >= 700 ? o.width / 2 : o.width) : 372
  return {
    latency: {
      ...frame,
      cls: 'latency',
      ariaLabel: `latency of ${target} over time (p50, p95, p99)${who}`,
      unit: `ms${who}`,
      width: o.width ?? 760,
      height: o.height ?? 220,
      series: [lat('p50', '#60a5fa', 1), lat('p95', '#1d4ed8', 2), lat('p99', '#7c3aed', 1)],
      ...overlays(j, target, 'latency', 1),
    },
    errorRate: {
      ...frame,
      cls: 'error-rate',
      ariaLabel: `error rate of ${target} over time${who}`,
      unit: `% errors${who}`,
      width: small,
      height: 200,
      series: [
        line('errorRate', '#b91c1c', 1.5, pts, (p) => {
          const v = figureOf(p, 'errorRate', cohort)
          return v === null ? null : v * 100
        }),
      ],
      ...overlays(j, target, 'errorRate', 100),
    },
    throughput: {
      ...frame,
      cls: 'throughput',
      ariaLabel: `throughput of ${target} over time (every request)`,
      unit: 'req/s',
      width: small,
      height: 200,
      series: [line('rps', '#0f766e', 1.5, pts, (p) => p.rps)],
      ...overlays(j, target, 'throughput', 1),
    },
  }
}

const f1 = (n: number) => n.toFixed(1)

/** One chart as SVG: the report's geometry, with a "now" cursor while the run goes on. */
export function ChartView({ chart, now, points }: { chart: TimeChart; now?: number; points: number }) {
  const g = timeChartGeometry(chart)
  const { left, right, top, bottom } = g.plot
  const dash = {
    stroke: BOUND_STROKE.stroke,
    'stroke-width': BOUND_STROKE.width,
    'stroke-dasharray': BOUND_STROKE.dash,
  }
  return html`<svg
    class=${`chart ${chart.cls}`}
    data-target=${chart.target}
    data-points=${points}
    viewBox=${`0 0 ${g.width} ${g.height}`}
    role="img"
    aria-label=${chart.ariaLabel}
  >
    ${g.yTicks.map(
      (t) =>
        html`<line class="grid" x1=${left} x2=${right} y1=${f1(t.y)} y2=${f1(t.y)} stroke="#e5e7eb" /><text
            class="tick y"
            x=${left - 6}
            y=${f1(t.y + 3)}
            font-size="10"
            text-anchor="end"
            fill="#6b7280"
          >
            ${t.label}
          </text>`,
    )}
    ${g.bands.map(
      (b) =>
        html`<rect
            class=${b.cls}
            x=${f1(b.x)}
            y=${top}
            width=${f1(b.width)}
            height=${bottom - top}
            fill=${b.color}
            fill-opacity="0.2"
            ><title>${b.title}</title></rect
          >${
            b.label &&
            html`<text class="band-label" x=${f1(b.label.x)} y=${b.label.y} font-size="10" fill="#374151">
              ${b.label.text}
            </text>`
          }`,
    )}
    ${g.lines.map(
      (l) =>
        html`<polyline
          class=${`series ${l.key}`}
          fill="none"
          stroke=${l.color}
          stroke-width=${l.width}
          points=${l.points}
        />`,
    )}
    ${g.bounds.map((b) =>
      b.shape === 'offscale'
        ? html`<text class="bound offscale" x=${b.x} y=${b.y} font-size="10" text-anchor="end" fill=${BOUND_COLOR}>
            ${b.label} (above the axis) ↑<title>${b.label}</title>
          </text>`
        : html`<g class=${`bound ${b.kind}${b.shape === 'step' ? ' relative' : ''}`}
            ><polyline points=${b.points} fill="none" ...${dash} /><text
              x=${b.labelX}
              y=${f1(b.labelY)}
              font-size="10"
              text-anchor="end"
              fill=${BOUND_COLOR}
            >
              ${b.label}</text
            ><title>${b.label}</title></g
          >`,
    )}
    ${g.marks.map(
      (m) =>
        html`<circle class=${`check-sample ${m.outcome}`} cx=${f1(m.cx)} cy=${f1(m.cy)} r="2.5" fill=${m.fill}
          ><title>${m.title}</title></circle
        >`,
    )}
    ${g.xTicks.map(
      (t) =>
        html`<text class="tick x" x=${f1(t.x)} y=${g.height - 8} font-size="10" text-anchor="middle" fill="#6b7280">
          ${t.label}
        </text>`,
    )}
    ${
      now !== undefined &&
      html`<line class="now-cursor" x1=${f1(g.x(now))} x2=${f1(g.x(now))} y1=${top} y2=${bottom} stroke="#111827" />`
    }
    <text x=${g.unit.x} y=${g.unit.y} font-size="10" fill="#374151">${g.unit.text}</text>
  </svg>`
}
