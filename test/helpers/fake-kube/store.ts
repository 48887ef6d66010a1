/**
 * The object store: one map per resource, a global resourceVersion counter (every write takes the
 * next number, as etcd's revision does), a bounded event history so a watch can resume from a
 * resourceVersion, and listeners (watch streams, the controller loop). Objects are cloned on the
 * way in and out, so nobody holds a live reference into the store.
 */
import { type ResourceDef, apiVersionOf, resourceByKey, resourceKey } from './resources.ts'

export interface ObjectMeta {
  name?: string
  generateName?: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: OwnerReference[]
  finalizers?: string[]
  [k: string]: unknown
}

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata: ObjectMeta
  spec?: any
  status?: any
  [k: string]: any
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface StoreEvent {
  type: EventType
  resource: ResourceDef
  rv: number
  object: KubeObject
  /** The object before this change (MODIFIED, DELETED): a watch with a selector needs both. */
  previous?: KubeObject
}

/** RFC 3339 at second precision, as metav1.Time serialises. */
export function timestamp(ms = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as unknown[]
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]))
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined)
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined)
  if (ka.length !== kb.length) return false
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

export function clone<T>(v: T): T {
  return structuredClone(v)
}

/** A small deterministic PRNG (mulberry32), so generated names and uids repeat for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The alphabet of apiserver generateName suffixes and pod-template-hash values (no vowels). */
const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789'

export class Store {
  private rv = 1000
  private readonly data = new Map<string, Map<string, KubeObject>>()
  private readonly history: StoreEvent[] = []
  private readonly listeners = new Set<(e: StoreEvent) => void>()
  private readonly random: () => number
  private readonly historyLimit: number

  constructor(opts: { seed: number; historyLimit: number }) {
    this.random = seededRandom(opts.seed)
    this.historyLimit = opts.historyLimit
  }

  get resourceVersion(): number {
    return this.rv
  }

  /** Oldest resourceVersion a watch can still resume from (older ones get 410 Gone). */
  get oldestResumableVersion(): number {
    return this.history.length === this.historyLimit ? this.history[0]!.rv : 0
  }

  randomSuffix(n = 5): string {
    let s = ''
    for (let i = 0; i < n; i++) s += nameAlphabet[Math.floor(this.random() * nameAlphabet.length)]
    return s
  }

  uid(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(this.random() * 16).toString(16)).join('')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
  }

  private bucket(r: ResourceDef): Map<string, KubeObject> {
    const k = resourceKey(r)
    let m = this.data.get(k)
    if (!m) {
      m = new Map()
      this.data.set(k, m)
    }
    return m
  }

  private static id(namespace: string | undefined, name: string): string {
    return `${namespace ?? ''}/${name}`
  }

  /** The stored object itself (no clone): for read-only use inside the fake. */
  peek(r: ResourceDef, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.bucket(r).get(Store.id(r.namespaced ? namespace : undefined, name))
  }

  get(r: ResourceDef, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.peek(r, namespace, name)
    return o ? clone(o) : undefined
  }

  /** Stored objects (no clones), sorted by namespace then name, as a real list is. */
  peekList(r: ResourceDef, namespace?: string): KubeObject[] {
    const all = [...this.bucket(r).values()].filter((o) => !namespace || o.metadata.namespace === namespace)
    return all.sort((a, b) =>
      Store.id(a.metadata.namespace, a.metadata.name!).localeCompare(Store.id(b.metadata.namespace, b.metadata.name!)),
    )
  }

  list(r: ResourceDef, namespace?: string): KubeObject[] {
    return this.peekList(r, namespace).map((o) => clone(o))
  }

  findByUid(uid: string): { resource: ResourceDef; object: KubeObject } | undefined {
    for (const [key, m] of this.data) {
      for (const o of m.values()) {
        if (o.metadata.uid === uid) return { resource: resourceByKey(key), object: o }
      }
    }
    return undefined
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Events after `rv`, or undefined when the history no longer reaches back that far. */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv >= this.rv) return []
    const first = this.history[0]
    if (!first || first.rv > rv + 1) return undefined
    return this.history.filter((e) => e.rv > rv)
  }

  private emit(e: StoreEvent): void {
    this.history.push(e)
    if (this.history.length > this.historyLimit) this.history.shift()
    for (const fn of [...this.listeners]) fn(e)
  }

  /**
   * Stores a new object: assigns uid, resourceVersion, creationTimestamp and generation (a name
   * from generateName when there is none). The caller has checked that the name is free.
   */
  create(r: ResourceDef, input: KubeObject): KubeObject {
    const o = clone(input)
    o.apiVersion = apiVersionOf(r)
    o.kind = r.kind
    const meta = o.metadata
    if (!meta.name && meta.generateName) {
      do meta.name = meta.generateName + this.randomSuffix()
      while (this.peek(r, meta.namespace, meta.name))
    }
    if (!r.namespaced) delete meta.namespace
    meta.uid = this.uid()
    meta.resourceVersion = String(++this.rv)
    meta.creationTimestamp = timestamp()
    meta.generation = 1
    this.bucket(r).set(Store.id(meta.namespace, meta.name!), o)
    this.emit({ type: 'ADDED', resource: r, rv: this.rv, object: clone(o) })
    return clone(o)
  }

  /**
   * Replaces a stored object: keeps uid and creationTimestamp, takes the next resourceVersion and
   * bumps generation when anything outside metadata and status changed. A write that changes
   * nothing is not a write (no new resourceVersion, no event), as on a real server.
   */
  update(r: ResourceDef, input: KubeObject): KubeObject {
    const meta = input.metadata
    const old = this.peek(r, meta.namespace, meta.name!)
    if (!old) throw new Error(`fake-kube: update of missing ${resourceKey(r)} ${meta.namespace ?? ''}/${meta.name}`)
    const o = clone(input)
    o.apiVersion = apiVersionOf(r)
    o.kind = r.kind
    o.metadata.uid = old.metadata.uid
    o.metadata.creationTimestamp = old.metadata.creationTimestamp
    if (!r.namespaced) delete o.metadata.namespace
    o.metadata.generation = old.metadata.generation
    o.metadata.resourceVersion = old.metadata.resourceVersion
    if (deepEqual(o, old)) return clone(old)
    const { metadata: _m1, status: _s1, ...oldRest } = old
    const { metadata: _m2, status: _s2, ...newRest } = o
    if (!deepEqual(oldRest, newRest)) o.metadata.generation = (old.metadata.generation ?? 1) + 1
    o.metadata.resourceVersion = String(++this.rv)
    this.bucket(r).set(Store.id(o.metadata.namespace, o.metadata.name!), o)
    this.emit({ type: 'MODIFIED', resource: r, rv: this.rv, object: clone(o), previous: clone(old) })
    return clone(o)
  }

  /** Removes an object; the DELETED event carries its last state at a new resourceVersion. */
  delete(r: ResourceDef, namespace: string | undefined, name: string): KubeObject | undefined {
    const old = this.peek(r, namespace, name)
    if (!old) return undefined
    this.bucket(r).delete(Store.id(old.metadata.namespace, name))
    const o = clone(old)
    o.metadata.resourceVersion = String(++this.rv)
    this.emit({ type: 'DELETED', resource: r, rv: this.rv, object: clone(o), previous: clone(old) })
    return o
  }
}
