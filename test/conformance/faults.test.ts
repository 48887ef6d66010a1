import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { faultKinds } from '../../src/faults/index.ts'
import type { Phase } from '../../src/faults/types.ts'
import { compileRuleSet } from '../../src/rules/compile.ts'
import { send, startWorld, type World } from '../helpers/world.ts'
import { caseUrl, FAULT_CASES, type PhaseCase } from './fault-cases.ts'

const PHASES: Phase[] = ['request', 'response']

describe('every registered fault kind has conformance cases', () => {
  it.each(faultKinds().map((k) => [k.kind, k] as const))('%s', (_name, kind) => {
    const cases = FAULT_CASES[kind.kind]
    expect(cases, `add ${kind.kind} to test/conformance/fault-cases.ts`).toBeDefined()
    for (const phase of kind.phases) expect(cases![phase], `${kind.kind} in the ${phase} phase`).toBeDefined()
  })
})

const runs = faultKinds().flatMap((kind) =>
  kind.phases.map((phase) => ({ kind: kind.kind, phase, c: FAULT_CASES[kind.kind]?.[phase] as PhaseCase })),
)

describe.each(runs)('$kind in the $phase phase', ({ kind, phase, c }) => {
  let world: World
  const id = `conf-${kind}-${phase}`
  const rule = (extra: object = {}) => ({ id, phase, match: { path: c.path }, [kind]: c.spec, ...extra })
  const go = (path = caseUrl(c)) => send(world.proxyUrl + path, { ...c.request })

  beforeAll(async () => {
    world = await startWorld()
  })
  afterAll(() => world.close())
  beforeEach(() => world.app.hits.clear())

  it('applies and marks the response', async () => {
    expect((await world.putRules([rule()])).status).toBe(200)
    const reply = await go()
    c.verify(reply, world)
    expect(reply.headers['x-faultline-fault']).toBe(id)
  })

  it('is counted in /stats and /metrics', async () => {
    await world.putRules([rule()])
    await go()
    const stats = (await world.admin('GET', '/stats?window=60s')).body
    expect(stats.rules[id].injected).toBeGreaterThanOrEqual(1)
    expect(stats.cohorts.faulted.count).toBeGreaterThanOrEqual(1)
    const metrics = (await world.admin('GET', '/metrics')).body as string
    expect(metrics).toMatch(
      new RegExp(`faultline_faults_injected_total\\{service="default",rule="${id}",kind="${kind}"\\} [1-9]`),
    )
    expect(metrics).toMatch(new RegExp(`faultline_requests_total\\{[^}]*fault="${kind}"\\} [1-9]`))
  })

  it('at percent 0 never applies', async () => {
    await world.putRules([rule({ percent: 0 })])
    const reply = await go()
    expect(reply.headers['x-faultline-fault']).toBeUndefined()
    expect(reply.status).toBe(200)
  })

  it('leaves health paths alone unless named', async () => {
    await world.putRules([{ id, phase, [kind]: c.spec }])
    const reply = await send(world.proxyUrl + '/healthz')
    expect(reply.status).toBe(200)
    expect(reply.headers['x-faultline-fault']).toBeUndefined()
  })

  it('rejects an unknown field in its spec with the path', () => {
    const bad = { ...(c.spec as object), bogus: 1 }
    const result = compileRuleSet({ rules: [{ id, phase, [kind]: bad }] }, { now: 0, generation: 1 })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.issues.map((i) => i.path)).toContain(`/rules/0/${kind}/bogus`)
  })
})

describe.each(
  faultKinds().flatMap((k) => PHASES.filter((p) => !k.phases.includes(p)).map((phase) => ({ kind: k.kind, phase }))),
)('$kind is refused in the $phase phase', ({ kind, phase }) => {
  it('with a path', () => {
    const other = FAULT_CASES[kind]!.request ?? FAULT_CASES[kind]!.response
    const result = compileRuleSet({ rules: [{ id: 'x', phase, [kind]: other!.spec }] }, { now: 0, generation: 1 })
    expect(!result.ok && result.issues.map((i) => i.path)).toContain(`/rules/0/${kind}`)
  })
})
