/** A GET that reloads when its dependencies change (and every `everyMs`, if given). */
import { useEffect, useState } from 'preact/hooks'
import { api, describeError } from './api.ts'

export interface Loaded<T> {
  data?: T
  error?: string
  reload(): void
}

export function useApi<T>(path: string, deps: unknown[] = [], everyMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string }>({})
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let gone = false
    api<T>('GET', path)
      .then((data) => !gone && setState({ data }))
      .catch((err) => !gone && setState((s) => ({ data: s.data, error: describeError(err) })))
    const t = everyMs ? setTimeout(() => setTick((n) => n + 1), everyMs) : undefined
    return () => {
      gone = true
      if (t) clearTimeout(t)
    }
  }, [path, tick, ...deps])
  return { ...state, reload: () => setTick((n) => n + 1) }
}
