/**
 * OpenAPI documents. Placeholder until kubectl's needs are known.
 */

export function openapiV2(): Record<string, unknown> {
  return { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.33.0' }, paths: {}, definitions: {} }
}

export function openapiV3Index(): Record<string, unknown> {
  return { paths: {} }
}

export function openapiV3Path(_path: string): Record<string, unknown> | undefined {
  return undefined
}
