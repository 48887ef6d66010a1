/**
 * Minimal OpenAPI v3 documents. kubectl get, delete, cordon, uncordon, taint, scale and drain never
 * ask for OpenAPI. kubectl create and apply do, for one thing: whether the server validates fields
 * itself (`fieldValidation` on the PATCH operation of the kind, found through the
 * `x-kubernetes-group-version-kind` extension). Each group-version document carries exactly that
 * (a PATCH operation per resource with its GVK and the fieldValidation parameter), so kubectl
 * sends `fieldValidation=Strict` and skips client-side schema validation. There are no schemas:
 * `kubectl explain` does not work. `/openapi/v2` (kubectl asks for protobuf) is a 404.
 */
import { createHash } from 'node:crypto'
import { groupVersions, resources } from './resources.ts'

function docPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`
}

function document(group: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {}
  for (const r of resources.filter((x) => x.group === group && x.version === version)) {
    const base = `/${docPath(group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`
    paths[base] = {
      patch: {
        operationId: `patch${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
        parameters: [
          { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } },
        ],
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group, version, kind: r.kind },
      },
    }
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.33.0' },
    paths,
    components: { schemas: {} },
  }
}

/** `/openapi/v3`: one entry per group-version, with a content hash as the real index has. */
export function openapiV3Index(): Record<string, unknown> {
  const paths: Record<string, unknown> = {}
  for (const { group, version } of groupVersions()) {
    const p = docPath(group, version)
    const hash = createHash('sha512')
      .update(JSON.stringify(document(group, version)))
      .digest('hex')
      .toUpperCase()
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash.slice(0, 128)}` }
  }
  return { paths }
}

/** `/openapi/v3/api/v1`, `/openapi/v3/apis/<g>/<v>` */
export function openapiV3Path(p: string): Record<string, unknown> | undefined {
  const gv = groupVersions().find(({ group, version }) => docPath(group, version) === p)
  return gv ? document(gv.group, gv.version) : undefined
}
