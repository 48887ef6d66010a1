/**
 * Property: a validator never throws and never half-accepts. Either the document is accepted,
 * or every problem comes back with a JSON pointer into the document. Both sides must be
 * exercised: the share of accepted documents (rule sets with several rules, experiments) is
 * checked against a floor, so the generators cannot silently drift to all-invalid again (they
 * once produced 0-1 valid experiments in 300) nor to all-valid.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { validateExperiment } from '../../src/experiments/schema.ts'
import { compileRuleSet } from '../../src/rules/compile.ts'
import { experiment, ruleSet, runs, FUZZ_TIMEOUT_MS } from './arbitraries.ts'

const POINTER = /^(\/[^/]*)*$/

/** Accepted and refused counts over one property run. */
function tally() {
  const t = { accepted: 0, refused: 0, share: () => t.accepted / Math.max(1, t.accepted + t.refused) }
  return t
}

describe('validators under fuzz', () => {
  it(
    'rule sets: compiled, or rejected with a pointer per problem',
    () => {
      const several = tally()
      fc.assert(
        fc.property(ruleSet, (input) => {
          const r = compileRuleSet(input, { now: Date.now(), generation: 1 })
          const rules = (input as { rules?: unknown })?.rules
          if (Array.isArray(rules) && rules.length >= 2) several[r.ok ? 'accepted' : 'refused']++
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
      // Measured at about 75% accepted (several rules); floors well below, so only a drift fails.
      expect(several.share()).toBeGreaterThanOrEqual(0.3)
      expect(several.share()).toBeLessThanOrEqual(0.95)
    },
    FUZZ_TIMEOUT_MS,
  )

  it(
    'experiments: valid, or rejected with a pointer per problem',
    () => {
      const docs = tally()
      fc.assert(
        fc.property(experiment, (doc) => {
          const r = validateExperiment(doc)
          docs[r.ok ? 'accepted' : 'refused']++
          if (r.ok) return
          expect(r.issues.length).toBeGreaterThan(0)
          for (const i of r.issues) expect(i.path).toMatch(POINTER)
        }),
        { numRuns: runs(1000) },
      )
      // Measured at about 68% valid.
      expect(docs.share()).toBeGreaterThanOrEqual(0.3)
      expect(docs.share()).toBeLessThanOrEqual(0.95)
    },
    FUZZ_TIMEOUT_MS,
  )
})
