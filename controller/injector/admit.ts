/**
 * One admission decision, from a well-formed review to what the response carries: a patch, or
 * nothing, plus warnings. Fail-open by construction: whatever goes wrong with the pod (one it
 * cannot read, a bad annotation, a bug here) admits it unchanged with a warning, because a chaos
 * tool must never be the reason a deployment does not roll out. Every review ends in exactly one
 * log line: info when injected, debug when skipped as expected, warn when anything went wrong.
 */
import { codeOf, type FaultlineError, isFaultlineError } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'
import type { InjectorConfig } from './config.ts'
import { decide } from './decide.ts'
import type { NamespaceLabels } from './namespaces.ts'
import { buildPatch, type JsonPatchOp } from './patch.ts'
import { planInjection } from './plan.ts'
import { podLabel, type PodJson, readPod } from './pod.ts'
import type { AdmissionRequest } from './review.ts'

export interface AdmitDeps {
  config: InjectorConfig
  log: Logger
  /** Set when `namespaceLookup` is on. */
  namespaceLabels?: NamespaceLabels
}

export interface Admission {
  outcome: 'injected' | 'skipped' | 'failed-open'
  patch?: JsonPatchOp[]
  warnings: string[]
}

const isPodCreate = (r: AdmissionRequest) =>
  (r.kind?.group ?? '') === '' && r.kind?.kind === 'Pod' && !r.subResource && r.operation === 'CREATE'

export async function admit(request: AdmissionRequest, deps: AdmitDeps): Promise<Admission> {
  const { config, log } = deps
  const warnings: string[] = []
  const fields: Record<string, unknown> = { uid: request.uid, dryRun: request.dryRun || undefined }
  let pod: PodJson | undefined
  try {
    if (!isPodCreate(request)) {
      // The webhook configuration asks for pod CREATE only; anything else is a misconfiguration.
      const what = `${request.operation ?? '?'} ${request.kind?.kind ?? '?'}${request.subResource ? `/${request.subResource}` : ''}`
      warnings.push(`faultline: the injector only handles pod CREATE, not ${what}: admitted unchanged`)
      log.warn({ ...fields, request: what }, 'not a pod creation: admitted unchanged')
      return { outcome: 'skipped', warnings }
    }
    pod = readPod(request.object, '/request/object')
    const namespace = request.namespace || pod.metadata?.namespace || ''
    fields.pod = podLabel(pod, namespace)
    // First on what the review says: the namespace's labels can only veto, so a pod skipped
    // already (opted out, excluded namespace, hostNetwork, injected) costs no API call.
    let decision = decide({ pod, namespace, config })
    let namespaceLabels: Record<string, string> | undefined
    if (decision.inject && deps.namespaceLabels) {
      try {
        namespaceLabels = await deps.namespaceLabels(namespace)
        decision = decide({ pod, namespace, config, namespaceLabels })
      } catch (err) {
        // Decided on what the review says and the webhook's namespaceSelector, as without lookup.
        fields.namespaceLookupError = (err as Error).message
        warnings.push(
          `faultline: cannot read namespace ${namespace}'s labels (${(err as Error).message}); decided on the webhook's selectors`,
        )
      }
    }
    if (!decision.inject) {
      log[warnings.length ? 'warn' : 'debug']({ ...fields, because: decision.because, warnings }, 'not injected')
      return { outcome: 'skipped', warnings }
    }
    const plan = planInjection({ pod, config, namespaceLabels })
    const patch = buildPatch(pod, plan, config)
    warnings.push(...plan.warnings)
    log[warnings.length ? 'warn' : 'info'](
      {
        ...fields,
        because: decision.because,
        appPort: plan.appPort,
        capture: plan.capture,
        service: plan.service,
        fleet: plan.fleet,
        warnings: warnings.length ? warnings : undefined,
      },
      'sidecar injected',
    )
    return { outcome: 'injected', patch, warnings }
  } catch (err) {
    const code = codeOf(err) ?? 'FL_ERR_INTERNAL'
    const message = (err as Error)?.message ?? String(err)
    fields.pod ??= podLabel(pod, request.namespace)
    warnings.push(`faultline: ${fields.pod as string} admitted without the sidecar: ${message} [${code}]`)
    log.warn(
      {
        ...fields,
        code,
        error: message,
        errors: isFaultlineError(err) ? (err as FaultlineError).issues : undefined,
        // A bug, not a pod problem: the stack is what a maintainer needs.
        stack: isFaultlineError(err) ? undefined : (err as Error)?.stack,
      },
      'pod admitted without the sidecar',
    )
    return { outcome: 'failed-open', warnings }
  }
}
