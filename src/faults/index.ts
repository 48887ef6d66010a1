/** Built-in fault kinds. One line each; the order here is the order actions run within a rule. */
import { abort } from './abort.ts'
import { delay } from './delay.ts'
import { patch } from './patch.ts'
import { registerFault } from './registry.ts'
import { replace } from './replace.ts'
import { throttle } from './throttle.ts'

registerFault(delay)
registerFault(abort)
registerFault(replace)
registerFault(patch)
registerFault(throttle)

export { faultKinds, getFault, registerFault } from './registry.ts'
export type { FaultKind, FaultOps, JsonTransform, Phase, TargetRewrite } from './types.ts'
