/**
 * The method: every step in order (groups in parallel or serial), every fault through its
 * injector, and the revert stack. Owns exactly one thing the runner must never lose: the list
 * of applied faults, reverted in reverse order on every exit path.
 *
 *   plan -> journal intent (durable) -> push revert -> apply -> hold -> pop + revert
 *
 * A fault without a hold (a kill) stands until the method ends and is reverted with the rest.
 */
import type { StepSpec } from '../../src/experiments/schema.ts'
import { type AnyInjector, type InjectionContext, injectorFor, type Step, sleep } from '../injectors/index.ts'
import { callStep } from './calls.ts'
import type { FaultRecord, Journal, JournalWriter } from './journal.ts'

/** Thrown out of the steps when the run was aborted between two of them. */
export class Aborted extends Error {}

/** One applied fault on the revert stack. */
interface Applied {
  record: FaultRecord
  revert: () => Promise<string | undefined>
}

function stepLabel(s: StepSpec, path: string): string {
  if (s.name) return s.name
  const kind = Object.keys(s).find((k) => k !== 'name')!
  return `${kind} ${path}`
}

export class MethodRunner {
  readonly #journal: Journal
  readonly #jw: JournalWriter
  readonly #ctx: InjectionContext
  readonly #reverts: Applied[] = []

  constructor(journal: Journal, jw: JournalWriter, ctx: InjectionContext) {
    this.#journal = journal
    this.#jw = jw
    this.#ctx = ctx
  }

  /** Runs the steps; throws Aborted when the run stops early (the reverts still happen in revertAll). */
  run(steps: StepSpec[]): Promise<void> {
    return this.#runSteps(steps, '/method')
  }

  async #runSteps(steps: StepSpec[], base: string): Promise<void> {
    for (let i = 0; i < steps.length; i++) {
      if (this.#ctx.signal.aborted) throw new Aborted()
      await this.#runStep(steps[i]!, `${base}/${i}`)
    }
  }

  async #runStep(s: StepSpec, key: string): Promise<void> {
    const label = stepLabel(s, key)
    if (s.serial) return this.#runSteps(s.serial, `${key}/serial`)
    if (s.parallel) {
      await Promise.all(s.parallel.map((child, i) => this.#runStep(child, `${key}/parallel/${i}`)))
      return
    }
    this.#jw.event({ type: 'step', step: label, detail: 'started' })
    if (s.wait !== undefined) await sleep(s.wait, this.#ctx.signal)
    else if (s.http || s.run) await this.#call(s, label, key, this.#ctx.signal)
    else {
      const found = injectorFor(s)
      if (!found) throw new Error(`step ${label}: no injector for ${Object.keys(s).join(', ')}`)
      await this.#inject(found.injector, found.spec, { label, key: key.replace(/^\//, '') }, s.keep === true)
    }
    this.#jw.event({ type: 'step', step: label, detail: 'finished' })
  }

  /** An http or run step: journalled with its output; a failure stops the method unless `continueOnFailure`. */
  async #call(s: StepSpec, label: string, key: string, signal?: AbortSignal): Promise<boolean> {
    if (this.#journal.dryRun) {
      this.#jw.event({ type: 'step', step: label, detail: 'dry run: not called' })
      return true
    }
    const startedAt = Date.now()
    const outcome = await callStep(s, signal)
    ;(this.#journal.calls ??= []).push({
      step: label,
      key: key.replace(/^\//, ''),
      kind: s.http ? 'http' : 'run',
      startedAt,
      endedAt: Date.now(),
      ...outcome,
    })
    this.#jw.event({ type: 'step', step: label, detail: outcome.error ? `failed: ${outcome.error}` : 'called' })
    this.#jw.save()
    if (outcome.status === 'failed' && !s.continueOnFailure) throw new Error(`step ${label}: ${outcome.error}`)
    if (outcome.status === 'failed') this.#ctx.say(`  ${label} failed (the method goes on): ${outcome.error}`)
    return outcome.status === 'succeeded'
  }

  /**
   * The rollbacks: played in order, each whatever the ones before it did, and not cut short by an
   * abort (they are how a run cleans up after itself).
   */
  async rollbacks(steps: StepSpec[]): Promise<void> {
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!
      const label = stepLabel(s, `/rollbacks/${i}`)
      this.#jw.event({ type: 'step', step: label, detail: 'rollback started' })
      if (s.wait !== undefined) await sleep(s.wait, new AbortController().signal)
      else await this.#call({ ...s, continueOnFailure: true }, label, `/rollbacks/${i}`)
    }
    this.#jw.save()
  }

  async #inject(injector: AnyInjector, spec: unknown, step: Step, keep: boolean): Promise<void> {
    const ctx = this.#ctx
    const planned = await injector.plan(spec, step, ctx)
    for (const p of planned) {
      p.record.id = `fault-${this.#journal.faults.length + 1}`
      this.#journal.faults.push(p.record)
      this.#jw.event({ type: 'intent', step: step.label, fault: p.record.id, detail: p.intent })
    }
    await this.#jw.save() // intent is durable before anything is applied
    if (this.#journal.dryRun) {
      this.#jw.event({ type: 'step', step: step.label, detail: 'dry run: not applied' })
      // Exactly what a real run would hit, so a dry run answers "which pods?" before anything does.
      for (const p of planned) {
        // Kubernetes intents name their objects already: those names are not repeated after "on".
        const unnamed = p.record.on.filter((o) => !p.intent.includes(o))
        ctx.say(`  [dry run] ${step.label}: would ${p.intent}${unnamed.length ? ` on ${unnamed.join(', ')}` : ''}`)
      }
      if (planned.length === 0) ctx.say(`  [dry run] ${step.label}: selects nothing`)
      await Promise.all(planned.map((p) => injector.hold?.(p, spec, ctx, false)))
      return
    }
    const mine: Applied[] = []
    for (const p of planned) {
      const entry: Applied = { record: p.record, revert: () => injector.revert(p, spec, ctx) }
      // Pushed before apply: a partial apply is reverted too.
      this.#reverts.push(entry)
      mine.push(entry)
      let detail: string
      try {
        detail = await injector.apply(p, spec, ctx)
      } catch (err) {
        p.record.error ??= (err as Error).message
        throw err
      }
      p.record.appliedAt ??= Date.now()
      this.#jw.event({ type: 'applied', step: step.label, fault: p.record.id, detail })
      this.#jw.save()
    }
    // A kept fault stands until revertAll (the run decides when: spec.revertAt).
    if (!injector.hold || keep) return
    await Promise.all(planned.map((p) => injector.hold!(p, spec, ctx, true)))
    for (const entry of mine.reverse()) {
      const i = this.#reverts.indexOf(entry)
      if (i >= 0) this.#reverts.splice(i, 1)
      await this.#revertOne(entry)
    }
  }

  async #revertOne({ record, revert }: Applied): Promise<void> {
    const said = await revert()
    record.revertedAt = Date.now()
    if (said) this.#jw.event({ type: 'reverted', step: record.step, fault: record.id, detail: said })
    this.#jw.save()
  }

  /** Reverts everything still applied, newest first; a failure is journalled and the rest go on. */
  async revertAll(): Promise<void> {
    while (this.#reverts.length) {
      const entry = this.#reverts.pop()!
      try {
        await this.#revertOne(entry)
      } catch (err) {
        const { record } = entry
        record.error = `revert failed: ${(err as Error).message}`
        this.#jw.event({ type: 'revert-failed', fault: record.id, detail: record.error })
        this.#ctx.say(
          `  [revert] FAILED for ${record.id}: ${(err as Error).message}${record.ttlMs ? ` (its rules still expire by ttl)` : ''}`,
        )
      }
    }
    this.#jw.save()
  }
}
