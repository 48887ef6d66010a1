import { describe, expect, it } from 'vitest'
import { startLoad } from '../../controller/experiments/load.ts'

describe('built-in load', () => {
  it('a load autocannon refuses is reported at once, and stopping it does not wait forever', async () => {
    const heard: Error[] = []
    // Validation keeps rate >= 1; this is what any refusal looks like.
    const load = startLoad({ url: 'http://127.0.0.1:1/x', rate: 0.5 }, (err) => heard.push(err))
    const stopped = await Promise.race([
      load.stop(),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000).unref()),
    ])
    expect(stopped).toMatchObject({ error: expect.stringMatching(/overallRate/) })
    expect(heard).toHaveLength(1)
  })
})
