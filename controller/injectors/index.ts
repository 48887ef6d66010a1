/** Every fault family, by the method step field it handles. A new family: one file, one line here. */
import { networkPartition } from './kubernetes/network-partition.ts'
import { nodeCordon } from './kubernetes/node-cordon.ts'
import { nodeDrain } from './kubernetes/node-drain.ts'
import { nodeTaint } from './kubernetes/node-taint.ts'
import { podEvict } from './kubernetes/pod-evict.ts'
import { podFailure } from './kubernetes/pod-failure.ts'
import { podKill } from './kubernetes/pod-kill.ts'
import { podStress } from './kubernetes/pod-stress.ts'
import { scale } from './kubernetes/scale.ts'
import { processKill, processRestart } from './local-process.ts'
import { localStress } from './local-stress.ts'
import { sidecarRules } from './sidecar-rules.ts'
import type { AnyInjector } from './types.ts'

export const INJECTORS: readonly AnyInjector[] = [
  sidecarRules,
  processKill,
  processRestart,
  localStress,
  podKill,
  podEvict,
  podFailure,
  podStress,
  networkPartition,
  nodeCordon,
  nodeDrain,
  nodeTaint,
  scale,
]

export function injectorFor(step: object): { injector: AnyInjector; spec: unknown } | undefined {
  for (const injector of INJECTORS) {
    const spec = (step as Record<string, unknown>)[injector.step]
    if (spec !== undefined) return { injector, spec }
  }
  return undefined
}

export type { AnyInjector, InjectionContext, Injector, Planned, ResolvedTarget, Step } from './types.ts'
export { sleep } from './types.ts'
