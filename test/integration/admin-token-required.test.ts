/**
 * `faultline sidecar --admin-token-required` (FAULTLINE_ADMIN_TOKEN_REQUIRED): what an injected
 * sidecar runs with, so a namespace without a copy of the token Secret (the injector's
 * `secretKeyRef` is optional) gets a sidecar that proxies traffic and reports ready, but whose
 * admin API refuses every change instead of taking it from anyone. Over real sockets: a sidecar
 * built in-process, and the real CLI in a child process with the variable empty.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { type SampleApp, startSampleApp } from '../../examples/sample-app.ts'
import { parseSidecarConfig } from '../../src/config.ts'
import { capturedLogger } from '../helpers/log.ts'
import { startWorld, type World } from '../helpers/world.ts'

const BIN = path.join(import.meta.dirname, '../../bin/faultline.js')
const RULES = [{ id: 'slow', delay: { ms: 1 } }]

let world: World | undefined
let app: SampleApp | undefined
let child: ChildProcess | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  child = undefined
  await app?.close()
  app = undefined
})

describe('--admin-token-required', () => {
  it('is a boolean flag, or FAULTLINE_ADMIN_TOKEN_REQUIRED, off by default', () => {
    const base = ['--upstream', 'http://127.0.0.1:1']
    expect(parseSidecarConfig(base, {}).adminTokenRequired).toBe(false)
    expect(parseSidecarConfig([...base, '--admin-token-required'], {}).adminTokenRequired).toBe(true)
    expect(parseSidecarConfig(base, { FAULTLINE_ADMIN_TOKEN_REQUIRED: 'true' }).adminTokenRequired).toBe(true)
    expect(parseSidecarConfig(base, { FAULTLINE_ADMIN_TOKEN_REQUIRED: '0' }).adminTokenRequired).toBe(false)
    // An empty token (an optional secretKeyRef whose Secret is missing) is no token.
    expect(parseSidecarConfig(base, { FAULTLINE_ADMIN_TOKEN: '' }).adminToken).toBeUndefined()
  })

  it('without a token: traffic, readiness, reads and /metrics as usual; every change refused 401, once warned', async () => {
    const { log, lines } = capturedLogger()
    world = await startWorld({ adminTokenRequired: true, logger: log })
    expect((await fetch(`${world.proxyUrl}/echo/hello`)).status).toBe(200)
    expect((await world.admin('GET', '/healthz')).status).toBe(200)
    expect((await world.admin('GET', '/readyz')).status).toBe(200)
    expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
    expect((await world.admin('GET', '/stats')).status).toBe(200)
    expect((await fetch(`${world.adminUrl}/metrics`)).status).toBe(200)

    const changes: [string, string, unknown?][] = [
      ['PUT', '/rules', { rules: RULES }],
      ['POST', '/rules', RULES[0]],
      ['DELETE', '/rules/slow'],
      ['DELETE', '/rules?source=x'],
      ['POST', '/reset'],
    ]
    for (const [method, url, body] of changes)
      for (const headers of [{}, { authorization: 'Bearer anything' }, { authorization: 'Bearer ' }] as Record<
        string,
        string
      >[]) {
        const r = await world.admin(method, url, body, headers)
        expect(r.status, `${method} ${url} ${JSON.stringify(headers)}`).toBe(401)
        expect(r.body).toMatchObject({ code: 'FL_ERR_UNAUTHORIZED', reason: 'admin-token-missing' })
        expect(r.body.error).toContain('--admin-token-required')
      }
    expect((await world.admin('GET', '/rules')).body.rules).toEqual([])
    expect(world.sidecar.store.generation).toBe(0)

    const warnings = lines.filter((l) => l.code === 'FL_ERR_UNAUTHORIZED')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ level: 40, reason: 'admin-token-missing' })
    expect(lines.find((l) => l.msg === 'sidecar listening')?.adminAuth).toBe('refuse-changes')
  })

  it('with a token: the token is required as before, and nothing is warned', async () => {
    const { log, lines } = capturedLogger()
    world = await startWorld({ adminTokenRequired: true, adminToken: 's3cret', logger: log })
    expect((await world.putRules(RULES)).status).toBe(401)
    expect((await world.putRules(RULES)).body).not.toHaveProperty('reason')
    expect((await world.admin('PUT', '/rules', { rules: RULES }, { authorization: 'Bearer s3cret' })).status).toBe(200)
    expect((await world.admin('GET', '/rules')).body.rules).toHaveLength(1)
    expect(lines.filter((l) => l.code === 'FL_ERR_UNAUTHORIZED')).toEqual([])
    expect(lines.find((l) => l.msg === 'sidecar listening')?.adminAuth).toBe('bearer')
  })

  it('without the flag and without a token: changes are taken from anyone (as before)', async () => {
    world = await startWorld()
    expect((await world.putRules(RULES)).status).toBe(200)
  })

  it('the CLI, as the injector starts it with the Secret missing: proxies, ready, refuses changes, warns with the code', async () => {
    app = await startSampleApp()
    const env = { ...process.env, FAULTLINE_ADMIN_TOKEN: '' }
    child = spawn(
      process.execPath,
      [
        BIN,
        'sidecar',
        '--upstream',
        app.url,
        '--listen',
        '127.0.0.1:0',
        '--admin',
        '127.0.0.1:0',
        '--admin-token-required',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const entries: Record<string, any>[] = []
    let listening: { proxy: string; admin: string } | undefined
    for await (const line of readline.createInterface({ input: child.stdout! })) {
      const entry = JSON.parse(line)
      entries.push(entry)
      // The warning follows the listening line.
      if (entry.msg === 'sidecar listening') listening = entry
      if (listening && entry.code === 'FL_ERR_UNAUTHORIZED') break
    }
    expect(listening).toBeDefined()
    expect(entries.filter((e) => e.code === 'FL_ERR_UNAUTHORIZED')).toHaveLength(1)
    expect((await fetch(`${listening!.proxy}/echo/hello`)).status).toBe(200)
    expect((await fetch(`${listening!.admin}/readyz`)).status).toBe(200)
    const put = await fetch(`${listening!.admin}/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: RULES }),
    })
    expect(put.status).toBe(401)
    expect(await put.json()).toMatchObject({ code: 'FL_ERR_UNAUTHORIZED', reason: 'admin-token-missing' })
  })
})
