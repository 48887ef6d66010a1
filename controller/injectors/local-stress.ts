/**
 * CPU and memory stress on this machine: a `faultline stress` child process that ends by itself
 * at its duration. The hold waits for it (with a little slack); the revert kills it if it has
 * not ended, so an abort stops it at once.
 */
import type { StepSpec } from '../../src/experiments/schema.ts'
import { type StressProcess, spawnStress } from '../drivers/local/stress.ts'
import { type Injector, sleep } from './types.ts'

/** Slack past the duration before the runner stops waiting for the stress process to end. */
const EXIT_SLACK_MS = 5000

type Spec = NonNullable<StepSpec['stress']>

export const localStress: Injector<Spec, { proc?: StressProcess }> = {
  step: 'stress',
  async plan(s, step) {
    return [
      {
        record: {
          id: '',
          kind: 'stress',
          step: step.label,
          target: 'localhost',
          on: ['localhost'],
          intentAt: Date.now(),
        },
        intent: `stress cpu=${s.cpu ?? 0} load=${s.load ?? 100}% memory=${s.memory ?? '0'} for ${s.duration} ms`,
        data: {},
      },
    ]
  },
  async apply(p, s) {
    p.data.proc = await spawnStress({ cpu: s.cpu, load: s.load, memory: s.memory, durationMs: s.duration })
    return `stress process ${p.data.proc.child.pid}`
  },
  async hold(p, s, ctx, applied) {
    if (!applied || !p.data.proc) return
    await Promise.race([p.data.proc.exited, sleep(s.duration + EXIT_SLACK_MS, ctx.signal)])
  },
  async revert(p) {
    const proc = p.data.proc
    if (!proc) return undefined
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL')
    await proc.exited
    return undefined
  },
}
