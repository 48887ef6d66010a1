/** Chaos Toolkit (chaostoolkit.org) experiments, JSON or YAML. */
import { isPlainObject } from '../../schema.ts'
import type { InteropFormat } from '../types.ts'
import { translateChaosToolkit } from './translate.ts'

export const chaostoolkit: InteropFormat = {
  name: 'chaostoolkit',
  title: 'Chaos Toolkit',
  /** One document with a title and a method list, and no apiVersion/kind (those are Kubernetes-style formats). */
  detect(docs) {
    const d = docs[0]
    return (
      docs.length === 1 &&
      isPlainObject(d) &&
      typeof d.title === 'string' &&
      Array.isArray(d.method) &&
      d.apiVersion === undefined &&
      d.kind === undefined
    )
  },
  translate(docs, ctx) {
    return translateChaosToolkit(docs[0] as Record<string, unknown>, ctx)
  },
}
