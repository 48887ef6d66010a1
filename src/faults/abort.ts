import { choice, type Infer, object, string } from '../schema.ts'
import { headerMap, headerPairs, statusCode } from './shared.ts'
import type { FaultKind } from './types.ts'

const schema = object(
  {
    mode: choice(
      ['status', 'reset', 'close'],
      'status (default): local reply; reset: TCP RST; close: close without reply',
    ),
    status: statusCode,
    body: string({ maxLength: 1_048_576 }),
    headers: headerMap,
  },
  {
    description: 'end the exchange: a local reply, a TCP reset, or a close without response',
    refine(v, path, issues) {
      const mode = v.mode ?? 'status'
      if (mode === 'status' && v.status === undefined)
        issues.push({ path: `${path}/status`, message: 'is required (or set mode to "reset" or "close")' })
      if (mode !== 'status')
        for (const f of ['status', 'body', 'headers'] as const)
          if (v[f] !== undefined) issues.push({ path: `${path}/${f}`, message: `has no effect with mode "${mode}"` })
    },
  },
)

type CompiledAbort =
  { mode: 'status'; status: number; headers: Record<string, string>; body: Buffer } | { mode: 'reset' | 'close' }

const DEFAULT_BODY = 'fault injected by faultline\n'

export const abort: FaultKind<Infer<typeof schema>, CompiledAbort> = {
  kind: 'abort',
  phases: ['request', 'response'],
  description: schema.json.description as string,
  schema,
  compile(spec) {
    const mode = spec.mode ?? 'status'
    if (mode !== 'status') return { mode }
    const headers = Object.fromEntries(headerPairs(spec.headers))
    headers['content-type'] ??= 'text/plain; charset=utf-8'
    return { mode, status: spec.status!, headers, body: Buffer.from(spec.body ?? DEFAULT_BODY) }
  },
  apply(c, ops) {
    if (c.mode === 'status') ops.respond(c.status, c.headers, c.body)
    else if (c.mode === 'reset') ops.reset()
    else ops.close()
  },
}
