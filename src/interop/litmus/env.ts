/**
 * A Litmus experiment's environment variables: the ChaosExperiment's defaults (chaos-charts),
 * overridden by a ChaosExperiment document in the same file, overridden by the ChaosEngine's
 * `components.env` (Litmus's own order). Every variable a document sets must be read or noted:
 * whatever is left over is refused by path, never ignored.
 */
import { pointer } from '../../schema.ts'
import type { Notes } from '../kube/notes.ts'

interface Entry {
  value: string
  /** Where the document set it; undefined for a built-in default. */
  path?: string
}

/** Variables that configure how Litmus runs its helper pods; meaningless for faultline. */
const RUNTIME_ONLY: Record<string, string> = {
  LIB: 'ignored: the chaos library (faultline is its own)',
  LIB_IMAGE: 'ignored: the helper image (faultline runs no helper pod)',
  STRESS_IMAGE: "ignored: the stress image (faultline's podStress runs the faultline image)",
  CONTAINER_RUNTIME: 'ignored: faultline never talks to the container runtime',
  SOCKET_PATH: 'ignored: faultline never talks to the container runtime',
  NETWORK_INTERFACE: "ignored: faultline's sidecar works at the HTTP level, not on an interface",
  PROXY_PORT: "ignored: faultline's sidecar is the proxy (Litmus starts toxiproxy on this port)",
  TARGET_CONTAINER: 'ignored: the fault acts on the whole pod (its sidecar, or every container)',
  DEFAULT_HEALTH_CHECK:
    "ignored: faultline checks only the hypothesis's checks (Litmus's default health check waits for the app's pods to run)",
  TERMINATION_GRACE_PERIOD_SECONDS: 'ignored: the grace period of Litmus helper pods',
  CHAOS_NAMESPACE: 'ignored: where Litmus runs its own pods',
  APP_NAMESPACE: 'ignored: set by the operator from appinfo',
  APP_LABEL: 'ignored: set by the operator from appinfo',
  APP_KIND: 'ignored: set by the operator from appinfo',
  CHAOS_SERVICE_ACCOUNT: "ignored: faultline acts with its kubeconfig's identity",
  SET_HELPER_DATA: 'ignored: a Litmus helper-pod setting',
  STATUS_CHECK_DELAY: 'ignored: faultline follows pods with a watch; it has no polling delay',
  INSTANCE_ID: 'ignored: a Litmus result-naming setting',
}

export class Env {
  readonly #vars = new Map<string, Entry>()
  readonly #read = new Set<string>()
  readonly #notes: Notes

  constructor(notes: Notes, defaults: Record<string, string>) {
    this.#notes = notes
    for (const [k, v] of Object.entries(defaults)) this.#vars.set(k, { value: v })
  }

  /** Layers a document's `env` list (`[{name, value}]`) on top. */
  layer(list: unknown[] | undefined, path: string): void {
    list?.forEach((e, i) => {
      const epath = pointer(path, i)
      const item = e as { name?: unknown; value?: unknown; valueFrom?: unknown }
      if (typeof item?.name !== 'string') return void this.#notes.refuse(epath, 'must be {name, value}')
      if (item.valueFrom !== undefined)
        return void this.#notes.refuse(
          pointer(epath, 'valueFrom'),
          'values from Secrets or ConfigMaps: give the value inline',
        )
      const value = item.value === undefined || item.value === null ? '' : String(item.value)
      this.#vars.set(item.name, { value, path: pointer(epath, 'value') })
    })
  }

  /** The variable's text ('' when unset), marked as read. */
  get(name: string): string {
    this.#read.add(name)
    return this.#vars.get(name)?.value.trim() ?? ''
  }

  /** Where the document set it (for notes), or the list's path when it is a default. */
  path(name: string, fallback: string): string {
    return this.#vars.get(name)?.path ?? `${fallback} (${name})`
  }

  /** Whole seconds as milliseconds; refused when not a number. */
  seconds(name: string, fallback: string): number | undefined {
    const text = this.get(name)
    if (text === '') return undefined
    const n = Number(text)
    if (!Number.isFinite(n) || n < 0)
      return this.#notes.refuse(this.path(name, fallback), `${name} must be a number of seconds`)
    return n * 1000
  }

  /** Refuses every variable the document set that nobody read; notes the runtime-only ones. */
  finish(experiment: string): void {
    for (const [name, e] of this.#vars) {
      if (this.#read.has(name) || e.path === undefined) continue
      if (RUNTIME_ONLY[name]) this.#notes.approx(e.path, RUNTIME_ONLY[name]!)
      else if (e.value.trim() !== '')
        this.#notes.refuse(e.path, `${name} is not a variable of ${experiment} that faultline knows`)
      else this.#notes.approx(e.path, `${name} is empty: nothing to carry over`)
    }
  }
}
