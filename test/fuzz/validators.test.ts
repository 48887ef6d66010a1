/**
 * Property: a validator never throws and never half-accepts. Either the document is accepted,
 * or every problem comes back with a JSON pointer into the document.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { validateExperiment } from '../../src/experiments/schema.ts'
import { compileRuleSet } from '../../src/rules/compile.ts'
import { experiment, ruleSet, runs } from './arbitraries.ts'

const POINTER = /^(\/[^/]*)*$/

describe('validators under fuzz', () => {
  it('rule sets: compiled, or rejected with a pointer per problem', () => {
    fc.assert(
      fc.property(ruleSet, (input) => {
        const r = compileRuleSet(input, { now: Date.now(), generation: 1 })
        if (r.ok) {
          // Whatever was accepted can be stored and served back as JSON.
          JSON.stringify(r.snapshot.stored)
          for (const rule of r.snapshot.rules) expect(Object.isFrozen(rule)).toBe(true)
          return
        }
        expect(r.issues.length).toBeGreaterThan(0)
        for (const i of r.issues) {
          expect(i.path).toMatch(POINTER)
          expect(i.message.length).toBeGreaterThan(0)
        }
      }),
      { numRuns: runs(1500) },
    )
  })

  it('experiments: valid, or rejected with a pointer per problem', () => {
    fc.assert(
      fc.property(experiment, (doc) => {
        const r = validateExperiment(doc)
        if (r.ok) return
        expect(r.issues.length).toBeGreaterThan(0)
        for (const i of r.issues) expect(i.path).toMatch(POINTER)
      }),
      { numRuns: runs(1000) },
    )
  })
})
