/** Baseline: bare @fastify/http-proxy with its defaults, in front of the origin. */
import proxy from '@fastify/http-proxy'
import Fastify from 'fastify'

const app = Fastify({ logger: false })
await app.register(proxy, { upstream: process.argv[2]! })
const url = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(JSON.stringify({ url }) + '\n')
