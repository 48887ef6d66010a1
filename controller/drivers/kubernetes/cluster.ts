/**
 * The driver's handle on one cluster: the typed API groups of @kubernetes/client-node, and one
 * place where an API failure becomes a coded error (FL_ERR_KUBERNETES with the server's status
 * and reason), so a Forbidden from missing RBAC reads as such in the journal.
 */
import {
  type ConfigurationOptions,
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node'
import { errors, type FaultlineError } from '../../../src/errors.ts'

/** client-node sends JSON patches unless told otherwise (k8s-faults.md §4.0): say which. */
export const MERGE_PATCH: ConfigurationOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
export const STRATEGIC_PATCH: ConfigurationOptions = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)

/** A Kubernetes API error as client-node raises it (ApiException). */
interface ApiFailure {
  code?: number
  body?: unknown
}

export function statusOf(err: unknown): number | undefined {
  const code = (err as ApiFailure)?.code
  return typeof code === 'number' ? code : undefined
}

/** The Status body's reason and message, when the server sent one. */
function statusBody(err: unknown): { reason?: string; message?: string } {
  let body = (err as ApiFailure)?.body
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      return { message: body as string }
    }
  }
  const b = body as { reason?: string; message?: string } | undefined
  return { reason: b?.reason, message: b?.message }
}

export function kubernetesError(what: string, err: unknown): FaultlineError {
  const status = statusOf(err)
  const { reason, message } = statusBody(err)
  return errors.FL_ERR_KUBERNETES(`${what}: ${message ?? (err as Error)?.message ?? String(err)}`, {
    cause: err,
    details: { kubernetes: { status, reason } },
  })
}

export class Cluster {
  readonly kc: KubeConfig
  readonly core: CoreV1Api
  readonly apps: AppsV1Api
  readonly policy: PolicyV1Api
  readonly networking: NetworkingV1Api

  constructor(kc: KubeConfig) {
    this.kc = kc
    this.core = kc.makeApiClient(CoreV1Api)
    this.apps = kc.makeApiClient(AppsV1Api)
    this.policy = kc.makeApiClient(PolicyV1Api)
    this.networking = kc.makeApiClient(NetworkingV1Api)
  }

  /** Runs one API call; a failure becomes FL_ERR_KUBERNETES saying what was being done. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw kubernetesError(what, err)
    }
  }

  /** Like call(), but a 404 is `undefined`: "already gone" is an answer, not a failure. */
  async maybe<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn()
    } catch (err) {
      if (statusOf(err) === 404) return undefined
      throw kubernetesError(what, err)
    }
  }

  async listPods(
    namespace: string | undefined,
    q: { labelSelector?: string; fieldSelector?: string },
  ): Promise<V1Pod[]> {
    const where = namespace ?? 'all namespaces'
    const list = await this.call(`list pods in ${where}`, () =>
      namespace ? this.core.listNamespacedPod({ namespace, ...q }) : this.core.listPodForAllNamespaces(q),
    )
    return list.items
  }

  async listNodes(q: { labelSelector?: string; fieldSelector?: string }): Promise<V1Node[]> {
    return (await this.call('list nodes', () => this.core.listNode(q))).items
  }
}
