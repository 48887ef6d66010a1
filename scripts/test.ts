/**
 * `npm test`: installs the system packages the tests need (once), type-checks, lints, checks
 * formatting, then runs every vitest project; ends with one plain
 * summary line ("tests: N passed, N failed, N skipped") that CI and people can read at a glance.
 * Extra arguments go to vitest (`npm test -- --project unit`).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

function step(name: string, cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, { stdio: 'inherit' })
  if (r.status !== 0) process.stderr.write(`\n${name} failed (exit ${r.status ?? r.signal})\n`)
  return r.status ?? 1
}

const checks: [string, string, string[]][] = [
  // Real parts the integration tests use (prometheus, chromium): installed once, by apt.
  ['test dependencies', 'bash', ['scripts/install-test-deps.sh']],
  ['type-check', 'tsc', ['-p', '.']],
  ['lint', 'eslint', ['.']],
  ['format check', 'prettier', ['--check', '--log-level', 'warn', '.']],
]
for (const [name, cmd, args] of checks) if (step(name, cmd, args) !== 0) process.exit(1)

const dir = mkdtempSync(path.join(tmpdir(), 'faultline-test-'))
const report = path.join(dir, 'vitest.json')
const status = step('vitest', 'vitest', [
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
])
try {
  const r = JSON.parse(readFileSync(report, 'utf8')) as {
    numPassedTests: number
    numFailedTests: number
    numPendingTests: number
    numTodoTests: number
  }
  process.stdout.write(
    `\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped\n`,
  )
} catch {
  process.stdout.write('\ntests: 0 passed, 1 failed (vitest wrote no report)\n')
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exit(status)
