/**
 * The injector's serving certificate, reloaded when its files change: cert-manager (or the
 * chart's upgrade) rotates the Secret, the kubelet swaps the mounted files through a `..data`
 * symlink, and the running server must pick the new pair up without a restart. The directories
 * are watched (a symlink swap is a rename in the directory, not a write to the file) and polled
 * as a backstop for filesystems where watching says nothing. A pair that does not match (the
 * certificate written before its key) is not applied: the old one keeps serving until both agree.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { type FSWatcher, readFileSync, watch } from 'node:fs'
import path from 'node:path'
import { codeOf, errors } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'

export interface TlsPair {
  cert: string
  key: string
  /** The leaf certificate's expiry, for the log. */
  validTo: string
}

/** Reads and checks a certificate/key pair; FL_ERR_CONFIG_INVALID names the flag at fault. */
export function readTlsPair(certFile: string, keyFile: string): TlsPair {
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, 'utf8')
    } catch (err) {
      throw errors.FL_ERR_CONFIG_INVALID(`cannot read ${file}: ${(err as Error).message}`, {
        cause: err,
        issues: [{ path: flag, message: (err as Error).message }],
      })
    }
  }
  const cert = read(certFile, '--tls-cert')
  const key = read(keyFile, '--tls-key')
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID(`${certFile} is not a PEM certificate: ${(err as Error).message}`, {
      cause: err,
      issues: [{ path: '--tls-cert', message: 'must be a PEM certificate' }],
    })
  }
  let matches: boolean
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key))
  } catch (err) {
    throw errors.FL_ERR_CONFIG_INVALID(`${keyFile} is not a PEM private key: ${(err as Error).message}`, {
      cause: err,
      issues: [{ path: '--tls-key', message: 'must be a PEM private key' }],
    })
  }
  if (!matches)
    throw errors.FL_ERR_CONFIG_INVALID(`${keyFile} is not the key of ${certFile}`, {
      issues: [{ path: '--tls-key', message: 'does not match the certificate' }],
    })
  return { cert, key, validTo: x509.validTo }
}

export interface TlsReloaderOptions {
  certFile: string
  keyFile: string
  /** Applies a new pair (https.Server#setSecureContext). */
  apply: (pair: TlsPair) => void
  log: Logger
  /** Backstop poll; default 60 s. */
  pollMs?: number
}

export class TlsReloader {
  #current: TlsPair
  #watchers: FSWatcher[] = []
  #debounce: NodeJS.Timeout | undefined
  #poll: NodeJS.Timeout | undefined
  readonly #opts: TlsReloaderOptions

  constructor(initial: TlsPair, opts: TlsReloaderOptions) {
    this.#current = initial
    this.#opts = opts
  }

  start(): void {
    const dirs = new Set([
      path.dirname(path.resolve(this.#opts.certFile)),
      path.dirname(path.resolve(this.#opts.keyFile)),
    ])
    for (const dir of dirs) {
      const w = watch(dir, () => {
        clearTimeout(this.#debounce)
        this.#debounce = setTimeout(() => this.check(), 100)
      })
      w.on('error', (err) =>
        this.#opts.log.warn({ dir, error: err.message }, 'cannot watch the TLS files; polling only'),
      )
      this.#watchers.push(w)
    }
    this.#poll = setInterval(() => this.check(), this.#opts.pollMs ?? 60_000)
    this.#poll.unref()
  }

  /** Re-reads the files; applies them when they changed and agree. Returns whether it applied. */
  check(): boolean {
    const { certFile, keyFile, log } = this.#opts
    let next: TlsPair
    try {
      next = readTlsPair(certFile, keyFile)
    } catch (err) {
      // Mid-rotation or a bad file: keep serving the last good pair, try again on the next change.
      log.warn(
        { code: codeOf(err), error: (err as Error).message },
        'TLS files not reloaded; keeping the current certificate',
      )
      return false
    }
    if (next.cert === this.#current.cert && next.key === this.#current.key) return false
    try {
      this.#opts.apply(next)
    } catch (err) {
      log.error({ error: (err as Error).message }, 'new TLS certificate refused; keeping the current one')
      return false
    }
    this.#current = next
    log.info({ certFile, validTo: next.validTo }, 'TLS certificate reloaded')
    return true
  }

  close(): void {
    clearTimeout(this.#debounce)
    clearInterval(this.#poll)
    for (const w of this.#watchers.splice(0)) w.close()
  }
}
