/**
 * `faultline capture` with real iptables inside network namespaces this test creates: a "pod"
 * namespace (an app, and a faultline sidecar running as uid 65532) joined by a veth pair to a
 * "client" namespace. Addresses exist only inside the two namespaces and neither has a default
 * route, so no packet leaves them; both are deleted afterwards, also when a test fails.
 *
 * Needs Linux, root, `ip` (iproute2) and iptables (scripts/install-test-deps.sh installs them);
 * skipped with the reason printed otherwise.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const BIN = path.resolve(import.meta.dirname, '../../bin/faultline.js')
const NODE = process.execPath
const SIDECAR_UID = 65532
// Processes "of the sidecar" run as its uid (what the owner match sees). They may read files
// regardless of permissions (CAP_DAC_READ_SEARCH, ambient so it survives exec), because the
// checkout may sit under a directory only root can enter; it grants nothing on the network.
const AS_SIDECAR = [
  'setpriv',
  '--reuid',
  String(SIDECAR_UID),
  '--regid',
  String(SIDECAR_UID),
  '--clear-groups',
  '--inh-caps',
  '+dac_read_search',
  '--ambient-caps',
  '+dac_read_search',
]

const id = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`
const POD = `flcap-pod-${id}`
const CLIENT = `flcap-cli-${id}`
// A /30 from a private range, only ever configured inside the two namespaces.
const CLIENT_IP = '10.123.7.1'
const POD_IP = '10.123.7.2'
const APP = 8080
const EXCLUDED = 8081
const PROXY = 15001
const ADMIN = 15000
const CAPTURE = [
  'capture',
  '--proxy-port',
  String(PROXY),
  '--app-ports',
  `${APP},${EXCLUDED}`,
  '--exclude-ports',
  String(EXCLUDED),
  '--sidecar-uid',
  String(SIDECAR_UID),
]

function onPath(name: string): boolean {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    try {
      accessSync(path.join(dir, name), constants.X_OK)
      return true
    } catch {
      // Not in this directory; the next one may have it.
      continue
    }
  }
  return false
}

const skipReason =
  process.platform !== 'linux'
    ? 'Linux only (network namespaces)'
    : process.getuid?.() !== 0
      ? 'needs root (network namespaces and iptables)'
      : !onPath('ip')
        ? 'needs `ip` from iproute2'
        : !onPath('iptables-nft-restore') && !onPath('iptables-legacy-restore')
          ? 'needs iptables (run scripts/install-test-deps.sh)'
          : undefined
if (skipReason) console.warn(`capture integration tests skipped: ${skipReason}`)

interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to completion (never through a shell), with a deadline. */
function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, cwd: '/' })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

const inNs = (ns: string, cmd: string[]) => ['netns', 'exec', ns, ...cmd]

/** `faultline capture ...` inside the pod namespace, as root (as the init container with NET_ADMIN). */
const capture = (args: string[], user: string[] = []) => run('ip', inNs(POD, [...user, NODE, BIN, ...args]))

/** The nat table of the pod namespace as the given backend saves it, without timestamps or counters. */
async function natTable(backend: string): Promise<string> {
  const out = await must('ip', inNs(POD, [`iptables-${backend}-save`, '-t', 'nat']))
  return out
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n')
}

// The client: one HTTP request from inside a namespace, printed as JSON.
const CLIENT_SCRIPT = `
const [method, url, body] = process.argv.slice(1)
try {
  const res = await fetch(url, {
    method,
    body: body || undefined,
    headers: body ? { 'content-type': 'application/json' } : {},
    signal: AbortSignal.timeout(5000),
  })
  console.log(JSON.stringify({ status: res.status, fault: res.headers.get('x-faultline-fault'), body: await res.text() }))
} catch (err) {
  console.log(JSON.stringify({ status: 0, error: String(err.cause ?? err) }))
}
`
interface Reply {
  status: number
  fault: string | null
  body: string
  error?: string
}

async function request(ns: string, url: string, opts: { user?: string[]; method?: string; body?: unknown } = {}) {
  const args = ['--input-type=module', '-e', CLIENT_SCRIPT, opts.method ?? 'GET', url]
  if (opts.body !== undefined) args.push(JSON.stringify(opts.body))
  return JSON.parse(await must('ip', inNs(ns, [...(opts.user ?? []), NODE, ...args]))) as Reply
}

// The app: answers every request and remembers it; GET /__seen lists what it saw.
const APP_SCRIPT = `
import http from 'node:http'
const seen = []
for (const port of [${APP}, ${EXCLUDED}]) {
  http.createServer((req, res) => {
    if (req.url === '/__seen') return res.end(JSON.stringify(seen))
    seen.push({ port, path: req.url, from: req.socket.remoteAddress.replace(/^::ffff:/, '') })
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ app: port }))
  }).listen(port, '0.0.0.0', () => console.log('listening ' + port))
}
`
interface Seen {
  port: number
  path: string
  from: string
}
/** What the app saw, asked on loopback inside the pod (loopback is never captured). */
const seenBy = async (p: string) =>
  (JSON.parse((await request(POD, `http://127.0.0.1:${APP}/__seen`)).body) as Seen[]).filter((s) => s.path === p)

const children = new Set<ChildProcess>()

/** Starts a long-running process and resolves once `ready` matches a line of its stdout. */
async function startDaemon(args: string[], ready: (line: string) => boolean): Promise<ChildProcess> {
  const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' })
  children.add(child)
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const lines = readline.createInterface({ input: child.stdout! })
  const up = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => ready(line) && resolve())
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code} before it was ready: ${stderr}`)))
  })
  await up
  return child
}

async function stop(child: ChildProcess): Promise<void> {
  children.delete(child)
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await gone
}

let sidecar: ChildProcess | undefined
async function startSidecar(upstreamHost: string): Promise<void> {
  if (sidecar) await stop(sidecar)
  const args = ['sidecar', '--upstream', `http://${upstreamHost}:${APP}`, '--listen', `0.0.0.0:${PROXY}`]
  sidecar = await startDaemon(inNs(POD, [...AS_SIDECAR, NODE, BIN, ...args, '--admin', `127.0.0.1:${ADMIN}`]), (l) =>
    l.includes('"sidecar listening"'),
  )
}

let cleaned = false
function cleanupSync(): void {
  if (cleaned) return
  cleaned = true
  for (const c of children) c.kill('SIGKILL')
  for (const ns of [POD, CLIENT]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
}

describe.skipIf(skipReason)('faultline capture in network namespaces', () => {
  let backend = 'nft'

  beforeAll(async () => {
    // Last resort if the run is killed between beforeAll and afterAll: no namespace is left behind.
    process.once('exit', cleanupSync)
    const probe = await run(AS_SIDECAR[0]!, [...AS_SIDECAR.slice(1), NODE, BIN, 'version'])
    if (probe.code !== 0) throw new Error(`cannot run faultline as uid ${SIDECAR_UID}: ${probe.stderr.trim()}`)
    await must('ip', ['netns', 'add', POD])
    await must('ip', ['netns', 'add', CLIENT])
    // Created inside the pod namespace with its peer moved straight into the client's: the
    // pair never exists in the host's namespace.
    await must('ip', inNs(POD, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT]))
    for (const [ns, ip] of [
      [POD, POD_IP],
      [CLIENT, CLIENT_IP],
    ] as const) {
      await must('ip', inNs(ns, ['ip', 'addr', 'add', `${ip}/30`, 'dev', 'eth0']))
      await must('ip', inNs(ns, ['ip', 'link', 'set', 'eth0', 'up']))
      await must('ip', inNs(ns, ['ip', 'link', 'set', 'lo', 'up']))
    }
    await startDaemon(inNs(POD, [NODE, '--input-type=module', '-e', APP_SCRIPT]), (l) => l === `listening ${EXCLUDED}`)
    await startSidecar('127.0.0.1')
    await putRules()
  }, 60_000)

  afterAll(async () => {
    for (const c of [...children]) await stop(c)
    for (const ns of [POD, CLIENT]) await run('ip', ['netns', 'del', ns])
    cleaned = true
    process.removeListener('exit', cleanupSync)
  })

  const admin = `http://127.0.0.1:${ADMIN}`

  /** Rules on the sidecar, through its admin API (reached on loopback inside the pod namespace). */
  async function putRules(): Promise<void> {
    const put = await request(POD, `${admin}/rules`, {
      method: 'PUT',
      body: {
        rules: [
          // Passes through to the app, marked: proves the request went through the sidecar.
          { id: 'marked', match: { path: '/marked/**' }, delay: { ms: 1 } },
          { id: 'boom', match: { path: '/boom' }, abort: { status: 503 } },
        ],
      },
    })
    expect(put.status, put.body).toBe(200)
  }

  it('before capture, the client reaches the app directly', async () => {
    const r = await request(CLIENT, `http://${POD_IP}:${APP}/marked/before`)
    expect(r).toMatchObject({ status: 200, fault: null })
    expect(await seenBy('/marked/before')).toEqual([{ port: APP, path: '/marked/before', from: CLIENT_IP }])
  })

  it('installs the rules and prints what it did', async () => {
    const r = await capture(CAPTURE)
    expect(r.code, r.stderr).toBe(0)
    backend = /\(iptables-(nft|legacy)\)/.exec(r.stdout)![1]!
    expect(r.stdout).toContain(`inbound TCP to ${APP} -> ${PROXY}, excluded ${EXCLUDED}, uid ${SIDECAR_UID} exempt`)
    const table = await natTable(backend)
    expect(table).toContain('-A PREROUTING -p tcp -j FAULTLINE_INBOUND')
    expect(table).toContain(`-A FAULTLINE_INBOUND -p tcp -m tcp --dport ${APP} -j REDIRECT --to-ports ${PROXY}`)
    expect(table).toContain(`-A FAULTLINE_OUTPUT -m owner --uid-owner ${SIDECAR_UID} -j RETURN`)
  })

  it('inbound requests to the app port go through the sidecar and get faulted', async () => {
    const boom = await request(CLIENT, `http://${POD_IP}:${APP}/boom`)
    expect(boom).toMatchObject({ status: 503, fault: 'boom' })
    expect(await seenBy('/boom')).toEqual([])
  })

  it("the sidecar's own upstream call reaches the app once, without looping", async () => {
    const r = await request(CLIENT, `http://${POD_IP}:${APP}/marked/through`)
    expect(r).toMatchObject({ status: 200, fault: 'marked' })
    expect(JSON.parse(r.body)).toEqual({ app: APP })
    // From 127.0.0.1: the sidecar's connection, not the client's.
    expect(await seenBy('/marked/through')).toEqual([{ port: APP, path: '/marked/through', from: '127.0.0.1' }])
  })

  it('health paths pass through the sidecar unfaulted (kubelet probes)', async () => {
    // A rule that matches every request; kubelet probes come from outside the pod namespace,
    // like this client, so they are captured too.
    const all = { id: 'all', match: {}, abort: { status: 500 } }
    expect((await request(POD, `${admin}/rules`, { method: 'POST', body: all })).status).toBe(201)
    try {
      expect(await request(CLIENT, `http://${POD_IP}:${APP}/anything`)).toMatchObject({ status: 500, fault: 'all' })
      const probe = await request(CLIENT, `http://${POD_IP}:${APP}/healthz`)
      expect(probe).toMatchObject({ status: 200, fault: null })
      expect(await seenBy('/healthz')).toEqual([{ port: APP, path: '/healthz', from: '127.0.0.1' }])
    } finally {
      expect((await request(POD, `${admin}/rules/all`, { method: 'DELETE' })).status).toBe(200)
    }
  })

  it('an excluded port bypasses the sidecar', async () => {
    const r = await request(CLIENT, `http://${POD_IP}:${EXCLUDED}/marked/excluded`)
    expect(r).toMatchObject({ status: 200, fault: null })
    expect(JSON.parse(r.body)).toEqual({ app: EXCLUDED })
    expect(await seenBy('/marked/excluded')).toEqual([{ port: EXCLUDED, path: '/marked/excluded', from: CLIENT_IP }])
  })

  it("inside the pod: the pod IP is captured, loopback and the sidecar's uid are not", async () => {
    // Another container of the pod (root here) calling the pod's own IP: treated as inbound.
    expect(await request(POD, `http://${POD_IP}:${APP}/marked/own-ip`)).toMatchObject({
      status: 200,
      fault: 'marked',
    })
    expect(await request(POD, `http://127.0.0.1:${APP}/marked/loopback`)).toMatchObject({ status: 200, fault: null })
    expect(await seenBy('/marked/loopback')).toEqual([{ port: APP, path: '/marked/loopback', from: '127.0.0.1' }])
    // A process running as the sidecar's uid is exempt, whatever address it calls.
    expect(await request(POD, `http://${POD_IP}:${APP}/marked/as-sidecar`, { user: AS_SIDECAR })).toMatchObject({
      status: 200,
      fault: null,
    })
    expect(await seenBy('/marked/as-sidecar')).toEqual([{ port: APP, path: '/marked/as-sidecar', from: POD_IP }])
  })

  it('running capture again changes nothing (a restarted init container stacks no rules)', async () => {
    const before = await natTable(backend)
    for (let i = 0; i < 2; i++) {
      const r = await capture(CAPTURE)
      expect(r.code, r.stderr).toBe(0)
    }
    const after = await natTable(backend)
    expect(after).toBe(before)
    expect(after.match(/-j FAULTLINE_INBOUND$/gm)).toHaveLength(2) // PREROUTING and FAULTLINE_OUTPUT
  })

  it('a sidecar whose upstream is the pod IP does not loop (its uid is exempt)', async () => {
    // Without the uid rule, the sidecar's own call to POD_IP:APP would be redirected to itself.
    await startSidecar(POD_IP)
    await putRules()
    const r = await request(CLIENT, `http://${POD_IP}:${APP}/marked/pod-ip-upstream`)
    expect(r).toMatchObject({ status: 200, fault: 'marked' })
    expect(await seenBy('/marked/pod-ip-upstream')).toEqual([
      { port: APP, path: '/marked/pod-ip-upstream', from: POD_IP },
    ])
    await startSidecar('127.0.0.1')
    await putRules()
  })

  it('--dry-run prints the iptables-restore input and changes nothing', async () => {
    const before = await natTable(backend)
    const r = await capture([...CAPTURE, '--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`# iptables-${backend}-restore --noflush`)
    expect(r.stdout).toContain(`-A FAULTLINE_INBOUND -p tcp -m tcp --dport ${APP} -j REDIRECT --to-ports ${PROXY}`)
    // The jumps are in place already, so a run now would not add them again.
    expect(r.stdout).not.toContain('-A PREROUTING')
    expect(await natTable(backend)).toBe(before)
  })

  it('a refused iptables command fails the init container with iptables’ message', async () => {
    // The same command without privileges (no NET_ADMIN): iptables refuses to read the table.
    const r = await capture(CAPTURE, AS_SIDECAR)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/iptables-(nft|legacy)-save exited \d+: .*(Permission denied|not permitted)/i)
  })

  it('--uninstall restores direct traffic, and a second --uninstall is a no-op', async () => {
    const r = await capture([...CAPTURE, '--uninstall'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`removed (iptables-${backend})`)
    expect(await natTable(backend)).not.toContain('FAULTLINE')
    const direct = await request(CLIENT, `http://${POD_IP}:${APP}/marked/after`)
    expect(direct).toMatchObject({ status: 200, fault: null })
    expect(await seenBy('/marked/after')).toEqual([{ port: APP, path: '/marked/after', from: CLIENT_IP }])
    const again = await capture(['capture', '--uninstall'])
    expect(again).toMatchObject({ code: 0, stdout: 'faultline capture: nothing to remove\n' })
  })

  it.skipIf(!onPath('iptables-legacy-restore'))(
    'joins another tool in iptables-legacy, and works there too',
    async () => {
      // Another tool's rule in legacy's nat table (a UDP rule: it changes nothing for this test).
      await must('ip', inNs(POD, ['iptables-legacy', '-t', 'nat', '-A', 'PREROUTING', '-p', 'udp', '-j', 'RETURN']))
      const r = await capture(CAPTURE)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('(iptables-legacy)')
      expect(await natTable('legacy')).toContain(`--dport ${APP} -j REDIRECT --to-ports ${PROXY}`)
      expect(await natTable('nft')).not.toContain('FAULTLINE')
      expect(await request(CLIENT, `http://${POD_IP}:${APP}/boom`)).toMatchObject({ status: 503, fault: 'boom' })
      expect((await capture([...CAPTURE, '--uninstall'])).stdout).toContain('removed (iptables-legacy)')
      const legacy = await natTable('legacy')
      expect(legacy).not.toContain('FAULTLINE')
      expect(legacy).toContain('-A PREROUTING -p udp -j RETURN')
    },
  )
})

describe('faultline capture flags', () => {
  it('refuses bad flags in one line naming each flag, and exits 64 (usage)', async () => {
    const r = await run(NODE, [BIN, 'capture', '--proxy-port', '99999', '--app-ports', '80,x', '--sidecar-uid', '0'])
    expect(r.code).toBe(64) // a usage error, one line (bin/usage.ts)
    expect(r.stderr).toMatch(/^faultline capture: .*\(see faultline capture --help\)\n$/)
    for (const flag of ['--proxy-port', '--app-ports', '--sidecar-uid']) expect(r.stderr).toContain(`${flag} `)
  })
})
