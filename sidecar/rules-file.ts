/**
 * A rules file (YAML or JSON, `{ rules: [...] }` or a bare list) loaded at start and reloaded
 * whenever it changes. The directory is watched, not the file, because editors and ConfigMap
 * mounts replace files by rename. A bad edit is logged and the last good rules stay live.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'

/** yaml is loaded only by a sidecar that has a rules file (the CommonJS build, synchronously). */
const load = createRequire(import.meta.url)
const parseYaml = (text: string): unknown => (load('yaml') as typeof import('yaml')).parse(text)
import { errors, type FaultlineError } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import type { RuleStore } from './rule-store.ts'

export function readRulesFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw errors.FL_ERR_RULES_FILE(`${file}: ${(err as Error).message}`, { cause: err })
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw errors.FL_ERR_RULES_FILE(`${file} is not valid YAML or JSON: ${(err as Error).message}`, {
      cause: err,
    })
  }
  return Array.isArray(doc) ? { rules: doc } : (doc ?? { rules: [] })
}

export class RulesFileSource {
  #watcher: FSWatcher | undefined
  #debounce: NodeJS.Timeout | undefined
  #loaded = false
  readonly file: string
  readonly #store: RuleStore
  readonly #log: Logger

  constructor(file: string, store: RuleStore, log: Logger) {
    this.file = path.resolve(file)
    this.#store = store
    this.#log = log
  }

  /** Whether the file has loaded successfully at least once (part of readiness). */
  get loaded(): boolean {
    return this.#loaded
  }

  /** Loads now; throws on a bad file so a sidecar never starts on rules it cannot read. */
  start(): void {
    this.#load(true)
    this.#watcher = watch(path.dirname(this.file), (_event, name) => {
      if (name && path.basename(this.file) !== name.toString()) return
      clearTimeout(this.#debounce)
      this.#debounce = setTimeout(() => this.#load(false), 50)
    })
  }

  #load(strict: boolean): boolean {
    try {
      const generation = this.#store.replace(readRulesFile(this.file))
      this.#loaded = true
      this.#log.info({ file: this.file, generation, rules: this.#store.snapshot.rules.length }, 'rules file loaded')
      return true
    } catch (err) {
      if (strict) throw err
      const e = err as FaultlineError
      this.#log.error(
        { file: this.file, code: e.code, error: e.message, errors: e.issues },
        'rules file rejected; keeping the last good rules',
      )
      return false
    }
  }

  close(): void {
    clearTimeout(this.#debounce)
    this.#watcher?.close()
  }
}
