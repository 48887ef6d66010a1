/**
 * The MutatingWebhookConfiguration that sends pods to the injector: the chart renders the same
 * object (its test compares the two), and docs/injection.md shows it.
 *
 * Two webhooks, as Istio has, so that the API server itself does the opt-in filtering and calls
 * the injector for no other pod, and each pod matches at most one of them:
 * - `namespace.inject.faultline.io`: namespaces labelled `faultline.io/inject=enabled`, except pods
 *   labelled `faultline.io/inject: "false"`;
 * - `object.inject.faultline.io`: pods labelled `faultline.io/inject: "true"` in namespaces without
 *   the label (any other namespace value, e.g. `disabled`, opts the whole namespace out).
 * Both leave out the system namespaces and the injector's own (by `kubernetes.io/metadata.name`,
 * which the API server sets on every namespace), and, through CEL matchConditions, hostNetwork
 * pods and pods already injected: a reinvocation (`reinvocationPolicy: IfNeeded`) of an injected
 * pod never leaves the API server. `failurePolicy: Ignore` and a short timeout: an injector that
 * is down or slow never blocks a deployment, it only leaves pods without the sidecar.
 */
import { errors } from '../../src/errors.ts'
import { DEFAULT_SYSTEM_NAMESPACES, INJECT_LABEL, NAMESPACE_NAME_LABEL, STATUS_ANNOTATION } from './names.ts'

export const NAMESPACE_WEBHOOK = 'namespace.inject.faultline.io'
export const OBJECT_WEBHOOK = 'object.inject.faultline.io'
export const INJECT_PATH = '/inject'

export interface WebhookConfigurationOptions {
  /** The injector's namespace: where its Service is; never injected. */
  namespace: string
  /** metadata.name; default `faultline-injector`. */
  name?: string
  /** The injector's Service; default name `faultline-injector`, port 443, path `/inject`. */
  service?: { name?: string; port?: number; path?: string }
  /** Base64 PEM of the CA that signed the injector's certificate; leave out with cert-manager. */
  caBundle?: string
  /** `<namespace>/<Certificate>`: cert-manager's cainjector fills caBundle from it. */
  certManagerCertificate?: string
  /** 1-5 seconds; default 5. Every pod creation in an injected namespace may wait this long. */
  timeoutSeconds?: number
  /** Default kube-system, kube-public, kube-node-lease (the injector's own is always added). */
  excludeNamespaces?: readonly string[]
  /** Default IfNeeded (safe: a second pass changes nothing). */
  reinvocationPolicy?: 'IfNeeded' | 'Never'
  /** CEL matchConditions (GA in 1.30, on by default since 1.28); default true. */
  matchConditions?: boolean
  labels?: Record<string, string>
}

export function webhookConfiguration(opts: WebhookConfigurationOptions): Record<string, unknown> {
  const timeoutSeconds = opts.timeoutSeconds ?? 5
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 5)
    throw errors.FL_ERR_CONFIG_INVALID(`timeoutSeconds must be 1 to 5, got ${timeoutSeconds}`, {
      issues: [{ path: '/timeoutSeconds', message: 'must be an integer from 1 to 5' }],
    })
  const excluded = [...new Set([...(opts.excludeNamespaces ?? DEFAULT_SYSTEM_NAMESPACES), opts.namespace])]
  // Built afresh for each webhook: a shared object would become a YAML alias when serialized.
  const notExcluded = () => ({ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: [...excluded] })
  const common = () => {
    const clientConfig: Record<string, unknown> = {
      service: {
        name: opts.service?.name ?? 'faultline-injector',
        namespace: opts.namespace,
        path: opts.service?.path ?? INJECT_PATH,
        port: opts.service?.port ?? 443,
      },
    }
    if (opts.caBundle) clientConfig.caBundle = opts.caBundle
    return {
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Ignore',
      timeoutSeconds,
      reinvocationPolicy: opts.reinvocationPolicy ?? 'IfNeeded',
      matchPolicy: 'Equivalent',
      rules: [
        { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
      ],
      clientConfig,
      ...(opts.matchConditions === false
        ? {}
        : {
            matchConditions: [
              { name: 'not-host-network', expression: '!has(object.spec.hostNetwork) || !object.spec.hostNetwork' },
              {
                name: 'not-injected',
                expression: `!has(object.metadata.annotations) || !('${STATUS_ANNOTATION}' in object.metadata.annotations)`,
              },
            ],
          }),
    }
  }
  const metadata: Record<string, unknown> = { name: opts.name ?? 'faultline-injector' }
  if (opts.labels) metadata.labels = { ...opts.labels }
  if (opts.certManagerCertificate)
    metadata.annotations = { 'cert-manager.io/inject-ca-from': opts.certManagerCertificate }
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata,
    webhooks: [
      {
        name: NAMESPACE_WEBHOOK,
        ...common(),
        namespaceSelector: {
          matchExpressions: [{ key: INJECT_LABEL, operator: 'In', values: ['enabled'] }, notExcluded()],
        },
        objectSelector: { matchExpressions: [{ key: INJECT_LABEL, operator: 'NotIn', values: ['false'] }] },
      },
      {
        name: OBJECT_WEBHOOK,
        ...common(),
        namespaceSelector: { matchExpressions: [{ key: INJECT_LABEL, operator: 'DoesNotExist' }, notExcluded()] },
        objectSelector: { matchExpressions: [{ key: INJECT_LABEL, operator: 'In', values: ['true'] }] },
      },
    ],
  }
}
