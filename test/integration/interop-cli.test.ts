/**
 * Other tools' documents through the real CLI: `faultline run` and `faultline validate`
 * recognise Chaos Toolkit, Chaos Mesh and Litmus files by content, say what was approximated,
 * and refuse a file in no known format with exit 64.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CTK_JOURNAL_FILE } from '../../controller/interop/journals.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const BIN = path.join(ROOT, 'bin/faultline.js')
const FIXTURES = path.join(ROOT, 'test/fixtures/interop')

let dir: string
let app: Server
let appUrl: string
let broken = false
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-interop-cli-'))
  // The service of http-deviates.yaml: POST /break breaks /health, POST /fix repairs it.
  app = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.url === '/break') broken = true
      if (req.url === '/fix') broken = false
      res.writeHead(req.url === '/health' && broken ? 503 : 200)
      res.end('ok')
    })
  })
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r))
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((r) => app.close(r))
  rmSync(dir, { recursive: true, force: true })
})

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? dir, ...env },
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })))
}

describe('faultline run and validate read the other tools documents', () => {
  it('runs a Chaos Toolkit experiment: deviated is exit 1, the rollback ran, both journals written', async () => {
    const r = await cli(
      ['run', path.join(FIXTURES, 'chaostoolkit/http-deviates.yaml'), '--output', 'json', '--data', 'runs'],
      { APP_URL: appUrl },
    )
    expect(r.code, r.err).toBe(1)
    const result = JSON.parse(r.out) as { verdict: string; format: string; journal: string }
    expect(result).toMatchObject({ verdict: 'fail', format: 'chaostoolkit' })
    expect(r.err).toMatch(/read as Chaos Toolkit/)
    expect(broken).toBe(false)
    const ctk = JSON.parse(readFileSync(path.join(path.dirname(result.journal), CTK_JOURNAL_FILE), 'utf8')) as {
      deviated: boolean
    }
    expect(ctk.deviated).toBe(true)
  })

  it('validates a Chaos Mesh document and lists its approximations', async () => {
    const r = await cli(['validate', path.join(FIXTURES, 'chaosmesh/http-delay.yaml'), '--output', 'json'])
    expect(r.code, r.err).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, format: 'chaosmesh' })
    const text = await cli(['validate', path.join(FIXTURES, 'chaosmesh/http-delay.yaml')])
    expect(text.out).toMatch(/valid .*\n.*read as Chaos Mesh/)
  })

  it('refuses a document in no known format with exit 64, naming the formats it knows', async () => {
    const file = path.join(dir, 'other.yaml')
    writeFileSync(file, 'kind: Deployment\napiVersion: apps/v1\nmetadata: { name: x }\n')
    const r = await cli(['run', file])
    expect(r.code).toBe(64)
    expect(r.err).toMatch(/Chaos Toolkit/)
    expect(r.err).toMatch(/Litmus/)
    expect(existsSync(path.join(dir, '.faultline'))).toBe(false)
  })
})
