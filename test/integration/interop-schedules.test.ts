/**
 * A Chaos Mesh Schedule and a Litmus ChaosSchedule become controller schedules: the translated
 * experiment and schedule are stored through the controller's API as they are, the controller
 * accepts the cron, and a firing runs the experiment against the fake Kubernetes API server.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cluster } from '../../controller/drivers/kubernetes/cluster.ts'
import { experimentDocument } from '../../src/interop/document.ts'
import { readAnyExperiment } from '../../src/interop/registry.ts'
import { type ControllerWorld, startController, waitForRun } from '../helpers/controller.ts'
import { build, type FakeKube, isPodReady, startFakeKube } from '../helpers/fake-kube/index.ts'

const NS = 'shop'
const FIXTURES = path.join(import.meta.dirname, '../fixtures/interop')

let fake: FakeKube
let c: ControllerWorld
beforeEach(async () => {
  fake = await startFakeKube({ readyDelayMs: 60, terminationDelayMs: 30, namespaces: [NS] })
  fake.create(build.deployment({ name: 'web', namespace: NS, replicas: 3 }))
  await fake.waitFor(() => {
    const pods = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp)
    return pods.length === 3 && pods.every(isPodReady)
  })
  c = await startController({ cluster: () => new Cluster(fake.kubeConfig()) })
})
afterEach(async () => {
  await c.close()
  await fake.close()
})

async function store(file: string, edit: (t: string) => string = (t) => t) {
  const text = edit(readFileSync(path.join(FIXTURES, file), 'utf8'))
  const t = readAnyExperiment(text, { file, env: {}, vars: {} })
  expect(t.schedule).toBeDefined()
  expect((await c.api('POST', '/experiments', experimentDocument(t.experiment))).status).toBe(201)
  const created = await c.api('POST', '/schedules', t.schedule)
  expect(created.status).toBe(201)
  return t.schedule!
}

async function fire(name: string) {
  const fired = await c.api('POST', `/schedules/${name}/trigger`)
  expect(fired.body).toMatchObject({ outcome: 'started' })
  return waitForRun(c, fired.body.runId, 60_000)
}

describe('schedules from other tools', () => {
  it('Chaos Mesh Schedule (@every 2m): stored, armed, and a firing kills one pod', async () => {
    const s = await store('chaosmesh/schedule-pod-kill.yaml')
    const listed = (await c.api('GET', '/schedules')).body.schedules.find((x: { name: string }) => x.name === s.name)
    expect(listed).toMatchObject({ cron: '0 */2 * * * *', concurrencyPolicy: 'forbid', historyLimit: 5 })
    expect(Date.parse(listed.nextRun) - Date.now()).toBeLessThanOrEqual(120_000)
    const before = new Set(fake.list('pods', NS).map((p) => p.metadata.uid))
    const run = await fire(s.name)
    expect(run).toMatchObject({ status: 'completed', verdict: 'inconclusive', schedule: s.name })
    expect(run.faults.map((f: { kind: string }) => f.kind)).toEqual(['podKill'])
    const live = fake.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp)
    expect(live.filter((p) => !before.has(p.metadata.uid))).toHaveLength(1)
  }, 60_000)

  it('Litmus ChaosSchedule (every 10 minutes in work hours on weekdays): stored with its cron; halt is suspended', async () => {
    const s = await store('litmus/chaos-schedule.yaml', (t) =>
      t.replace("value: '30'", "value: '1'").replace("value: '10'", "value: '1'"),
    )
    const listed = (await c.api('GET', '/schedules')).body.schedules.find((x: { name: string }) => x.name === s.name)
    expect(listed).toMatchObject({
      cron: '*/10 10-16 * * MON,TUE,WED,THU,FRI',
      timezone: 'UTC',
      concurrencyPolicy: 'forbid',
    })
    const run = await fire(s.name)
    expect(run).toMatchObject({ status: 'completed', verdict: 'inconclusive', schedule: s.name })
    expect(run.faults.map((f: { kind: string }) => f.kind)).toEqual(['podKill'])
    // A halted ChaosSchedule is a suspended schedule: stored, never fired by cron.
    const halted = readAnyExperiment(
      readFileSync(path.join(FIXTURES, 'litmus/chaos-schedule.yaml'), 'utf8').replace(
        'scheduleState: active',
        'scheduleState: halt',
      ),
      { file: 'x', env: {}, vars: {} },
    )
    expect(halted.schedule).toMatchObject({ suspended: true })
  }, 60_000)
})
