import { choice, type Infer, number, object, required } from '../schema.ts'
import type { FaultKind } from './types.ts'

const MAX_DELAY_MS = 3_600_000

const schema = object(
  {
    ms: required(number({ min: 0, max: MAX_DELAY_MS, description: 'base delay in milliseconds' })),
    jitterMs: number({
      min: 0,
      max: MAX_DELAY_MS,
      description: 'uniform: +/- range; normal: standard deviation',
    }),
    distribution: choice(['fixed', 'uniform', 'normal'], 'default: uniform when jitterMs is set, else fixed'),
  },
  {
    description: 'hold the request (before forwarding) or the response (before the client sees it)',
    refine(v, path, issues) {
      if (v.distribution === 'fixed' && v.jitterMs)
        issues.push({ path: `${path}/jitterMs`, message: 'has no effect with distribution "fixed"' })
      if ((v.distribution === 'uniform' || v.distribution === 'normal') && v.jitterMs === undefined)
        issues.push({
          path: `${path}/jitterMs`,
          message: `is required with distribution "${v.distribution}"`,
        })
    },
  },
)

interface CompiledDelay {
  ms: number
  jitterMs: number
  distribution: 'fixed' | 'uniform' | 'normal'
}

/** Samples one delay; never negative. Box-Muller for the normal distribution. */
export function sampleDelay(d: CompiledDelay, random: () => number): number {
  if (d.distribution === 'fixed') return d.ms
  if (d.distribution === 'uniform') return Math.max(0, d.ms - d.jitterMs + random() * 2 * d.jitterMs)
  const u = 1 - random()
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
  return Math.max(0, d.ms + z * d.jitterMs)
}

export const delay: FaultKind<Infer<typeof schema>, CompiledDelay> = {
  kind: 'delay',
  phases: ['request', 'response'],
  description: schema.json.description as string,
  schema,
  compile: (spec) => ({
    ms: spec.ms,
    jitterMs: spec.jitterMs ?? 0,
    distribution: spec.distribution ?? (spec.jitterMs ? 'uniform' : 'fixed'),
  }),
  apply: (d, ops) => ops.wait(sampleDelay(d, () => ops.random())),
}
