/**
 * The dashboard's files as the controller serves them: every module parses, imports only files
 * it serves, stays within the 35 KB compressed JavaScript budget, and the compaction keeps what
 * the code means.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  buildAssets,
  compressedScriptBytes,
  CONTENT_SECURITY_POLICY,
  rewriteImports,
} from '../../controller/ui/assets.ts'
import { compact } from '../../controller/ui/compact.ts'

const run = promisify(execFile)
const assets = buildAssets()

describe('dashboard assets', () => {
  it('are within the budget of 35 KB of compressed JavaScript', () => {
    const bytes = compressedScriptBytes(assets)
    expect(bytes).toBeGreaterThan(10_000)
    expect(bytes).toBeLessThanOrEqual(35_000)
  })

  it('serve the shell, its stylesheet, the modules, the vendored Preact and htm, and the shared chart geometry', () => {
    for (const name of ['index.html', 'style.css', 'main.ts', 'app.ts', 'preact.mjs', 'preact-hooks.mjs', 'htm.mjs'])
      expect(assets.has(name), name).toBe(true)
    expect(assets.get('chart-geometry.ts')!.body.toString()).toContain('timeChartGeometry')
    expect(assets.has('types.ts')).toBe(false)
    // The shell loads only same-directory files by relative URL: any prefix works.
    const shell = assets.get('index.html')!.body.toString()
    expect(shell).toContain('<script type="module" src="main.ts"></script>')
    expect(shell).not.toMatch(/<script>|src="\/|href="\/|https?:/)
  })

  it('every module parses, and imports only ./ files the dashboard serves', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fl-ui-'))
    try {
      for (const [name, a] of assets) {
        if (!a.type.startsWith('text/javascript')) continue
        const code = a.body.toString()
        for (const m of code.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
          expect(m[1], `${name} imports ${m[1]}`).toMatch(/^\.\/[\w.-]+$/)
          expect(assets.has(m[1]!.slice(2)), `${name} imports ${m[1]}`).toBe(true)
        }
        const file = path.join(dir, `${name}.mjs`)
        writeFileSync(file, code)
        await run(process.execPath, ['--check', file])
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('refuses an import it does not serve', () => {
    expect(() => rewriteImports(`import x from 'lodash'`, 'ui/a.ts', new Map())).toThrow(/does not serve/)
    expect(() => rewriteImports(`import x from '../src/x.ts'`, 'ui/a.ts', new Map())).toThrow(/does not serve/)
    expect(rewriteImports(`import { h } from 'preact'`, 'ui/a.ts', new Map())).toBe(`import { h } from './preact.mjs'`)
    expect(rewriteImports(`import { b } from './b.ts'`, 'ui/a.ts', new Map([['ui/b.ts', 'b.ts']]))).toBe(
      `import { b } from './b.ts'`,
    )
  })

  it('have a policy with no inline script, same-origin data only, and no framing', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'")
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe')
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self'")
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'")
  })
})

describe('compact', () => {
  const cases = [
    'const a = 1 // one\nconst b = 2\n/* two\n lines */ a + b',
    "const s = '// not a comment /* nor this */'; s",
    'const t = `keep   ${1 + 1}   spaces ${`in ${"nested"}   ones`}`; t',
    'const r = /\\/\\/[a-z/]+/g; "x//ab/c".match(r).join("|")',
    'const d = 10 / 2 / 5; const f = (6) / 3; [d, f]',
    'function g() { return /x y/.test("x y") }\ng()',
    'let x = 1\nlet y = x\n++x\n;[x, y]',
    'const o = { a: 1, "b c": 2 }; o["b c"] + o.a',
    'const n = 1e-3 - -2; n',
  ]
  for (const code of cases)
    it(`keeps what ${JSON.stringify(code.slice(0, 30))} means`, () => {
      const small = compact(code)
      expect(small.length).toBeLessThanOrEqual(code.length)
      expect((0, eval)(small)).toEqual((0, eval)(code))
    })

  it('drops comments and indentation, keeps one line break per run', () => {
    expect(compact('/** doc */\nfunction f() {\n    // why\n    return 1\n}\n')).toBe('function f() {\nreturn 1\n}\n')
  })
})
