/** Built-in load (autocannon) for the whole run, so there is traffic to measure. */
import autocannon from 'autocannon'
import type { LoadSpec } from '../../src/experiments/schema.ts'

export interface LoadSummary {
  requests: number
  errors: number
  non2xx: number
  rps: number
  p50: number
  p99: number
}

export interface LoadHandle {
  /** The client-side summary, or why there is none (the load never ran). */
  stop(): Promise<LoadSummary | { error: string }>
}

/**
 * Starts the load. `onError` hears at once when autocannon refuses to run: the run then goes on
 * without traffic (its checks see no data), and must not wait for a "done" that never comes.
 */
export function startLoad(spec: LoadSpec, onError: (err: Error) => void): LoadHandle {
  let failed: Error | undefined
  let instance: autocannon.Instance | undefined
  const finished = new Promise<autocannon.Result | undefined>((resolve) => {
    const done = (err: Error | null, result: autocannon.Result) => {
      if (err) {
        failed = err
        onError(err)
        return resolve(undefined)
      }
      resolve(result)
    }
    try {
      instance = autocannon(
        {
          url: spec.url,
          method: (spec.method ?? 'GET') as autocannon.Request['method'],
          headers: spec.headers,
          body: spec.body,
          connections: spec.connections ?? 10,
          overallRate: spec.rate,
          // Runs until stopped; the run decides how long that is.
          duration: 86_400,
        },
        done,
      )
    } catch (err) {
      done(err as Error, undefined as never)
    }
  })
  return {
    async stop() {
      if (!failed) instance?.stop()
      const r = await finished
      if (!r) return { error: failed?.message ?? 'the load did not run' }
      return {
        requests: r.requests.total,
        errors: r.errors + r.timeouts,
        non2xx: r.non2xx,
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
      }
    },
  }
}
