/**
 * The figures an observation run records (a source document with no hypothesis): what a person
 * would watch while the fault is on. Pod targets: their Ready pods. Pods whose sidecars carry
 * the fault: the p95 latency and error rate the sidecars measured.
 */
const INTERVAL = '1s'
const OBSERVE_AFTER = '5s'

export function readyPodsObservation(target: string): Record<string, unknown> {
  return {
    name: `${target}-ready-pods`.slice(0, 63).replace(/-+$/, ''),
    kubernetes: { target, stat: 'readyPods' },
    interval: INTERVAL,
    observeAfter: OBSERVE_AFTER,
  }
}

export function sidecarObservations(target: string): Record<string, unknown>[] {
  return (['p95', 'errorRate'] as const).map((stat) => ({
    name: `${target}-${stat.toLowerCase()}`.slice(0, 63).replace(/-+$/, ''),
    sidecar: { target, stat },
    interval: INTERVAL,
    window: '5s',
    minSamples: 1,
    observeAfter: OBSERVE_AFTER,
  }))
}
