/**
 * networkPartition: cut the selected pods off with a NetworkPolicy (the Litmus and
 * chaostoolkit approach: no privileged agent), for the step's duration.
 *
 * Exact selection: each selected pod gets the label `faultline.io/partition: <id>` (a merge
 * patch that also claims the pod: `faultline.io/run-id`, and in `faultline.io/original` the
 * label's prior value), and the policy's podSelector is that label alone: it picks exactly the
 * selected pods, never their siblings with the same app labels, and keeps picking them if their
 * other labels change. One policy per namespace of the selected pods, named
 * `faultline-partition-<id>`, annotated with the run id, and journalled (its name is in the
 * record's objects from the plan on, before it exists), so a restarted controller deletes it.
 *
 * What is cut: `direction` ingress, egress or both (default both). Without `to`: everything but
 * DNS. With `to`: only traffic with those peers. NetworkPolicies are allow-lists, so the policy
 * allows "everything except the peers" (k8s-faults.md, partition):
 *   - pods (`to.podSelector` in `to.namespaces`, default the policy's namespace): pods of every
 *     other namespace, plus one peer per selector requirement negated (`In` -> `NotIn`,
 *     `Exists` -> `DoesNotExist`, ...) in those namespaces, plus `ipBlock` 0.0.0.0/0 and ::/0
 *     for traffic leaving the cluster, excepting the peer pods' current IPs (some CNIs match
 *     ipBlocks against pod IPs too);
 *   - `to.cidrs` (addresses outside the cluster's pods): `ipBlock` 0.0.0.0/0 and ::/0 except
 *     them, plus every pod;
 *   - `to.ports` (for ingress, ports of the selected pods; for egress, of the peers): the peers
 *     stay reachable on every other port (ranges with `endPort`); with ports alone, every peer
 *     is cut on those ports only.
 * DNS (UDP and TCP 53, to any address: clusters run kube-dns, NodeLocal DNSCache or others)
 * always stays open for egress.
 *
 * On a real cluster this only takes effect with a CNI that enforces NetworkPolicies (Calico,
 * Cilium, Antrea, ...; flannel alone ignores them): the applied detail and the journal say so.
 * A NetworkPolicy is stateful: replies to connections a peer opens still pass; connections open
 * before the policy may survive, depending on the CNI. Peer pod IPs are read once, at apply.
 */
import type {
  V1LabelSelectorRequirement,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1Pod,
} from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import {
  formatSelector,
  parseLabelSelector,
  type Requirement,
  selectorFromObject,
} from '../../../src/kubernetes/label-selector.ts'
import { type Cluster, kubernetesError, statusOf } from '../../drivers/kubernetes/cluster.ts'
import { claim, release, RUN_ID } from '../../drivers/kubernetes/ownership.ts'
import type { FaultRecord, ObjectRef } from '../../experiments/journal.ts'
import { MERGE_PATCH } from '../../drivers/kubernetes/cluster.ts'
import { type Injector, type RecoveryContext, sleep } from '../types.ts'
import { claimable, nameOf, ourClaim, patchPod, planPods, podRefs, type Saved, shortId } from './pod-shared.ts'

type Spec = NonNullable<StepSpec['networkPartition']>
type To = NonNullable<Spec['to']>

export const PARTITION_LABEL = 'faultline.io/partition'
export const POLICY_PREFIX = 'faultline-partition-'
/** Set on every namespace since Kubernetes 1.21: selects namespaces by name. */
const NAMESPACE_NAME = 'kubernetes.io/metadata.name'
export const CNI_NOTE = 'takes effect only with a CNI that enforces NetworkPolicies (e.g. Calico, Cilium)'

interface Original extends Saved {
  labels: Record<string, string | null>
}

const DNS: V1NetworkPolicyPort[] = [
  { protocol: 'UDP', port: 53 },
  { protocol: 'TCP', port: 53 },
]

function negate(r: Requirement): Requirement {
  const opposite = { In: 'NotIn', NotIn: 'In', Exists: 'DoesNotExist', DoesNotExist: 'Exists' } as const
  return { ...r, operator: opposite[r.operator] }
}

const expression = (r: Requirement): V1LabelSelectorRequirement =>
  r.values.length ? { key: r.key, operator: r.operator, values: r.values } : { key: r.key, operator: r.operator }

const namespacesIn = (operator: 'In' | 'NotIn', names: string[]) => ({
  matchExpressions: [{ key: NAMESPACE_NAME, operator, values: names }],
})

/** Every port but `ports`, per protocol: ranges with endPort; a protocol not listed stays fully open. */
export function otherPorts(ports: NonNullable<To['ports']>): V1NetworkPolicyPort[] {
  const out: V1NetworkPolicyPort[] = []
  for (const protocol of ['TCP', 'UDP', 'SCTP']) {
    const cut = [...new Set(ports.filter((p) => (p.protocol ?? 'TCP') === protocol).map((p) => p.port))].sort(
      (a, b) => a - b,
    )
    if (!cut.length) {
      out.push({ protocol })
      continue
    }
    let from = 1
    for (const p of [...cut, 65536]) {
      if (p > from) out.push(p - 1 === from ? { protocol, port: from } : { protocol, port: from, endPort: p - 1 })
      from = p + 1
    }
  }
  return out
}

const isV6 = (cidrOrIp: string) => cidrOrIp.includes(':')

/** ipBlocks for "every address but these", one per address family that is not cut whole. */
function everyAddressExcept(except: string[]): V1NetworkPolicyPeer[] {
  const peers: V1NetworkPolicyPeer[] = []
  for (const [all, v6] of [
    ['0.0.0.0/0', false],
    ['::/0', true],
  ] as const) {
    const mine = [...new Set(except.filter((c) => isV6(c) === v6))]
    if (mine.some((c) => /\/0$/.test(c))) continue
    peers.push({ ipBlock: mine.length ? { cidr: all, except: mine } : { cidr: all } })
  }
  return peers
}

export function toRequirements(to: To | undefined): Requirement[] {
  const s = to?.podSelector
  if (s === undefined) return []
  return typeof s === 'string' ? parseLabelSelector(s) : selectorFromObject(s)
}

/**
 * The rules that allow everything but the cut peers (for `from` or `to`); [] allows nothing.
 * `peerIps` are the current IPs of the peer pods, excepted from the ipBlocks.
 */
export function allowRules(
  to: To | undefined,
  namespace: string,
  peerIps: string[],
): { peers?: V1NetworkPolicyPeer[]; ports?: V1NetworkPolicyPort[] }[] {
  const hasPods = to?.podSelector !== undefined || to?.namespaces !== undefined
  const cidrs = to?.cidrs ?? []
  const ports = to?.ports
  if (!hasPods && !cidrs.length) return ports ? [{ ports: otherPorts(ports) }] : []
  const names = to?.namespaces ?? [namespace]
  const reqs = toRequirements(to)
  const allowed: V1NetworkPolicyPeer[] = []
  const cut: V1NetworkPolicyPeer[] = []
  if (hasPods) {
    allowed.push({ namespaceSelector: namespacesIn('NotIn', names) })
    for (const r of reqs)
      allowed.push({
        namespaceSelector: namespacesIn('In', names),
        podSelector: { matchExpressions: [expression(negate(r))] },
      })
    cut.push({
      namespaceSelector: namespacesIn('In', names),
      podSelector: reqs.length ? { matchExpressions: reqs.map(expression) } : {},
    })
  } else allowed.push({ namespaceSelector: {} })
  allowed.push(...everyAddressExcept([...cidrs, ...peerIps.map((ip) => (isV6(ip) ? `${ip}/128` : `${ip}/32`))]))
  for (const cidr of cidrs) cut.push({ ipBlock: { cidr } })
  const rules: { peers?: V1NetworkPolicyPeer[]; ports?: V1NetworkPolicyPort[] }[] = [{ peers: allowed }]
  if (ports) rules.push({ peers: cut, ports: otherPorts(ports) })
  return rules
}

export function partitionPolicy(opts: {
  name: string
  namespace: string
  id: string
  runId: string
  faultId: string
  direction: NonNullable<Spec['direction']>
  to?: To
  peerIps: string[]
}): V1NetworkPolicy {
  const rules = allowRules(opts.to, opts.namespace, opts.peerIps)
  const ingress = opts.direction !== 'egress'
  const egress = opts.direction !== 'ingress'
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: opts.name,
      namespace: opts.namespace,
      labels: { [PARTITION_LABEL]: opts.id, 'app.kubernetes.io/managed-by': 'faultline' },
      annotations: { [RUN_ID]: opts.runId, 'faultline.io/fault': opts.faultId },
    },
    spec: {
      podSelector: { matchLabels: { [PARTITION_LABEL]: opts.id } },
      policyTypes: [...(ingress ? ['Ingress'] : []), ...(egress ? ['Egress'] : [])],
      ...(ingress ? { ingress: rules.map((r) => ({ _from: r.peers, ports: r.ports })) } : {}),
      ...(egress ? { egress: [...rules.map((r) => ({ to: r.peers, ports: r.ports })), { ports: DNS }] } : {}),
    },
  }
}

/** The current IPs of the peer pods `to` names (excepted from the "everything else" ipBlocks). */
async function peerIps(cluster: Cluster, to: To | undefined, namespace: string): Promise<string[]> {
  if (to?.podSelector === undefined && to?.namespaces === undefined) return []
  const reqs = toRequirements(to)
  const ips: string[] = []
  for (const ns of to.namespaces ?? [namespace]) {
    const pods = await cluster.listPods(ns, { labelSelector: reqs.length ? formatSelector(reqs) : undefined })
    for (const p of pods) for (const ip of p.status?.podIPs ?? [{ ip: p.status?.podIP }]) if (ip.ip) ips.push(ip.ip)
  }
  return ips.sort()
}

const policyRefs = (record: FaultRecord): ObjectRef[] =>
  (record.objects ?? []).filter((o) => o.kind === 'NetworkPolicy')

/** Deletes the policies (only ours; 404 is already gone), then unlabels and releases the pods. */
async function heal(cluster: Cluster, record: FaultRecord, runId: string): Promise<string> {
  const lines: string[] = []
  for (const ref of policyRefs(record)) {
    const what = `NetworkPolicy ${nameOf(ref)}`
    const policy = await cluster.maybe(`read ${what}`, () =>
      cluster.networking.readNamespacedNetworkPolicy({ name: ref.name, namespace: ref.namespace! }),
    )
    const owner = policy?.metadata?.annotations?.[RUN_ID]
    if (!policy) lines.push(`${what} already gone`)
    else if (owner !== runId) lines.push(`${what} belongs to ${owner ? `run ${owner}` : 'no run'}: left alone`)
    else {
      await cluster.maybe(`delete ${what}`, () =>
        cluster.networking.deleteNamespacedNetworkPolicy({
          name: ref.name,
          namespace: ref.namespace!,
          body: { preconditions: { uid: policy.metadata!.uid } },
        }),
      )
      lines.push(`${what} deleted`)
    }
  }
  for (const ref of podRefs(record)) {
    const done = await patchPod(
      cluster,
      ref,
      'remove the partition label from pod',
      (pod) => {
        const saved = ourClaim<Original>(pod, runId, record.id)
        if (!saved) return { skip: 'not labelled by this fault (already reverted)' }
        return { patch: { metadata: { labels: saved.labels, annotations: release().metadata.annotations } } }
      },
      MERGE_PATCH,
    )
    lines.push(`${nameOf(ref)}: ${done.pod ? 'label removed' : done.skip}`)
  }
  return lines.join('; ')
}

export const networkPartition: Injector<Spec, { id: string; policy: string }> = {
  step: 'networkPartition',

  async plan(s, step, ctx) {
    const id = shortId(ctx.runId, step.key)
    const policy = `${POLICY_PREFIX}${id}`
    const direction = s.direction ?? 'both'
    return planPods('networkPartition', s.target, step, ctx, (_pods, refs) => {
      const namespaces = [...new Set(refs.map((r) => r.namespace!))]
      return {
        intent: `NetworkPolicy ${policy} in ${namespaces.join(', ')} cuts ${direction} traffic of ${refs.length} pod(s)${s.to ? ` with ${JSON.stringify(s.to)}` : ' (all but DNS)'} for ${s.duration} ms; ${CNI_NOTE}`,
        data: { id, policy },
        created: namespaces.map((namespace) => ({ kind: 'NetworkPolicy' as const, namespace, name: policy })),
      }
    })
  },

  async apply({ record, data }, s, ctx) {
    const cluster = ctx.cluster()
    const lines: string[] = []
    /** Namespace -> how many selected pods carry the label. */
    const labelled = new Map<string, number>()
    // Label first, then create the policies: every selected pod of a namespace is cut at once.
    for (const ref of podRefs(record)) {
      const what = `pod ${ref.namespace}/${ref.name}`
      let already = false
      const done = await patchPod(
        cluster,
        ref,
        'label pod for the partition',
        (pod: V1Pod) => {
          if (claimable(pod, ctx.runId, record.id, what) === 'ours') {
            already = true
            return { skip: 'already labelled' }
          }
          const original: Original = {
            fault: record.id,
            labels: { [PARTITION_LABEL]: pod.metadata?.labels?.[PARTITION_LABEL] ?? null },
          }
          return {
            patch: { metadata: { labels: { [PARTITION_LABEL]: data.id }, ...claim(ctx.runId, original).metadata } },
          }
        },
        MERGE_PATCH,
      )
      if (done.pod || already) labelled.set(ref.namespace!, (labelled.get(ref.namespace!) ?? 0) + 1)
      else lines.push(`${nameOf(ref)}: ${done.skip}`)
    }
    for (const ref of policyRefs(record)) {
      if (!labelled.has(ref.namespace!)) {
        lines.push(`no NetworkPolicy in ${ref.namespace}: none of its selected pods is left`)
        continue
      }
      const body = partitionPolicy({
        name: ref.name,
        namespace: ref.namespace!,
        id: data.id,
        runId: ctx.runId,
        faultId: record.id,
        direction: s.direction ?? 'both',
        to: s.to,
        peerIps: await peerIps(cluster, s.to, ref.namespace!),
      })
      await createPolicy(cluster, body, ctx.runId)
      lines.push(
        `NetworkPolicy ${nameOf(ref)} selects ${labelled.get(ref.namespace!)} pod(s) (${body.spec!.policyTypes!.join('+')})`,
      )
    }
    record.appliedAt = Date.now()
    lines.push(CNI_NOTE)
    for (const l of lines) ctx.say(`  [networkPartition] ${l}`)
    return lines.join('; ')
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  revert: ({ record }, _s, ctx) => heal(ctx.cluster(), record, ctx.runId),

  recover: (record: FaultRecord, ctx: RecoveryContext) => heal(ctx.cluster(), record, ctx.runId),
}

/** Creates the policy; one of ours already there (an apply repeated) is fine, anyone else's is busy. */
async function createPolicy(cluster: Cluster, body: V1NetworkPolicy, runId: string): Promise<void> {
  const { name, namespace } = body.metadata as { name: string; namespace: string }
  try {
    await cluster.networking.createNamespacedNetworkPolicy({ namespace, body })
  } catch (err) {
    if (statusOf(err) !== 409) throw kubernetesError(`create NetworkPolicy ${namespace}/${name}`, err)
    const existing = await cluster.call(`read NetworkPolicy ${namespace}/${name}`, () =>
      cluster.networking.readNamespacedNetworkPolicy({ name, namespace }),
    )
    const owner = existing.metadata?.annotations?.[RUN_ID]
    if (owner !== runId)
      throw errors.FL_ERR_TARGET_BUSY(`NetworkPolicy ${namespace}/${name} already exists (run ${owner ?? 'none'})`, {
        cause: err,
        details: { object: { namespace, name }, owner },
      })
  }
}
