import { applyJsonPatch, applyMergePatch, type JsonPatchOp, parsePointer } from '../json-patch.ts'
import { anyJson, array, choice, type Infer, object, required, string } from '../schema.ts'
import { headerNameProblem, headerValue, queryText } from './shared.ts'
import { type FaultKind, phaseOnly } from './types.ts'

const pair = array(string({ maxLength: 8192 }), { minItems: 2, maxItems: 2, description: '[name, value]' })

const jsonPatchOp = object(
  {
    op: required(choice(['add', 'remove', 'replace', 'move', 'copy', 'test'])),
    path: required(string()),
    from: string(),
    value: anyJson(),
  },
  {
    refine(v, path, issues) {
      for (const f of ['path', 'from'] as const) {
        if (v[f] === undefined) continue
        try {
          parsePointer(v[f])
        } catch (err) {
          issues.push({ path: `${path}/${f}`, message: (err as Error).message })
        }
      }
      if (['add', 'replace', 'test'].includes(v.op) && v.value === undefined)
        issues.push({ path: `${path}/value`, message: `is required for op "${v.op}"` })
      if (['move', 'copy'].includes(v.op) && v.from === undefined)
        issues.push({ path: `${path}/from`, message: `is required for op "${v.op}"` })
    },
  },
)

const schema = object(
  {
    headers: array(pair, { description: 'headers to append' }),
    query: array(pair, { description: 'request phase: query parameters to append' }),
    json: object(
      { merge: required(anyJson('RFC 7396 merge patch document')) },
      { description: 'RFC 7396 JSON merge patch of the body, given as `merge`' },
    ),
    jsonPatch: array(jsonPatchOp, {
      minItems: 1,
      description: 'RFC 6902 JSON patch of the body: its operations, in order, after `json.merge` when both are given',
    }),
  },
  {
    description: 'add headers or query parameters, or patch a JSON body (buffered under a size cap; fails open)',
    refine(v, path, issues) {
      if (Object.keys(v).length === 0) issues.push({ path, message: 'must patch at least one thing' })
      v.headers?.forEach(([name, value], i) => {
        const problem = headerNameProblem(name!)
        if (problem) issues.push({ path: `${path}/headers/${i}/0`, message: problem })
        headerValue.check(value, `${path}/headers/${i}/1`, issues)
      })
      v.query?.forEach((pair, i) => pair.forEach((text, j) => queryText.check(text, `${path}/query/${i}/${j}`, issues)))
    },
  },
)

interface CompiledPatch {
  headers: [string, string][]
  query: [string, string][]
  transform?: (body: unknown) => unknown
}

export const patch: FaultKind<Infer<typeof schema>, CompiledPatch> = {
  kind: 'patch',
  phases: ['request', 'response'],
  description: schema.json.description as string,
  schema,
  compile(spec, phase, path, issues) {
    phaseOnly(spec, ['query'], 'request', phase, path, issues)
    const merge = spec.json?.merge
    const ops: JsonPatchOp[] | undefined = spec.jsonPatch
    const transform =
      merge === undefined && !ops
        ? undefined
        : (body: unknown) => {
            const merged = merge === undefined ? body : applyMergePatch(body, merge)
            return ops ? applyJsonPatch(merged, ops) : merged
          }
    return {
      headers: (spec.headers ?? []).map(([k, v]) => [k!.toLowerCase(), v!]),
      query: (spec.query ?? []).map(([k, v]) => [k!, v!]),
      transform,
    }
  },
  apply(c, ops) {
    for (const [k, v] of c.headers) ops.appendHeader(k, v)
    for (const [k, v] of c.query) ops.appendQuery(k, v)
    if (c.transform) ops.transformJson(c.transform)
  },
}
