/** What every page shares: the halt switch, the controller's event stream, a tick for lists. */
import { createContext } from 'preact'
import type { StreamState } from './stream.ts'
import type { HaltState } from './types.ts'

export interface Shared {
  halt: HaltState
  refreshHalt(): Promise<void>
  /** Counts runs started and ended (from GET /events), so lists know to reload. */
  runsVersion: number
  stream: StreamState
}

export const SharedContext = createContext<Shared>({
  halt: { halted: false },
  refreshHalt: async () => undefined,
  runsVersion: 0,
  stream: 'connecting',
})
