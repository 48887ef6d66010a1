/** Built-in load (autocannon) for the whole run, so there is traffic to measure. */
import autocannon from 'autocannon'
import type { LoadSpec } from '../../src/experiments/schema.ts'

export interface LoadHandle {
  stop(): Promise<{ requests: number; errors: number; non2xx: number; rps: number; p50: number; p99: number }>
}

export function startLoad(spec: LoadSpec): LoadHandle {
  const instance = autocannon(
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
    () => {},
  )
  const finished = new Promise<autocannon.Result>((resolve) => instance.once('done', resolve))
  return {
    async stop() {
      instance.stop()
      const r = await finished
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
