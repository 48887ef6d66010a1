/**
 * podStress: CPU and memory stress inside each selected pod, without a privileged DaemonSet: an
 * ephemeral container (the `ephemeralcontainers` subresource, strategic merge patch) running the
 * faultline image's `faultline stress --cpu N --load P --memory SIZE --duration D`, named
 * `faultline-stress-<id>` and targeting the target's first listed container present in the pod
 * (`containers`), else the pod's first container (`targetContainerName`: it shares that
 * container's process namespace). The image is `image`, else env FAULTLINE_IMAGE (the chart sets
 * it to the controller's own image), else DEFAULT_IMAGE (`faultline:<version>`, the tag `npm run
 * image` builds). Its securityContext (non-root uid 65532, no privilege escalation, every
 * capability dropped, RuntimeDefault seccomp) passes the `restricted` Pod Security Standard.
 *
 * The container sets `args` (`stress ...`) and no `command`: the image's entrypoint
 * (`node /app/bin/faultline.js`) runs them, as the image has no `faultline` executable on PATH.
 * So a custom `image` must keep the faultline entrypoint (an image built FROM faultline's).
 *
 * It always ends by itself at the step's duration. Ephemeral containers cannot be removed or
 * stopped through the API (the pod spec only ever gains them), so there is nothing to revert and
 * an abort cannot stop the stress early: the revert returns undefined. The hold waits for the
 * duration. Each stress step leaves one terminated ephemeral container in the pod's spec.
 *
 * On a real cluster the stress runs in the pod's cgroup, not in the target container's:
 * ephemeral containers have no resources of their own, so it is bounded by the pod's limits and
 * the node's capacity, and counts against the pod (not the target container's own limit). The
 * image has to be pullable from the node, and the cluster must allow ephemeral containers
 * (Kubernetes 1.25+; RBAC `pods/ephemeralcontainers: patch`).
 */
import type { V1EphemeralContainer, V1Pod } from '@kubernetes/client-node'
import { errors } from '../../../src/errors.ts'
import type { StepSpec } from '../../../src/experiments/schema.ts'
import { kubernetesError, statusOf } from '../../drivers/kubernetes/cluster.ts'
import { assertFree } from '../../drivers/kubernetes/ownership.ts'
import { type Injector, sleep } from '../types.ts'
import { STRATEGIC_PATCH } from '../../drivers/kubernetes/cluster.ts'
import { nameOf, planPods, podRefs, podTarget, rereadPod, shortId } from './pod-shared.ts'
import { DEFAULT_IMAGE } from '../../injector/image.ts'

type Spec = NonNullable<StepSpec['podStress']>

export const STRESS_PREFIX = 'faultline-stress-'
/** The faultline image's non-root user. */
const FAULTLINE_UID = 65532

export function stressImage(s: Spec): string {
  return s.image ?? (process.env.FAULTLINE_IMAGE || DEFAULT_IMAGE)
}

/** The container's args: the image's entrypoint is faultline, so they start at the subcommand. */
export function stressArgs(s: Spec): string[] {
  const cmd = ['stress']
  if (s.cpu !== undefined) cmd.push('--cpu', String(s.cpu))
  if (s.load !== undefined) cmd.push('--load', String(s.load))
  if (s.memory !== undefined) cmd.push('--memory', s.memory)
  cmd.push('--duration', `${s.duration}ms`)
  return cmd
}

function targetContainer(pod: V1Pod, wanted: string[] | undefined): string | undefined {
  const names = (pod.spec?.containers ?? []).map((c) => c.name)
  return wanted ? wanted.find((n) => names.includes(n)) : names[0]
}

export const podStress: Injector<Spec, { name: string; containers?: string[] }> = {
  step: 'podStress',

  async plan(s, step, ctx) {
    if (s.cpu === undefined && s.memory === undefined)
      throw errors.FL_ERR_CONFIG_INVALID('podStress needs "cpu" or "memory"', {
        issues: [{ path: `/method/${step.key}/podStress`, message: 'must have "cpu" or "memory"' }],
      })
    const containers = podTarget(ctx, s.target, 'podStress').containers
    const name = `${STRESS_PREFIX}${shortId(ctx.runId, step.key)}`
    return planPods('podStress', s.target, step, ctx, (_pods, refs) => ({
      intent: `add ephemeral container ${name} (${stressImage(s)}: faultline ${stressArgs(s).join(' ')}) to ${refs.length} pod(s): ${refs.map(nameOf).join(', ')}; it ends by itself after ${s.duration} ms`,
      data: { name, containers },
    }))
  },

  async apply({ record, data }, s, ctx) {
    const cluster = ctx.cluster()
    const image = stressImage(s)
    const args = stressArgs(s)
    const lines: string[] = []
    let added = 0
    for (const ref of podRefs(record)) {
      const now = await rereadPod(cluster, ref)
      if (!now.pod) {
        lines.push(`${nameOf(ref)}: ${now.why}`)
        continue
      }
      assertFree(now.pod, ctx.runId, `pod ${nameOf(ref)}`)
      if ((now.pod.spec?.ephemeralContainers ?? []).some((c) => c.name === data.name)) {
        added++
        lines.push(`${nameOf(ref)}: ${data.name} already added`)
        continue
      }
      const target = targetContainer(now.pod, data.containers)
      if (!target) {
        lines.push(`${nameOf(ref)}: has none of the containers ${data.containers!.join(', ')}`)
        continue
      }
      const container: V1EphemeralContainer = {
        name: data.name,
        image,
        // No command: the image's entrypoint (faultline) runs these.
        args,
        targetContainerName: target,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: FAULTLINE_UID,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
      }
      try {
        await cluster.core.patchNamespacedPodEphemeralcontainers(
          {
            name: ref.name,
            namespace: ref.namespace!,
            // The uid precondition keeps a same-named successor untouched.
            body: { metadata: { uid: now.pod.metadata!.uid }, spec: { ephemeralContainers: [container] } },
          },
          STRATEGIC_PATCH,
        )
      } catch (err) {
        const status = statusOf(err)
        // A 404 for a pod that is still there is the subresource missing (a cluster older than 1.25).
        const why = status === 404 || status === 409 ? (await rereadPod(cluster, ref)).why : undefined
        if (!why) throw kubernetesError(`add ephemeral container ${data.name} to pod ${nameOf(ref)}`, err)
        lines.push(`${nameOf(ref)}: ${why}`)
        continue
      }
      added++
      lines.push(`${nameOf(ref)}: ${data.name} added (target container ${target})`)
    }
    record.appliedAt = Date.now()
    for (const l of lines) ctx.say(`  [podStress] ${l}`)
    return `stress in ${added} of ${podRefs(record).length} pod(s) for ${s.duration} ms (faultline ${args.join(' ')}; ends by itself, cannot be stopped early): ${lines.join('; ')}`
  },

  hold: (_p, s, ctx) => sleep(s.duration, ctx.signal),

  /** Ephemeral containers cannot be removed or stopped through the API: the stress ends at its duration. */
  async revert() {
    return undefined
  },
}
