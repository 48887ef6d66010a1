/** Validation of the faultline/v1 fields for Chaos Toolkit semantics: where keep, continueOnFailure and rollbacks apply. */
import { describe, expect, it } from 'vitest'
import { validateExperiment } from '../../src/experiments/schema.ts'

const doc = (spec: Record<string, unknown>) => ({
  apiVersion: 'faultline/v1',
  kind: 'Experiment',
  metadata: { name: 'x', annotations: { 'faultline.io/source-format': 'chaostoolkit' } },
  spec: {
    targets: { web: { kubernetes: { namespaces: ['shop'] } }, s: { sidecars: ['http://127.0.0.1:1'] } },
    hypothesis: { title: 't', checks: [] },
    method: [{ wait: '1s' }],
    ...spec,
  },
})
const issues = (spec: Record<string, unknown>) => {
  const r = validateExperiment(doc(spec))
  return r.ok ? [] : r.issues
}

describe('faultline/v1: steps and fields for Chaos Toolkit semantics', () => {
  it('accepts http/run steps, keep on Kubernetes faults, revertAt, rollbacks, once-checks, exit code forms', () => {
    expect(
      issues({
        hypothesis: {
          title: 't',
          checks: [{ name: 'c', once: true, command: { run: ['true'], exitCode: [0, '2-4'], stdoutRegex: 'x' } }],
        },
        method: [
          { http: { url: 'http://127.0.0.1:1/', status: ['200-299'] }, continueOnFailure: true },
          { run: { command: ['true'], exitCode: '0-255', timeout: '1s' } },
          { podKill: { target: 'web' }, keep: true },
        ],
        revertAt: 'after-phase',
        rollbacks: [{ wait: '1s' }, { run: { command: ['true'] } }],
      }),
    ).toEqual([])
  })

  it('refuses keep and continueOnFailure where they do not apply, and fault steps as rollbacks, by path', () => {
    const got = issues({
      method: [
        { sidecarFault: { target: 's', duration: '1s', rules: [{ id: 'r', abort: { status: 500 } }] }, keep: true },
        { wait: '1s', continueOnFailure: true },
      ],
      rollbacks: [{ podKill: { target: 'web' } }],
    })
    expect(got.map((i) => i.path)).toEqual([
      '/spec/method/0/keep',
      '/spec/method/1/continueOnFailure',
      '/spec/rollbacks/0/podKill',
    ])
  })

  it('refuses exit codes out of range and bad revertAt values', () => {
    const got = issues({
      method: [{ run: { command: ['true'], exitCode: '0-256' } }, { run: { command: ['true'], exitCode: [300] } }],
      revertAt: 'never',
    })
    expect(got.map((i) => i.path)).toEqual(
      expect.arrayContaining(['/spec/method/0/run/exitCode', '/spec/method/1/run/exitCode/0', '/spec/revertAt']),
    )
  })
})
