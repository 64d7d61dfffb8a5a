// server.mjs: Barazo's authenticated route on Fastify: Bearer token -> validateAccessToken ->
// 401, or the user. STORE=valkey uses the Valkey session store (ioredis on REDIS_SOCKET),
// STORE=authflow the authflow drop-in (clients/node, pg on the libpq environment).
// Listens on 127.0.0.1:PORT; with SEED=N it first creates N sessions and writes their access
// tokens, one a line, to TOKENS.
import fs from 'node:fs'
import Fastify from 'fastify'
import Redis from 'ioredis'
import pg from 'pg'
import { createSessionService } from '../../clients/node/dist/index.js'

const config = { sessionTtl: 604800, accessTokenTtl: 900, tenant: process.env.TENANT ?? 'default' }
const quiet = { debug() {}, error() {} }
let sessions
if (process.env.STORE === 'valkey') {
  const { valkeySessions } = await import('./valkey-sessions.mjs')
  sessions = valkeySessions(new Redis({ path: process.env.REDIS_SOCKET }), config)
} else {
  sessions = createSessionService(new pg.Pool({ max: Number(process.env.POOL ?? 8) }), quiet, config)
}

const seed = Number(process.env.SEED ?? 0)
if (seed > 0) {
  const tokens = []
  for (let i = 0; i < seed; i++) {
    const made = await sessions.createSession(`did:plc:bench-app-${i}`, `user${i}.bench`)
    tokens.push(made.accessToken)
  }
  fs.writeFileSync(process.env.TOKENS, tokens.join('\n') + '\n')
}

const app = Fastify({ logger: false })
app.get('/api/me', async (request, reply) => {
  const header = request.headers.authorization
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return reply.code(401).send({ error: 'Unauthorized' })
  const session = await sessions.validateAccessToken(header.slice(7))
  if (session === undefined) return reply.code(401).send({ error: 'Unauthorized' })
  return { did: session.did, handle: session.handle }
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
console.log(`listening on ${process.env.PORT}`)
