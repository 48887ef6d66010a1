/** Everything an Exchange needs, built once per sidecar. */
import type { Dispatcher } from 'undici'
import type { Clock } from '../src/clock.ts'
import type { Logger } from '../src/log.ts'
import type { SidecarMetrics } from '../src/metrics.ts'
import type { RandomSource } from '../src/random.ts'
import type { CompiledRule, HeaderBag } from '../src/rules/compile.ts'
import type { MatchObserver, SkipReason } from '../src/rules/match.ts'
import type { StatsWindow } from '../src/stats/window.ts'
import type { RuleStore } from './rule-store.ts'

export interface HeaderFaultRules {
  request?: CompiledRule
  response?: CompiledRule
}

export interface ProxyContext {
  pool: Dispatcher
  store: RuleStore
  stats: StatsWindow
  metrics: SidecarMetrics
  observer: MatchObserver
  random: RandomSource
  clock: Clock
  log: Logger
  healthPaths: ReadonlySet<string>
  maxBodyBytes: number
  /** Present only when header-driven faults are enabled. */
  headerFaults: ((headers: HeaderBag) => HeaderFaultRules | undefined) | undefined
  injected(rule: CompiledRule, kind: string): void
  skipped(rule: CompiledRule, reason: SkipReason): void
  /** Counts and logs (rate-limited) an exchange that failed inside the sidecar. */
  exchangeFailed(err: unknown): void
}
