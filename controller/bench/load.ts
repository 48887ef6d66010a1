/**
 * One round of load: autocannon for a fixed time, with every response timed by us. autocannon's
 * own histogram keeps 2xx latencies only and has no p95, so the figures here come from the
 * per-response events: latency of every response (a fast injected 503 counts, as it does for a
 * client), exact percentiles, and errors counted as a 5xx answer or a request that got none
 * (reset, closed, timed out).
 */
import autocannon from 'autocannon'
import type { BenchLoad } from '../../src/bench/plan.ts'
import type { RoundFigures, SecondPoint } from '../../src/bench/summary.ts'

/** What the progress display shows while a round runs. */
export interface LiveCounts {
  elapsedMs: number
  requests: number
  errors: number
  /** p95 of the responses so far in this round. */
  p95: number | null
}

/** The value at quantile q of ascending `sorted` (nearest rank). */
export function quantile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

/** Latencies in a growable typed array: a round at 40k req/s for 60 s is 2.4 M doubles. */
class Latencies {
  #data = new Float64Array(4096)
  #n = 0
  push(v: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2)
      next.set(this.#data)
      this.#data = next
    }
    this.#data[this.#n++] = v
  }
  get length(): number {
    return this.#n
  }
  sorted(): Float64Array {
    return this.#data.slice(0, this.#n).sort()
  }
}

const round3 = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000)

/** Per-second figures of a round, each second closed as the next one begins. */
class Seconds {
  readonly points: SecondPoint[] = []
  readonly #start: number
  #second = 0
  #latencies: number[] = []
  #requests = 0
  #errors = 0

  constructor(start: number) {
    this.#start = start
  }

  add(now: number, latency: number | undefined, error: boolean): void {
    const second = Math.floor((now - this.#start) / 1000)
    while (second > this.#second) this.#close()
    this.#requests++
    if (error) this.#errors++
    if (latency !== undefined) this.#latencies.push(latency)
  }

  /** Closes the current second; an empty second is a gap, not zeros. */
  #close(keep = true): void {
    if (keep && this.#requests > 0) {
      const sorted = Float64Array.from(this.#latencies).sort()
      this.points.push({
        t: this.#start + this.#second * 1000 + 500,
        requests: this.#requests,
        errors: this.#errors,
        p50: round3(quantile(sorted, 0.5)),
        p95: round3(quantile(sorted, 0.95)),
      })
    }
    this.#second++
    this.#latencies = []
    this.#requests = 0
    this.#errors = 0
  }

  /**
   * Closes the last second at `end`; kept only if it covers at least half a second (the few
   * requests of a sliver of a second would draw spikes that are only noise).
   */
  finish(end: number): SecondPoint[] {
    this.#close(end - (this.#start + this.#second * 1000) >= 500)
    return this.points
  }
}

/** The last responses' latencies, for the live p95 (sorting a whole round every tick would cost). */
const RECENT = 2000

/**
 * Runs load for `durationMs` (or until `signal` aborts). `onTick` hears the counts about every
 * 250 ms. Rejects when autocannon refuses to start (a bad URL, say).
 */
export function runLoad(
  load: BenchLoad,
  durationMs: number,
  opts: { signal?: AbortSignal; onTick?: (c: LiveCounts) => void } = {},
): Promise<RoundFigures> {
  const latencies = new Latencies()
  const statusCounts: Record<string, number> = {}
  let responses = 0
  let errors5xx = 0
  let socketErrors = 0
  const recent = new Float64Array(RECENT)
  const t0 = performance.now()
  const seconds = new Seconds(Date.now())
  return new Promise((resolve, reject) => {
    let instance: autocannon.Instance
    let ticker: NodeJS.Timeout | undefined = undefined
    let timer: NodeJS.Timeout | undefined = undefined
    // Responses after the stop belong to no round: autocannon's clients run on until its next
    // sample tick, so the round's figures end here.
    let stoppedAt: number | undefined
    let stoppedEpoch: number | undefined
    const stop = () => {
      stoppedAt ??= performance.now()
      stoppedEpoch ??= Date.now()
      instance.stop()
    }
    const finish = (err: Error | null) => {
      clearInterval(ticker)
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', stop)
      if (err) return reject(err)
      const elapsedMs = (stoppedAt ?? performance.now()) - t0
      const sorted = latencies.sorted()
      const requests = responses + socketErrors
      resolve({
        elapsedMs: Math.round(elapsedMs),
        requests,
        responses,
        errors: errors5xx + socketErrors,
        socketErrors,
        statusCounts,
        throughput: Math.round((requests / (elapsedMs / 1000)) * 100) / 100,
        errorRate: requests === 0 ? null : (errors5xx + socketErrors) / requests,
        p50: round3(quantile(sorted, 0.5)),
        p95: round3(quantile(sorted, 0.95)),
        p99: round3(quantile(sorted, 0.99)),
        max: round3(sorted.length ? sorted[sorted.length - 1]! : null),
        series: seconds.finish(stoppedEpoch ?? Date.now()),
      })
    }
    try {
      instance = autocannon(
        {
          url: load.url,
          method: load.method as autocannon.Request['method'],
          headers: load.headers,
          body: load.body,
          connections: load.connections,
          ...(load.rate !== undefined ? { overallRate: load.rate } : {}),
          // Our timer ends the round at the exact time; autocannon's duration is whole seconds.
          duration: Math.ceil(durationMs / 1000) + 60,
          // How often autocannon looks at its stop flag: a stopped round ends within 50 ms.
          sampleInt: 50,
        },
        (err) => finish(err),
      )
    } catch (err) {
      return reject(err as Error)
    }
    instance.on('response', (_client, status: number, _bytes, ms: number) => {
      if (stoppedAt !== undefined) return
      responses++
      statusCounts[status] = (statusCounts[status] ?? 0) + 1
      if (status >= 500) errors5xx++
      latencies.push(ms)
      recent[responses % RECENT] = ms
      seconds.add(Date.now(), ms, status >= 500)
    })
    instance.on('reqError', () => {
      if (stoppedAt !== undefined) return
      socketErrors++
      statusCounts.error = (statusCounts.error ?? 0) + 1
      seconds.add(Date.now(), undefined, true)
    })
    if (opts.signal?.aborted) return stop()
    opts.signal?.addEventListener('abort', stop, { once: true })
    timer = setTimeout(stop, durationMs)
    if (opts.onTick)
      ticker = setInterval(() => {
        opts.onTick!({
          elapsedMs: performance.now() - t0,
          requests: responses + socketErrors,
          errors: errors5xx + socketErrors,
          p95: quantile(recent.slice(0, Math.min(responses, RECENT)).sort(), 0.95),
        })
      }, 250)
  })
}
