/** Builds experiment documents for tests, validated exactly as the CLI does. */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { validateExperiment, type ExperimentDoc } from '../../src/experiments/schema.ts'

export function experiment(spec: Record<string, unknown>, name = 'test-exp'): ExperimentDoc {
  const doc = { apiVersion: 'faultline/v1', kind: 'Experiment', metadata: { name }, spec }
  const r = validateExperiment(doc)
  if (!r.ok) throw new Error(`invalid test experiment: ${JSON.stringify(r.issues)}`)
  return r.experiment
}

export function dataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'faultline-runs-'))
}
