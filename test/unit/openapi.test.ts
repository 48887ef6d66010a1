/**
 * The API descriptions cannot drift from the routes: every route fastify has registered is in
 * the controller's OpenAPI document and every operation of the document is a registered route.
 * And the generators refuse to publish a reference that resolves nowhere.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openApiDocument } from '../../controller/api/openapi.ts'
import { buildController } from '../../controller/app.ts'
import { buildOpenApi } from '../../src/openapi.ts'
import { definition, jsonSchemaDocument, number, object, string } from '../../src/schema.ts'

/** `METHOD /path/:param` for every route in fastify's printRoutes tree (HEAD mirrors GET). */
function registeredRoutes(tree: string): string[] {
  const out: string[] = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    const full = (stack[depth - 1] ?? '') + m[2]!
    stack[depth] = full
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') out.push(`${method} ${full}`)
  }
  return out.sort()
}

describe('controller routes and the OpenAPI document', () => {
  it('are the same set of operations', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fl-routes-'))
    const c = buildController({ dataDir })
    try {
      await c.app.ready()
      const routes = registeredRoutes(c.app.printRoutes({ commonPrefix: false }))
      const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> }
      const documented = Object.entries(doc.paths)
        .flatMap(([p, item]) =>
          Object.keys(item).map((method) => `${method.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
        )
        .sort()
      expect(routes.length).toBeGreaterThanOrEqual(28)
      expect(routes).toEqual(documented)
      for (const r of documented) {
        const [method, url] = r.split(' ') as [string, string]
        expect(c.app.hasRoute({ method: method as 'GET', url }), r).toBe(true)
      }
    } finally {
      await c.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('a route added beside the table is refused at registration', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fl-routes-'))
    const c = buildController({ dataDir })
    try {
      expect(() => c.app.get('/undocumented', async () => 'x')).toThrow(/not declared in controller\/api\/routes.ts/)
    } finally {
      await c.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('generated documents', () => {
  it('publish each definition once, under $defs, however often and deeply it is used', () => {
    const point = object({ x: number(), label: string() })
    const ref = () => definition('Point', () => point)
    const doc = jsonSchemaDocument(object({ a: ref(), b: object({ c: ref() }) }), { title: 't' })
    expect(doc.$defs).toEqual({ Point: point.json })
    expect((doc.properties as Record<string, unknown>).a).toEqual({ $ref: '#/$defs/Point' })
  })

  it('refuse a reference that resolves nowhere, and two schemas under one name', () => {
    const dangling = { json: { $ref: '#/$defs/Nowhere' }, check: (v: unknown) => v }
    expect(() => jsonSchemaDocument(object({ a: dangling }), { title: 't' })).toThrow(
      /resolves nowhere: #\/\$defs\/Nowhere/,
    )
    const one = definition('Same', () => string())
    const other = definition('Same', () => number())
    expect(() => jsonSchemaDocument(object({ a: one, b: other }), { title: 't' })).toThrow(/two different definitions/)
    expect(() =>
      buildOpenApi({
        title: 't',
        description: 'd',
        version: '1',
        operations: [
          {
            operationId: 'x',
            method: 'get',
            path: '/x',
            summary: 's',
            responses: { 200: { description: 'ok', json: { $ref: '#/$defs/Missing' } } },
          },
        ],
      }),
    ).toThrow(/resolves nowhere: #\/components\/schemas\/Missing/)
  })
})
