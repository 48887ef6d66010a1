/**
 * The published API descriptions and JSON Schemas, checked by the tools users point at them:
 * @apidevtools/swagger-parser (validate), the real Redocly CLI (`redocly lint`, 0 errors), and ajv
 * (draft 2020-12, with ajv-formats) compiling what `faultline schema` and `faultline schema
 * experiment` print, then judging the shipped examples and broken copies of them.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import SwaggerParser from '@apidevtools/swagger-parser'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { openApiDocument } from '../../controller/api/openapi.ts'
import { substitute } from '../../src/experiments/document.ts'
import { validateExperiment } from '../../src/experiments/schema.ts'
import { adminOpenApiDocument } from '../../sidecar/admin-openapi.ts'

const run = promisify(execFile)
const root = path.resolve(import.meta.dirname, '../..')
const require = createRequire(import.meta.url)
const REDOCLY = path.join(path.dirname(require.resolve('@redocly/cli/package.json')), 'bin/cli.js')

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fl-openapi-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface LintProblem {
  ruleId: string
  severity: 'error' | 'warn'
  message: string
  location: { pointer: string }[]
}

/** `redocly lint FILE --format json`, run as a user would (the CLI, its default configuration here). */
async function redoclyLint(name: string, doc: unknown): Promise<{ errors: number; problems: LintProblem[] }> {
  const file = path.join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(doc, null, 2))
  // Exit status 1 when there are errors; the JSON report is on stdout either way.
  const out = await run(process.execPath, [REDOCLY, 'lint', file, '--format', 'json'], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  const report = JSON.parse(out.stdout) as { totals: { errors: number }; problems: LintProblem[] }
  return { errors: report.totals.errors, problems: report.problems }
}

/**
 * The only warning left: `operation-4xx-response` on operations that cannot answer a client
 * error at all (no token, no parameter, no body: liveness, this description, metrics). Inventing
 * a 4xx there would make the description wrong, so the warning stays, and only there.
 */
function expectOnlyUnavoidableWarnings(doc: Record<string, any>, problems: LintProblem[]): void {
  for (const p of problems) {
    expect(`${p.ruleId} ${p.location[0]!.pointer}: ${p.message}`).toMatch(/^operation-4xx-response /)
    const [, , pathKey, method] = p.location[0]!.pointer.split('/') // #/paths/<path>/<method>/...
    const op = doc.paths[pathKey!.replaceAll('~1', '/')][method!]
    expect(op.parameters, `${method} ${pathKey}`).toBeUndefined()
    expect(op.requestBody, `${method} ${pathKey}`).toBeUndefined()
    expect(op.security, `${method} ${pathKey} needs no token`).toEqual([])
  }
}

const documents = {
  controller: () => openApiDocument(),
  'sidecar admin': () => adminOpenApiDocument(),
}

describe.each(Object.entries(documents))('the %s OpenAPI document', (name, make) => {
  it('is valid for swagger-parser', async () => {
    // validate() dereferences in place: give it a copy.
    const api = await SwaggerParser.validate(structuredClone(make()) as never)
    expect((api as { openapi?: string }).openapi).toBe('3.1.0')
  })

  it('has no redocly lint errors, and no warnings but the unavoidable ones', async () => {
    const doc = make()
    const { errors, problems } = await redoclyLint(name.replace(' ', '-'), doc)
    expect(problems.filter((p) => p.severity === 'error')).toEqual([])
    expect(errors).toBe(0)
    expectOnlyUnavoidableWarnings(doc, problems)
  }, 60_000)

  it('has an operationId, a success answer and described errors on every operation', () => {
    const doc = make() as Record<string, any>
    const ids = new Set<string>()
    for (const [p, item] of Object.entries(doc.paths as Record<string, Record<string, any>>))
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method} ${p}`).toMatch(/^[a-z][A-Za-z]+$/)
        expect(ids.has(op.operationId), op.operationId).toBe(false)
        ids.add(op.operationId)
        const statuses = Object.keys(op.responses)
        expect(
          statuses.filter((s) => /^2\d\d$/.test(s)),
          `${method} ${p}`,
        ).toHaveLength(1)
        expect(statuses, `${method} ${p}`).toContain('5XX')
        // Every client and server error is the error body; readiness alone answers 503 with its own.
        for (const s of statuses.filter((s) => /^[45]/.test(s) && !(p === '/readyz' && s === '503')))
          expect(op.responses[s].content['application/json'].schema, `${method} ${p} ${s}`).toEqual({
            $ref: '#/components/schemas/Error',
          })
      }
  })
})

describe('the controller OpenAPI document', () => {
  it('takes experiments as JSON or YAML, and answers reports as HTML and Markdown', () => {
    const doc = openApiDocument() as Record<string, any>
    for (const [p, method] of [
      ['/experiments', 'post'],
      ['/experiments/validate', 'post'],
      ['/experiments/{name}', 'put'],
    ] as const)
      expect(Object.keys(doc.paths[p][method].requestBody.content), `${method} ${p}`).toEqual([
        'application/json',
        'application/yaml',
        'application/x-yaml',
        'text/yaml',
      ])
    expect(Object.keys(doc.paths['/runs/{id}/report'].get.responses['200'].content)).toEqual(['text/html'])
    expect(Object.keys(doc.paths['/runs/{id}/report.md'].get.responses['200'].content)).toEqual(['text/markdown'])
  })
})

// ── JSON Schemas ─────────────────────────────────────────────────────────────

/** What `faultline schema [experiment]` prints, run as the CLI. */
async function printedSchema(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [path.join(root, 'bin/faultline.js'), 'schema', ...args], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  })
  return JSON.parse(stdout) as Record<string, unknown>
}

function compile(schema: Record<string, unknown>) {
  const ajv = new Ajv2020({ allErrors: true, strict: true })
  addFormats.default(ajv)
  return ajv.compile(schema)
}

/** Every ${VAR} of the examples is a URL (sidecar admin or service), filled as `faultline run --var` would. */
const EXAMPLE_VARS = new Proxy({} as Record<string, string>, { get: () => 'http://127.0.0.1:8481' })

function example(file: string): Record<string, any> {
  const issues: { path: string; message: string }[] = []
  const doc = substitute(parseYaml(readFileSync(file, 'utf8')), EXAMPLE_VARS, issues) as Record<string, any>
  expect(issues).toEqual([])
  return doc
}

describe('faultline schema experiment', () => {
  let validate: ReturnType<typeof compile>
  const examples = readdirSync(path.join(root, 'examples/experiments'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(root, 'examples/experiments', f))

  beforeAll(async () => {
    validate = compile(await printedSchema('experiment'))
  }, 30_000)

  it('compiles with ajv (strict, draft 2020-12), and every example experiment validates', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3)
    for (const file of examples) {
      const doc = example(file)
      // faultline's own validator agrees that the example is valid.
      expect(validateExperiment(doc), file).toMatchObject({ ok: true })
      expect(validate(doc), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
  })

  it.each([
    ['a misspelt field', (d: Record<string, any>) => (d.spec.hypothesis.titel = d.spec.hypothesis.title)],
    ['a duration without a unit', (d: Record<string, any>) => (d.spec.method[0].sidecarFault.duration = 30)],
    [
      'an unknown fault field in a rule',
      (d: Record<string, any>) => (d.spec.method[0].sidecarFault.rules[0].dealy = {}),
    ],
    [
      'a bad step nested in a parallel group',
      (d: Record<string, any>) => (d.spec.method = [{ parallel: [{ wait: 'soon' }] }]),
    ],
    ['no method', (d: Record<string, any>) => delete d.spec.method],
  ])('refuses an example with %s, as faultline validate does', (_name, breakIt) => {
    const doc = example(path.join(root, 'examples/experiments/latency-absorbed.yaml'))
    breakIt(doc)
    expect(validate(doc)).toBe(false)
    expect(validateExperiment(doc).ok).toBe(false)
  })
})

describe('faultline schema (a rule set)', () => {
  it('compiles with ajv, accepts the demo rules and refuses a broken rule', async () => {
    const validate = compile(await printedSchema())
    const rules = parseYaml(readFileSync(path.join(root, 'examples/demo-rules.yaml'), 'utf8')) as Record<string, any>
    expect(rules.rules.length).toBeGreaterThan(0)
    expect(validate(rules), JSON.stringify(validate.errors)).toBe(true)
    rules.rules[0].percent = 'half'
    expect(validate(rules)).toBe(false)
    expect(validate({ rules: [{ id: 'x', abort: { status: 503 }, surprise: true }] })).toBe(false)
  }, 30_000)
})
