/**
 * Smoke test of the container image (dist/faultline-image.tar, `npm run image`): rebuilt when it
 * is missing or older than what goes into it, then run with buildah (vfs storage and chroot
 * isolation in a store of its own under node_modules/.cache, removed afterwards; chroot isolation
 * shares the host's network, so 127.0.0.1 reaches the sidecar). Checks the image's
 * configuration and name (DEFAULT_IMAGE), `faultline version` through the entrypoint as uid 65532,
 * podStress's container args through the entrypoint, iptables for the capture role, and a sidecar
 * inside it answering /healthz and proxying to an app on the host.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildahArgs, buildahStore, DEFAULT_OUT, IMAGE, removeBuildahStore, ROOT } from '../../scripts/build-image.ts'
import { DEFAULT_IMAGE } from '../../controller/injector/image.ts'
import { stressArgs, stressImage } from '../../controller/injectors/kubernetes/pod-stress.ts'

const exec = promisify(execFile)
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, cmd)))
}

// buildah with vfs and chroot isolation needs root (CI and `npm test` run as root; the apt step
// of `npm test` installs buildah).
const runnable = process.platform === 'linux' && process.getuid?.() === 0 && onPath('buildah')

/** Newest modification time among the files that go into the image. */
function newestInput(): number {
  let newest = 0
  const visit = (p: string) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e))
    else newest = Math.max(newest, st.mtimeMs)
  }
  for (const p of [...IMAGE.appPaths, 'package-lock.json', 'scripts/build-image.ts']) visit(path.join(ROOT, p))
  return newest
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
  return { status: res.status, body: await res.text() }
}

describe.skipIf(!runnable)('the container image', () => {
  const store = buildahStore('test')
  const ctr = `faultline-smoke-${process.pid}`
  const buildah = async (args: string[]) =>
    (await exec('buildah', buildahArgs(store, args), { maxBuffer: 16 * 1024 * 1024 })).stdout.trim()
  let built = 'reused'

  beforeAll(async () => {
    const stale = !fs.existsSync(DEFAULT_OUT) || fs.statSync(DEFAULT_OUT).mtimeMs < newestInput()
    if (stale) {
      const t = Date.now()
      await exec(process.execPath, [path.join(ROOT, 'scripts', 'build-image.ts')], { cwd: ROOT })
      built = `built in ${((Date.now() - t) / 1000).toFixed(1)} s`
    }
    const t = Date.now()
    await buildah(['from', '--quiet', '--name', ctr, `oci-archive:${DEFAULT_OUT}`])
    process.stderr.write(`[image test] image ${built}; buildah from in ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
  })

  afterAll(() => removeBuildahStore(store))

  it('is named so containerd and the CRI find it as faultline:<version>, the default the injector and podStress use', () => {
    const index = execFileSync('tar', ['-xOf', DEFAULT_OUT, 'index.json'], { encoding: 'utf8' })
    expect(JSON.parse(index).manifests.map((m: any) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      `${IMAGE.repository}:${pkg.version}`,
    ])
    expect(DEFAULT_IMAGE).toBe(`${IMAGE.name}:${pkg.version}`)
    const saved = process.env.FAULTLINE_IMAGE
    delete process.env.FAULTLINE_IMAGE
    try {
      expect(stressImage({ target: 'web', duration: 1000, cpu: 1 })).toBe(DEFAULT_IMAGE)
    } finally {
      if (saved !== undefined) process.env.FAULTLINE_IMAGE = saved
    }
  })

  it('is configured as faultline: uid 65532, entrypoint, working directory, environment, labels', async () => {
    const config = JSON.parse(await buildah(['inspect', '--type', 'container', ctr])).OCIv1
    expect(config.config.User).toBe(IMAGE.user)
    expect(config.config.Entrypoint).toEqual(IMAGE.entrypoint)
    expect(config.config.Cmd).toEqual(IMAGE.cmd)
    expect(config.config.WorkingDir).toBe(IMAGE.workdir)
    expect(config.config.Env).toEqual(Object.entries(IMAGE.env).map(([k, v]) => `${k}=${v}`))
    expect(config.config.Labels).toMatchObject({ ...IMAGE.labels, 'org.opencontainers.image.version': pkg.version })
    expect(config.rootfs.diff_ids).toHaveLength(IMAGE.layers.length)
    expect(fs.statSync(DEFAULT_OUT).size, `archive (${built})`).toBeLessThan(100e6)
  })

  it('answers `faultline version` through its entrypoint, as the non-root user', async () => {
    expect(await buildah(['run', '--isolation', 'chroot', ctr, '--', ...IMAGE.entrypoint, 'version'])).toBe(pkg.version)
    const who = await buildah([
      'run',
      '--isolation',
      'chroot',
      ctr,
      '--',
      IMAGE.node,
      '-p',
      'JSON.stringify([process.getuid(), process.getgid(), require("os").userInfo().homedir, process.cwd()])',
    ])
    expect(JSON.parse(who)).toEqual([IMAGE.uid, IMAGE.gid, IMAGE.home, IMAGE.workdir])
  })

  it("runs podStress's ephemeral container: its args after the image's own entrypoint", async () => {
    // A pod's container with args and no command runs the image's Entrypoint with those args:
    // read the Entrypoint from the image itself, not from the build script's constant.
    const entrypoint: string[] = JSON.parse(await buildah(['inspect', '--type', 'container', ctr])).OCIv1.config
      .Entrypoint
    const args = stressArgs({ target: 'web', duration: 1000, cpu: 1, load: 50, memory: '16MiB' })
    expect(args).toEqual(['stress', '--cpu', '1', '--load', '50', '--memory', '16MiB', '--duration', '1000ms'])
    const started = Date.now()
    await buildah(['run', '--isolation', 'chroot', ctr, '--', ...entrypoint, ...args])
    // It ran its full second (buildah's own start-up adds to it) and exited 0 (exec would throw).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    // A bad flag is refused by faultline itself (usage exit, the flag named): these are its arguments.
    await expect(
      buildah(['run', '--isolation', 'chroot', ctr, '--', ...entrypoint, 'stress', '--cpu', '0', '--duration', '1s']),
    ).rejects.toMatchObject({ stderr: expect.stringContaining('--cpu') })
  })

  it('has iptables for the capture role (both backends)', async () => {
    for (const [backend, says] of [
      ['nft', 'nf_tables'],
      ['legacy', 'legacy'],
    ])
      expect(
        await buildah(['run', '--isolation', 'chroot', ctr, '--', `iptables-${backend}-save`, '--version']),
      ).toMatch(new RegExp(`^iptables(-nft)?-save v1\\.\\d+\\.\\d+ \\(${says}\\)$`))
  })

  it('runs a sidecar that answers /healthz and proxies to an app on the host', async () => {
    const app = http.createServer((_req, res) => res.end('from the app'))
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
    const upstream = (app.address() as net.AddressInfo).port
    const [proxy, admin] = [await freePort(), await freePort()]
    let sidecar: ChildProcess | undefined
    let output = ''
    try {
      // detached: its own process group, so the test ends buildah and the sidecar under it together.
      sidecar = spawn(
        'buildah',
        buildahArgs(store, [
          'run',
          '--isolation',
          'chroot',
          ctr,
          '--',
          ...IMAGE.entrypoint,
          'sidecar',
          '--upstream',
          `http://127.0.0.1:${upstream}`,
          '--listen',
          `127.0.0.1:${proxy}`,
          '--admin',
          `127.0.0.1:${admin}`,
        ]),
        { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      sidecar.stdout!.on('data', (d) => (output += d))
      sidecar.stderr!.on('data', (d) => (output += d))
      const deadline = Date.now() + 30_000
      let health: { status: number; body: string } | undefined
      while (Date.now() < deadline && sidecar.exitCode === null) {
        health = await get(`http://127.0.0.1:${admin}/healthz`).catch(() => undefined)
        if (health) break
        await new Promise((r) => setTimeout(r, 200))
      }
      expect(health?.status, `sidecar output:\n${output}`).toBe(200)
      expect(await get(`http://127.0.0.1:${proxy}/anything`)).toEqual({ status: 200, body: 'from the app' })
    } finally {
      if (sidecar?.pid && sidecar.exitCode === null) {
        const exited = new Promise((resolve) => sidecar!.once('exit', resolve))
        process.kill(-sidecar.pid, 'SIGTERM')
        await exited
      }
      await new Promise((resolve) => app.close(resolve))
    }
  })
})
