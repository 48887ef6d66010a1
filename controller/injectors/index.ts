/** Every fault family, by the method step field it handles. A new family: one file, one line here. */
import { processKill, processRestart } from './local-process.ts'
import { localStress } from './local-stress.ts'
import { sidecarRules } from './sidecar-rules.ts'
import type { AnyInjector } from './types.ts'

export const INJECTORS: readonly AnyInjector[] = [sidecarRules, processKill, processRestart, localStress]

export function injectorFor(step: object): { injector: AnyInjector; spec: unknown } | undefined {
  for (const injector of INJECTORS) {
    const spec = (step as Record<string, unknown>)[injector.step]
    if (spec !== undefined) return { injector, spec }
  }
  return undefined
}

export type { AnyInjector, InjectionContext, Injector, Planned, ResolvedTarget, Step } from './types.ts'
export { sleep } from './types.ts'
