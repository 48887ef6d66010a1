import { type Infer, number, object, required } from '../schema.ts'
import type { FaultKind } from './types.ts'

const schema = object(
  { bytesPerSecond: required(number({ integer: true, min: 1, description: 'response body bandwidth' })) },
  { description: 'limit the bandwidth of the response body' },
)

export const throttle: FaultKind<Infer<typeof schema>, number> = {
  kind: 'throttle',
  phases: ['response'],
  description: schema.json.description as string,
  schema,
  compile: (spec) => spec.bytesPerSecond,
  apply: (bps, ops) => ops.throttle(bps),
}
