import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { buildSidecar } from '../../sidecar/build.ts'
import { send, startWorld, type World } from '../helpers/world.ts'

let world: World | undefined
let dir: string
afterEach(async () => {
  await world?.close()
  world = undefined
  rmSync(dir, { recursive: true, force: true })
})

/** Writes by rename, the way editors and Kubernetes ConfigMap mounts do. */
function replaceFile(file: string, text: string) {
  writeFileSync(file + '.tmp', text)
  renameSync(file + '.tmp', file)
}

it('loads YAML at start, reloads on change, and keeps the last good rules on a bad edit', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-rules-'))
  const file = path.join(dir, 'rules.yaml')
  writeFileSync(file, 'rules:\n  - id: one\n    match: { path: /status/200 }\n    abort: { status: 500 }\n')
  world = await startWorld({ rulesFile: file })
  expect((await send(world.proxyUrl + '/status/200')).status).toBe(500)

  replaceFile(file, '- id: two\n  match: { path: /status/200 }\n  abort: { status: 502 }\n')
  await expect.poll(async () => (await send(world!.proxyUrl + '/status/200')).status).toBe(502)

  replaceFile(file, 'rules:\n  - id: broken\n    abort: { status: 9000 }\n')
  await new Promise((r) => setTimeout(r, 300))
  expect((await send(world.proxyUrl + '/status/200')).status).toBe(502)
  expect((await world.admin('GET', '/rules')).body.rules.map((r: any) => r.id)).toEqual(['two'])
  expect((await world.admin('GET', '/readyz')).status).toBe(200)
})

it('refuses to start on an invalid rules file, naming the field', () => {
  dir = mkdtempSync(path.join(tmpdir(), 'faultline-rules-'))
  const file = path.join(dir, 'rules.json')
  writeFileSync(file, JSON.stringify({ rules: [{ id: 'x', delay: { ms: -1 } }] }))
  expect(() => buildSidecar({ upstream: 'http://127.0.0.1:1', rulesFile: file })).toThrow(
    expect.objectContaining({
      code: 'FL_ERR_RULES_INVALID',
      issues: [expect.objectContaining({ path: '/rules/0/delay/ms' })],
    }),
  )
})
