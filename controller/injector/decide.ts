/**
 * Whether a pod gets the sidecar: opt-in only, and never where a sidecar would do harm.
 *
 * The webhook configuration (webhook-config.ts) already filters with namespaceSelector and
 * objectSelector, as Istio does, so the API server never calls the injector for other pods. The
 * injector re-checks everything the AdmissionReview lets it check (pod label, namespace name,
 * hostNetwork, an earlier injection), so a hand-written or stale webhook configuration cannot
 * make it inject where it must not. The review carries no namespace labels: those are re-checked
 * only when `namespaceLookup` is on (namespaces.ts); otherwise a pod without the pod label is
 * taken to have come through the namespace webhook, whose selector requires `enabled`.
 */
import type { InjectorConfig } from './config.ts'
import { INJECT_LABEL, CAPTURE_CONTAINER, SIDECAR_CONTAINER, STATUS_ANNOTATION } from './names.ts'
import { allContainers, annotationsOf, labelsOf, type PodJson } from './pod.ts'

export interface DecideInput {
  pod: PodJson
  /** The review's `request.namespace` (a pod being created may not carry its own). */
  namespace: string
  config: Pick<InjectorConfig, 'excludeNamespaces' | 'ownNamespace'>
  /** The namespace's labels when they were looked up; undefined trusts the webhook's selectors. */
  namespaceLabels?: Record<string, string>
}

export type Decision = { inject: true; because: string } | { inject: false; because: string; alreadyInjected?: boolean }

/** A pod that already has the sidecar: annotated by an earlier pass, or carrying our containers. */
export function alreadyInjected(pod: PodJson): boolean {
  if (annotationsOf(pod)[STATUS_ANNOTATION] !== undefined) return true
  return allContainers(pod).some((c) => c.name === SIDECAR_CONTAINER || c.name === CAPTURE_CONTAINER)
}

export function decide({ pod, namespace, config, namespaceLabels }: DecideInput): Decision {
  // First, so a reinvocation of an injected pod is a quiet no-op whatever else changed.
  if (alreadyInjected(pod)) return { inject: false, because: 'already injected', alreadyInjected: true }
  const podLabel = labelsOf(pod)[INJECT_LABEL]
  if (podLabel === 'false') return { inject: false, because: `pod label ${INJECT_LABEL}=false` }
  if (config.excludeNamespaces.includes(namespace))
    return { inject: false, because: `${namespace} is an excluded namespace` }
  if (namespace === config.ownNamespace) return { inject: false, because: `${namespace} is the injector's namespace` }
  // The sidecar's ports and the capture rules would land on the node's own network namespace.
  if (pod.spec.hostNetwork === true) return { inject: false, because: 'hostNetwork pod' }
  const nsLabel = namespaceLabels?.[INJECT_LABEL]
  if (podLabel === 'true') {
    // As the object webhook's namespaceSelector (label absent): any other namespace value vetoes.
    if (nsLabel !== undefined && nsLabel !== 'enabled')
      return { inject: false, because: `namespace label ${INJECT_LABEL}=${nsLabel} opts the namespace out` }
    return { inject: true, because: `pod label ${INJECT_LABEL}=true` }
  }
  if (namespaceLabels === undefined)
    return { inject: true, because: `namespace selector ${INJECT_LABEL}=enabled (labels not looked up)` }
  if (nsLabel === 'enabled') return { inject: true, because: `namespace label ${INJECT_LABEL}=enabled` }
  return { inject: false, because: `not opted in (no pod label ${INJECT_LABEL}=true, namespace not enabled)` }
}
