/**
 * Inline SVG charts for the self-contained reports (experiment and bench): no scripts, no
 * external assets. Axes use round ticks (0/25/50/75/100 ms, 0/5/10/15 s), lines break where a
 * figure is missing (no requests is not 0 ms), and bounds, shaded windows and marks are drawn
 * over the data so a reader sees what was judged against what. Where things go is computed in
 * chart-geometry.ts (shared with the dashboard); this module writes it as SVG text.
 */
import {
  type BoundShape,
  BOUND_COLOR,
  BOUND_STROKE,
  f1,
  niceTicks,
  type TimeChart,
  timeChartGeometry,
  tickLabel,
} from './chart-geometry.ts'

export * from './chart-geometry.ts'

export const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

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
