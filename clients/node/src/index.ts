// @authflow/session-service: the SessionService of Barazo's AppView (createSession,
// validateAccessToken, refreshSession, deleteSession, deleteAllSessionsForDid) on authflow, with
// node-postgres, in place of the Valkey implementation. The refresh token plays the part of the
// session id (`sid`): it is what the HTTP-only cookie carries. authflow stores only hashes of
// token secrets; this module stores nothing and logs no token (a short hash at most).
import crypto from 'node:crypto'
import type { Pool } from 'pg'

export interface SessionConfig {
  /** Session TTL in seconds (sliding: each refresh extends it); Barazo's default 604800 (7 days) */
  sessionTtl: number
  /** Access token TTL in seconds; Barazo's default 900 (15 minutes) */
  accessTokenTtl: number
  /** authflow tenant holding the sessions; 'default' when absent */
  tenant?: string
}

/** A session as Barazo's service returns it. No raw token. */
export interface Session {
  /** Session identifier: the refresh token (goes in the HTTP-only cookie) */
  sid: string
  /** The user's AT Protocol DID */
  did: string
  /** The user's AT Protocol handle */
  handle: string
  /** SHA-256 (hex) of the current access token: computed, never stored */
  accessTokenHash: string
  /** When the access token expires (epoch ms) */
  accessTokenExpiresAt: number
  /** When the session was created (epoch ms) */
  createdAt: number
}

/** A session with its raw access token, for the HTTP response only. */
export interface SessionWithToken extends Session {
  accessToken: string
}

export interface SessionService {
  createSession(did: string, handle: string): Promise<SessionWithToken>
  validateAccessToken(accessToken: string): Promise<Session | undefined>
  refreshSession(sid: string): Promise<SessionWithToken | undefined>
  deleteSession(sid: string): Promise<void>
  deleteAllSessionsForDid(did: string): Promise<number>
}

/** The logger shape Barazo passes (pino's): an object of fields, then a message. */
export interface Logger {
  debug(fields: object, message: string): void
  error(fields: object, message: string): void
}

function sha256(value: string): string {
  return crypto.createHash('sha256').update(value).digest('hex')
}

/** What a log line may say about a token: 8 hex characters of its hash. */
function forLog(token: string): string {
  return sha256(token).slice(0, 8)
}

/** authflow's token format: anything else can never be valid, so no query is sent for it. */
function looksLikeToken(value: unknown, prefix: string): value is string {
  return typeof value === 'string' && value.length === 80 && value.startsWith(prefix)
}

interface SessionRow {
  user_id: string
  handle: string | null
  access_token?: string
  access_expires_at: Date
  created_at: Date
}

function toSession(sid: string, row: SessionRow, accessToken: string): Session {
  return {
    sid,
    did: row.user_id,
    handle: row.handle ?? '',
    accessTokenHash: sha256(accessToken),
    accessTokenExpiresAt: row.access_expires_at.getTime(),
    createdAt: row.created_at.getTime(),
  }
}

export function createSessionService(pool: Pool, logger: Logger, config: SessionConfig): SessionService {
  const tenant = config.tenant ?? 'default'
  let settingsApplied: Promise<void> | undefined

  // The TTLs are the tenant's settings in authflow: brought to the config's values once, on
  // first use (needs a role granted authflow's admin functions, or a tenant already set so).
  function applySettings(): Promise<void> {
    settingsApplied ??= (async () => {
      const { rows } = await pool.query(
        `SELECT extract(epoch FROM session_ttl)::float8 AS session_ttl,
                extract(epoch FROM access_token_ttl)::float8 AS access_token_ttl, refresh_rotation
           FROM authflow.tenant_get($1)`,
        [tenant]
      )
      const current = rows[0] as { session_ttl: number; access_token_ttl: number; refresh_rotation: boolean } | undefined
      if (
        current?.session_ttl === config.sessionTtl &&
        current.access_token_ttl === config.accessTokenTtl &&
        !current.refresh_rotation
      )
        return
      // Barazo's sid is the session's one refresh token for its whole life: no rotation.
      await pool.query(
        `SELECT authflow.tenant_set($1, session_ttl => make_interval(secs => $2),
                                    access_token_ttl => make_interval(secs => $3), refresh_rotation => false)`,
        [tenant, config.sessionTtl, config.accessTokenTtl]
      )
    })().catch((err: unknown) => {
      settingsApplied = undefined
      throw err
    })
    return settingsApplied
  }

  async function createSession(did: string, handle: string): Promise<SessionWithToken> {
    try {
      await applySettings()
      const { rows } = await pool.query({
        name: 'authflow_session_create',
        text: `SELECT c.refresh_token, c.access_token, c.access_expires_at, c.created_at, $1::text AS user_id,
                      $2::text AS handle
                 FROM authflow.session_create($1, $2, NULL, $3) AS c`,
        values: [did, handle, tenant],
      })
      const row = rows[0] as SessionRow & { refresh_token: string; access_token: string }
      const session = toSession(row.refresh_token, row, row.access_token)
      logger.debug({ did, sid: forLog(row.refresh_token) }, 'Session created')
      return { ...session, accessToken: row.access_token }
    } catch (err: unknown) {
      logger.error({ err, did }, 'Failed to create session')
      throw err
    }
  }

  async function validateAccessToken(accessToken: string): Promise<Session | undefined> {
    if (!looksLikeToken(accessToken, 'afa_')) return undefined
    try {
      // The session's refresh token is not known here: sid is the session id, as Barazo's
      // validate returns it for display, never a credential.
      const { rows } = await pool.query({
        name: 'authflow_session_validate', // prepared once per connection: validate is every request
        text: `SELECT session_id::text, user_id, handle, access_expires_at, created_at
                 FROM authflow.session_validate($1) WHERE tenant = $2`,
        values: [accessToken, tenant],
      })
      const row = rows[0] as (SessionRow & { session_id: string }) | undefined
      if (row === undefined) {
        logger.debug({ tokenHash: forLog(accessToken) }, 'Access token not found')
        return undefined
      }
      return toSession(row.session_id, row, accessToken)
    } catch (err: unknown) {
      logger.error({ err, tokenHash: forLog(accessToken) }, 'Failed to validate access token')
      throw err
    }
  }

  async function refreshSession(sid: string): Promise<SessionWithToken | undefined> {
    if (!looksLikeToken(sid, 'afr_')) return undefined
    try {
      await applySettings()
      const { rows } = await pool.query({
        name: 'authflow_session_refresh',
        text: 'SELECT user_id, handle, access_token, access_expires_at, created_at FROM authflow.session_refresh($1)',
        values: [sid],
      })
      const row = rows[0] as (SessionRow & { access_token: string }) | undefined
      // A session of another tenant is not this service's (validate answers within the statement's
      // snapshot, so it is asked after the refresh committed).
      const owned =
        row !== undefined &&
        (await pool.query('SELECT 1 FROM authflow.session_validate($1) WHERE tenant = $2', [row.access_token, tenant]))
          .rowCount === 1
      if (row === undefined || !owned) {
        logger.debug({ sid: forLog(sid) }, 'Session not found for refresh')
        return undefined
      }
      logger.debug({ sid: forLog(sid) }, 'Session refreshed')
      return { ...toSession(sid, row, row.access_token), accessToken: row.access_token }
    } catch (err: unknown) {
      logger.error({ err, sid: forLog(sid) }, 'Failed to refresh session')
      throw err
    }
  }

  async function deleteSession(sid: string): Promise<void> {
    if (!looksLikeToken(sid, 'afr_')) return
    try {
      const { rows } = await pool.query('SELECT authflow.session_revoke($1) AS revoked', [sid])
      logger.debug({ sid: forLog(sid), revoked: (rows[0] as { revoked: boolean }).revoked }, 'Session deleted')
    } catch (err: unknown) {
      logger.error({ err, sid: forLog(sid) }, 'Failed to delete session')
      throw err
    }
  }

  async function deleteAllSessionsForDid(did: string): Promise<number> {
    try {
      const { rows } = await pool.query('SELECT authflow.session_revoke_all($1, $2) AS count', [did, tenant])
      const count = (rows[0] as { count: number }).count
      logger.debug({ did, count }, 'All sessions deleted for DID')
      return count
    } catch (err: unknown) {
      logger.error({ err, did }, 'Failed to delete all sessions for DID')
      throw err
    }
  }

  return { createSession, validateAccessToken, refreshSession, deleteSession, deleteAllSessionsForDid }
}
