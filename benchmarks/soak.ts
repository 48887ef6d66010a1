/**
 * Soak: mixed faults for a long time, to find what only shows over time (leaks, counters that
 * drift, a swap that loses a request). A `faultline sidecar` process (its RSS is what is
 * sampled) sits in front of the sample app; 50 connections loop over five request shapes while
 * the whole rule set is swapped every second between two variants:
 *
 *   /echo/delay/*   delay (uniform jitter), 50-100 %     /json?gzip=1  response JSON merge patch of a gzip body
 *   /echo/abort/*   abort 503/502, 20-30 %               /bytes        response throttle (2-4 MB/s)
 *   /               no fault
 *
 * An *unintended* error is anything the rules did not ask for: a connection error, a 5xx
 * without `x-faultline-fault`, a patched body that is not the patched JSON, or a throttled
 * body of the wrong length.
 *
 *   npm run soak                          # 10 minutes, 50 connections
 *   npm run soak -- --record              # and write the result into benchmarks/README.md
 *   SOAK_DURATION=60 npm run soak         # seconds
 */
import zlib from 'node:zlib'
import { Pool } from 'undici'
import { startSampleApp } from '../examples/sample-app.ts'
import { machine, recordSection, rssMiB, startSidecarProcess } from './harness.ts'

export interface SoakOptions {
  durationS: number
  connections: number
  /** Seconds between whole-rule-set swaps. */
  swapEveryS?: number
}

export interface SoakResult {
  durationS: number
  connections: number
  requests: number
  perShape: Record<string, number>
  faulted: number
  unintended: number
  examples: string[]
  swaps: number
  rssMiB: { start: number; mid: number; end: number }
}

const BYTES = 32 * 1024

function rules(variant: 'A' | 'B'): unknown[] {
  const a = variant === 'A'
  return [
    { id: 'delay', match: { path: '/echo/delay/**' }, percent: a ? 50 : 100, delay: { ms: a ? 5 : 2, jitterMs: 2 } },
    { id: 'abort', match: { path: '/echo/abort/**' }, percent: a ? 30 : 20, abort: { status: a ? 503 : 502 } },
    { id: 'patch', phase: 'response', match: { path: '/json' }, patch: { json: { merge: { soak: variant } } } },
    { id: 'throttle', phase: 'response', match: { path: '/bytes' }, throttle: { bytesPerSecond: a ? 2e6 : 4e6 } },
  ]
}

const SHAPES = ['/echo/delay/1', '/echo/abort/1', '/json?gzip=1', `/bytes?n=${BYTES}`, '/'] as const

/** What is wrong with one response, or undefined when it is what the rules asked for. */
function unintended(shape: string, status: number, faulted: boolean, body: Buffer): string | undefined {
  if (status >= 500 && !faulted) return `${shape}: ${status} without a fault marker: ${body.toString().slice(0, 120)}`
  if (shape.startsWith('/json') && status === 200) {
    let doc: { soak?: string; user?: unknown }
    try {
      doc = JSON.parse(zlib.gunzipSync(body).toString())
    } catch (err) {
      return `${shape}: patched body is not gzip JSON (${(err as Error).message})`
    }
    if ((doc.soak !== 'A' && doc.soak !== 'B') || !doc.user) return `${shape}: patch lost: ${JSON.stringify(doc)}`
  }
  if (shape.startsWith('/bytes') && status === 200 && body.length !== BYTES)
    return `${shape}: ${body.length} bytes instead of ${BYTES}`
  return undefined
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const app = await startSampleApp()
  const sidecar = await startSidecarProcess(app.url)
  const put = (variant: 'A' | 'B') =>
    fetch(`${sidecar.admin}/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: rules(variant) }),
    }).then(async (res) => {
      if (res.status !== 200) throw new Error(`rule swap refused: ${await res.text()}`)
    })
  const pool = new Pool(sidecar.proxy, { connections: opts.connections })
  const result: SoakResult = {
    durationS: opts.durationS,
    connections: opts.connections,
    requests: 0,
    perShape: Object.fromEntries(SHAPES.map((s) => [s, 0])),
    faulted: 0,
    unintended: 0,
    examples: [],
    swaps: 0,
    rssMiB: { start: 0, mid: 0, end: 0 },
  }
  const note = (problem: string) => {
    result.unintended++
    if (result.examples.length < 5) result.examples.push(problem)
  }
  try {
    await put('A')
    result.rssMiB.start = rssMiB(sidecar.child.pid!)
    const endAt = performance.now() + opts.durationS * 1000
    let variant: 'A' | 'B' = 'A'
    const swapper = setInterval(
      () => {
        variant = variant === 'A' ? 'B' : 'A'
        put(variant).then(
          () => result.swaps++,
          (err: Error) => note(`swap: ${err.message}`),
        )
      },
      (opts.swapEveryS ?? 1) * 1000,
    )
    const mid = setTimeout(() => (result.rssMiB.mid = rssMiB(sidecar.child.pid!)), (opts.durationS * 1000) / 2)
    const worker = async (n: number) => {
      for (let i = n; performance.now() < endAt; i++) {
        const shape = SHAPES[i % SHAPES.length]!
        try {
          const res = await pool.request({ path: shape, method: 'GET' })
          const body = Buffer.from(await res.body.arrayBuffer())
          const problem = unintended(shape, res.statusCode, res.headers['x-faultline-fault'] !== undefined, body)
          if (problem) note(problem)
          if (res.headers['x-faultline-fault'] !== undefined) result.faulted++
        } catch (err) {
          note(`${shape}: ${(err as Error).message}`)
        }
        result.requests++
        result.perShape[shape]!++
      }
    }
    await Promise.all(Array.from({ length: opts.connections }, (_, n) => worker(n)))
    clearInterval(swapper)
    clearTimeout(mid)
    result.rssMiB.end = rssMiB(sidecar.child.pid!)
    if (!result.rssMiB.mid) result.rssMiB.mid = result.rssMiB.end
  } finally {
    await pool.close()
    sidecar.child.kill()
    await app.close()
  }
  return result
}

function render(r: SoakResult): string {
  return [
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}; sidecar as its own process, app and load in the soak process.`,
    `Load: ${r.connections} connections, closed loop, ${r.durationS} s; the whole rule set swapped every second (${r.swaps} swaps).`,
    '',
    '| requests | req/s | faulted (marked) | unintended errors | RSS start MiB | RSS at half time MiB | RSS end MiB |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    `| ${r.requests} | ${(r.requests / r.durationS).toFixed(0)} | ${r.faulted} | ${r.unintended} | ${r.rssMiB.start} | ${r.rssMiB.mid} | ${r.rssMiB.end} |`,
    ...(r.examples.length ? ['', 'First unintended errors:', ...r.examples.map((e) => `- ${e}`)] : []),
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runSoak({
    durationS: Number(process.env.SOAK_DURATION ?? 600),
    connections: Number(process.env.SOAK_CONNECTIONS ?? 50),
  })
  const table = render(result)
  process.stdout.write(table + '\n')
  if (process.argv.includes('--record')) recordSection('soak', table)
  process.exitCode = result.unintended === 0 ? 0 : 1
}
