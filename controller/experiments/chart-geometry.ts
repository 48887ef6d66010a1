/**
 * The geometry of the time charts: round ticks, where the lines, shaded windows, bounds and
 * check marks go, in SVG user units. One module for both renderers: the HTML report's strings
 * (charts.ts) and the dashboard's live Preact SVG (ui/chart.ts), so both show the same numbers
 * the same way. Pure and import-free: the controller serves it to the browser as it is.
 */

/** A round step near `raw`: 1, 2, 2.5 or 5 times a power of ten. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1
  const mag = 10 ** Math.floor(Math.log10(raw))
  const f = raw / mag
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10
  return m * mag
}

/**
 * Round ticks from 0 (or below, for negative data) covering `max`: about `count` intervals, the
 * last tick at or above `max`. The top tick is the axis top, so every label is a round number.
 */
export function niceTicks(min: number, max: number, count = 4): number[] {
  const lo = Math.min(0, min)
  const hi = max > lo ? max : lo + 1
  const step = niceStep((hi - lo) / count)
  const first = Math.floor(lo / step) * step
  const ticks: number[] = []
  for (let v = first; v < hi + step * 1e-9; v += step) ticks.push(clean(v))
  if (ticks.at(-1)! < hi - step * 1e-9) ticks.push(clean(ticks.at(-1)! + step))
  return ticks
}

/** Round second steps for a time axis: people read 5 s and 15 s, not 9 s or 14 s. */
const TIME_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]

/** Tick offsets in ms from the start for a span of `spanMs`, about `count` intervals. */
export function timeTicks(spanMs: number, count = 6): number[] {
  const raw = spanMs / 1000 / count
  const stepS = raw < 1 ? niceStep(raw) : (TIME_STEPS_S.find((s) => s >= raw) ?? Math.ceil(raw / 3600) * 3600)
  const out: number[] = []
  for (let s = 0; s * 1000 <= spanMs + 1e-6; s = clean(s + stepS)) out.push(s * 1000)
  return out
}

/** A time tick: seconds (`15s`), whole minutes once steps are minutes (`2m`, not `120s`). */
export function timeLabel(ms: number, stepMs: number): string {
  return stepMs >= 60_000 ? `${tickLabel(ms / 60_000)}m` : `${tickLabel(ms / 1000)}s`
}

/** Drops binary noise (0.1 + 0.2) so labels print as typed. */
const clean = (v: number) => Number(v.toPrecision(12))

/** A tick label: a round number printed without trailing zeros (25, 2.5, 0.05). */
export function tickLabel(v: number): string {
  return String(clean(v))
}

export interface LinePoint {
  x: number
  y: number | null
}

export interface LineSeries {
  key: string
  color: string
  width?: number
  points: LinePoint[]
}

/** A bound a check is judged against: constant, or resolved per sample against its baseline. */
export interface BoundLine {
  label: string
  kind: 'max' | 'min'
  /** Constant bound (drawn across the chart) ... */
  value?: number
  /** ... or points where it was resolved (relative bounds move with their baseline). */
  points?: { x: number; y: number }[]
}

export interface Band {
  cls: string
  from: number
  to: number
  color: string
  label: string
  title?: string
  /** Print the label only if it fits inside the band (many narrow bands side by side). */
  labelInside?: boolean
}

export interface Mark {
  x: number
  y: number
  outcome: string
  title: string
}

export interface TimeChart {
  cls: string
  target: string
  ariaLabel: string
  unit: string
  /** Epoch ms of the x axis start and end. */
  start: number
  end: number
  width?: number
  height?: number
  series: LineSeries[]
  bands?: Band[]
  bounds?: BoundLine[]
  marks?: Mark[]
}

/** Consecutive points that have a figure: a line breaks at every gap. */
export function runsOf(points: LinePoint[]): { x: number; y: number }[][] {
  const out: { x: number; y: number }[][] = [[]]
  for (const p of points) {
    if (p.y === null) out.push([])
    else out.at(-1)!.push({ x: p.x, y: p.y })
  }
  return out.filter((r) => r.length > 0)
}

/**
 * A bound far above the data would squash the lines flat; the axis includes bounds up to this
 * many times the data's maximum, and labels the others at the top edge instead.
 */
const BOUND_REACH = 10

export const f1 = (n: number) => n.toFixed(1)

/** A shaded window: a rect, its tooltip, and its label where it fits. */
export interface BandShape {
  cls: string
  x: number
  width: number
  color: string
  title: string
  label?: { x: number; y: number; text: string }
}

/** A bound: a horizontal line, a step line (relative bounds), or a note that it is above the axis. */
export type BoundShape =
  | { shape: 'offscale'; label: string; x: number; y: number }
  | { shape: 'line' | 'step'; kind: 'max' | 'min'; points: string; label: string; labelX: number; labelY: number }

/**
 * Where everything of a time chart goes, in SVG user units: the one geometry behind the HTML
 * report's charts (timeChart, a string) and the dashboard's live ones (ui/chart.ts, Preact), so
 * both show the same numbers the same way. Point lists are SVG `points` strings.
 */
export interface TimeChartGeometry {
  width: number
  height: number
  plot: { left: number; right: number; top: number; bottom: number }
  yTicks: { y: number; label: string }[]
  xTicks: { x: number; label: string }[]
  bands: BandShape[]
  lines: { key: string; color: string; width: number; points: string }[]
  bounds: BoundShape[]
  marks: { outcome: string; cx: number; cy: number; fill: string; title: string }[]
  unit: { x: number; y: number; text: string }
  /** Data to SVG coordinates, for a cursor or a readout. */
  x: (t: number) => number
  y: (v: number) => number
}

export function timeChartGeometry(c: TimeChart): TimeChartGeometry {
  const W = c.width ?? 760
  const H = c.height ?? 220
  const pad = { l: 52, r: 12, t: 14, b: 28 }
  const span = Math.max(1000, c.end - c.start)
  const data = c.series.flatMap((s) => s.points.map((p) => p.y)).filter((v): v is number => v !== null)
  const dataMax = Math.max(0, ...data, ...(c.marks ?? []).map((m) => m.y))
  const boundValues = (c.bounds ?? []).flatMap((b) => (b.value !== undefined ? [b.value] : b.points!.map((p) => p.y)))
  const reach = dataMax > 0 ? dataMax * BOUND_REACH : Infinity
  const inReach = boundValues.filter((v) => v <= reach)
  const yTicks = niceTicks(Math.min(0, ...data), Math.max(dataMax * 1.05, ...inReach) || 1)
  const yLo = yTicks[0]!
  const yHi = yTicks.at(-1)!
  const x = (t: number) =>
    pad.l + ((Math.min(Math.max(t, c.start), c.start + span) - c.start) / span) * (W - pad.l - pad.r)
  const y = (v: number) => H - pad.b - ((Math.min(v, yHi) - yLo) / (yHi - yLo)) * (H - pad.t - pad.b)
  const xOffsets = timeTicks(span)
  const xStep = xOffsets[1] ?? span
  const bands = (c.bands ?? []).map((b): BandShape => {
    const x0 = x(b.from)
    const x1 = Math.max(x0 + 2, x(b.to))
    // A label wider than its band would run into the next one; the band's tooltip still names it.
    const fits = b.label.length * 5.5 <= Math.max(x1 - x0, W - pad.r - x0) && !b.labelInside
    const inside = b.labelInside && b.label.length * 5.5 <= x1 - x0 - 4
    return {
      cls: b.cls,
      x: x0,
      width: x1 - x0,
      color: b.color,
      title: b.title ?? b.label,
      ...(fits || inside ? { label: { x: x0 + 3, y: pad.t + 11, text: b.label } } : {}),
    }
  })
  const lines = c.series.flatMap((s) =>
    runsOf(s.points).map((run) => ({
      key: s.key,
      color: s.color,
      width: s.width ?? 1,
      points: run.map((p) => `${f1(x(p.x))},${f1(y(p.y))}`).join(' '),
    })),
  )
  const g = { x, y, yHi, left: pad.l, right: W - pad.r, top: pad.t, end: c.end }
  return {
    width: W,
    height: H,
    plot: { left: pad.l, right: W - pad.r, top: pad.t, bottom: H - pad.b },
    yTicks: yTicks.map((v) => ({ y: y(v), label: tickLabel(v) })),
    xTicks: xOffsets.map((ms) => ({ x: x(c.start + ms), label: timeLabel(ms, xStep) })),
    bands,
    lines,
    bounds: (c.bounds ?? []).flatMap((b) => boundShape(b, g)),
    marks: (c.marks ?? []).map((m) => ({
      outcome: m.outcome,
      cx: x(m.x),
      cy: y(m.y),
      fill: m.outcome === 'fail' ? '#b91c1c' : '#15803d',
      title: m.title,
    })),
    unit: { x: pad.l, y: pad.t - 3, text: c.unit },
    x,
    y,
  }
}

export const BOUND_COLOR = '#dc2626'
/** How a bound's line is drawn (dashed red), shared by both renderers. */
export const BOUND_STROKE = { stroke: BOUND_COLOR, width: 1.5, dash: '6 3' } as const

function boundShape(
  b: BoundLine,
  g: {
    x: (t: number) => number
    y: (v: number) => number
    yHi: number
    left: number
    right: number
    top: number
    end: number
  },
): BoundShape[] {
  if (b.value !== undefined) {
    if (b.value > g.yHi) return [{ shape: 'offscale', label: b.label, x: g.right - 4, y: g.top + 24 }]
    const yy = f1(g.y(b.value))
    return [
      {
        shape: 'line',
        kind: b.kind,
        points: `${g.left},${yy} ${g.right},${yy}`,
        label: b.label,
        labelX: g.right - 4,
        labelY: g.y(b.value) - 3,
      },
    ]
  }
  const pts = b.points!
  if (pts.length === 0) return []
  // A relative bound holds from each sample to the next (a step line), and to the end after the last.
  const steps: string[] = []
  pts.forEach((p, i) => {
    const next = pts[i + 1]?.x ?? g.end
    steps.push(`${f1(g.x(p.x))},${f1(g.y(p.y))}`, `${f1(g.x(next))},${f1(g.y(p.y))}`)
  })
  const last = pts.at(-1)!
  return [
    {
      shape: 'step',
      kind: b.kind,
      points: steps.join(' '),
      label: b.label,
      labelX: g.right - 4,
      labelY: g.y(Math.min(last.y, g.yHi)) - 3,
    },
  ]
}
