/**
 * The Dockerfile cannot be built here (no Docker engine, no registry): these checks keep it and
 * the buildah build (scripts/build-image.ts, which the smoke test in test/image runs) in agreement
 * on what matters to a cluster: entrypoint, cmd, user, working directory, environment, the layers
 * and their paths, the labels, and a build context that holds what the Dockerfile copies.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { IMAGE, ROOT, runtimeImports } from '../../scripts/build-image.ts'

interface Instruction {
  op: string
  args: string
}

/** Dockerfile instructions per stage (continuations joined, comments dropped). */
function parseDockerfile(text: string): { from: string; name?: string; body: Instruction[] }[] {
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const stages: { from: string; name?: string; body: Instruction[] }[] = []
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!
    if (op!.toUpperCase() === 'FROM') {
      const [from, , name] = args!.split(/\s+/)
      stages.push({ from: from!, name, body: [] })
    } else stages.at(-1)?.body.push({ op: op!.toUpperCase(), args: args!.replace(/\s+/g, ' ') })
  }
  return stages
}

const dockerfile = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string
  description: string
}
const final = dockerfile.at(-1)!
const builder = dockerfile.find((s) => s.name === 'build')!
const all = (stage: typeof final, op: string) => stage.body.filter((i) => i.op === op).map((i) => i.args)
const one = (stage: typeof final, op: string) => {
  const found = all(stage, op)
  expect(found, `${op} in the final stage`).toHaveLength(1)
  return found[0]!
}

/** KEY=VALUE pairs of LABEL / ENV arguments (values may be double-quoted). */
function pairs(args: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const a of args)
    for (const m of a.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '')
  return out
}

describe('Dockerfile and the buildah build agree', () => {
  it('builds the final image from scratch, after a builder that runs the staging script', () => {
    expect(final.from).toBe('scratch')
    expect(builder).toBeDefined()
    expect(all(builder, 'RUN')).toContain('node scripts/build-image.ts --stage /stage --node /usr/local/bin/node')
  })

  it('has the same entrypoint, cmd, user and working directory', () => {
    expect(JSON.parse(one(final, 'ENTRYPOINT'))).toEqual(IMAGE.entrypoint)
    expect(JSON.parse(one(final, 'CMD'))).toEqual(IMAGE.cmd)
    expect(one(final, 'USER')).toBe(IMAGE.user)
    expect(one(final, 'WORKDIR')).toBe(IMAGE.workdir)
    expect(IMAGE.entrypoint[0]).toBe(IMAGE.node)
    expect(IMAGE.entrypoint[1]).toBe(`${IMAGE.appDir}/bin/faultline.js`)
    expect(IMAGE.user).toBe(`${IMAGE.uid}:${IMAGE.gid}`)
  })

  it('has the same environment', () => {
    expect(pairs(all(final, 'ENV'))).toEqual(IMAGE.env)
  })

  it('copies the staged layers in the same order, and gives the user its folders', () => {
    const copies = all(final, 'COPY')
    const layerCopies = copies.filter((c) => !c.includes('--chown'))
    expect(layerCopies).toEqual(IMAGE.layers.map((l) => `--from=build /stage/${l}/ /`))
    const owned = copies.filter((c) => c.includes('--chown')).map((c) => c.split(' ').at(-1))
    // buildah and Docker both copy a folder's contents: the parent's, so the folder gets the owner.
    expect(owned).toEqual([IMAGE.home, IMAGE.dataDir].map((d) => `${path.dirname(d)}/`))
    for (const c of copies.filter((c) => c.includes('--chown'))) expect(c).toContain(`--chown=${IMAGE.user}`)
  })

  it('copies every app path into the builder, and the build context holds them', () => {
    const copied = all(builder, 'COPY').flatMap((c) => c.split(' ').slice(0, -1))
    for (const p of [...IMAGE.appPaths, 'package-lock.json', 'scripts/build-image.ts'])
      expect(copied, `COPY ${p} in the builder`).toContain(p)
    const allowed = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''))
    expect(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')).toMatch(/^\*$/m)
    for (const p of [...IMAGE.appPaths, 'package-lock.json', 'scripts/build-image.ts']) expect(allowed).toContain(p)
  })

  it("copies what the staging script imports (the image's default name) into the builder", () => {
    const copied = all(builder, 'COPY').flatMap((c) => c.split(' ').slice(0, -1))
    const script = readFileSync(path.join(ROOT, 'scripts/build-image.ts'), 'utf8')
    const local = [...script.matchAll(/^import .* from '\.\.\/([\w-]+)\//gm)].map((m) => m[1]!)
    expect(local).toContain('controller')
    for (const dir of local) expect(copied, `COPY ${dir} in the builder`).toContain(dir)
  })

  it('carries the same labels, and the version default follows package.json', () => {
    const labels = pairs(all(final, 'LABEL'))
    for (const [k, v] of Object.entries(IMAGE.labels)) expect(labels[k], k).toBe(v)
    expect(labels['org.opencontainers.image.description']).toBe(pkg.description)
    expect(labels['org.opencontainers.image.version']).toBe('${VERSION}')
    expect(pairs(all(final, 'ARG')).VERSION, 'ARG VERSION=<package.json version>').toBe(pkg.version)
  })

  it('finds the packages the shipped code imports at run time', () => {
    const imports = runtimeImports(ROOT)
    for (const p of ['fastify', 'pino', 'yaml', '@kubernetes/client-node']) expect(imports.has(p), p).toBe(true)
    for (const p of imports.keys()) expect(p).not.toMatch(/^(node:|\.)/)
  })
})
