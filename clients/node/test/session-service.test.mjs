// The drop-in against the real local cluster (libpq environment from scripts/cluster): each
// behaviour Barazo's own unit tests check of its Valkey SessionService.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'

import { createSessionService } from '../dist/index.js'

const pool = new pg.Pool({ max: 4 })
const tenant = `node-dropin-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
const lines = []
const logger = {
  debug: (fields, message) => lines.push(JSON.stringify({ level: 'debug', ...fields, message })),
  error: (fields, message) => lines.push(JSON.stringify({ level: 'error', ...fields, err: String(fields.err), message })),
}
const config = { sessionTtl: 3600, accessTokenTtl: 60, tenant }
const service = createSessionService(pool, logger, config)
const issued = [] // every raw token the service handed out
const did = (name) => `did:plc:${name}-${crypto.randomBytes(6).toString('hex')}`

async function create(user, handle = 'someone.test') {
  const session = await service.createSession(user, handle)
  issued.push(session.sid, session.accessToken)
  return session
}

before(async () => {
  await pool.query('SELECT authflow.tenant_set($1)', [tenant])
})
after(async () => {
  await pool.query('DELETE FROM authflow.tenants WHERE name = $1', [tenant])
  await pool.end()
})

describe('createSession', () => {
  test('returns a session with both tokens, unique per call', async () => {
    const user = did('create')
    const a = await create(user, 'alice.test')
    const b = await create(user, 'alice.test')
    assert.equal(a.did, user)
    assert.equal(a.handle, 'alice.test')
    assert.notEqual(a.sid, b.sid)
    assert.notEqual(a.accessToken, b.accessToken)
    assert.notEqual(a.accessToken, a.sid)
    assert.equal(a.accessTokenHash, crypto.createHash('sha256').update(a.accessToken).digest('hex'))
  })

  test('honours the configured TTLs', async () => {
    const before = Date.now()
    const session = await create(did('ttl'))
    const { rows } = await pool.query(
      `SELECT extract(epoch FROM expires_at) * 1000 AS expires, extract(epoch FROM created_at) * 1000 AS created
         FROM authflow.session_list($1, $2)`,
      [session.did, tenant]
    )
    assert.equal(rows.length, 1)
    assert.ok(Math.abs(session.accessTokenExpiresAt - session.createdAt - config.accessTokenTtl * 1000) < 1000)
    assert.ok(Math.abs(Number(rows[0].expires) - Number(rows[0].created) - config.sessionTtl * 1000) < 1000)
    assert.ok(session.createdAt >= before - 1000 && session.createdAt <= Date.now() + 1000)
  })

  test('never stores a raw token', async () => {
    const session = await create(did('stored'))
    const secrets = [session.sid, session.accessToken].map((t) => t.slice(37))
    const { rows } = await pool.query(
      `SELECT count(*)::int AS hits FROM authflow.sessions AS s
        WHERE position($1 IN s::text) > 0 OR position($2 IN s::text) > 0
           OR position(encode(convert_to($1, 'UTF8'), 'hex') IN s::text) > 0`,
      secrets
    )
    assert.equal(rows[0].hits, 0)
    const stored = await pool.query(
      `SELECT count(*)::int AS n FROM authflow.sessions WHERE access_hash = (authflow.token_parse($1)).secret_hash`,
      [session.accessToken]
    )
    assert.equal(stored.rows[0].n, 1, 'only the hash of the secret is there')
  })
})

describe('validateAccessToken', () => {
  test('returns the session of a live access token', async () => {
    const session = await create(did('validate'), 'bob.test')
    const found = await service.validateAccessToken(session.accessToken)
    assert.equal(found?.did, session.did)
    assert.equal(found?.handle, 'bob.test')
    assert.equal(found?.accessTokenHash, session.accessTokenHash)
    assert.equal(found?.createdAt, session.createdAt)
    assert.equal('accessToken' in found, false, 'no raw token in a validated session')
  })

  test('returns undefined for unknown, malformed and refresh tokens', async () => {
    const session = await create(did('invalid'))
    assert.equal(await service.validateAccessToken('not-a-token'), undefined)
    assert.equal(await service.validateAccessToken(''), undefined)
    assert.equal(await service.validateAccessToken(session.sid), undefined)
    // Another last character of the secret (its last sextet carries two bits: A and E differ there).
    const last = session.accessToken.at(-1) === 'A' ? 'E' : 'A'
    assert.equal(await service.validateAccessToken(session.accessToken.slice(0, -1) + last), undefined)
  })

  test('returns undefined for a token of another tenant', async () => {
    const other = await pool.query(`SELECT access_token FROM authflow.session_create($1)`, [did('other-tenant')])
    issued.push(other.rows[0].access_token)
    assert.equal(await service.validateAccessToken(other.rows[0].access_token), undefined)
  })
})

describe('refreshSession', () => {
  test('keeps sid and createdAt, issues a new access token and kills the old one', async () => {
    const session = await create(did('refresh'), 'carol.test')
    const refreshed = await service.refreshSession(session.sid)
    assert.ok(refreshed)
    issued.push(refreshed.accessToken)
    assert.equal(refreshed.sid, session.sid)
    assert.equal(refreshed.createdAt, session.createdAt)
    assert.equal(refreshed.did, session.did)
    assert.equal(refreshed.handle, 'carol.test')
    assert.notEqual(refreshed.accessToken, session.accessToken)
    assert.notEqual(refreshed.accessTokenHash, session.accessTokenHash)
    assert.equal(await service.validateAccessToken(session.accessToken), undefined, 'the old access token is dead')
    assert.equal((await service.validateAccessToken(refreshed.accessToken))?.did, session.did)
  })

  test('the same sid refreshes again and again (no rotation: the cookie never changes)', async () => {
    const session = await create(did('refresh-again'))
    const { rows } = await pool.query('SELECT refresh_rotation FROM authflow.tenant_get($1)', [tenant])
    assert.equal(rows[0].refresh_rotation, false)
    for (let i = 0; i < 3; i++) {
      const refreshed = await service.refreshSession(session.sid)
      assert.equal(refreshed?.sid, session.sid)
      issued.push(refreshed.accessToken)
    }
  })

  test('returns undefined for an unknown or deleted session', async () => {
    assert.equal(await service.refreshSession('afr_nope'), undefined)
    const session = await create(did('refresh-gone'))
    await service.deleteSession(session.sid)
    assert.equal(await service.refreshSession(session.sid), undefined)
  })
})

describe('deleteSession', () => {
  test('removes the session: its access token no longer validates', async () => {
    const session = await create(did('delete'))
    await service.deleteSession(session.sid)
    assert.equal(await service.validateAccessToken(session.accessToken), undefined)
    await service.deleteSession(session.sid) // a second delete is no error
  })
})

describe('deleteAllSessionsForDid', () => {
  test('returns the live count, then 0', async () => {
    const user = did('delete-all')
    const sessions = [await create(user), await create(user), await create(user)]
    assert.equal(await service.deleteAllSessionsForDid(user), 3)
    for (const session of sessions) assert.equal(await service.validateAccessToken(session.accessToken), undefined)
    assert.equal(await service.deleteAllSessionsForDid(user), 0)
  })
})

describe('errors', () => {
  test('are logged and re-thrown', async () => {
    const broken = createSessionService(pool, logger, { ...config, tenant: 'no-such-tenant-here' })
    const before = lines.length
    await assert.rejects(broken.deleteAllSessionsForDid(did('error')), /tenant "no-such-tenant-here" does not exist/)
    assert.ok(lines.slice(before).some((line) => line.includes('Failed to delete all sessions for DID')))
  })
})

describe('logging', () => {
  test('carries no token', () => {
    assert.ok(issued.length >= 20, 'the tests above handed out tokens')
    assert.ok(lines.length >= 10, 'and logged')
    const log = lines.join('\n')
    for (const token of issued) {
      const secret = token.slice(37) // after <prefix>_<row id>_ (the secret may itself hold a '_')
      assert.equal(log.includes(secret), false, `a token reached the log (${token.slice(0, 6)}): ${lines.find((l) => l.includes(secret))?.replace(secret, "<secret>")}`)
    }
  })
})
