/**
 * How `faultline run` and `faultline demo` stop on SIGINT/SIGTERM: the first signal aborts the
 * run, which reverts every applied fault and finishes its journal as aborted. Later signals only
 * say that this is still under way; they must not kill the process half-way through a revert
 * (SIGKILL still does, and the rules then expire by their ttl).
 */
export interface Interrupt {
  readonly signal: AbortSignal
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined
  /** Stops listening: call once the run is over. */
  dispose(): void
}

export function abortOnSignals(say: (line: string) => void): Interrupt {
  const abort = new AbortController()
  let received: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      say(`  ${signal}: still reverting after ${received}; SIGKILL stops at once (rules then expire by their ttl)`)
      return
    }
    received = signal
    say(`  ${signal}: aborting, reverting every applied fault...`)
    abort.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: abort.signal,
    get received() {
      return received
    },
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}
