/**
 * A ChaosSchedule (litmuschaos/chaos-scheduler api/litmuschaos/v1alpha1/chaosschedule_types.go)
 * as the controller's schedule of the translated engine. `repeat` becomes a cron as the chaos
 * scheduler builds one: minute or hour step, `workHours.includedHours` in the hour field,
 * `workDays.includedDays` in the day-of-week field.
 */
import { isPlainObject, pointer } from '../../schema.ts'
import type { InteropSchedule } from '../types.ts'
import type { Notes, Obj } from '../kube/notes.ts'
import { type EngineContext, engineDocument } from './engine.ts'

const DAY = /^(sun|mon|tue|wed|thu|fri|sat)$/i

function interval(min: unknown, path: string, notes: Notes): { minute: string; hour: string } | undefined {
  // Litmus 1.x wrote it as "2m" / "1h".
  if (typeof min === 'string') {
    const m = /^(\d+)(m|h)$/.exec(min.trim())
    if (!m) return notes.refuse(path, 'must be like "5m" or "1h"')
    return m[2] === 'm' ? { minute: `*/${m[1]}`, hour: '*' } : { minute: '0', hour: `*/${m[1]}` }
  }
  if (!isPlainObject(min))
    return notes.refuse(path, 'is required: {minute: {everyNthMinute}} or {hour: {everyNthHour, minuteOfTheHour}}')
  notes.only(min, path, ['minute', 'hour'], 'minChaosInterval')
  if (isPlainObject(min.minute)) {
    notes.only(min.minute, pointer(path, 'minute'), ['everyNthMinute'], 'a minute interval')
    const n = Number(min.minute.everyNthMinute)
    if (!Number.isInteger(n) || n < 1 || n > 59)
      return notes.refuse(pointer(pointer(path, 'minute'), 'everyNthMinute'), 'must be 1-59')
    return { minute: `*/${n}`, hour: '*' }
  }
  if (isPlainObject(min.hour)) {
    const hpath = pointer(path, 'hour')
    notes.only(min.hour, hpath, ['everyNthHour', 'minuteOfTheHour'], 'an hour interval')
    const n = Number(min.hour.everyNthHour)
    const at = Number(min.hour.minuteOfTheHour ?? 0)
    if (!Number.isInteger(n) || n < 1 || n > 23) return notes.refuse(pointer(hpath, 'everyNthHour'), 'must be 1-23')
    if (!Number.isInteger(at) || at < 0 || at > 59)
      return notes.refuse(pointer(hpath, 'minuteOfTheHour'), 'must be 0-59')
    return { minute: String(at), hour: `*/${n}` }
  }
  return notes.refuse(path, 'needs minute or hour')
}

function repeatCron(repeat: Obj, path: string, notes: Notes): string | undefined {
  notes.only(repeat, path, ['timeRange', 'properties', 'workHours', 'workDays'], 'schedule.repeat')
  if (repeat.timeRange !== undefined)
    notes.refuse(
      pointer(path, 'timeRange'),
      'faultline schedules have no start or end date: create the schedule when it should start and delete it when it should end',
    )
  const props = notes.object(repeat, 'properties', path) ?? {}
  const ppath = pointer(path, 'properties')
  notes.only(props, ppath, ['minChaosInterval', 'random'], 'repeat.properties')
  if (props.random === true)
    notes.refuse(pointer(ppath, 'random'), 'random firing times: faultline schedules fire on their cron')
  const step = interval(props.minChaosInterval, pointer(ppath, 'minChaosInterval'), notes)
  let hour = step?.hour ?? '*'
  const hours = isPlainObject(repeat.workHours) ? repeat.workHours : undefined
  if (hours) {
    const hpath = pointer(path, 'workHours')
    notes.only(hours, hpath, ['includedHours'], 'workHours')
    const range = String(hours.includedHours ?? '')
    if (!/^\d{1,2}(-\d{1,2})?(,\d{1,2}(-\d{1,2})?)*$/.test(range))
      notes.refuse(pointer(hpath, 'includedHours'), 'must be hours such as "10-16" or "9,17"')
    else hour = hour === '*' ? range : `${range}/${hour.slice(2)}`
  }
  let days = '*'
  const workDays = isPlainObject(repeat.workDays) ? repeat.workDays : undefined
  if (workDays) {
    const dpath = pointer(path, 'workDays')
    notes.only(workDays, dpath, ['includedDays'], 'workDays')
    const list = String(workDays.includedDays ?? '')
      .split(',')
      .map((d) => d.trim())
    if (!list.every((d) => DAY.test(d)))
      notes.refuse(pointer(dpath, 'includedDays'), 'must be days such as "Mon,Tue,Wed"')
    else days = list.map((d) => d.slice(0, 3).toUpperCase()).join(',')
  }
  return step ? `${step.minute} ${hour} * * ${days}` : undefined
}

export function chaosSchedule(
  spec: Obj,
  path: string,
  c: EngineContext,
): { experiment: Obj; schedule?: InteropSchedule } {
  const { notes } = c
  notes.only(
    spec,
    path,
    ['schedule', 'engineTemplateSpec', 'concurrencyPolicy', 'scheduleState'],
    'a ChaosSchedule spec',
  )
  const template = notes.object(spec, 'engineTemplateSpec', path)
  if (!template) notes.refuse(pointer(path, 'engineTemplateSpec'), 'is required')
  const experiment = engineDocument(template ?? {}, pointer(path, 'engineTemplateSpec'), c)
  const state = notes.string(spec, 'scheduleState', path) ?? 'active'
  if (state === 'stop') notes.refuse(pointer(path, 'scheduleState'), 'a stopped schedule runs nothing')
  else if (state !== 'active' && state !== 'halt')
    notes.refuse(pointer(path, 'scheduleState'), 'must be active, halt or stop')
  const policy = notes.string(spec, 'concurrencyPolicy', path) ?? 'Allow'
  if (!['Allow', 'Forbid', 'Replace'].includes(policy))
    notes.refuse(pointer(path, 'concurrencyPolicy'), 'must be Allow, Forbid or Replace')
  const when = notes.object(spec, 'schedule', path)
  const wpath = pointer(path, 'schedule')
  if (!when) return { experiment, schedule: notes.refuse(wpath, 'is required') }
  notes.only(when, wpath, ['now', 'once', 'repeat'], 'schedule')
  if (when.now === true) {
    if (spec.concurrencyPolicy !== undefined)
      notes.approx(pointer(path, 'concurrencyPolicy'), 'no effect: the engine runs once, now')
    return { experiment }
  }
  if (when.once !== undefined)
    return {
      experiment,
      schedule: notes.refuse(
        pointer(wpath, 'once'),
        'a single dated run: run `faultline run` at that time (a controller schedule repeats)',
      ),
    }
  const repeat = notes.object(when, 'repeat', wpath)
  if (!repeat) return { experiment, schedule: notes.refuse(wpath, 'needs now, once or repeat') }
  const cron = repeatCron(repeat, pointer(wpath, 'repeat'), notes)
  notes.approx(wpath, "Litmus's scheduler reads times in its own time zone; faultline's schedule runs in UTC")
  if (!cron) return { experiment }
  const name = (experiment.metadata as Obj).name as string
  return {
    experiment,
    schedule: {
      name,
      experiment: name,
      cron,
      timezone: 'UTC',
      concurrencyPolicy: policy.toLowerCase() as 'allow' | 'forbid' | 'replace',
      ...(state === 'halt' ? { suspended: true } : {}),
    },
  }
}
