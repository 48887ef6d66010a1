import { Pool } from 'undici'
import { afterEach, expect, it } from 'vitest'
import { startWorld, type World } from '../helpers/world.ts'

let world: World
afterEach(() => world.close())

it('50 rule swaps under load cause zero unintended errors', async () => {
  world = await startWorld()
  const pool = new Pool(world.proxyUrl, { connections: 16 })
  const outcomes = { ok: 0, marked: 0, unintended: [] as string[] }
  let running = true
  // Load on /echo/load. Rules that target it only add a header, so any non-200 is unintended.
  const worker = async () => {
    while (running) {
      try {
        const res = await pool.request({ path: '/echo/load', method: 'GET' })
        await res.body.text()
        if (res.statusCode !== 200) outcomes.unintended.push(`status ${res.statusCode}`)
        else outcomes.ok++
        if (res.headers['x-faultline-fault']) outcomes.marked++
      } catch (err) {
        outcomes.unintended.push((err as Error).message)
      }
    }
  }
  const workers = Array.from({ length: 16 }, worker)
  for (let i = 0; i < 50; i++) {
    const rules = [
      {
        id: `hdr-${i}`,
        phase: 'response',
        match: { path: '/echo/load' },
        patch: { headers: [['x-swap', String(i)]] },
      },
      { id: `other-${i}`, match: { path: '/elsewhere/**' }, abort: { status: 500 } },
      ...Array.from({ length: i % 7 }, (_, k) => ({
        id: `filler-${i}-${k}`,
        match: { path: `/f/${k}` },
        delay: { ms: 1 },
      })),
    ]
    const { status, body } = await world.putRules(rules)
    expect(status).toBe(200)
    expect(body.generation).toBe(i + 1)
    await new Promise((r) => setTimeout(r, 5))
  }
  running = false
  await Promise.all(workers)
  await pool.close()
  expect(outcomes.unintended).toEqual([])
  expect(outcomes.ok).toBeGreaterThan(200)
  expect(outcomes.marked).toBeGreaterThan(0)
})
