/**
 * The dashboard's files, served by the controller under /ui/ with no build step. The browser
 * code is TypeScript in ui/ (type-checked with the rest); it is served as JavaScript by
 * stripping its types with Node's own `module.stripTypeScriptTypes` and its comments and runs of
 * whitespace (compact.ts), once, on the first request for a dashboard file, kept in memory (with
 * its gzip) for the controller's life. No bundler:
 * every import is rewritten to a file of the same flat /ui/ directory (relative URLs, so the
 * dashboard works under any path prefix), bare names to the vendored Preact and htm ESM builds
 * from node_modules, and `../controller/experiments/chart-geometry.ts` to the chart geometry the HTML
 * report draws with. An import that is not one of these is a bug: the whole set fails to build.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { compact } from './compact.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** Bare specifiers the browser code may import, and the package files they are. */
const VENDOR: Record<string, { file: string; name: string }> = {
  preact: { file: 'node_modules/preact/dist/preact.mjs', name: 'preact.mjs' },
  'preact/hooks': { file: 'node_modules/preact/hooks/dist/hooks.mjs', name: 'preact-hooks.mjs' },
  htm: { file: 'node_modules/htm/dist/htm.mjs', name: 'htm.mjs' },
}

/** Repository modules outside ui/ that the browser code shares with the server. */
const SHARED: Record<string, string> = { 'controller/experiments/chart-geometry.ts': 'chart-geometry.ts' }

/**
 * The policy of every /ui/ answer: scripts and styles from these files only (no inline script,
 * no eval), data from the API of the same origin only, never framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export interface Asset {
  type: string
  body: Buffer
  gzip: Buffer
  etag: string
}

const TYPES: Record<string, string> = {
  '.ts': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
}

/** `from "x"`, `import "x"`, `import("x")`, `export … from "x"`: the specifiers of a module. */
const IMPORT = /(\bfrom\s*|\bimport\s*\(?\s*)(["'])([^"'\n]+)\2/g

/** Rewrites every import of `code` (from repository file `from`) to its served name, or throws. */
export function rewriteImports(code: string, from: string, served: ReadonlyMap<string, string>): string {
  return code.replace(IMPORT, (_all, lead: string, q: string, spec: string) => {
    let name: string | undefined
    if (VENDOR[spec]) name = VENDOR[spec].name
    else if (spec.startsWith('.')) name = served.get(path.posix.join(path.posix.dirname(from), spec))
    if (!name) throw new Error(`${from} imports ${spec}, which the dashboard does not serve (controller/ui/assets.ts)`)
    return `${lead}${q}./${name}${q}`
  })
}

function asset(file: string, text: string): Asset {
  const body = Buffer.from(text)
  return {
    type: TYPES[path.extname(file)] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  }
}

/** Every dashboard file by its served name (`index.html`, `main.ts`, `preact.mjs`, ...). */
export function buildAssets(root = ROOT): Map<string, Asset> {
  // types.ts holds types only: nothing imports it at run time once types are stripped.
  const uiFiles = readdirSync(path.join(root, 'ui')).filter((f) => /\.(ts|css|html)$/.test(f) && f !== 'types.ts')
  // Repository path -> served name, for the import rewriting.
  const served = new Map<string, string>()
  for (const f of uiFiles) served.set(`ui/${f}`, f)
  for (const [file, name] of Object.entries(SHARED)) {
    if (uiFiles.includes(name)) throw new Error(`ui/${name} and ${file} would both be served as ${name}`)
    served.set(file, name)
  }
  const out = new Map<string, Asset>()
  for (const [file, name] of served) {
    const text = readFileSync(path.join(root, file), 'utf8')
    const code = file.endsWith('.ts')
      ? rewriteImports(compact(stripTypeScriptTypes(text, { mode: 'strip' })), file, served)
      : text
    out.set(name, asset(name, code))
  }
  for (const { file, name } of Object.values(VENDOR))
    out.set(name, asset(name, rewriteImports(readFileSync(path.join(root, file), 'utf8'), file, served)))
  return out
}

/** Compressed JavaScript the dashboard loads (every module), in bytes: the budget is 35 KB. */
export function compressedScriptBytes(assets: Map<string, Asset>): number {
  let n = 0
  for (const a of assets.values()) if (a.type.startsWith('text/javascript')) n += a.gzip.length
  return n
}
