/**
 * Inline SVG charts for the self-contained reports (experiment and bench): no scripts, no
 * external assets. Axes use round ticks (0/25/50/75/100 ms, 0/5/10/15 s), lines break where a
 * figure is missing (no requests is not 0 ms), and bounds, shaded windows and marks are drawn
 * over the data so a reader sees what was judged against what.
 */

export const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

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

const f1 = (n: number) => n.toFixed(1)

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

/** A time-series chart (x in epoch ms) with round ticks, shaded bands, bounds and sample marks. */
export function timeChart(c: TimeChart): string {
  const g = timeChartGeometry(c)
  const { left, right } = g.plot
  const grid = g.yTicks
    .map(
      (t) =>
        `<line class="grid" x1="${left}" x2="${right}" y1="${f1(t.y)}" y2="${f1(t.y)}" stroke="#e5e7eb"/><text class="tick y" x="${left - 6}" y="${f1(t.y + 3)}" font-size="10" text-anchor="end" fill="#6b7280">${t.label}</text>`,
    )
    .join('')
  const xTicks = g.xTicks
    .map(
      (t) =>
        `<text class="tick x" x="${f1(t.x)}" y="${g.height - 8}" font-size="10" text-anchor="middle" fill="#6b7280">${t.label}</text>`,
    )
    .join('')
  const bands = g.bands
    .map((b) => {
      const label = b.label
        ? `<text class="band-label" x="${f1(b.label.x)}" y="${b.label.y}" font-size="10" fill="#374151">${esc(b.label.text)}</text>`
        : ''
      return `<rect class="${esc(b.cls)}" x="${f1(b.x)}" y="${g.plot.top}" width="${f1(b.width)}" height="${g.plot.bottom - g.plot.top}" fill="${b.color}" fill-opacity="0.2"><title>${esc(b.title)}</title></rect>${label}`
    })
    .join('')
  const lines = g.lines
    .map(
      (l) =>
        `<polyline class="series ${esc(l.key)}" fill="none" stroke="${l.color}" stroke-width="${l.width}" points="${l.points}"/>`,
    )
    .join('')
  const bounds = g.bounds.map(boundSvg).join('')
  const marks = g.marks
    .map(
      (m) =>
        `<circle class="check-sample ${esc(m.outcome)}" cx="${f1(m.cx)}" cy="${f1(m.cy)}" r="2.5" fill="${m.fill}"><title>${esc(m.title)}</title></circle>`,
    )
    .join('')
  return `<svg class="chart ${esc(c.cls)}" data-target="${esc(c.target)}" viewBox="0 0 ${g.width} ${g.height}" width="${g.width}" height="${g.height}" role="img" aria-label="${esc(c.ariaLabel)}">
${grid}${bands}${lines}${bounds}${marks}${xTicks}
<text x="${g.unit.x}" y="${g.unit.y}" font-size="10" fill="#374151">${esc(g.unit.text)}</text></svg>`
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

function boundSvg(b: BoundShape): string {
  const title = `<title>${esc(b.label)}</title>`
  const style = `stroke="${BOUND_STROKE.stroke}" stroke-width="${BOUND_STROKE.width}" stroke-dasharray="${BOUND_STROKE.dash}" fill="none"`
  if (b.shape === 'offscale')
    return `<text class="bound offscale" x="${b.x}" y="${b.y}" font-size="10" text-anchor="end" fill="${BOUND_COLOR}">${esc(b.label)} (above the axis) ↑${title}</text>`
  const label = `<text x="${b.labelX}" y="${f1(b.labelY)}" font-size="10" text-anchor="end" fill="${BOUND_COLOR}">${esc(b.label)}</text>`
  if (b.shape === 'line') {
    const [a, z] = b.points.split(' ').map((p) => p.split(','))
    return `<g class="bound ${b.kind}"><line x1="${a![0]}" x2="${z![0]}" y1="${a![1]}" y2="${z![1]}" ${style}/>${label}${title}</g>`
  }
  return `<g class="bound ${b.kind} relative"><polyline points="${b.points}" ${style}/>${label}${title}</g>`
}

export interface BarGroup {
  label: string
  bars: { key: string; color: string; value: number | null; lo?: number; hi?: number; rounds?: number[] }[]
}

/**
 * Grouped vertical bars (one group per scenario), each with a whisker from `lo` to `hi` (the
 * spread across rounds) and a dot per round, on a round-ticked axis.
 */
export function barChart(c: {
  cls: string
  ariaLabel: string
  unit: string
  groups: BarGroup[]
  width?: number
  height?: number
}): string {
  const W = c.width ?? 480
  const H = c.height ?? 220
  const pad = { l: 52, r: 12, t: 14, b: 34 }
  const vals = c.groups
    .flatMap((g) => g.bars.flatMap((b) => [b.value, b.hi, ...(b.rounds ?? [])]))
    .filter((v): v is number => typeof v === 'number')
  const ticks = niceTicks(Math.min(0, ...vals), Math.max(0, ...vals) * 1.05 || 1)
  const lo = ticks[0]!
  const hi = ticks.at(-1)!
  const y = (v: number) => H - pad.b - ((v - lo) / (hi - lo)) * (H - pad.t - pad.b)
  const groupW = (W - pad.l - pad.r) / Math.max(1, c.groups.length)
  const grid = ticks
    .map(
      (v) =>
        `<line class="grid" x1="${pad.l}" x2="${W - pad.r}" y1="${f1(y(v))}" y2="${f1(y(v))}" stroke="#e5e7eb"/><text class="tick y" x="${pad.l - 6}" y="${f1(y(v) + 3)}" font-size="10" text-anchor="end" fill="#6b7280">${tickLabel(v)}</text>`,
    )
    .join('')
  const groups = c.groups
    .map((g, gi) => {
      const gx = pad.l + gi * groupW
      const barW = Math.min(40, (groupW * 0.8) / Math.max(1, g.bars.length))
      const x0 = gx + (groupW - barW * g.bars.length) / 2
      const bars = g.bars
        .map((b, bi) => {
          if (b.value === null) return ''
          const bx = x0 + bi * barW
          const cx = f1(bx + barW / 2)
          const top = y(Math.max(b.value, 0))
          const base = y(Math.min(b.value, 0))
          const whisker =
            b.lo !== undefined && b.hi !== undefined
              ? `<line class="spread" x1="${cx}" x2="${cx}" y1="${f1(y(b.lo))}" y2="${f1(y(b.hi))}" stroke="#111827"/>`
              : ''
          const dots = (b.rounds ?? [])
            .map((r) => `<circle class="round" cx="${cx}" cy="${f1(y(r))}" r="1.8" fill="#111827" fill-opacity="0.6"/>`)
            .join('')
          return `<rect class="bar ${esc(b.key)}" x="${f1(bx + 1)}" y="${f1(top)}" width="${f1(barW - 2)}" height="${f1(Math.max(0.5, base - top))}" fill="${b.color}"><title>${esc(`${g.label} ${b.key}: ${b.value}`)}</title></rect>${whisker}${dots}`
        })
        .join('')
      return `${bars}<text class="group-label" x="${f1(gx + groupW / 2)}" y="${H - 14}" font-size="10" text-anchor="middle" fill="#374151">${esc(g.label)}</text>`
    })
    .join('')
  return `<svg class="chart ${esc(c.cls)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.ariaLabel)}">
${grid}${groups}
<text x="${pad.l}" y="${pad.t - 3}" font-size="10" fill="#374151">${esc(c.unit)}</text></svg>`
}
