/** readAnyExperiment: parsing (multi-document YAML, JSON), faultline/v1 itself, unknown formats. */
import { describe, expect, it } from 'vitest'
import { FaultlineError } from '../../src/errors.ts'
import { readAnyExperiment } from '../../src/interop/registry.ts'

const ctx = (vars: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) => ({ file: 'f.yaml', env, vars })

const FAULTLINE = `apiVersion: faultline/v1
kind: Experiment
metadata: { name: x }
spec:
  targets: {}
  hypothesis: { title: t, checks: [] }
  method: [{ wait: "\${PAUSE}" }]
`

function refusal(text: string): FaultlineError {
  try {
    readAnyExperiment(text, ctx())
  } catch (err) {
    expect(err).toBeInstanceOf(FaultlineError)
    expect((err as FaultlineError).code).toBe('FL_ERR_EXPERIMENT_INVALID')
    return err as FaultlineError
  }
  throw new Error('not refused')
}

describe('readAnyExperiment', () => {
  it('reads faultline/v1 with ${NAME} from --var over the environment, no approximations', () => {
    const r = readAnyExperiment(FAULTLINE, ctx({ PAUSE: '2s' }, { PAUSE: '9s' }))
    expect(r).toMatchObject({ format: 'faultline', approximations: [] })
    expect(r.experiment.spec.method[0]!.wait).toBe(2000)
    expect(readAnyExperiment(FAULTLINE, ctx({}, { PAUSE: '1s' })).experiment.spec.method[0]!.wait).toBe(1000)
  })

  it('faultline/v1 problems are reported by path', () => {
    const err = refusal(FAULTLINE.replace('"${PAUSE}"', '"soon"'))
    expect(err.issues!.map((i) => i.path)).toEqual(['/spec/method/0/wait'])
  })

  it('a document of no known format names every format faultline reads', () => {
    const err = refusal('apiVersion: v1\nkind: ConfigMap\n')
    for (const f of ['faultline/v1', 'Chaos Toolkit', 'Chaos Mesh']) expect(err.message).toContain(f)
    expect(err.details?.formats).toEqual(expect.arrayContaining(['faultline', 'chaostoolkit', 'chaosmesh']))
  })

  it('YAML syntax errors, empty files and empty documents between separators', () => {
    expect(refusal('a: [1, 2\n').message).toContain('not valid YAML or JSON')
    expect(refusal('').message).toContain('holds no document')
    expect(refusal('---\n---\n').message).toContain('holds no document')
    // Empty documents around a real one are ignored: still one faultline/v1 document.
    expect(readAnyExperiment(`---\n${FAULTLINE}---\n`, ctx({ PAUSE: '1s' })).format).toBe('faultline')
  })
})
