/**
 * `npm run image`: builds the one faultline OCI image (every role: sidecar, controller, injector,
 * capture init, stress) from scratch with buildah and writes it to dist/faultline-image.tar (an
 * OCI archive: `ctr images import`, `kind load image-archive`, `skopeo copy oci-archive:...`).
 *
 * No base image and no registry: the image holds the project's own Node 24 binary (the `node`
 * devDependency, stripped), the shared libraries it and iptables link (found with ldd, with the
 * dynamic loader and the host's merged-/usr symlinks), Debian's iptables (nft and legacy, for
 * `faultline capture`), CA certificates, passwd/group entries for the non-root user 65532, the
 * app and its production node_modules. Three layers, so an app change ships a small layer:
 *
 *   runtime  /usr/local/bin/node, /usr/lib/x86_64-linux-gnu/*.so*, /usr/lib64/ld-linux-*,
 *            /usr/sbin/xtables-*-multi (+ iptables names), /etc/{passwd,group,nsswitch.conf,ssl},
 *            /tmp, /run, /home/nonroot, /var/lib/faultline
 *   deps     /app/node_modules (npm prune --omit=dev on a copy, then declarations/maps dropped)
 *   app      /app/package.json, /app/{bin,src,sidecar,controller,ui,examples}
 *
 * Modes:
 *   node scripts/build-image.ts              stage, verify, build with buildah, write the archive
 *   node scripts/build-image.ts --check      stage into a temp folder and verify (the staged tree
 *                                            run in a chroot as uid 65532: `faultline version`,
 *                                            every shipped module imported, iptables); no buildah
 *   node scripts/build-image.ts --stage DIR  stage (and verify) only: the Dockerfile's builder
 * Options: --node BIN (default: the project's Node 24), --out FILE, --no-verify, --keep-stage.
 *
 * Work happens under node_modules/.cache/faultline-image (project-local, on node_modules' file
 * system for hard links, and ignored by git, eslint, prettier and vitest, which the staged app
 * sources and buildah's vfs copies of them must be): a staging folder and a buildah store (vfs
 * storage, chroot isolation) per process, both removed at the end, and any left by a killed build
 * removed by the next one; a build leaves nothing behind but the archive. Idempotent.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { builtinModules } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_IMAGE, IMAGE_NAME } from '../controller/injector/image.ts'

/** The image's contract; the Dockerfile must agree (test/unit/dockerfile.test.ts). */
export const IMAGE = {
  name: IMAGE_NAME,
  /**
   * The name in the archive (its index's ref.name): fully qualified, because containerd's import
   * keeps names as written and the CRI looks `image: faultline:TAG` up as docker.io/library/...
   */
  repository: `docker.io/library/${IMAGE_NAME}`,
  /**
   * The reference the archive carries: DEFAULT_IMAGE (`faultline:<version>`, what the injector and
   * podStress default to) fully qualified.
   */
  ref: `docker.io/library/${DEFAULT_IMAGE}`,
  node: '/usr/local/bin/node',
  appDir: '/app',
  entrypoint: ['/usr/local/bin/node', '/app/bin/faultline.js'],
  cmd: ['help'],
  uid: 65532,
  gid: 65532,
  user: '65532:65532',
  userName: 'nonroot',
  home: '/home/nonroot',
  dataDir: '/var/lib/faultline',
  workdir: '/app',
  /** What the app layer holds, relative to /app. */
  /** ui/ is the dashboard's browser code, served by the controller (never imported by Node). */
  appPaths: ['package.json', 'bin', 'src', 'sidecar', 'controller', 'ui', 'examples'],
  /** Left out of the app layer: the gRPC example needs grpc-js, a devDependency (npm run demo:grpc). */
  appExclude: ['examples/grpc'],
  env: {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    NODE_ENV: 'production',
    FAULTLINE_DATA: '/var/lib/faultline',
    // Warmed at build time (warmTypeScriptCache): pods start without loading the TS stripper.
    FAULTLINE_TS_CACHE: '/app/.ts-cache',
  },
  /** Names faultline capture may call; the plain names use the nft backend, as Debian does. */
  iptablesLinks: {
    'xtables-nft-multi': [
      'iptables',
      'iptables-save',
      'iptables-restore',
      'ip6tables',
      'ip6tables-save',
      'ip6tables-restore',
      'iptables-nft',
      'iptables-nft-save',
      'iptables-nft-restore',
      'ip6tables-nft',
      'ip6tables-nft-save',
      'ip6tables-nft-restore',
    ],
    'xtables-legacy-multi': [
      'iptables-legacy',
      'iptables-legacy-save',
      'iptables-legacy-restore',
      'ip6tables-legacy',
      'ip6tables-legacy-save',
      'ip6tables-legacy-restore',
    ],
  } as Record<string, string[]>,
  labels: {
    'org.opencontainers.image.title': 'faultline',
    'org.opencontainers.image.licenses': 'Apache-2.0',
    'org.opencontainers.image.base.name': 'scratch',
  } as Record<string, string>,
  layers: ['runtime', 'deps', 'app'],
} as const

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const DEFAULT_OUT = path.join(ROOT, 'dist', 'faultline-image.tar')
/** Where builds and smoke tests work: `stage-<pid>` folders and `buildah/<kind>-<pid>` stores. */
export const WORK_DIR = path.join(ROOT, 'node_modules', '.cache', 'faultline-image')

interface PackageJson {
  name: string
  version: string
  description?: string
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}

function log(msg: string): void {
  process.stderr.write(`[image] ${msg}\n`)
}

function run(cmd: string, args: string[], opts: { cwd?: string; quiet?: boolean; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
  })
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${r.stderr}`)
  if (!opts.quiet && r.stderr.trim()) log(r.stderr.trim())
  return r.stdout
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {
      continue // not in this PATH entry
    }
  }
  return undefined
}

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p)
    return true
  } catch {
    return false
  }
}

/** The Node 24 binary to ship: --node, else the project's own (the symlinks resolved). */
export function resolveNode(explicit?: string): { path: string; version: string } {
  const candidates = explicit ? [explicit] : [path.join(ROOT, 'node_modules', 'node', 'bin', 'node'), process.execPath]
  for (const c of candidates) {
    if (!fs.existsSync(c)) continue
    const real = fs.realpathSync(c)
    const head = Buffer.alloc(4)
    const fd = fs.openSync(real, 'r')
    fs.readSync(fd, head, 0, 4, 0)
    fs.closeSync(fd)
    if (head.toString('latin1') !== '\x7fELF') throw new Error(`${real} is not an ELF binary (a wrapper script?)`)
    const version = run(real, ['--version']).trim()
    if (!/^v24\./.test(version)) throw new Error(`${real} is Node ${version}; the image needs Node 24`)
    return { path: real, version }
  }
  throw new Error(`no Node 24 binary found (tried ${candidates.join(', ')}); run npm ci first or pass --node`)
}

/** The shared objects a binary loads, as the paths the loader looks them up at (and the loader). */
export function sharedLibraries(binary: string): string[] {
  const out = run('ldd', [binary], { quiet: true })
  const libs: string[] = []
  for (const line of out.split('\n')) {
    const t = line.trim()
    if (!t || t.startsWith('linux-vdso') || t.includes('statically linked')) continue
    if (t.includes('not found')) throw new Error(`${binary}: ${t}`)
    const m = /=>\s*(\S+)\s*\(/.exec(t) ?? /^(\/\S+)\s*\(/.exec(t)
    if (m) libs.push(m[1]!)
  }
  return libs
}

/**
 * Copies host path `p` into `root` at the same path, recreating every symlink on the way
 * (directory links such as /lib -> usr/lib and soname links such as libstdc++.so.6 ->
 * libstdc++.so.6.0.30), so the staged tree resolves exactly as the host does. Directories are
 * created, not copied.
 */
export function replicate(root: string, p: string, seen = new Set<string>()): void {
  const abs = path.resolve(p)
  if (abs === '/' || seen.has(abs)) return
  seen.add(abs)
  replicate(root, path.dirname(abs), seen)
  const host = path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs))
  const dest = path.join(root, host)
  const st = fs.lstatSync(host)
  if (st.isSymbolicLink()) {
    const target = fs.readlinkSync(host)
    if (!lexists(dest)) fs.symlinkSync(target, dest)
    replicate(root, path.resolve(path.dirname(host), target), seen)
  } else if (st.isDirectory()) {
    if (!lexists(dest)) fs.mkdirSync(dest, { mode: 0o755 })
  } else if (!lexists(dest)) {
    fs.copyFileSync(host, dest)
    fs.chmodSync(dest, st.mode & 0o777)
  }
}

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm

function walkFiles(dir: string, ext: RegExp, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walkFiles(p, ext, out)
    else if (ext.test(e.name)) out.push(p)
  }
  return out
}

/** True for a path (relative to the project) that IMAGE.appExclude leaves out of the image. */
function excluded(rel: string): boolean {
  return IMAGE.appExclude.some((x) => rel === x || rel.startsWith(`${x}${path.sep}`))
}

/** Packages the shipped code imports at run time (type-only imports are erased). */
export function runtimeImports(appRoot: string): Map<string, string[]> {
  const builtins = new Set(builtinModules)
  const found = new Map<string, string[]>()
  for (const dir of IMAGE.appPaths.filter((p) => p !== 'package.json')) {
    for (const file of walkFiles(path.join(appRoot, dir), /\.(ts|js|mjs|cjs)$/)) {
      if (excluded(path.relative(appRoot, file))) continue
      const text = fs.readFileSync(file, 'utf8')
      for (const m of text.matchAll(IMPORT_RE)) {
        if (/^\s*;?\s*(import|export)\s+type\s/.test(m[0])) continue
        const spec = m[1] ?? m[2]!
        if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtins.has(spec)) continue
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
        const rel = path.relative(appRoot, file)
        found.set(pkg, [...(found.get(pkg) ?? []), rel])
      }
    }
  }
  return found
}

const TRIM_FILE = /(\.d\.[mc]?ts|\.[mc]?ts|\.map|\.tsbuildinfo)$|^(README|CHANGELOG|HISTORY)(\.\w+)?$/i

/** Drops what never runs from a production node_modules; returns the bytes removed. */
function trimModules(dir: string): number {
  let removed = 0
  const walk = (d: string): boolean => {
    let empty = true
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) {
        // Top-level dot folders are npm's and tools' caches (.bin, .vite, .cache); @types is types only.
        if (e.name === '.github' || (d === dir && (e.name.startsWith('.') || e.name === '@types'))) {
          fs.rmSync(p, { recursive: true, force: true })
          continue
        }
        if (walk(p)) fs.rmdirSync(p)
        else empty = false
      } else if (e.isFile() && (TRIM_FILE.test(e.name) || (d === dir && e.name === '.package-lock.json'))) {
        removed += fs.statSync(p).size
        fs.rmSync(p)
      } else empty = false
    }
    return empty
  }
  walk(dir)
  return removed
}

/**
 * The production node_modules, by npm's own rules: a hard-linked copy of the installed tree,
 * `npm prune --omit=dev` on it (offline), then trimmed. Packages the shipped code imports but
 * package.json lists under devDependencies are kept, loudly: they belong in dependencies.
 */
function stageModules(dest: string, pkg: PackageJson): void {
  const work = path.join(dest, '.prune')
  fs.mkdirSync(work, { recursive: true })
  const src = path.join(ROOT, 'node_modules')
  if (!fs.existsSync(src)) throw new Error('node_modules is missing: run npm ci first')
  // Hard links, not copies; top-level dot entries (.cache, where this runs; .bin; .vite) stay out.
  fs.mkdirSync(path.join(work, 'node_modules'))
  const entries = fs.readdirSync(src).filter((e) => !e.startsWith('.'))
  run('cp', ['-al', ...entries.map((e) => path.join(src, e)), path.join(work, 'node_modules')])
  // The copy shares inodes with the real tree: npm rewrites nothing in place (no hidden lockfile
  // was linked; prune only unlinks and writes new files).
  fs.copyFileSync(path.join(ROOT, 'package-lock.json'), path.join(work, 'package-lock.json'))
  const imports = runtimeImports(ROOT)
  const deps = { ...pkg.dependencies }
  const devDeps = { ...pkg.devDependencies }
  for (const [name, files] of imports) {
    if (deps[name]) continue
    if (devDeps[name]) {
      log(
        `WARNING: ${name} is a devDependency but ${files.join(', ')} import(s) it at run time; ` +
          'shipping it anyway (move it to "dependencies" in package.json)',
      )
      deps[name] = devDeps[name]
      delete devDeps[name]
    } else
      // Maybe an import in a comment or a string; verify() imports every module in the image and fails if it is real.
      log(`WARNING: ${name} (imported by ${files.join(', ')}?) is in neither dependencies nor devDependencies`)
  }
  fs.writeFileSync(
    path.join(work, 'package.json'),
    JSON.stringify({ ...pkg, dependencies: deps, devDependencies: devDeps }, null, 2),
  )
  run('npm', ['prune', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: work,
    quiet: true,
  })
  const removed = trimModules(path.join(work, 'node_modules'))
  fs.mkdirSync(path.join(dest, 'app'), { recursive: true })
  fs.renameSync(path.join(work, 'node_modules'), path.join(dest, 'app', 'node_modules'))
  fs.rmSync(work, { recursive: true, force: true })
  log(`node_modules: production only, ${(removed / 1e6).toFixed(1)} MB of declarations/maps/readmes dropped`)
}

function stageRuntime(dest: string, node: string): void {
  const nodeDest = path.join(dest, IMAGE.node)
  fs.mkdirSync(path.dirname(nodeDest), { recursive: true })
  fs.copyFileSync(node, nodeDest)
  fs.chmodSync(nodeDest, 0o755)
  // Symbols and debug info are ~18 MB of the binary and never used at run time.
  if (which('strip')) run('strip', ['--strip-all', nodeDest])
  else log('WARNING: strip not found; shipping the unstripped node binary')

  const libs = new Set(sharedLibraries(node))
  // iptables for `faultline capture`: both backends, their extension modules and libraries.
  const xtables = ['/usr/sbin/xtables-nft-multi', '/usr/sbin/xtables-legacy-multi']
  for (const bin of xtables) {
    if (!fs.existsSync(bin))
      throw new Error(`${bin} is missing: install Debian's iptables (apt-get install iptables) for the capture role`)
    replicate(dest, bin)
    for (const l of sharedLibraries(bin)) libs.add(l)
  }
  const libxtables = [...libs].find((l) => path.basename(l).startsWith('libxtables.so'))
  const extDir = path.join(path.dirname(fs.realpathSync(libxtables!)), 'xtables')
  for (const ext of fs.readdirSync(extDir)) {
    const p = path.join(extDir, ext)
    replicate(dest, p)
    if (ext.endsWith('.so')) for (const l of sharedLibraries(p)) libs.add(l)
  }
  for (const l of libs) replicate(dest, l)
  const sbin = path.join(dest, fs.realpathSync('/usr/sbin'))
  for (const [target, names] of Object.entries(IMAGE.iptablesLinks))
    for (const n of names) if (!lexists(path.join(sbin, n))) fs.symlinkSync(target, path.join(sbin, n))

  const etc = path.join(dest, 'etc')
  fs.mkdirSync(etc, { recursive: true })
  const { uid, gid, userName, home } = IMAGE
  fs.writeFileSync(
    path.join(etc, 'passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\n${userName}:x:${uid}:${gid}:${userName}:${home}:/sbin/nologin\n`,
  )
  fs.writeFileSync(path.join(etc, 'group'), `root:x:0:\n${userName}:x:${gid}:\n`)
  fs.writeFileSync(path.join(etc, 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n')
  for (const f of ['/etc/ssl/certs/ca-certificates.crt', '/etc/protocols', '/etc/services']) {
    if (fs.existsSync(f)) replicate(dest, f)
    else log(`WARNING: ${f} not found on this machine; the image goes without it`)
  }
  for (const [dir, mode, owner] of [
    ['tmp', 0o1777, 0],
    ['run', 0o755, 0],
    ['root', 0o700, 0],
    [home.slice(1), 0o755, uid],
    [IMAGE.dataDir.slice(1), 0o750, uid],
  ] as const) {
    const p = path.join(dest, dir)
    fs.mkdirSync(p, { recursive: true })
    fs.chmodSync(p, mode)
    if (process.getuid?.() === 0) fs.chownSync(p, owner, owner === 0 ? 0 : gid)
  }
}

function stageApp(dest: string, node: string): void {
  for (const p of IMAGE.appPaths) {
    const src = path.join(ROOT, p)
    if (!fs.existsSync(src)) throw new Error(`${p} is missing`)
    fs.cpSync(src, path.join(dest, IMAGE.appDir, p), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (from) => !excluded(path.relative(ROOT, from)),
    })
  }
  warmTypeScriptCache(path.join(dest, IMAGE.appDir), node)
}

/**
 * Strips every shipped .ts file into the image's FAULTLINE_TS_CACHE (bin/strip-cache.js), with
 * the node binary the image ships: the cache is keyed by its version, so pods find every file.
 */
function warmTypeScriptCache(app: string, node: string): void {
  const files: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(p)
    }
  }
  for (const p of IMAGE.appPaths) if (fs.statSync(path.join(app, p)).isDirectory()) walk(path.join(app, p))
  const cache = path.join(app, path.relative(IMAGE.appDir, IMAGE.env.FAULTLINE_TS_CACHE))
  const script = `import { warmStripCache } from ${JSON.stringify(path.join(ROOT, 'bin', 'strip-cache.js'))}
    warmStripCache(JSON.parse(process.argv[1]), ${JSON.stringify(cache)})`
  run(node, ['--input-type=module', '-e', script, JSON.stringify(files)], { quiet: true })
  log(`TypeScript cache: ${files.length} files stripped into ${IMAGE.env.FAULTLINE_TS_CACHE}`)
}

/** Writes the three layer trees under `dir` (emptied first). */
export function stage(dir: string, node: string): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson
  fs.rmSync(dir, { recursive: true, force: true })
  for (const l of IMAGE.layers) fs.mkdirSync(path.join(dir, l), { recursive: true })
  stageRuntime(path.join(dir, 'runtime'), node)
  stageModules(path.join(dir, 'deps'), pkg)
  stageApp(path.join(dir, 'app'), node)
}

function duBytes(dir: string): number {
  return Number(run('du', ['-sb', dir]).split('\t')[0])
}

/**
 * Runs the staged layers, merged (hard links), in a chroot as uid 65532: the loader, the libraries
 * and node start; `faultline version` answers; every shipped module imports (so no runtime
 * dependency is missing from the production node_modules); iptables starts. Needs root.
 */
export function verify(dir: string): void {
  if (process.getuid?.() !== 0 || !which('chroot')) {
    log('verify: skipped (needs root and chroot)')
    return
  }
  const merged = path.join(dir, '.merged')
  fs.rmSync(merged, { recursive: true, force: true })
  fs.mkdirSync(merged)
  try {
    for (const l of IMAGE.layers) run('cp', ['-al', `${path.join(dir, l)}/.`, merged])
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson
    const inImage = (args: string[]) =>
      run('chroot', [`--userspec=${IMAGE.user}`, merged, ...args], { quiet: true, timeoutMs: 60_000 }).trim()
    const version = inImage([...IMAGE.entrypoint, 'version'])
    if (version !== pkg.version) throw new Error(`faultline version in the image said "${version}"`)
    const importAll = `
      import fs from 'node:fs'
      const files = []
      const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = d + '/' + e.name
        if (e.isDirectory()) walk(p); else if (/\\.(ts|js)$/.test(e.name)) files.push(p) } }
      for (const d of ['src', 'sidecar', 'controller', 'bin', 'examples']) walk('${IMAGE.appDir}/' + d)
      const skip = new Set(['${IMAGE.appDir}/bin/cli.ts', '${IMAGE.appDir}/bin/faultline.js'])
      const failed = []
      for (const f of files) if (!skip.has(f)) await import(f).catch((e) => failed.push(f + ': ' + e.message))
      console.log(JSON.stringify({ count: files.length, failed }))
      process.exit(0)`
    const r = JSON.parse(inImage([IMAGE.node, '--input-type=module', '-e', importAll])) as {
      count: number
      failed: string[]
    }
    if (r.failed.length) throw new Error(`modules that do not load in the image:\n${r.failed.join('\n')}`)
    const ipt = run('chroot', [merged, '/usr/sbin/iptables', '--version'], { quiet: true }).trim()
    log(`verify: faultline ${version}, ${r.count} modules load as uid ${IMAGE.uid}, ${ipt}`)
  } finally {
    fs.rmSync(merged, { recursive: true, force: true })
  }
}

const LAYER_COMMENTS: Record<string, string> = {
  runtime: 'node, shared libraries, iptables, /etc, user 65532',
  deps: 'production node_modules',
  app: 'faultline',
}

/** buildah on a project-local vfs store at `root` (chroot isolation for `buildah run`). */
export function buildahArgs(root: string, args: string[]): string[] {
  return [
    '--root',
    path.join(root, 'root'),
    '--runroot',
    path.join(root, 'runroot'),
    '--storage-driver',
    'vfs',
    ...args,
  ]
}

/** Removes every container and image of the store at `root`, then the store itself. */
export function removeBuildahStore(root: string): void {
  if (!fs.existsSync(root)) return
  try {
    run('buildah', buildahArgs(root, ['rm', '--all']), { quiet: true })
    run('buildah', buildahArgs(root, ['rmi', '--all', '--force']), { quiet: true })
  } catch (err) {
    log(`cleaning ${root}: ${(err as Error).message.split('\n')[0]}`)
  }
  // --one-file-system: never into a mount a killed `buildah run` may have left behind.
  run('rm', ['-rf', '--one-file-system', root])
}

/** The buildah store of this process for `kind` (build, test). */
export function buildahStore(kind: string): string {
  return path.join(WORK_DIR, 'buildah', `${kind}-${process.pid}`)
}

/** Staging folders and stores of builds and smoke tests whose process is gone (killed half-way). */
export function removeStaleWork(): void {
  const gone = (name: string) => {
    const pid = Number(/-(\d+)$/.exec(name)?.[1])
    if (!pid || pid === process.pid) return false
    try {
      process.kill(pid, 0)
      return false
    } catch {
      return true // kill(pid, 0) throws: that process is gone
    }
  }
  const stores = path.join(WORK_DIR, 'buildah')
  if (fs.existsSync(stores))
    for (const name of fs.readdirSync(stores).filter(gone)) removeBuildahStore(path.join(stores, name))
  if (fs.existsSync(WORK_DIR))
    for (const name of fs.readdirSync(WORK_DIR).filter((n) => n.startsWith('stage-') && gone(n)))
      run('rm', ['-rf', '--one-file-system', path.join(WORK_DIR, name)])
}

function gitInfo(): { revision?: string; epoch: number } {
  try {
    const [revision, epoch] = execFileSync('git', ['log', '-1', '--format=%H %ct'], { cwd: ROOT, encoding: 'utf8' })
      .trim()
      .split(' ')
    return { revision, epoch: Number(epoch) }
  } catch (err) {
    log(`no git revision (${(err as Error).message.split('\n')[0]}); labels go without it`)
    return { epoch: Math.floor(Date.now() / 1000) }
  }
}

/** Builds the image from the staged layers and writes the OCI archive to `out`. */
export function build(dir: string, out: string): void {
  if (!which('buildah'))
    throw new Error('buildah is missing: bash scripts/install-test-deps.sh (or apt-get install buildah)')
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson
  const { revision, epoch } = gitInfo()
  const tag = `localhost/${DEFAULT_IMAGE}`
  const store = buildahStore('build')
  const buildah = (args: string[]) => run('buildah', buildahArgs(store, args), { quiet: true }).trim()
  try {
    let from = 'scratch'
    for (const layer of IMAGE.layers) {
      const ctr = buildah(['from', '--name', `faultline-build-${layer}`, from])
      buildah(['copy', '--quiet', ctr, `${path.join(dir, layer)}/.`, '/'])
      if (layer === 'runtime') {
        // buildah copy makes everything root-owned; the user's folders get their owner back (a
        // folder's contents are what is copied, so copy the parent's to give the folder itself).
        for (const d of [IMAGE.home, IMAGE.dataDir]) {
          const parent = path.dirname(d)
          buildah(['copy', '--quiet', '--chown', IMAGE.user, ctr, `${path.join(dir, layer, parent)}/.`, parent])
        }
      }
      const labels: Record<string, string> = {
        ...IMAGE.labels,
        'org.opencontainers.image.description': pkg.description ?? '',
        'org.opencontainers.image.version': pkg.version,
        'org.opencontainers.image.created': new Date(epoch * 1000).toISOString(),
        ...(revision ? { 'org.opencontainers.image.revision': revision } : {}),
      }
      if (layer === IMAGE.layers.at(-1)) {
        buildah([
          'config',
          '--os',
          'linux',
          '--arch',
          process.arch === 'x64' ? 'amd64' : process.arch,
          '--user',
          IMAGE.user,
          '--workingdir',
          IMAGE.workdir,
          '--entrypoint',
          JSON.stringify(IMAGE.entrypoint),
          '--cmd',
          JSON.stringify(IMAGE.cmd),
          ...Object.entries(IMAGE.env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
          ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
          ctr,
        ])
      }
      buildah([
        'config',
        '--created-by',
        `scripts/build-image.ts: ${layer} layer`,
        '--history-comment',
        LAYER_COMMENTS[layer],
        // The intermediate images are gone after the build: name no base.
        '--annotation',
        'org.opencontainers.image.base.name-',
        '--annotation',
        'org.opencontainers.image.base.digest-',
        ctr,
      ])
      const image = layer === IMAGE.layers.at(-1) ? tag : `localhost/faultline-layer-${layer}`
      buildah([
        'commit',
        '--quiet',
        '--rm',
        '--identity-label=false',
        '--format',
        'oci',
        '--timestamp',
        String(epoch),
        ctr,
        image,
      ])
      from = image
    }
    fs.mkdirSync(path.dirname(out), { recursive: true })
    const tmp = `${out}.${process.pid}.partial`
    fs.rmSync(tmp, { force: true })
    try {
      buildah(['push', '--quiet', tag, `oci-archive:${tmp}:${IMAGE.ref}`])
      fs.renameSync(tmp, out)
    } finally {
      fs.rmSync(tmp, { force: true })
    }
  } finally {
    removeBuildahStore(store)
  }
}

function parseArgs(argv: string[]): {
  check: boolean
  stageDir?: string
  node?: string
  out: string
  verify: boolean
  keepStage: boolean
} {
  const o = { check: false, out: DEFAULT_OUT, verify: true, keepStage: false } as ReturnType<typeof parseArgs>
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (!v) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--check') o.check = true
    else if (a === '--stage') o.stageDir = path.resolve(value())
    else if (a === '--node') o.node = value()
    else if (a === '--out') o.out = path.resolve(value())
    else if (a === '--no-verify') o.verify = false
    else if (a === '--keep-stage') o.keepStage = true
    else throw new Error(`unknown option ${a}`)
  }
  return o
}

function main(): void {
  const started = Date.now()
  const opts = parseArgs(process.argv.slice(2))
  const node = resolveNode(opts.node)
  log(`node ${node.version} from ${node.path}`)
  removeStaleWork()
  const dir = opts.stageDir ?? path.join(WORK_DIR, `stage-${process.pid}`)
  try {
    stage(dir, node.path)
    const sizes = IMAGE.layers.map((l) => `${l} ${(duBytes(path.join(dir, l)) / 1e6).toFixed(1)} MB`)
    log(`staged layers: ${sizes.join(', ')}`)
    if (opts.verify) verify(dir)
    if (opts.check || opts.stageDir) {
      log(`${opts.check ? 'check' : 'stage'} done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      return
    }
    build(dir, opts.out)
    const mb = fs.statSync(opts.out).size / 1e6
    log(
      `wrote ${path.relative(process.cwd(), opts.out)} (${mb.toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    )
  } finally {
    if (!opts.stageDir && !opts.keepStage) fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  try {
    main()
  } catch (err) {
    log(`failed: ${(err as Error).message}`)
    process.exit(1)
  }
}
