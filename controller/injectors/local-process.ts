/**
 * Local processes (DESIGN §7 "targets: local processes"): kill with a signal and measure the
 * time until the process is ready again, or restart on request. A kill's revert makes sure the
 * process runs again at the end of the method; a restart has nothing to undo.
 */
import type { StepSpec } from '../../src/experiments/schema.ts'
import type { SupervisedProcess } from '../drivers/local/supervisor.ts'
import type { FaultRecord } from '../experiments/journal.ts'
import type { InjectionContext, Injector, Planned, Step } from './types.ts'

const DEFAULT_KILL_RECOVER_MS = 30_000

function processesOf(ctx: InjectionContext, target: string, name?: string): SupervisedProcess[] {
  return ctx.target(target).processes.filter((p) => !name || p.name === name)
}

function planEach(
  kind: FaultRecord['kind'],
  procs: SupervisedProcess[],
  step: Step,
  target: string,
  intent: (p: SupervisedProcess) => string,
): Planned<SupervisedProcess>[] {
  return procs.map((proc) => ({
    record: { id: '', kind, step: step.label, target, on: [proc.name], intentAt: Date.now() },
    intent: intent(proc),
    data: proc,
  }))
}

type KillSpec = NonNullable<StepSpec['kill']>

export const processKill: Injector<KillSpec, SupervisedProcess> = {
  step: 'kill',
  async plan(s, step, ctx) {
    const signal = s.signal ?? 'SIGKILL'
    return planEach(
      'kill',
      processesOf(ctx, s.target, s.process),
      step,
      s.target,
      (p) => `${signal} ${p.name} (pid ${p.pid})`,
    )
  },
  async apply({ record, data: proc }, s, ctx) {
    const signal = s.signal ?? 'SIGKILL'
    record.appliedAt = Date.now()
    const result = await proc.kill(signal, s.recoverWithin ?? DEFAULT_KILL_RECOVER_MS)
    record.recoveryMs = result.recoveryMs ?? null
    ctx.say(
      `  [kill] ${proc.name} ${signal}: ${result.recoveryMs === undefined ? 'did not recover in time' : `recovered in ${result.recoveryMs} ms`}`,
    )
    return result.recoveryMs === undefined
      ? `${proc.name} killed; not ready again in time`
      : `${proc.name} killed; ready again after ${result.recoveryMs} ms`
  },
  // No hold: the process stays as the kill left it until the method ends.
  async revert({ data: proc }) {
    if (!proc.running && proc.spec.command) await proc.start()
    return undefined
  },
}

type RestartSpec = NonNullable<StepSpec['restart']>

export const processRestart: Injector<RestartSpec, SupervisedProcess> = {
  step: 'restart',
  async plan(s, step, ctx) {
    return planEach('restart', processesOf(ctx, s.target, s.process), step, s.target, (p) => `restart ${p.name}`)
  },
  async apply({ data: proc }) {
    const ms = await proc.restart()
    return `${proc.name} restarted, ready after ${ms} ms`
  },
  async revert() {
    return undefined
  },
}
