/** Rewrites the generated fault-kind section of docs/rules.md from the registry. */
import { readFileSync, writeFileSync } from 'node:fs'
import { withGeneratedSection } from '../src/rules/docs.ts'

const file = new URL('../docs/rules.md', import.meta.url)
writeFileSync(file, withGeneratedSection(readFileSync(file, 'utf8')))
