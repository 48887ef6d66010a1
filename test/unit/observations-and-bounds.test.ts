/**
 * faultline/v1 additions for other tools' semantics: observations (measured, never judged),
 * strict tolerance bounds, and command checks whose output is a number.
 */
import { describe, expect, it } from 'vitest'
import { sampleCheck } from '../../controller/experiments/checks.ts'
import { validateExperiment, type CheckSpec } from '../../src/experiments/schema.ts'

const doc = (spec: Record<string, unknown>) => ({
  apiVersion: 'faultline/v1',
  kind: 'Experiment',
  metadata: { name: 'x' },
  spec: {
    targets: { web: { kubernetes: { namespaces: ['shop'], labelSelector: 'app=web' } } },
    hypothesis: { title: 't', checks: [] },
    method: [{ wait: '1s' }],
    ...spec,
  },
})
const issues = (spec: Record<string, unknown>) => {
  const r = validateExperiment(doc(spec))
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`)
}

describe('observations', () => {
  it('are checks without a tolerance, of the sidecar, promql or kubernetes kind', () => {
    expect(
      issues({
        observations: [{ name: 'ready', kubernetes: { target: 'web', stat: 'readyPods' }, observeAfter: '5s' }],
      }),
    ).toEqual([])
    expect(
      issues({
        observations: [{ name: 'ready', kubernetes: { target: 'web', stat: 'readyPods' }, tolerance: { min: 1 } }],
      }),
    ).toEqual([expect.stringMatching(/^\/spec\/observations\/0\/tolerance: unknown field/)])
    expect(issues({ observations: [{ name: 'cmd', command: { run: ['true'] } }] })).toEqual([
      expect.stringMatching(/^\/spec\/observations\/0\/command: unknown field/),
    ])
  })

  it('name a target that exists, and a name no check has', () => {
    expect(
      issues({
        hypothesis: {
          title: 't',
          checks: [{ name: 'ready', kubernetes: { target: 'web', stat: 'readyPods' }, tolerance: { min: 1 } }],
        },
        observations: [
          { name: 'ready', kubernetes: { target: 'web', stat: 'readyPods' } },
          { name: 'other', kubernetes: { target: 'nope', stat: 'readyPods' } },
        ],
      }),
    ).toEqual([
      '/spec/observations/0/name: duplicates the check at /spec/hypothesis/checks/0',
      expect.stringMatching(/^\/spec\/observations\/1\/kubernetes\/target: names no target/),
    ])
  })
})

describe('command checks with outputNumber', () => {
  const check = (run: string, tolerance: Record<string, unknown>): CheckSpec => {
    const r = validateExperiment(
      doc({
        hypothesis: {
          title: 't',
          checks: [{ name: 'c', command: { run: ['sh', '-c', run], outputNumber: true }, tolerance }],
        },
      }),
    )
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    return r.experiment.spec.hypothesis.checks[0]!
  }
  const ctx = { sidecars: () => [], baseline: () => undefined, now: () => Date.now() }

  it('needs a tolerance, and only then takes one', () => {
    expect(
      issues({ hypothesis: { title: 't', checks: [{ name: 'c', command: { run: ['true'], outputNumber: true } }] } }),
    ).toEqual(['/spec/hypothesis/checks/0/tolerance: is required for a command check with outputNumber'])
    expect(
      issues({
        hypothesis: { title: 't', checks: [{ name: 'c', command: { run: ['true'] }, tolerance: { max: 1 } }] },
      }),
    ).toEqual([expect.stringMatching(/^\/spec\/hypothesis\/checks\/0\/tolerance: does not apply to a command check/)])
  })

  it('judges the trimmed stdout with strict bounds strict', async () => {
    expect(await sampleCheck(check('echo " 4 "', { exclusiveMax: 4 }), 'during', ctx)).toMatchObject({
      outcome: 'fail',
      value: 4,
    })
    expect(await sampleCheck(check('echo 3.5', { exclusiveMax: 4 }), 'during', ctx)).toMatchObject({
      outcome: 'pass',
      value: 3.5,
    })
    expect(await sampleCheck(check('echo 4', { max: 4 }), 'during', ctx)).toMatchObject({ outcome: 'pass' })
  })

  it('output that is not a number is an error sample, never 0; a failing exit code fails', async () => {
    expect(await sampleCheck(check('echo abc', { max: 1 }), 'during', ctx)).toMatchObject({ outcome: 'error' })
    expect(await sampleCheck(check('true', { max: 1 }), 'during', ctx)).toMatchObject({ outcome: 'error' })
    expect(await sampleCheck(check('echo 0; exit 3', { max: 1 }), 'during', ctx)).toMatchObject({
      outcome: 'fail',
      detail: 'exit code 3',
    })
  })
})
