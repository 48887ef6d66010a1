/**
 * Before any load: the sidecar's admin API answers, the target answers, and the target really
 * goes through that sidecar (else every fault would miss and the bench would measure nothing).
 * Each failure names the URL it is about.
 */
import { errors } from '../../src/errors.ts'
import type { BenchPlan } from '../../src/bench/plan.ts'
import { type SidecarClient, sidecarUnreachable } from '../sidecar-client.ts'

export interface SidecarStats {
  count: number
  rules?: Record<string, { matched: number; injected: number }>
}

/** The sidecar's exact figures over the last `seconds` (GET /stats, open to read). */
export async function sidecarStats(adminUrl: string, seconds: number): Promise<SidecarStats> {
  const url = `${adminUrl}/stats?window=${Math.min(120, Math.max(1, Math.ceil(seconds)))}s`
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  } catch (err) {
    throw sidecarUnreachable(
      adminUrl,
      (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message,
      err,
    )
  }
  const body = (await res.json()) as SidecarStats
  if (!res.ok || typeof body.count !== 'number')
    throw errors.FL_ERR_SIDECAR_REJECTED(`${url} answered ${res.status}, not the admin API's statistics`)
  return body
}

/** One request to the target; any HTTP answer will do, except the sidecar saying the app is down. */
async function probeTarget(plan: BenchPlan): Promise<void> {
  const { url, method, headers, body } = plan.load
  let res: Response
  try {
    res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const reason = e.name === 'TimeoutError' ? 'no answer in 10 s' : (e.cause?.code ?? e.cause?.message ?? e.message)
    throw errors.FL_ERR_SIDECAR_UNREACHABLE(`target ${url} (the sidecar's proxy) unreachable: ${reason}`, {
      cause: err,
    })
  }
  const text = await res.text()
  // The sidecar answers for an app it cannot reach with its own JSON error.
  const code = /"code"\s*:\s*"(FL_ERR_UPSTREAM_[A-Z_]+)"/.exec(text)?.[1]
  if (res.status >= 502 && res.status <= 504 && code)
    throw errors.FL_ERR_UPSTREAM_UNAVAILABLE(
      `target ${url}: the app behind the sidecar does not answer (${res.status} ${code})`,
    )
}

/**
 * Checks that the sidecar answers (and takes the token), holds none of the bench's rule ids, that the target
 * answers, and that the sidecar counted that request. Throws FL_ERR_SIDECAR_UNREACHABLE /
 * FL_ERR_UPSTREAM_UNAVAILABLE (exit 3), FL_ERR_RULE_DUPLICATE or FL_ERR_CONFIG_INVALID (`--target`).
 */
export async function preflight(plan: BenchPlan, client: SidecarClient, source: string): Promise<void> {
  const { rules } = await client.rules()
  // A mutating call that changes nothing (no rule has this run's source yet): a wrong or
  // missing --token fails here, before any load, instead of at the first scenario.
  await client.removeBySource(source)
  const live = new Set(rules.map((r) => r.id))
  for (const s of plan.scenarios)
    for (const r of s.rules)
      if (live.has(String(r.id)))
        throw errors.FL_ERR_RULE_DUPLICATE(
          `scenario "${s.name}": the sidecar ${plan.sidecar} already has a rule "${String(r.id)}"; remove it or rename the bench's rule`,
        )
  await probeTarget(plan)
  // The request is counted when its response ends; give the sidecar a moment to file it. Other
  // traffic through the sidecar passes this too: it guards the common mistake (the app's own
  // URL as --target), not every one.
  for (let i = 0; i < 20; i++) {
    if ((await sidecarStats(plan.sidecar, 5)).count > 0) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw errors.FL_ERR_CONFIG_INVALID(
    `the sidecar ${plan.sidecar} did not see the request sent to ${plan.load.url}: --target must be the URL of that sidecar's proxy port, or no fault would reach the load`,
    { issues: [{ path: '--target', message: `does not go through the sidecar ${plan.sidecar}` }] },
  )
}
