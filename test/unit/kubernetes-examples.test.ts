/**
 * The Kubernetes examples and reference stay true to the schema: every example under
 * examples/kubernetes/ parses and validates with the project's own reader (variables filled in as
 * a user would pass them), says how to run it, and docs/kubernetes.md documents every step kind,
 * step field, target field and check stat the schema has. The lists come from the schema
 * modules, so a new step kind or field without docs fails here.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseExperiment } from '../../src/experiments/document.ts'
import {
  KUBERNETES_STATS,
  kubernetesCheck,
  kubernetesSteps,
  kubernetesTarget,
  PROTECTED_NAMESPACES,
} from '../../src/experiments/kubernetes-schema.ts'
import { STEP_KINDS } from '../../src/experiments/schema.ts'
import { MODES } from '../../src/kubernetes/modes.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLES = path.join(ROOT, 'examples/kubernetes')
const DOC = readFileSync(path.join(ROOT, 'docs/kubernetes.md'), 'utf8')

/** What a user would pass with --var; an example using anything else fails loudly below. */
const PLAUSIBLE: Record<string, string> = {
  NAMESPACE: 'shop',
  APP: 'web',
  URL: 'http://web.shop.svc.cluster.local:8080/healthz',
  NODE_SELECTOR: 'node-role.kubernetes.io/worker',
}

const examples = readdirSync(EXAMPLES)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()

function variablesOf(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))]
}

/** Property names of an object schema, as the JSON Schema it publishes lists them. */
function fieldsOf(schema: { json: unknown }): string[] {
  return Object.keys((schema.json as { properties?: Record<string, unknown> }).properties ?? {})
}

/** The text under the markdown heading that names `name` in backticks, up to the next heading of that level or above. */
function sectionOf(doc: string, name: string): string | undefined {
  const lines = doc.split('\n')
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.includes(`\`${name}\``))
  if (start < 0) return undefined
  const level = /^#+/.exec(lines[start]!)![0].length
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l))
  return lines.slice(start, end < 0 ? undefined : end).join('\n')
}

describe('examples/kubernetes', () => {
  it('has the four documented examples', () => {
    expect(examples).toEqual(
      expect.arrayContaining(['node-drain.yaml', 'pod-delete-http-probe.yaml', 'pod-failure.yaml', 'pod-kill.yaml']),
    )
  })

  it.each(examples)('%s parses and validates with plausible variables', (file) => {
    const text = readFileSync(path.join(EXAMPLES, file), 'utf8')
    const used = variablesOf(text)
    expect(used.filter((v) => !(v in PLAUSIBLE))).toEqual([])
    const doc = parseExperiment(text, PLAUSIBLE, file)
    expect(doc.apiVersion).toBe('faultline/v1')
    expect(doc.kind).toBe('Experiment')
    // Every example acts on the cluster, through a Kubernetes target.
    expect(Object.values(doc.spec.targets).some((t) => t.kubernetes)).toBe(true)
  })

  it.each(examples)('%s is refused when a variable it uses is missing', (file) => {
    const text = readFileSync(path.join(EXAMPLES, file), 'utf8')
    const [first] = variablesOf(text)
    if (!first) return
    const vars = { ...PLAUSIBLE }
    delete vars[first]
    expect(() => parseExperiment(text, vars, file)).toThrow(/problem/)
  })

  it.each(examples)('%s starts with a comment that says how to run it', (file) => {
    const text = readFileSync(path.join(EXAMPLES, file), 'utf8')
    const header = text.slice(0, text.indexOf('apiVersion:'))
    expect(header.split('\n').every((l) => l === '' || l.startsWith('#'))).toBe(true)
    expect(header).toContain(`faultline run examples/kubernetes/${file}`)
    for (const v of variablesOf(text)) expect(header).toContain(`--var ${v}=`)
  })

  it('pod-kill.yaml is the one the issue describes: one pod, Kubernetes checks only', () => {
    const text = readFileSync(path.join(EXAMPLES, 'pod-kill.yaml'), 'utf8')
    const doc = parseExperiment(text, PLAUSIBLE, 'pod-kill.yaml')
    expect(doc.spec.targets.app!.kubernetes).toMatchObject({
      namespaces: ['shop'],
      labelSelector: 'app=web',
      mode: 'one',
    })
    expect(doc.spec.hypothesis.checks.every((c) => c.kubernetes)).toBe(true)
    const during = doc.spec.hypothesis.checks.find((c) => c.phases?.includes('during'))!
    expect(during.kubernetes!.stat).toBe('readyPods')
    expect(during.tolerance).toEqual({ min: 2 })
    const after = doc.spec.hypothesis.checks.find((c) => c.phases?.includes('after'))!
    expect(after.kubernetes!.stat).toBe('readyRatio')
    expect(after.tolerance).toEqual({ min: 1 })
    expect(after.recoverWithin).toBe(60_000)
    expect(doc.spec.method.some((s) => s.podKill)).toBe(true)
  })

  it('pod-failure.yaml fails one pod for under 15 s', () => {
    const doc = parseExperiment(readFileSync(path.join(EXAMPLES, 'pod-failure.yaml'), 'utf8'), PLAUSIBLE, 'x')
    const step = doc.spec.method.find((s) => s.podFailure)!.podFailure!
    expect(step.duration).toBeLessThan(15_000)
    expect(doc.spec.targets[step.target]!.kubernetes!.mode).toBe('one')
  })

  it('pod-delete-http-probe.yaml probes HTTP in every phase', () => {
    const doc = parseExperiment(readFileSync(path.join(EXAMPLES, 'pod-delete-http-probe.yaml'), 'utf8'), PLAUSIBLE, 'x')
    const probe = doc.spec.hypothesis.checks.find((c) => c.http)!
    expect(probe.http!.url).toBe(PLAUSIBLE.URL)
    expect(probe.phases ?? ['before', 'during', 'after']).toEqual(['before', 'during', 'after'])
    expect(doc.spec.method.filter((s) => s.podKill).length).toBeGreaterThan(1)
  })

  it('node-drain.yaml drains one node and watches an app', () => {
    const doc = parseExperiment(readFileSync(path.join(EXAMPLES, 'node-drain.yaml'), 'utf8'), PLAUSIBLE, 'x')
    const step = doc.spec.method.find((s) => s.nodeDrain)!.nodeDrain!
    expect(doc.spec.targets[step.target]!.kubernetes).toMatchObject({ kind: 'node', mode: 'one' })
    expect(doc.spec.hypothesis.checks.some((c) => c.kubernetes?.stat === 'readyRatio')).toBe(true)
  })
})

describe('docs/kubernetes.md', () => {
  const kinds = Object.keys(kubernetesSteps) as (keyof typeof kubernetesSteps)[]

  it('covers every Kubernetes step kind the experiment schema accepts', () => {
    expect(kinds.length).toBeGreaterThan(0)
    for (const k of kinds) expect(STEP_KINDS).toContain(k)
    expect(kinds.filter((k) => !DOC.includes(`\`${k}\``))).toEqual([])
  })

  it.each(kinds)('has a section for %s that names each of its fields', (kind) => {
    const section = sectionOf(DOC, kind)
    expect(section, `a heading naming \`${kind}\``).toBeDefined()
    const missing = fieldsOf(kubernetesSteps[kind]).filter((f) => !section!.includes(`\`${f}\``))
    expect(missing).toEqual([])
  })

  it('names every check stat and every check field', () => {
    expect(KUBERNETES_STATS.filter((s) => !DOC.includes(`\`${s}\``))).toEqual([])
    expect(fieldsOf(kubernetesCheck).filter((f) => !DOC.includes(`\`${f}\``))).toEqual([])
  })

  it('names every target field, every mode and every protected namespace', () => {
    expect(fieldsOf(kubernetesTarget).filter((f) => !DOC.includes(`\`${f}\``))).toEqual([])
    expect(MODES.filter((m) => !DOC.includes(`\`${m}\``))).toEqual([])
    expect(PROTECTED_NAMESPACES.filter((n) => !DOC.includes(`\`${n}\``))).toEqual([])
  })

  it('names the error codes and the annotations faultline uses', () => {
    for (const s of [
      'FL_ERR_KUBERNETES',
      'FL_ERR_TARGET_PROTECTED',
      'FL_ERR_TARGET_BUSY',
      'FL_ERR_CONFIG_INVALID',
      'faultline.io/run-id',
      'faultline.io/original',
      'faultline.io/chaos',
    ])
      expect(DOC).toContain(s)
  })

  it('links every example', () => {
    expect(examples.filter((f) => !DOC.includes(`examples/kubernetes/${f}`))).toEqual([])
  })
})
