// valkey-sessions.mjs: the Valkey session store of Barazo's AppView, as its design describes it
// (docs/benchmarks.md, Method), with ioredis: the session JSON under barazo:session:data:<sid>,
// sha256(access token) -> sid under barazo:session:access:, a per-DID set. Written for the
// benchmark from the design, each command awaited in turn as the design does.
import crypto from 'node:crypto'

const DATA = 'barazo:session:data:'
const ACCESS = 'barazo:session:access:'
const BY_DID = 'barazo:session:did:'
const sha256 = (value) => crypto.createHash('sha256').update(value).digest('hex')

export function valkeySessions(redis, { sessionTtl, accessTokenTtl }) {
  return {
    async createSession(did, handle) {
      const sid = crypto.randomBytes(32).toString('hex')
      const accessToken = crypto.randomBytes(32).toString('hex')
      const now = Date.now()
      const session = { sid, did, handle, accessTokenHash: sha256(accessToken),
                        accessTokenExpiresAt: now + accessTokenTtl * 1000, createdAt: now }
      await redis.set(DATA + sid, JSON.stringify(session), 'EX', sessionTtl)
      await redis.set(ACCESS + session.accessTokenHash, sid, 'EX', accessTokenTtl)
      await redis.sadd(BY_DID + did, sid)
      await redis.expire(BY_DID + did, sessionTtl)
      return { ...session, accessToken }
    },
    async validateAccessToken(accessToken) {
      const sid = await redis.get(ACCESS + sha256(accessToken))
      if (sid === null) return undefined
      const data = await redis.get(DATA + sid)
      return data === null ? undefined : JSON.parse(data)
    },
  }
}
