/**
 * Watch streams (`?watch=1|true`): a chunked 200 response of newline-delimited
 * `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":…}` events, as the API server writes
 * them.
 * - resourceVersion unset, "" or "0": synthetic ADDED events for the current objects, then live
 *   events ("get state and start at most recent").
 * - resourceVersion N: every event after N from the history, then live ones; N older than the
 *   history reaches gives one ERROR event with a 410 Expired Status and the stream ends (clients
 *   then list again, as client-node's informer does).
 * - Selectors apply to old and new state: an object that starts matching arrives as ADDED, one
 *   that stops matching as DELETED.
 * - allowWatchBookmarks=true: BOOKMARK events every `bookmarkIntervalMs`; sendInitialEvents=true
 *   ends the initial ADDED events with a bookmark annotated `k8s.io/initial-events-end`.
 * - timeoutSeconds ends the stream; closing the server ends every stream.
 * - Accept `as=Table` (kubectl get -w): each object is a one-row Table, columns in the first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { gone } from './errors.ts'
import { type ResourceDef, apiVersionOf } from './resources.ts'
import type { KubeObject, Store, StoreEvent } from './store.ts'
import { toTable } from './table.ts'

export interface WatchRequest {
  resource: ResourceDef
  namespace: string | undefined
  match: (o: KubeObject) => boolean
  resourceVersion: string | null
  timeoutSeconds: number | undefined
  allowBookmarks: boolean
  sendInitialEvents: boolean
  bookmarkIntervalMs: number
  /** Send each object as a one-row meta.k8s.io Table (kubectl get -w); the value is includeObject. */
  table: false | { includeObject: string | null }
}

export class Watches {
  private readonly store: Store
  private readonly open = new Set<() => void>()
  private readonly onChange: () => void

  /** `onChange` runs whenever a stream opens or ends (tests wait on the number of open watches). */
  constructor(store: Store, onChange: () => void = () => {}) {
    this.store = store
    this.onChange = onChange
  }

  get count(): number {
    return this.open.size
  }

  /** Ends every stream (server shutdown). */
  closeAll(): void {
    for (const end of [...this.open]) end()
  }

  serve(req: IncomingMessage, res: ServerResponse, w: WatchRequest): void {
    const r = w.resource
    let columnsSent = false
    const typed = (o: KubeObject): unknown => {
      const full = { ...o, apiVersion: apiVersionOf(r), kind: r.kind }
      if (!w.table) return full
      // As the API server does: column definitions in the first event only.
      const t = toTable(r, [full], o.metadata.resourceVersion!, w.table.includeObject, !columnsSent)
      columnsSent = true
      return t
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    })
    res.flushHeaders()
    const send = (type: string, object: unknown) => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`)
    }
    const inScope = (o: KubeObject) => !w.namespace || o.metadata.namespace === w.namespace
    const matches = (o: KubeObject | undefined) => Boolean(o && inScope(o) && w.match(o))
    const deliver = (e: StoreEvent) => {
      if (e.resource !== r) return
      const now = matches(e.object)
      const before = matches(e.previous)
      if (e.type === 'ADDED' && now) send('ADDED', typed(e.object))
      else if (e.type === 'MODIFIED') {
        if (now && before) send('MODIFIED', typed(e.object))
        else if (now) send('ADDED', typed(e.object))
        else if (before) send('DELETED', typed(e.object))
      } else if (e.type === 'DELETED' && before) send('DELETED', typed(e.object))
    }
    const bookmark = (annotations?: Record<string, string>) => {
      const metadata: Record<string, unknown> = { resourceVersion: String(this.store.resourceVersion) }
      if (annotations) metadata.annotations = annotations
      send('BOOKMARK', { kind: r.kind, apiVersion: apiVersionOf(r), metadata })
    }

    let bookmarkTimer: NodeJS.Timeout | undefined
    let timeoutTimer: NodeJS.Timeout | undefined
    let unsubscribe = () => {}
    const end = () => {
      if (!this.open.delete(end)) return
      unsubscribe()
      clearTimeout(bookmarkTimer)
      clearTimeout(timeoutTimer)
      if (!res.writableEnded) res.end()
      this.onChange()
    }
    this.open.add(end)
    this.onChange()
    req.on('close', end)
    res.on('close', end)

    const rv = w.resourceVersion
    if (rv && rv !== '0') {
      const since = /^\d+$/.test(rv) ? this.store.eventsSince(Number(rv)) : undefined
      if (!since) {
        const oldest = this.store.oldestResumableVersion
        send('ERROR', gone(`too old resource version: ${rv} (${oldest})`).toStatus())
        end()
        return
      }
      for (const e of since) deliver(e)
    } else {
      for (const o of this.store.list(r, w.namespace).filter((x) => w.match(x))) send('ADDED', typed(o))
      if (w.sendInitialEvents) bookmark({ 'k8s.io/initial-events-end': 'true' })
    }
    // Single-threaded: nothing can be written between the replay above and this subscription.
    unsubscribe = this.store.subscribe(deliver)
    if (w.allowBookmarks && w.bookmarkIntervalMs > 0) {
      const tick = () => {
        bookmark()
        bookmarkTimer = setTimeout(tick, w.bookmarkIntervalMs)
      }
      bookmarkTimer = setTimeout(tick, w.bookmarkIntervalMs)
    }
    if (w.timeoutSeconds !== undefined && w.timeoutSeconds > 0) timeoutTimer = setTimeout(end, w.timeoutSeconds * 1000)
  }
}
