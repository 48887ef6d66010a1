// faultline is TypeScript that Node 24 runs by stripping its types on load. That stripper
// (amaro, a WebAssembly build of swc) costs ~17 MB of RSS in every process that loads a .ts
// file, and the sidecar runs in every injected pod. So the launcher keeps the stripped JavaScript
// of each project file in a cache keyed by Node's version and the file's content, and hands it
// to Node as plain modules: a process that finds all its files cached never loads amaro. Only a
// miss strips, once; the image ships a warmed cache (scripts/build-image.ts).
//
// Plain JavaScript on purpose: it runs before any TypeScript can be loaded.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { registerHooks, stripTypeScriptTypes } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ROOT_URL = pathToFileURL(ROOT).href + '/'

/** FAULTLINE_TS_CACHE, else /app/.ts-cache style: `<root>/node_modules/.cache/faultline-ts`. */
export function cacheDir(env = process.env) {
  return env.FAULTLINE_TS_CACHE || path.join(ROOT, 'node_modules', '.cache', 'faultline-ts')
}

function cacheKey(source) {
  return createHash('sha1').update(process.version).update('\0').update(source).digest('hex')
}

// stripTypeScriptTypes warns that it is experimental on first use; the loader it replaces is
// the same code without the warning, so the warning would only alarm the user.
function strip(source, url) {
  const emit = process.emitWarning
  process.emitWarning = (warning, ...rest) => {
    if (!String(warning).includes('stripTypeScriptTypes')) emit.call(process, warning, ...rest)
  }
  try {
    return stripTypeScriptTypes(source, { mode: 'strip', sourceUrl: url })
  } finally {
    process.emitWarning = emit
  }
}

/**
 * The stripped JavaScript of one project file: from the cache, or stripped now and stored (when
 * the cache can be written; a read-only or broken cache only costs the strip).
 */
export function strippedSource(file, dir, onCacheError) {
  const source = fs.readFileSync(file, 'utf8')
  const cached = path.join(dir, `${cacheKey(source)}.js`)
  try {
    return fs.readFileSync(cached, 'utf8')
  } catch (err) {
    // A cache that cannot be read (not a directory, no permission) is a miss, said once.
    if (err.code !== 'ENOENT') onCacheError(err)
  }
  const js = strip(source, pathToFileURL(file).href)
  try {
    fs.mkdirSync(dir, { recursive: true })
    // Another process may store the same file at once: write aside, then rename (atomic).
    const tmp = `${cached}.${process.pid}.tmp`
    fs.writeFileSync(tmp, js)
    fs.renameSync(tmp, cached)
  } catch (err) {
    onCacheError(err)
  }
  return js
}

/** Serves the project's own .ts files (not node_modules) stripped from the cache; FAULTLINE_TS_CACHE=off opts out. */
export function useStripCache(env = process.env) {
  if (env.FAULTLINE_TS_CACHE === 'off') return
  const dir = cacheDir(env)
  let warned = false
  const onCacheError = (err) => {
    if (warned) return
    warned = true
    process.emitWarning(
      `cannot use the stripped-TypeScript cache ${dir} (${err.code ?? err.message}); stripping on every start`,
      {
        code: 'FL_TS_CACHE',
      },
    )
  }
  registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(ROOT_URL) || !url.endsWith('.ts') || url.includes('/node_modules/'))
        return nextLoad(url, context)
      return { format: 'module', source: strippedSource(fileURLToPath(url), dir, onCacheError), shortCircuit: true }
    },
  })
}

/** Fills the cache for `files` (the image build warms it, so pods never strip). */
export function warmStripCache(files, dir) {
  for (const f of files)
    strippedSource(f, dir, (err) => {
      throw err
    })
}
