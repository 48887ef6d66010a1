/**
 * The verbs, with the API server's admission, defaulting and validation where a client could
 * get them wrong: create (name/generateName, namespace must exist and not be terminating, pod and
 * workload defaults, selector/template checks), replace and patch (optimistic concurrency on
 * metadata.resourceVersion, the main resource never writes status and /status writes only status,
 * the pod-update rule that only images, activeDeadlineSeconds, added tolerations and
 * terminationGracePeriodSeconds may change, immutable workload selectors), delete (grace
 * periods, preconditions, propagation), evictions (PodDisruptionBudget arithmetic and the 429
 * Status), the scale subresource (autoscaling/v1 Scale) and the ephemeralcontainers subresource.
 */
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  internalError,
  invalid,
  modifiedMessage,
  notFound,
  tooManyRequests,
  unsupportedMediaType,
} from './errors.ts'
import { type ResourceDef, apiVersionOf } from './resources.ts'
import {
  type Controllers,
  R,
  defaultContainer,
  defaultEphemeralContainer,
  defaultPod,
  isPodReady,
  isTerminating,
} from './controllers.ts'
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from './patch.ts'
import {
  checkFieldSelector,
  fieldValues,
  labelSelectorToString,
  matchesFieldRequirements,
  matchesLabelRequirements,
  matchesLabelSelectorObject,
  parseFieldSelector,
  parseLabelSelector,
} from './selectors.ts'
import { type KubeObject, type Store, clone, deepEqual, timestamp } from './store.ts'

export interface DeleteOptions {
  gracePeriodSeconds?: number
  propagationPolicy?: string
  preconditions?: { uid?: string; resourceVersion?: string }
  dryRun?: string[]
}

const subdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const labelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** Resources whose DELETE answers with the object (the registry's ReturnDeletedObject); others get a Status. */
const returnsDeletedObject = new Set(['pods', 'namespaces', 'services'])

export const patchTypes = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
}

export class Api {
  private readonly store: Store
  private readonly controllers: Controllers

  constructor(store: Store, controllers: Controllers) {
    this.store = store
    this.controllers = controllers
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  get(r: ResourceDef, namespace: string | undefined, name: string): KubeObject {
    const o = this.store.get(r, namespace, name)
    if (!o) throw notFound(r.group, r.plural, name)
    return o
  }

  /** A matcher for list and watch: label and field selectors, checked for syntax and supported fields. */
  matcher(r: ResourceDef, labelSelector?: string | null, fieldSelector?: string | null): (o: KubeObject) => boolean {
    const labels = parseLabelSelector(labelSelector)
    const fields = parseFieldSelector(fieldSelector)
    checkFieldSelector(r.plural, r.namespaced, fields)
    return (o) =>
      matchesLabelRequirements(o.metadata.labels, labels) &&
      matchesFieldRequirements(fieldValues(r.plural, r.namespaced, o), fields)
  }

  list(r: ResourceDef, namespace: string | undefined, labelSelector?: string | null, fieldSelector?: string | null) {
    const match = this.matcher(r, labelSelector, fieldSelector)
    return {
      items: this.store.list(r, namespace).filter(match),
      resourceVersion: String(this.store.resourceVersion),
    }
  }

  // -------------------------------------------------------------------------------------------
  // Create

  create(r: ResourceDef, namespace: string | undefined, body: KubeObject, dryRun = false): KubeObject {
    if (!body || typeof body !== 'object' || typeof body.metadata !== 'object' || body.metadata === null) {
      throw badRequest('Object has no metadata')
    }
    this.checkKind(r, body)
    const o = clone(body)
    if (r.namespaced) {
      if (o.metadata.namespace && o.metadata.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
      }
      o.metadata.namespace = namespace
      this.admitNamespace(namespace!)
    }
    const name = o.metadata.name
    if (!name && !o.metadata.generateName) {
      throw invalid(r.group, r.kind, '', [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ])
    }
    if (name) this.checkName(r, name)
    if (name && this.store.peek(r, namespace, name)) throw alreadyExists(r.group, r.plural, name)
    for (const k of [
      'uid',
      'resourceVersion',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
    ]) {
      delete o.metadata[k]
    }
    this.defaultAndValidate(r, o)
    if (dryRun) {
      o.apiVersion = apiVersionOf(r)
      o.kind = r.kind
      o.metadata.name ??= `${o.metadata.generateName}${this.store.randomSuffix()}`
      o.metadata.uid = this.store.uid()
      o.metadata.creationTimestamp = timestamp()
      o.metadata.generation = 1
      return o
    }
    return this.store.create(r, o)
  }

  private checkKind(r: ResourceDef, body: KubeObject): void {
    if (body.kind && body.kind !== r.kind) {
      throw badRequest(
        `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(r)})`,
      )
    }
    if (body.apiVersion && body.apiVersion !== apiVersionOf(r)) {
      throw badRequest(
        `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(r)})`,
      )
    }
  }

  private checkName(r: ResourceDef, name: string): void {
    const label = r.plural === 'namespaces' || r.plural === 'services'
    const ok = label ? labelRe.test(name) && name.length <= 63 : subdomainRe.test(name) && name.length <= 253
    if (!ok) {
      const what = label ? 'a lowercase RFC 1123 label' : 'a lowercase RFC 1123 subdomain'
      throw invalid(r.group, r.kind, name, [
        {
          reason: 'FieldValueInvalid',
          field: 'metadata.name',
          message: `Invalid value: "${name}": ${what} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        },
      ])
    }
  }

  /** NamespaceLifecycle admission: the namespace must exist and not be terminating. */
  private admitNamespace(namespace: string): void {
    const ns = this.store.peek(R.namespaces, undefined, namespace)
    if (!ns) throw notFound('', 'namespaces', namespace)
    if (isTerminating(ns)) {
      throw forbidden(`unable to create new content in namespace ${namespace} because it is being terminated`, {
        name: namespace,
        kind: 'namespaces',
        causes: [
          {
            reason: 'NamespaceTerminating',
            message: `namespace ${namespace} is being terminated`,
            field: 'metadata.namespace',
          },
        ],
      })
    }
  }

  private defaultAndValidate(r: ResourceDef, o: KubeObject): void {
    const name = o.metadata.name ?? o.metadata.generateName ?? ''
    switch (r.plural) {
      case 'pods': {
        const containers: any[] = o.spec?.containers ?? []
        if (containers.length === 0) {
          throw invalid('', 'Pod', name, [
            { reason: 'FieldValueRequired', field: 'spec.containers', message: 'Required value' },
          ])
        }
        this.validateContainers('Pod', name, o.spec, 'spec')
        defaultPod(o)
        o.status = { phase: 'Pending', qosClass: qosClass(o) }
        break
      }
      case 'deployments':
      case 'replicasets':
      case 'statefulsets':
      case 'daemonsets': {
        const spec = (o.spec ??= {})
        if (r.plural !== 'daemonsets') spec.replicas ??= 1
        if (!spec.selector) {
          throw invalid('apps', r.kind, name, [
            { reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' },
          ])
        }
        const labels = spec.template?.metadata?.labels
        if (!matchesLabelSelectorObject(labels, spec.selector) || labelSelectorToString(spec.selector) === '') {
          throw invalid('apps', r.kind, name, [
            {
              reason: 'FieldValueInvalid',
              field: 'spec.template.metadata.labels',
              message: `Invalid value: ${JSON.stringify(labels ?? {})}: \`selector\` does not match template \`labels\``,
            },
          ])
        }
        this.validateContainers(r.kind, name, spec.template?.spec ?? {}, 'spec.template.spec')
        for (const c of spec.template?.spec?.containers ?? []) defaultContainer(c)
        spec.template.spec.restartPolicy ??= 'Always'
        spec.template.spec.terminationGracePeriodSeconds ??= 30
        spec.template.spec.dnsPolicy ??= 'ClusterFirst'
        spec.template.spec.schedulerName ??= 'default-scheduler'
        spec.template.spec.securityContext ??= {}
        spec.revisionHistoryLimit ??= 10
        if (r.plural === 'deployments') {
          spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }
          spec.progressDeadlineSeconds ??= 600
        }
        if (r.plural === 'statefulsets') {
          spec.podManagementPolicy ??= 'OrderedReady'
          spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }
          spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' }
        }
        if (r.plural === 'daemonsets') {
          spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }
        }
        o.status = {}
        break
      }
      case 'poddisruptionbudgets':
        if (o.spec?.minAvailable !== undefined && o.spec?.maxUnavailable !== undefined) {
          throw invalid('policy', 'PodDisruptionBudget', name, [
            {
              reason: 'FieldValueInvalid',
              field: 'spec',
              message: 'Invalid value: minAvailable and maxUnavailable cannot be both set',
            },
          ])
        }
        o.status = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 }
        break
      case 'namespaces':
        o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name! }
        o.spec = { finalizers: ['kubernetes'] }
        o.status = { phase: 'Active' }
        break
      case 'services': {
        const spec = (o.spec ??= {})
        spec.type ??= 'ClusterIP'
        spec.sessionAffinity ??= 'None'
        if (spec.clusterIP === undefined) {
          const n = this.store.resourceVersion
          spec.clusterIP = `10.96.${(n >> 8) & 255}.${n & 255}`
          spec.clusterIPs = [spec.clusterIP]
        }
        for (const p of spec.ports ?? []) {
          p.protocol ??= 'TCP'
          p.targetPort ??= p.port
        }
        o.status = { loadBalancer: {} }
        break
      }
    }
  }

  private validateContainers(kind: string, name: string, podSpec: any, path: string): void {
    const seen = new Set<string>()
    for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
      for (const [i, c] of ((podSpec?.[list] ?? []) as any[]).entries()) {
        const field = `${path}.${list}[${i}]`
        if (!c?.name)
          throw invalid('', kind, name, [
            { reason: 'FieldValueRequired', field: `${field}.name`, message: 'Required value' },
          ])
        if (seen.has(c.name)) {
          throw invalid('', kind, name, [
            { reason: 'FieldValueDuplicate', field: `${field}.name`, message: `Duplicate value: "${c.name}"` },
          ])
        }
        seen.add(c.name)
        if (!c.image)
          throw invalid('', kind, name, [
            { reason: 'FieldValueRequired', field: `${field}.image`, message: 'Required value' },
          ])
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Replace and patch

  replace(
    r: ResourceDef,
    namespace: string | undefined,
    name: string,
    body: KubeObject,
    subresource: 'status' | undefined,
    dryRun = false,
  ): KubeObject {
    if (!body || typeof body !== 'object' || typeof body.metadata !== 'object' || body.metadata === null) {
      throw badRequest('Object has no metadata')
    }
    this.checkKind(r, body)
    const current = this.store.peek(r, namespace, name)
    if (!current) throw notFound(r.group, r.plural, name)
    return this.write(r, current, clone(body), subresource, dryRun)
  }

  patch(
    r: ResourceDef,
    namespace: string | undefined,
    name: string,
    contentType: string,
    body: unknown,
    subresource: 'status' | undefined,
    dryRun = false,
  ): KubeObject {
    const current = this.store.peek(r, namespace, name)
    if (!current) throw notFound(r.group, r.plural, name)
    const patched = applyPatch(current, contentType, body)
    return this.write(r, current, patched, subresource, dryRun)
  }

  /** The common tail of PUT and PATCH: identity, concurrency, subresource rules, validation. */
  private write(
    r: ResourceDef,
    current: KubeObject,
    next: KubeObject,
    subresource: 'status' | undefined,
    dryRun: boolean,
  ): KubeObject {
    const name = current.metadata.name!
    if (!next.metadata || typeof next.metadata !== 'object') throw badRequest('Object has no metadata')
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`)
    }
    if (
      r.namespaced &&
      next.metadata.namespace !== undefined &&
      next.metadata.namespace !== current.metadata.namespace
    ) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
    }
    if (next.metadata.uid && next.metadata.uid !== current.metadata.uid) {
      throw conflict(
        r.group,
        r.plural,
        name,
        `Precondition failed: UID in precondition: ${current.metadata.uid}, UID in object meta: ${next.metadata.uid}`,
      )
    }
    const rv = next.metadata.resourceVersion
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
      throw conflict(r.group, r.plural, name, modifiedMessage)
    }
    next.metadata.name = name
    next.metadata.namespace = current.metadata.namespace
    next.metadata.deletionTimestamp = current.metadata.deletionTimestamp
    next.metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds
    if (next.metadata.deletionTimestamp === undefined) delete next.metadata.deletionTimestamp
    if (next.metadata.deletionGracePeriodSeconds === undefined) delete next.metadata.deletionGracePeriodSeconds
    let result: KubeObject
    if (subresource === 'status') {
      result = clone(current)
      result.status = next.status
    } else {
      result = next
      if (r.hasStatus) result.status = clone(current.status)
      if (result.status === undefined) delete result.status
      this.validateUpdate(r, current, result)
    }
    if (dryRun) return result
    const written = this.store.update(r, result)
    if (isTerminating(written) && (written.metadata.finalizers ?? []).length === 0 && r !== R.pods) {
      this.store.delete(r, written.metadata.namespace, name)
    } else if (isTerminating(written) && (written.metadata.finalizers ?? []).length === 0 && r === R.pods) {
      // A terminating pod whose last finalizer went is removed once its grace period is over.
      if (Date.parse(written.metadata.deletionTimestamp!) <= Date.now())
        this.store.delete(r, written.metadata.namespace, name)
    }
    return written
  }

  private validateUpdate(r: ResourceDef, old: KubeObject, next: KubeObject): void {
    const name = old.metadata.name!
    if (r === R.pods) {
      validatePodUpdate(old, next)
      return
    }
    if (r.group === 'apps' && !deepEqual(old.spec?.selector, next.spec?.selector)) {
      throw invalid('apps', r.kind, name, [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.selector',
          message: `Invalid value: ${JSON.stringify(next.spec?.selector ?? null)}: field is immutable`,
        },
      ])
    }
    if (
      r.group === 'apps' &&
      r.plural !== 'daemonsets' &&
      next.spec?.replicas !== undefined &&
      next.spec.replicas < 0
    ) {
      throw invalid('apps', r.kind, name, [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.replicas',
          message: `Invalid value: ${next.spec.replicas}: must be greater than or equal to 0`,
        },
      ])
    }
  }

  // -------------------------------------------------------------------------------------------
  // Delete

  delete(
    r: ResourceDef,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
    dryRun = false,
  ): { code: number; body: KubeObject | Record<string, unknown> } {
    const current = this.store.peek(r, namespace, name)
    if (!current) throw notFound(r.group, r.plural, name)
    const pre = options.preconditions ?? {}
    if (pre.uid && pre.uid !== current.metadata.uid) {
      throw conflict(
        r.group,
        r.plural,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
      )
    }
    if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        r.group,
        r.plural,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      )
    }
    if (options.gracePeriodSeconds !== undefined && options.gracePeriodSeconds < 0) {
      throw invalid(r.group, r.kind, name, [
        { reason: 'FieldValueInvalid', field: 'gracePeriodSeconds', message: 'Invalid value: must be >= 0' },
      ])
    }
    if (dryRun) return { code: 200, body: clone(current) }
    const after = this.controllers.deleteObject(r, namespace, name, options) ?? clone(current)
    if (returnsDeletedObject.has(r.plural) || (isTerminating(after) && this.store.peek(r, namespace, name))) {
      return { code: 200, body: after }
    }
    const details: Record<string, unknown> = { name, kind: r.plural, uid: current.metadata.uid }
    if (r.group) details.group = r.group
    return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details } }
  }

  deleteCollection(
    r: ResourceDef,
    namespace: string | undefined,
    labelSelector: string | null,
    fieldSelector: string | null,
    options: DeleteOptions,
    dryRun = false,
  ): KubeObject {
    const { items, resourceVersion } = this.list(r, namespace, labelSelector, fieldSelector)
    if (!dryRun) {
      for (const o of items) this.controllers.deleteObject(r, o.metadata.namespace, o.metadata.name!, options)
    }
    return { apiVersion: apiVersionOf(r), kind: r.listKind, metadata: { resourceVersion }, items } as KubeObject
  }

  // -------------------------------------------------------------------------------------------
  // pods/eviction

  evict(namespace: string, name: string, body: KubeObject | undefined, dryRun = false): Record<string, unknown> {
    if (body?.metadata?.name !== undefined && body.metadata.name !== name) {
      throw badRequest(`name in URL does not match name in Eviction object`)
    }
    if (body?.kind !== undefined && body.kind !== 'Eviction') throw badRequest(`expected an Eviction, got ${body.kind}`)
    const pod = this.store.peek(R.pods, namespace, name)
    if (!pod) throw notFound('', 'pods', name)
    const deleteOptions: DeleteOptions = body?.deleteOptions ?? {}
    const success = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }
    const pre = deleteOptions.preconditions ?? {}
    if (pre.uid && pre.uid !== pod.metadata.uid) {
      throw conflict(
        '',
        'pods',
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid}`,
      )
    }
    const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
    const evict = () => {
      if (!dryRun) this.controllers.deletePod(namespace, name, deleteOptions.gracePeriodSeconds)
      return success
    }
    if (terminal || isTerminating(pod)) return evict()
    const pdbs = this.store
      .peekList(R.pdbs, namespace)
      .filter((p) => matchesLabelSelectorObject(pod.metadata.labels, p.spec?.selector ?? null))
    if (pdbs.length > 1) {
      throw internalError(
        'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      )
    }
    const pdb = pdbs[0]
    if (!pdb) return evict()
    const blocked = this.controllers.blockedPdbs.has(`${namespace}/${pdb.metadata.name}`)
    const f = this.controllers.pdbFigures(pdb)
    if (!blocked && !isPodReady(pod)) {
      // An unhealthy pod does not count towards the budget (unhealthyPodEvictionPolicy).
      if (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') return evict()
      if (f.currentHealthy >= f.desiredHealthy && f.desiredHealthy > 0) return evict()
    }
    if (blocked || f.disruptionsAllowed <= 0) {
      throw tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", [
        {
          reason: 'DisruptionBudget',
          message: `The disruption budget ${pdb.metadata.name} needs ${f.desiredHealthy} healthy pods and has ${f.currentHealthy} currently`,
        },
      ])
    }
    return evict()
  }

  // -------------------------------------------------------------------------------------------
  // /scale (autoscaling/v1 Scale)

  scale(r: ResourceDef, namespace: string, name: string): KubeObject {
    const o = this.get(r, namespace, name)
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name,
        namespace,
        uid: o.metadata.uid,
        resourceVersion: o.metadata.resourceVersion,
        creationTimestamp: o.metadata.creationTimestamp,
      },
      spec: { replicas: o.spec?.replicas ?? 0 },
      status: { replicas: o.status?.replicas ?? 0, selector: labelSelectorToString(o.spec?.selector) },
    }
  }

  replaceScale(r: ResourceDef, namespace: string, name: string, body: KubeObject, dryRun = false): KubeObject {
    const current = this.scale(r, namespace, name)
    if (body?.metadata?.name !== undefined && body.metadata.name !== name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`)
    }
    const rv = body?.metadata?.resourceVersion
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(r.group, r.plural, name, modifiedMessage)
    const replicas = body?.spec?.replicas
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw invalid('autoscaling', 'Scale', name, [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.replicas',
          message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
        },
      ])
    }
    if (!dryRun) {
      const o = clone(this.store.peek(r, namespace, name)!)
      o.spec = { ...o.spec, replicas }
      this.store.update(r, o)
    }
    const after = this.scale(r, namespace, name)
    if (dryRun) after.spec.replicas = replicas
    return after
  }

  patchScale(
    r: ResourceDef,
    namespace: string,
    name: string,
    contentType: string,
    body: unknown,
    dryRun = false,
  ): KubeObject {
    const current = this.scale(r, namespace, name)
    return this.replaceScale(r, namespace, name, applyPatch(current, contentType, body), dryRun)
  }

  // -------------------------------------------------------------------------------------------
  // pods/ephemeralcontainers

  /** PUT or PATCH of the subresource: only spec.ephemeralContainers may change, and only by additions. */
  updateEphemeral(namespace: string, name: string, next: KubeObject, dryRun = false): KubeObject {
    const current = this.store.peek(R.pods, namespace, name)
    if (!current) throw notFound('', 'pods', name)
    const rv = next?.metadata?.resourceVersion
    if (rv && rv !== current.metadata.resourceVersion) throw conflict('', 'pods', name, modifiedMessage)
    const before: any[] = current.spec?.ephemeralContainers ?? []
    const after: any[] = clone(next?.spec?.ephemeralContainers ?? [])
    for (const [i, old] of before.entries()) {
      const now = after.find((c) => c?.name === old.name)
      if (!now) {
        throw invalid('', 'Pod', name, [
          {
            reason: 'FieldValueForbidden',
            field: 'spec.ephemeralContainers',
            message: `Forbidden: existing ephemeral containers "${old.name}" may not be removed`,
          },
        ])
      }
      const cmp = clone(now)
      defaultEphemeralContainer(cmp)
      if (!deepEqual(cmp, old)) {
        throw invalid('', 'Pod', name, [
          {
            reason: 'FieldValueForbidden',
            field: `spec.ephemeralContainers[${i}]`,
            message: `Forbidden: existing ephemeral containers "${old.name}" may not be changed`,
          },
        ])
      }
    }
    const forbiddenFields = [
      'ports',
      'livenessProbe',
      'readinessProbe',
      'startupProbe',
      'lifecycle',
      'resources',
      'resizePolicy',
      'restartPolicy',
    ]
    for (const [i, c] of after.entries()) {
      if (before.some((b) => b.name === c?.name)) {
        after[i] = before.find((b) => b.name === c.name)
        continue
      }
      for (const f of forbiddenFields) {
        const v = c?.[f]
        const empty = v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0)
        if (!empty) {
          throw invalid('', 'Pod', name, [
            {
              reason: 'FieldValueForbidden',
              field: `spec.ephemeralContainers[${i}].${f}`,
              message: 'Forbidden: cannot be set for an Ephemeral Container',
            },
          ])
        }
      }
      if (
        c?.targetContainerName &&
        !(current.spec?.containers ?? []).some((x: any) => x.name === c.targetContainerName)
      ) {
        throw invalid('', 'Pod', name, [
          {
            reason: 'FieldValueNotFound',
            field: `spec.ephemeralContainers[${i}].targetContainerName`,
            message: `Not found: "${c.targetContainerName}"`,
          },
        ])
      }
      defaultEphemeralContainer(c)
    }
    const candidate = clone(current)
    candidate.spec.ephemeralContainers = after
    if (after.length === 0) delete candidate.spec.ephemeralContainers
    this.validateContainers('Pod', name, candidate.spec, 'spec')
    if (dryRun) return candidate
    return this.store.update(R.pods, candidate)
  }

  patchEphemeral(namespace: string, name: string, contentType: string, body: unknown, dryRun = false): KubeObject {
    const current = this.store.peek(R.pods, namespace, name)
    if (!current) throw notFound('', 'pods', name)
    return this.updateEphemeral(namespace, name, applyPatch(current, contentType, body), dryRun)
  }
}

export function applyPatch(current: KubeObject, contentType: string, body: unknown): KubeObject {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  switch (type) {
    case patchTypes.json:
      return applyJsonPatch(current, body)
    case patchTypes.merge:
      return applyMergePatch(current, body)
    case patchTypes.strategic:
      return applyStrategicMergePatch(current, body)
    default:
      throw unsupportedMediaType(type)
  }
}

function qosClass(pod: KubeObject): string {
  const cs: any[] = pod.spec?.containers ?? []
  const has = (c: any) =>
    Object.keys(c.resources?.requests ?? {}).length + Object.keys(c.resources?.limits ?? {}).length > 0
  if (!cs.some(has)) return 'BestEffort'
  const guaranteed = cs.every((c) => {
    const l = c.resources?.limits ?? {}
    const q = c.resources?.requests ?? l
    return l.cpu && l.memory && q.cpu === l.cpu && q.memory === l.memory
  })
  return guaranteed ? 'Guaranteed' : 'Burstable'
}

const podUpdateMessage =
  'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'

/** ValidatePodUpdate: the few mutable pod spec fields; ephemeral containers only through their subresource. */
function validatePodUpdate(old: KubeObject, next: KubeObject): void {
  const name = old.metadata.name!
  const fail = (field: string, message: string): never => {
    throw invalid('', 'Pod', name, [{ reason: 'FieldValueForbidden', field, message }])
  }
  for (const list of ['containers', 'initContainers']) {
    for (const [i, c] of ((next.spec?.[list] ?? []) as any[]).entries()) {
      if (!c?.image) {
        throw invalid('', 'Pod', name, [
          { reason: 'FieldValueRequired', field: `spec.${list}[${i}].image`, message: 'Required value' },
        ])
      }
    }
  }
  if (!deepEqual(old.spec?.ephemeralContainers ?? [], next.spec?.ephemeralContainers ?? [])) {
    fail(
      'spec.ephemeralContainers',
      'Forbidden: ephemeral containers may only be changed through the ephemeralcontainers subresource',
    )
  }
  const oldTol: unknown[] = old.spec?.tolerations ?? []
  const newTol: unknown[] = next.spec?.tolerations ?? []
  if (!oldTol.every((t) => newTol.some((n) => deepEqual(n, t)))) fail('spec.tolerations', podUpdateMessage)
  const normalized = clone(next.spec ?? {})
  for (const list of ['containers', 'initContainers']) {
    const before: any[] = old.spec?.[list] ?? []
    for (const [i, c] of ((normalized[list] ?? []) as any[]).entries()) {
      if (before[i] && before[i].name === c.name) c.image = before[i].image
    }
  }
  normalized.activeDeadlineSeconds = old.spec?.activeDeadlineSeconds
  normalized.tolerations = old.spec?.tolerations
  normalized.terminationGracePeriodSeconds = old.spec?.terminationGracePeriodSeconds
  if (
    old.spec?.schedulingGates === undefined ||
    (next.spec?.schedulingGates ?? []).length <= old.spec.schedulingGates.length
  ) {
    normalized.schedulingGates = old.spec?.schedulingGates
  }
  for (const k of Object.keys(normalized)) if (normalized[k] === undefined) delete normalized[k]
  if (!deepEqual(old.spec ?? {}, normalized)) fail('spec', podUpdateMessage)
}
