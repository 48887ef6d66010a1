import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'faultline-ts-cache-'))
  dirs.push(d)
  return d
}

/** Loads `modules` through the launcher's cache in a fresh Node; says whether amaro was loaded. */
function load(cache: string, modules: string[]): { amaro: boolean; exports: string[] } {
  const script = `
    import { useStripCache } from ${JSON.stringify(path.join(ROOT, 'bin/strip-cache.js'))}
    useStripCache()
    const exports = []
    for (const m of JSON.parse(process.argv[1])) exports.push(...Object.keys(await import(m)))
    console.log(JSON.stringify({ amaro: process.moduleLoadList.some((m) => m.includes('amaro')), exports }))`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(modules)], {
    env: { ...process.env, FAULTLINE_TS_CACHE: cache },
    encoding: 'utf8',
  })
  return JSON.parse(out) as { amaro: boolean; exports: string[] }
}

describe('the stripped-TypeScript cache of the launcher', () => {
  it('strips once; a process whose files are all cached never loads the stripper', () => {
    const cache = tempDir()
    const modules = [path.join(ROOT, 'src/duration.ts'), path.join(ROOT, 'src/errors.ts')]
    const cold = load(cache, modules)
    expect(cold.amaro).toBe(true)
    expect(cold.exports).toContain('parseDuration')
    const stored = fs.readdirSync(cache)
    expect(stored.length).toBeGreaterThanOrEqual(2)
    const warm = load(cache, modules)
    expect(warm).toEqual({ ...cold, amaro: false })
    expect(fs.readdirSync(cache)).toEqual(stored)
  })

  it('keys entries by content: an edited file is stripped again, never served stale', () => {
    const cache = tempDir()
    // A project file is anything under the repository root that is not in node_modules.
    const file = path.join(ROOT, 'test', `.strip-cache-probe-${process.pid}.ts`)
    dirs.push(file)
    fs.writeFileSync(file, 'export const answer: number = 1\n')
    expect(load(cache, [file]).exports).toEqual(['answer'])
    fs.writeFileSync(file, 'export const changed: string = "x"\n')
    const again = load(cache, [file])
    expect(again).toEqual({ amaro: true, exports: ['changed'] })
    expect(fs.readdirSync(cache)).toHaveLength(2)
  })

  it('still runs when the cache cannot be written, with one warning', () => {
    const blocker = path.join(tempDir(), 'file')
    fs.writeFileSync(blocker, '')
    // A path under a regular file can never be created.
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/faultline.js'), 'version'], {
      env: { ...process.env, FAULTLINE_TS_CACHE: path.join(blocker, 'cache') },
      encoding: 'utf8',
    })
    expect(r.status).toBe(0)
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    expect(r.stderr.match(/FL_TS_CACHE/g)).toHaveLength(1)
  })
})
