/**
 * The fault registry. Registration order is application order within a rule
 * (delay -> abort -> replace -> patch -> throttle), so it is part of the contract.
 */
import type { FaultKind } from './types.ts'

const kinds: FaultKind[] = []

export function registerFault<S, C>(kind: FaultKind<S, C>): void {
  if (kinds.some((k) => k.kind === kind.kind)) throw new Error(`fault kind ${kind.kind} is registered twice`)
  kinds.push(kind as unknown as FaultKind)
}

/** Every registered kind, in application order. */
export function faultKinds(): readonly FaultKind[] {
  return kinds
}

export function getFault(name: string): FaultKind | undefined {
  return kinds.find((k) => k.kind === name)
}
