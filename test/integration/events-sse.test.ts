/**
 * The controller's server-sent events over real sockets: a run's stream replays the run so far,
 * resumes from Last-Event-ID with no gap and no duplicate, ends with `end` and closes; the
 * controller's stream says when runs start and end and when the halt is set and lifted; a
 * heartbeat comment keeps idle streams alive; the cap refuses one stream too many; a client
 * that goes is forgotten.
 */
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startController, type ControllerWorld } from '../helpers/controller.ts'
import { startWorld, type World } from '../helpers/world.ts'

const TOKEN = 'sse-token'

interface Frame {
  id?: string
  event?: string
  data?: any
  comment?: string
}

/** An SSE reader over a raw request: frames as they arrive, and a way to hang up. */
function openStream(base: string, path: string, headers: Record<string, string> = {}) {
  const frames: Frame[] = []
  let waiters: (() => void)[] = []
  let status = 0
  let type = ''
  let closed = false
  let buffer = ''
  const wake = () => {
    for (const w of waiters) w()
    waiters = []
  }
  const req = http.get(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
    status = res.statusCode!
    type = String(res.headers['content-type'])
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      buffer += chunk
      let cut: number
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const f: Frame = {}
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) f.comment = line.slice(1).trim()
          else if (line.startsWith('id: ')) f.id = line.slice(4)
          else if (line.startsWith('event: ')) f.event = line.slice(7)
          else if (line.startsWith('data: ')) f.data = JSON.parse(line.slice(6))
        }
        frames.push(f)
      }
      wake()
    })
    res.on('end', () => {
      closed = true
      wake()
    })
  })
  req.on('error', () => {
    closed = true
    wake()
  })
  return {
    frames,
    get status() {
      return status
    },
    get type() {
      return type
    },
    get closed() {
      return closed
    },
    events: () => frames.filter((f) => f.event),
    /** Until `pred` holds over the frames (or the stream closed), at most `ms`. */
    async until(pred: (frames: Frame[]) => boolean, ms = 20_000): Promise<void> {
      const deadline = Date.now() + ms
      while (!pred(frames)) {
        if (closed) throw new Error(`stream closed before the condition held (${frames.length} frames)`)
        if (Date.now() > deadline) throw new Error(`timed out with ${frames.length} frames`)
        await new Promise<void>((r) => {
          waiters.push(r)
          setTimeout(r, 200)
        })
      }
    },
    close: () => req.destroy(),
  }
}

let world: World
let c: ControllerWorld
beforeAll(async () => {
  world = await startWorld()
  c = await startController({ token: TOKEN, events: { heartbeatMs: 150, maxSubscribers: 4 } })
  const { status } = await c.api(
    'POST',
    '/experiments',
    {
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'sse' },
      spec: {
        targets: { app: { sidecars: [world.adminUrl] } },
        load: { url: `${world.proxyUrl}/echo/x`, rate: 50, connections: 2 },
        hypothesis: {
          title: 'p95 under 500 ms',
          checks: [
            {
              name: 'p95',
              sidecar: { target: 'app', stat: 'p95' },
              tolerance: { max: 500 },
              window: '2s',
              interval: '500ms',
            },
          ],
        },
        method: [
          {
            name: 'slow',
            sidecarFault: { target: 'app', duration: '3s', rules: [{ id: 'slow', delay: { ms: 20 } }] },
          },
        ],
      },
    },
    { authorization: `Bearer ${TOKEN}` },
  )
  expect(status).toBe(201)
})
afterAll(async () => {
  await c?.close()
  await world?.close()
})

const auth = { authorization: `Bearer ${TOKEN}` }

describe('GET /runs/:id/events', () => {
  it('streams a run live, resumes from Last-Event-ID with no gap, replays a finished run, closes after end', async () => {
    const all = openStream(c.url, '/events')
    await all.until((f) => f.some((x) => x.comment === 'connected'))
    const { body } = await c.api('POST', '/runs', { experiment: 'sse' }, auth)
    const runId = body.runId as string
    const live = openStream(c.url, `/runs/${runId}/events`)
    // A second reader drops after a few samples and comes back with the last id it saw.
    const first = openStream(c.url, `/runs/${runId}/events`)
    await first.until((f) => f.filter((x) => x.event === 'sample').length >= 2)
    first.close()
    const seen = first.events()
    const lastId = seen.at(-1)!.id!
    const resumed = openStream(c.url, `/runs/${runId}/events`, { 'last-event-id': lastId })
    await live.until(() => live.closed, 30_000).catch(() => undefined)
    await resumed.until(() => resumed.closed, 30_000).catch(() => undefined)
    expect(live.status).toBe(200)
    expect(live.type).toMatch(/^text\/event-stream/)
    const events = live.events()
    // Ids count from 1 with no gap, and the stream ends with `end` (then closes).
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_e, i) => i + 1))
    expect(events.at(-1)!.event).toBe('end')
    expect(events.at(-1)!.data).toMatchObject({ runId, status: 'completed', verdict: 'pass' })
    expect(live.closed).toBe(true)
    const types = new Set(events.map((e) => e.event))
    for (const t of ['status', 'target', 'timeline', 'fault', 'sample', 'check', 'phase', 'end'])
      expect(types).toContain(t)
    const samples = events.filter((e) => e.event === 'sample')
    expect(samples.length).toBeGreaterThanOrEqual(3)
    expect(samples[0]!.data).toMatchObject({ runId, target: 'app', index: 0 })
    expect(samples[0]!.data.point).toHaveProperty('p95')
    // The journal has exactly the samples the stream sent, in order.
    while (c.controller.runs.active().length) await new Promise((r) => setTimeout(r, 50))
    const { body: journal } = await c.api('GET', `/runs/${runId}`, undefined, auth)
    expect(samples.map((s) => s.data.point)).toEqual(journal.series.app)
    // The dropped reader's events, then the resumed ones, are the whole run: no gap, no duplicate.
    expect([...seen, ...resumed.events()].map((e) => e.id)).toEqual(events.map((e) => e.id))
    expect(resumed.events().map((e) => e.data)).toEqual(events.slice(seen.length).map((e) => e.data))
    // A finished run replays whole, then closes.
    const replay = openStream(c.url, `/runs/${runId}/events`)
    await replay.until(() => replay.closed).catch(() => undefined)
    expect(replay.events().map((e) => [e.id, e.event])).toEqual(events.map((e) => [e.id, e.event]))
    // The controller's stream said when it started and ended.
    await all.until((f) => f.some((x) => x.event === 'run-ended'))
    const mine = all.events().filter((e) => e.data.runId === runId)
    expect(mine.map((e) => e.event)).toEqual(['run-started', 'run-ended'])
    expect(mine[1]!.data).toMatchObject({ experiment: 'sse', status: 'completed', verdict: 'pass' })
    all.close()
  }, 60_000)

  it('answers 404 for a run that does not exist, and 401 without the token', async () => {
    const missing = await fetch(`${c.url}/runs/nope-1/events`, { headers: auth })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as any).code).toBe('FL_ERR_NOT_FOUND')
    const anon = await fetch(`${c.url}/events`)
    expect(anon.status).toBe(401)
    const bad = await fetch(`${c.url}/events`, { headers: { ...auth, 'last-event-id': 'x' } })
    expect(bad.status).toBe(400)
  })
})

describe('GET /events', () => {
  it('says when the halt is set and lifted, sends a heartbeat, and resumes from Last-Event-ID', async () => {
    const s = openStream(c.url, '/events')
    await s.until((f) => f.filter((x) => x.comment === 'ping').length >= 2)
    await c.api('POST', '/halt', { reason: 'game day over' }, auth)
    await c.api('DELETE', '/halt', undefined, auth)
    await s.until((f) => f.some((x) => x.event === 'halt-lifted'))
    const halt = s.events().find((e) => e.event === 'halt')!
    expect(halt.data).toMatchObject({ halted: true, reason: 'game day over' })
    expect(typeof halt.data.since).toBe('number')
    s.close()
    const again = openStream(c.url, '/events', { 'last-event-id': String(Number(halt.id) - 1) })
    await again.until((f) => f.some((x) => x.event === 'halt-lifted'))
    expect(again.events().map((e) => e.event)).toEqual(['halt', 'halt-lifted'])
    // An id this controller never gave: the reader is told to start over.
    const stale = openStream(c.url, '/events', { 'last-event-id': '999999' })
    await stale.until((f) => f.some((x) => x.event === 'reset'))
    again.close()
    stale.close()
  })

  it("says when a running target's sidecar stops answering (sidecar-down)", async () => {
    const lost = await startWorld()
    const doc = {
      apiVersion: 'faultline/v1',
      kind: 'Experiment',
      metadata: { name: 'sse-lost' },
      spec: {
        targets: { app: { sidecars: [lost.adminUrl] } },
        load: { url: `${lost.proxyUrl}/echo/x`, rate: 20, connections: 1 },
        hypothesis: { title: 'observed', checks: [] },
        method: [{ wait: '60s' }],
      },
    }
    expect((await c.api('PUT', '/experiments/sse-lost', doc, auth)).status).toBe(200)
    const s = openStream(c.url, '/events')
    const { body } = await c.api('POST', '/runs', { experiment: 'sse-lost' }, auth)
    const runId = body.runId as string
    const run = openStream(c.url, `/runs/${runId}/events`)
    await run.until((f) => f.filter((x) => x.event === 'sample').length >= 2)
    await lost.close()
    await s.until((f) => f.some((x) => x.event === 'sidecar-down' && x.data.runId === runId), 15_000)
    const down = s.events().find((e) => e.event === 'sidecar-down')!
    expect(down.data).toMatchObject({ runId, target: 'app', sidecars: [lost.adminUrl] })
    expect(typeof down.data.lastSampleAt).toBe('number')
    await c.api('POST', `/runs/${runId}/abort`, undefined, auth)
    s.close()
    run.close()
  }, 60_000)

  it('refuses a stream beyond the cap (503 FL_ERR_TOO_MANY_STREAMS) and forgets a client that went', async () => {
    const open = [0, 1, 2, 3].map(() => openStream(c.url, '/events'))
    for (const s of open) await s.until((f) => f.some((x) => x.comment === 'connected'))
    const refused = await fetch(`${c.url}/events`, { headers: auth })
    expect(refused.status).toBe(503)
    expect(((await refused.json()) as any).code).toBe('FL_ERR_TOO_MANY_STREAMS')
    open[0]!.close()
    const deadline = Date.now() + 5000
    while (c.controller.events.subscribers > 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(c.controller.events.subscribers).toBe(3)
    const next = openStream(c.url, '/events')
    await next.until((f) => f.some((x) => x.comment === 'connected'))
    for (const s of [...open.slice(1), next]) s.close()
  })
})
