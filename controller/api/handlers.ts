/**
 * What each operation of the table (routes.ts) does, by operationId. Bodies and path parameters
 * arrive checked (app.ts's preValidation hook); status codes and media types come from the
 * table, so a handler only answers its body or throws a catalogue error.
 */
import { errors, type FaultlineError } from '../../src/errors.ts'
import type { ExperimentDoc } from '../../src/experiments/schema.ts'
import { validateExperiment } from '../../src/experiments/schema.ts'
import type { Logger } from '../../src/log.ts'
import type { EventHub } from '../events.ts'
import type { FleetBus } from '../bus/fleet.ts'
import { renderHtml, renderMarkdown } from '../experiments/report.ts'
import { latencyOf, readWindow } from '../experiments/windows.ts'
import type { RunManager } from '../runs.ts'
import type { Scheduler } from '../scheduler.ts'
import type { ShapingManager } from '../shaping.ts'
import { SidecarClient } from '../sidecar-client.ts'
import { dashboardFiles } from '../ui/serve.ts'
import type { Store, Unreadable } from '../store/types.ts'
import { checkExperiment } from './bodies.ts'
import { openApiDocument } from './openapi.ts'
import type { Handlers } from './register.ts'

export interface HandlerDeps {
  store: Store
  runs: RunManager
  shaping: ShapingManager
  scheduler: Scheduler
  fleet?: FleetBus
  log: Logger
  /** The Prometheus text of the controller's metrics (controller/metrics.ts). */
  metricsText: () => Promise<string>
  /** Live server-sent events (controller/events.ts). */
  events: EventHub
}

/** When a sidecar rule's ttl ends, epoch ms (the sidecar may show it as an ISO time); undefined: none. */
function epochMs(rule: object): number | undefined {
  const at = (rule as { expiresAt?: unknown }).expiresAt
  const ms = typeof at === 'string' ? Date.parse(at) : at
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : undefined
}

/** A sidecar's last 10 s (p95, error rate, requests), for the dashboard; undefined if unreadable. */
async function recentStats(client: SidecarClient) {
  try {
    const m = (await readWindow([client], 10, Date.now)).merged
    return {
      windowSeconds: 10,
      count: m.count,
      p95: m.count ? (latencyOf(m, 'p95') ?? null) : null,
      errorRate: m.count ? (m.errorRate ?? null) : null,
    }
  } catch (err) {
    // Its rules were read: it is reachable; the figures are only missing (the field says so).
    return { windowSeconds: 10, error: (err as Error).message }
  }
}

export function controllerHandlers({
  store,
  runs,
  shaping,
  scheduler,
  fleet,
  log,
  metricsText,
  events,
}: HandlerDeps): Handlers {
  const dashboard = dashboardFiles()
  const journalOf = async (id: string) => {
    const j = await store.getJournal(id)
    if (!j) throw errors.FL_ERR_NOT_FOUND(`run ${id}`)
    return j
  }
  const scheduleView = async (name: string) => {
    const s = await store.getSchedule(name)
    if (!s) throw errors.FL_ERR_NOT_FOUND(`schedule ${name}`)
    return { ...s, nextRun: scheduler.nextRun(name), history: await store.scheduleHistory(name) }
  }

  return {
    getHealth: async () => ({ status: 'ok', store: store.kind }),
    getOpenApi: async () => openApiDocument(),
    getMetrics: metricsText,

    // ── experiments ────────────────────────────────────────────────────────────
    listExperiments: async () => {
      const { items, unreadable } = await store.listExperiments()
      return {
        experiments: items.map((raw) => {
          const r = validateExperiment(raw)
          if (!r.ok) return { name: raw.metadata.name, valid: false }
          const x = r.experiment
          return {
            name: x.metadata.name,
            valid: true,
            title: x.spec.hypothesis.title,
            targets: Object.keys(x.spec.targets),
            steps: x.spec.method.length,
            checks: x.spec.hypothesis.checks.length,
          }
        }),
        unreadable,
      }
    },
    validateExperiment: async ({ body }) => ({ valid: true, name: body.experiment.metadata.name }),
    createExperiment: async ({ body: { raw, experiment } }) => {
      const name = experiment.metadata.name
      if (await store.getExperiment(name))
        throw errors.FL_ERR_CONFLICT(`experiment ${name}`, {
          issues: [{ path: '/metadata/name', message: 'exists already (PUT to replace)' }],
        })
      await store.putExperiment(raw)
      return { name }
    },
    putExperiment: async ({ params, body: { raw, experiment } }) => {
      if (experiment.metadata.name !== params.name)
        throw errors.FL_ERR_BAD_REQUEST('name mismatch', {
          issues: [{ path: '/metadata/name', message: `must be "${params.name}" (the URL)` }],
        })
      await store.putExperiment(raw)
      return { name: experiment.metadata.name }
    },
    getExperiment: async ({ params }) => {
      const x = await store.getExperiment(params.name)
      if (!x) throw errors.FL_ERR_NOT_FOUND(`experiment ${params.name}`)
      return x
    },
    deleteExperiment: async ({ params }) => {
      if (!(await store.deleteExperiment(params.name))) throw errors.FL_ERR_NOT_FOUND(`experiment ${params.name}`)
      return { deleted: params.name }
    },

    // ── runs ───────────────────────────────────────────────────────────────────
    startRun: async ({ body }) => {
      let x: ExperimentDoc
      if (body.experiment !== undefined) {
        const stored = await store.getExperiment(body.experiment)
        if (!stored)
          throw errors.FL_ERR_NOT_FOUND(`experiment ${body.experiment}`, {
            issues: [{ path: '/experiment', message: 'no such stored experiment' }],
          })
        x = checkExperiment(stored).experiment
      } else x = checkExperiment(body.document, { ...process.env, ...body.vars }, '/document').experiment
      const { runId } = await runs.start(x, { dryRun: body.dryRun === true })
      return { runId, status: 'running' }
    },
    listRuns: async () => {
      const { items, unreadable } = await store.listRuns()
      return { active: runs.active(), runs: items, unreadable }
    },
    getRun: async ({ params }) => journalOf(params.id),
    streamRunEvents: async ({ params, request, reply }) => events.streamRun(params.id, request, reply),
    streamEvents: async ({ request, reply }) => events.streamAll(request, reply),
    getRunReport: async ({ params }) => renderHtml(await journalOf(params.id)),
    getRunReportMarkdown: async ({ params }) => renderMarkdown(await journalOf(params.id)),
    abortRun: async ({ params }) => {
      const r = await runs.abort(params.id)
      if (!r) {
        const j = await journalOf(params.id)
        return { runId: j.runId, status: j.status, verdict: j.verdict, note: 'was not running' }
      }
      return { runId: r.runId, status: r.status, verdict: r.verdict, reason: r.reason }
    },

    // ── sidecars ───────────────────────────────────────────────────────────────
    listSidecars: async () => {
      const known = new Map<string, { token?: string; usedBy: Set<string> }>()
      const note = (url: string, by: string, token?: string) => {
        const e = known.get(url) ?? { token, usedBy: new Set<string>() }
        e.usedBy.add(by)
        known.set(url, e)
      }
      const experiments = await store.listExperiments()
      for (const raw of experiments.items) {
        const r = validateExperiment(raw)
        if (!r.ok) continue
        for (const t of Object.values(r.experiment.spec.targets))
          for (const u of t.sidecars ?? []) note(u, `experiment:${raw.metadata.name}`, t.adminToken)
      }
      const active = await shaping.active()
      for (const s of active.items) for (const u of s.sidecars) note(u, `shaping:${s.id}`, s.adminToken)
      for (const service of (await fleet?.services()) ?? [])
        for (const i of await fleet!.instances(service)) note(i.adminUrl, `service:${service}`)
      const sidecars = await Promise.all(
        [...known].map(async ([url, e]) => {
          try {
            const client = new SidecarClient(url, e.token)
            const rules = await client.rules()
            return {
              adminUrl: url,
              reachable: true,
              generation: rules.generation,
              rules: rules.rules.length,
              usedBy: [...e.usedBy],
              activeRules: rules.rules.map((r) => ({ id: r.id, source: r.source, expiresAt: epochMs(r) })),
              stats: await recentStats(client),
            }
          } catch (err) {
            // Listed, not thrown: one bad sidecar must not hide the others.
            const f = err as FaultlineError
            return {
              adminUrl: url,
              reachable: f.code !== errors.FL_ERR_SIDECAR_UNREACHABLE.code,
              usedBy: [...e.usedBy],
              error: f.toJSON?.() ?? { code: errors.FL_ERR_INTERNAL.code, error: f.message },
            }
          }
        }),
      )
      return { sidecars, unreadable: [...experiments.unreadable, ...active.unreadable] }
    },

    // ── halt ───────────────────────────────────────────────────────────────────
    getHalt: async () => {
      const h = await store.getHalt()
      return h ? { halted: true, ...h } : { halted: false }
    },
    halt: async ({ body }) => {
      const reason = body?.reason ?? 'halted by an operator'
      // Refuse new work first, then stop what is running.
      const since = Date.now()
      await store.setHalt({ reason, since })
      events.haltChanged({ reason, since })
      const [aborted, reverted] = await Promise.all([runs.abortAll(), shaping.revertAll()])
      log.warn({ reason, aborted, reverted }, 'HALT: every run aborted and reverted, new runs refused')
      return { halted: true, reason, aborted, reverted }
    },
    liftHalt: async () => {
      await store.setHalt(undefined)
      events.haltChanged(undefined)
      log.warn('halt lifted')
      return { halted: false }
    },

    // ── traffic shaping ────────────────────────────────────────────────────────
    applyShaping: async ({ body }) => shaping.apply(body),
    listShaping: async () => {
      const { items, unreadable } = await shaping.active()
      return { shaping: items, unreadable }
    },
    revertShaping: async ({ params }) => {
      const r = await shaping.revert(params.id)
      if (!r) throw errors.FL_ERR_NOT_FOUND(`shaping ${params.id}`)
      return r
    },

    // ── schedules ──────────────────────────────────────────────────────────────
    createSchedule: async ({ body }) => {
      const s = await scheduler.validate(body)
      if (await store.getSchedule(s.name))
        throw errors.FL_ERR_CONFLICT(`schedule ${s.name}`, {
          issues: [{ path: '/name', message: 'exists already (PUT to replace)' }],
        })
      await scheduler.put(s)
      return scheduleView(s.name)
    },
    putSchedule: async ({ params, body }) => {
      const s = await scheduler.validate(body)
      if (s.name !== params.name)
        throw errors.FL_ERR_BAD_REQUEST('name mismatch', {
          issues: [{ path: '/name', message: `must be "${params.name}" (the URL)` }],
        })
      await scheduler.put(s)
      return scheduleView(s.name)
    },
    listSchedules: async () => {
      const { items, unreadable } = await store.listSchedules()
      const schedules = []
      const broken: Unreadable[] = [...unreadable]
      for (const s of items) {
        try {
          schedules.push(await scheduleView(s.name))
        } catch (err) {
          // A schedule whose history cannot be read is listed as unreadable, not dropped.
          const f = err as FaultlineError
          if (f.code !== errors.FL_ERR_STORE_CORRUPT.code) throw err
          broken.push({ id: s.name, record: String(f.details?.record), code: f.code, error: f.message })
        }
      }
      return { schedules, unreadable: broken }
    },
    getSchedule: async ({ params }) => scheduleView(params.name),
    deleteSchedule: async ({ params }) => {
      if (!(await scheduler.delete(params.name))) throw errors.FL_ERR_NOT_FOUND(`schedule ${params.name}`)
      return { deleted: params.name }
    },
    triggerSchedule: async ({ params }) => scheduler.fire(params.name),

    // ── the dashboard ──────────────────────────────────────────────────────────
    getDashboardFile: async ({ params, request, reply }) => dashboard.file(params.file || 'index.html', request, reply),
  }
}
