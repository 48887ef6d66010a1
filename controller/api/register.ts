/**
 * Registers every operation of the table (routes.ts) as a fastify route: method, path, success
 * status and media type come from the table, the handler from app.ts by operationId. The
 * handler table's type requires exactly one handler per operation, typed by its path parameters
 * and its checked body, so the routes and the OpenAPI document come from one declaration.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { BodyName, BodyOf } from './bodies.ts'
import { fastifyPath, type Operation, OPERATIONS, type OperationId, type ParamsOf } from './routes.ts'

type Op<Id extends OperationId> = (typeof OPERATIONS)[Id]

/** The checked body a handler receives (the preValidation hook in app.ts checks it). */
type BodyFor<O> = O extends { body: infer B extends BodyName }
  ? O extends { optionalBody: true }
    ? BodyOf<B> | undefined
    : BodyOf<B>
  : undefined

export interface Call<Id extends OperationId> {
  params: Record<ParamsOf<Op<Id>['path']>, string>
  body: BodyFor<Op<Id>>
  request: FastifyRequest
  /** For the few operations that answer more than a body: event streams (hijacked), dashboard file headers. */
  reply: FastifyReply
}

/** Answers the success body (JSON value or text); errors are thrown as catalogue errors. */
export type Handler<Id extends OperationId> = (call: Call<Id>) => Promise<unknown>
export type Handlers = { [Id in OperationId]: Handler<Id> }

export function registerOperations(app: FastifyInstance, handlers: Handlers): void {
  for (const [id, op] of Object.entries(OPERATIONS) as [OperationId, Operation][]) {
    const handler = handlers[id] as (call: Call<OperationId>) => Promise<unknown>
    app.route({
      method: op.method.toUpperCase(),
      url: fastifyPath(op.path),
      handler: async (request, reply) => {
        const result = await handler({
          params: request.params as Call<OperationId>['params'],
          body: request.body as Call<OperationId>['body'],
          request,
          reply,
        })
        if (reply.sent) return
        reply.code(op.ok ?? 200)
        if ('text' in op.answer && !reply.hasHeader('content-type')) reply.type(op.answer.text)
        return result
      },
    })
  }
}
