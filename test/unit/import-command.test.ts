/** `faultline import`: what it prints and its exit codes (0, 64), called as the CLI calls it. */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { importCommand } from '../../bin/import.ts'
import { UsageError } from '../../bin/usage.ts'

const FIXTURES = path.join(import.meta.dirname, '../fixtures/interop/chaostoolkit')
let out: string
let err: string

beforeEach(() => {
  out = ''
  err = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true))
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true))
})
afterEach(() => {
  vi.restoreAllMocks()
})

describe('faultline import', () => {
  it('prints the faultline/v1 YAML with the approximations in a comment header (exit 0)', async () => {
    const code = await importCommand([
      path.join(FIXTURES, 'http-deviates.yaml'),
      '--var',
      'base_url=http://127.0.0.1:9',
    ])
    expect(code).toBe(0)
    expect(out).toMatch(/^# faultline\/v1, translated from Chaos Toolkit: .*\n# every field mapped exactly\n/)
    const doc = parse(out)
    expect(doc).toMatchObject({ apiVersion: 'faultline/v1', spec: { revertAt: 'after-phase' } })
    expect(doc.spec.hypothesis.checks[0].http).toMatchObject({ url: 'http://127.0.0.1:9/health', timeout: '3s' })
  })

  it('--output json: format, approximations and the document', async () => {
    const code = await importCommand([path.join(FIXTURES, 'k8s-terminate-pods.json'), '--output', 'json'])
    expect(code).toBe(0)
    const j = JSON.parse(out)
    expect(j).toMatchObject({ ok: true, format: 'chaostoolkit', experiment: { apiVersion: 'faultline/v1' } })
    expect(j.approximations.map((a: { path: string }) => a.path)).toEqual([
      '/steady-state-hypothesis/probes/1/provider/arguments',
    ])
  })

  it('a recurring source prints the controller schedule as a second document (and in JSON)', async () => {
    const file = path.join(FIXTURES, '../chaosmesh/schedule-pod-kill.yaml')
    expect(await importCommand([file])).toBe(0)
    const [experiment, schedule] = out.split(/^---$/m).map((t) => parse(t))
    expect(experiment.apiVersion).toBe('faultline/v1')
    expect(schedule).toMatchObject({
      name: 'schedule-pod-kill',
      experiment: experiment.metadata.name,
      cron: expect.any(String),
    })
    out = ''
    expect(await importCommand([file, '--output', 'json'])).toBe(0)
    expect(JSON.parse(out).schedule).toEqual(schedule)
  })

  it('refusals: every refused field with its path on stderr, exit 64', async () => {
    expect(await importCommand([path.join(FIXTURES, 'unknown-python.json')])).toBe(64)
    expect(err).toContain('/method/0/provider/module')
    expect(err).toContain('/method/1/provider/func')
    expect(out).toBe('')
  })

  it('an unknown format exits 64 naming the known formats; --help; a missing file is a usage error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'faultline-import-'))
    writeFileSync(path.join(dir, 'x.yaml'), 'apiVersion: v1\nkind: ConfigMap\n')
    expect(await importCommand([path.join(dir, 'x.yaml'), '--output', 'json'])).toBe(64)
    expect(JSON.parse(out).issues[0].message).toMatch(/faultline\/v1, Chaos Toolkit \(chaostoolkit\)/)
    out = ''
    expect(await importCommand(['--help'])).toBe(0)
    expect(out).toContain('--output')
    await expect(importCommand([path.join(dir, 'missing.json')])).rejects.toBeInstanceOf(UsageError)
  })
})
