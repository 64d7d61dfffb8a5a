-- Sessions: create, validate, refresh, revoke, list. Each is one transaction; validate only reads.

-- A first-time user's row need not wait for the WAL flush while sessions are volatile
-- (extension/pg_commit.cpp has the exact rule; docs/operations.md what a crash can lose).
CREATE OR REPLACE FUNCTION authflow.transaction_wal_end()
RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'authflow_transaction_wal_end'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION authflow.transaction_wal_end() IS 'Internal: the end of the WAL this transaction has written so far (0/0 when none)';

CREATE OR REPLACE FUNCTION authflow.relax_commit_after(since pg_lsn)
RETURNS void
AS 'MODULE_PATHNAME', 'authflow_relax_commit_after'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION authflow.relax_commit_after(pg_lsn) IS
  'Internal: after a user row''s insert, let the transaction commit without waiting for the WAL flush when it wrote no WAL before (since = 0/0) and writes none after, and sessions are unlogged at commit';

-- instant_after is at + span computed in UTC, which makes it IMMUTABLE (timestamptz + interval
-- is STABLE: it reads TimeZone). Citus refuses a STABLE function over columns in an UPDATE, and
-- the refresh computes the new expiry from the tenant's TTLs.
CREATE OR REPLACE FUNCTION authflow.instant_after(at timestamptz, span interval)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (timezone('UTC', at) + span) AT TIME ZONE 'UTC';
COMMENT ON FUNCTION authflow.instant_after(timestamptz, interval) IS
  'Internal: at + span, computed in UTC (immutable, unlike timestamptz + interval)';

-- user_ensure returns the user_key of (tenant, user_id), creating the user when missing and
-- updating its handle when a different one is given. It writes nothing when nothing changes.
CREATE OR REPLACE FUNCTION authflow.user_ensure(owner_tenant_id integer, owner_user_id text, new_handle text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  key bigint;
  current_handle text;
  wal_before pg_lsn;
BEGIN
  SELECT u.user_key, u.handle INTO key, current_handle
    FROM authflow.users AS u WHERE u.tenant_id = owner_tenant_id AND u.user_id = owner_user_id;
  IF NOT FOUND THEN
    wal_before := authflow.transaction_wal_end();
    INSERT INTO authflow.users AS u (tenant_id, user_id, handle) VALUES (owner_tenant_id, owner_user_id, new_handle)
      ON CONFLICT (tenant_id, user_id) DO UPDATE SET handle = coalesce(excluded.handle, u.handle)
      RETURNING u.user_key INTO key;
    PERFORM authflow.relax_commit_after(wal_before);  -- see relax_commit_after
  ELSIF new_handle IS NOT NULL AND new_handle IS DISTINCT FROM current_handle THEN
    UPDATE authflow.users AS u SET handle = new_handle WHERE u.user_key = key;
  END IF;
  RETURN key;
END $$;
COMMENT ON FUNCTION authflow.user_ensure(integer, text, text) IS
  'Internal: the user_key of a user, created when missing; a given handle replaces the stored one';

-- session_insert creates the session row of a user and returns its tokens (raw, once).
CREATE OR REPLACE FUNCTION authflow.session_insert(settings authflow.tenants, owner_key bigint, session_kind text, client_info jsonb,
                                                   client_address text DEFAULT NULL, user_agent text DEFAULT NULL)
RETURNS TABLE (session_id uuid, refresh_token text, access_token text, access_expires_at timestamptz,
               expires_at timestamptz, created_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id uuid := authflow.time_ordered_uuid();  -- a compact primary key (see token.hpp)
  at timestamptz := now();
  expiry timestamptz := authflow.session_expiry(settings, at, at);
  refresh record;
  access record;
BEGIN
  SELECT * INTO refresh FROM authflow.token_issue('refresh', id);
  SELECT * INTO access FROM authflow.token_issue('access', id);
  INSERT INTO authflow.sessions (access_expires_at, expires_at, created_at, refreshed_at, user_key, session_id,
                                 kind, access_hash, refresh_hash, client, client_address, user_agent)
  VALUES (least(at + settings.access_token_ttl, expiry), expiry, at, at, owner_key, id,
          session_kind, access.secret_hash, refresh.secret_hash, client_info,
          authflow.require_client_address(session_insert.client_address), left(session_insert.user_agent, 512));
  session_id := id;
  refresh_token := refresh.token;
  access_token := access.token;
  access_expires_at := least(at + settings.access_token_ttl, expiry);
  expires_at := expiry;
  created_at := at;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.session_insert(authflow.tenants, bigint, text, jsonb, text, text) IS
  'Internal: inserts a session for a user and returns its tokens';

-- session_create is C++ (extension/pg_session_write.cpp): one saved lookup of the tenant and the
-- user, one saved insert; argument errors, unknown tenants and new users go through the helpers
-- above, which own their messages.
CREATE OR REPLACE FUNCTION authflow.session_create(user_id text, handle text DEFAULT NULL, client jsonb DEFAULT NULL,
                                        tenant text DEFAULT 'default', client_address text DEFAULT NULL,
                                        user_agent text DEFAULT NULL)
RETURNS TABLE (session_id uuid, refresh_token text, access_token text, access_expires_at timestamptz,
               expires_at timestamptz, created_at timestamptz)
AS 'MODULE_PATHNAME', 'authflow_session_create'
LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION authflow.session_create(text, text, jsonb, text, text, text) IS
  'Creates a session for a user (created when missing; a given handle is stored), recording the client''s address and user agent when given, and returns both tokens, raw, once';

-- session_validate is the hot path: C++ (extension/pg_session_validate.cpp), three primary-key
-- probes with no executor around them. It reads the tables like a SECURITY DEFINER function.
CREATE OR REPLACE FUNCTION authflow.session_validate(access_token text)
RETURNS TABLE (session_id uuid, tenant text, user_id text, handle text, is_anonymous boolean,
               access_expires_at timestamptz, expires_at timestamptz, created_at timestamptz)
AS 'MODULE_PATHNAME', 'authflow_session_validate'
LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 1;
COMMENT ON FUNCTION authflow.session_validate(text) IS
  'The session of a live access token; no row when the token is unknown, malformed, of another kind, expired, replaced or revoked. Reads only.';

-- session_validate_routed answers exactly like session_validate, through the planner: the token
-- is parsed first, so each statement carries the session id as a parameter. On a cluster where
-- sessions are sharded by session_id (Citus), that routes it to one shard, where the C++ version,
-- which reads local tables directly, would see none. See docs/scale-out.md.
CREATE OR REPLACE FUNCTION authflow.session_validate_routed(access_token text)
RETURNS TABLE (session_id uuid, tenant text, user_id text, handle text, is_anonymous boolean,
               access_expires_at timestamptz, expires_at timestamptz, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  token record;
BEGIN
  SELECT * INTO token FROM authflow.token_parse(access_token, 'access');
  IF token.row_id IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT s.session_id, t.name, u.user_id, u.handle, u.is_anonymous, s.access_expires_at, s.expires_at, s.created_at
      FROM authflow.sessions AS s
      JOIN authflow.users AS u ON u.user_key = s.user_key
      JOIN authflow.tenants AS t ON t.tenant_id = u.tenant_id
     WHERE s.session_id = token.row_id AND s.access_expires_at > now() AND s.expires_at > now()
       AND authflow.secure_equal(s.access_hash, token.secret_hash);
END $$;
COMMENT ON FUNCTION authflow.session_validate_routed(text) IS
  'The same as session_validate, planned as ordinary queries keyed by the session id: for sharded (Citus) deployments';

-- session_refresh and session_revoke are C++ (extension/pg_session_write.cpp): one saved
-- statement each, run with the token parsed and hashed once.
CREATE OR REPLACE FUNCTION authflow.session_refresh(refresh_token text)
RETURNS TABLE (session_id uuid, user_id text, handle text, access_token text, access_expires_at timestamptz,
               expires_at timestamptz, created_at timestamptz, new_refresh_token text)
AS 'MODULE_PATHNAME', 'authflow_session_refresh'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION authflow.session_refresh(text) IS
  'A new access token for a live refresh token (the previous one stops working at once); expiry slides, never past the tenant''s cap. With the tenant''s refresh_rotation, also a new refresh token (else new_refresh_token is NULL: keep the one you have); the replaced one answers with the same pair during the grace window, and after it revokes the session (reuse). No row when invalid.';

CREATE OR REPLACE FUNCTION authflow.session_revoke(refresh_token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'authflow_session_revoke'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION authflow.session_revoke(text) IS
  'Deletes the session of a refresh token; true when a live session was revoked';

-- sessions_delete_of_user deletes the sessions of a user (but kept_session_id, when given),
-- records and sends sessions_revoked_all, and returns how many of them were live. What they
-- could still become dies with them (a CLI attempt they completed, see cli_poll).
CREATE OR REPLACE FUNCTION authflow.sessions_delete_of_user(settings authflow.tenants, owner_user_id text, kept_session_id uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  revoked integer;
  at timestamptz := now();  -- a parameter in the RETURNING below: Citus allows no now() there
BEGIN
  -- A pick-up of a CLI or device login of this user that is making a session finishes first, so
  -- that the DELETE sees that session too (authflow.attempt_approver_live).
  PERFORM 1 FROM authflow.users AS u WHERE u.tenant_id = settings.tenant_id AND u.user_id = owner_user_id
    FOR NO KEY UPDATE;
  WITH deleted AS (
    DELETE FROM authflow.sessions AS s
     USING authflow.users AS u
     WHERE u.tenant_id = settings.tenant_id AND u.user_id = owner_user_id AND s.user_key = u.user_key
       AND s.session_id IS DISTINCT FROM kept_session_id
    RETURNING s.expires_at > at AS was_live)
  SELECT count(*) FILTER (WHERE was_live) INTO revoked FROM deleted;
  PERFORM authflow.security_event(settings.tenant_id, 'sessions_revoked_all', owner_user_id, NULL,
                                  jsonb_strip_nulls(jsonb_build_object('revoked', revoked, 'kept_session_id', kept_session_id)),
                                  true);
  RETURN revoked;
END $$;
COMMENT ON FUNCTION authflow.sessions_delete_of_user(authflow.tenants, text, uuid) IS
  'Internal: deletes every session of a user but one (or all, kept_session_id NULL), records and notifies sessions_revoked_all; the live ones deleted';

CREATE OR REPLACE FUNCTION authflow.session_revoke_all(user_id text, tenant text DEFAULT 'default')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN authflow.sessions_delete_of_user(authflow.require_user_arguments(user_id, NULL, tenant), user_id, NULL);
END $$;
COMMENT ON FUNCTION authflow.session_revoke_all(text, text) IS
  'Deletes every session of a user; returns how many of them were live';

-- session_reuse_detected ends a session whose rotated-away refresh token came back after the
-- grace window (stolen and replayed, or a client that kept an old one): every token of it dies,
-- and the event is recorded and sent.
CREATE OR REPLACE FUNCTION authflow.session_reuse_detected(reused_session_id uuid, generations_back integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  gone record;
BEGIN
  DELETE FROM authflow.sessions AS s WHERE s.session_id = reused_session_id RETURNING s.user_key INTO gone;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM authflow.security_event(u.tenant_id, 'refresh_token_reuse', u.user_id, reused_session_id,
                                  jsonb_build_object('generations_back', generations_back), true)
     FROM authflow.users AS u WHERE u.user_key = gone.user_key;
  RETURN true;
END $$;
COMMENT ON FUNCTION authflow.session_reuse_detected(uuid, integer) IS
  'Internal: revokes a session whose replaced refresh token was presented again, and records and notifies refresh_token_reuse';

CREATE OR REPLACE FUNCTION authflow.session_list(user_id text, tenant text DEFAULT 'default')
RETURNS TABLE (session_id uuid, kind text, created_at timestamptz, refreshed_at timestamptz,
               access_expires_at timestamptz, expires_at timestamptz, client jsonb, client_address text, user_agent text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_user_arguments(user_id, NULL, tenant);
BEGIN
  RETURN QUERY
    SELECT s.session_id, s.kind, s.created_at, s.refreshed_at, s.access_expires_at, s.expires_at, s.client,
           s.client_address, s.user_agent
      FROM authflow.users AS u JOIN authflow.sessions AS s ON s.user_key = u.user_key
     WHERE u.tenant_id = settings.tenant_id AND u.user_id = session_list.user_id AND s.expires_at > now()
     ORDER BY s.created_at, s.session_id;
END $$;
COMMENT ON FUNCTION authflow.session_list(text, text) IS
  'The live sessions of a user, oldest first, with what was seen of each device (client address, user agent; refreshed_at is the last activity); no secrets';

CREATE OR REPLACE FUNCTION authflow.session_revoke_by_id(user_id text, session_id uuid, tenant text DEFAULT 'default')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_session_arguments(user_id, session_id, tenant);
  revoked boolean;
  at timestamptz := now();
BEGIN
  DELETE FROM authflow.sessions AS s USING authflow.users AS u
   WHERE s.session_id = session_revoke_by_id.session_id AND s.user_key = u.user_key
     AND u.tenant_id = settings.tenant_id AND u.user_id = session_revoke_by_id.user_id
  RETURNING s.expires_at > at INTO revoked;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM authflow.security_event(settings.tenant_id, 'session_revoked', session_revoke_by_id.user_id,
                                  session_revoke_by_id.session_id, '{"by": "id"}', true);
  RETURN revoked;
END $$;
COMMENT ON FUNCTION authflow.session_revoke_by_id(text, uuid, text) IS
  'Revokes one session of a user by its id ("sign out that device"); true when a live session was revoked, false when the user has no such session';

-- session_revoke_others signs a user out everywhere but on one device (the one asking).
CREATE OR REPLACE FUNCTION authflow.session_revoke_others(user_id text, session_id uuid, tenant text DEFAULT 'default')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN authflow.sessions_delete_of_user(authflow.require_session_arguments(user_id, session_id, tenant), user_id, session_id);
END $$;
COMMENT ON FUNCTION authflow.session_revoke_others(text, uuid, text) IS
  'Deletes every session of a user but one ("sign out everywhere else"); returns how many of them were live';

CREATE OR REPLACE FUNCTION authflow.user_set_handle(user_id text, handle text, tenant text DEFAULT 'default')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_user_arguments(user_id, handle, tenant);
BEGIN
  UPDATE authflow.users AS u SET handle = user_set_handle.handle
   WHERE u.tenant_id = settings.tenant_id AND u.user_id = user_set_handle.user_id;
  RETURN FOUND;
END $$;
COMMENT ON FUNCTION authflow.user_set_handle(text, text, text) IS
  'Sets (or, with NULL, clears) a user''s handle; every session reports it from then on. false when there is no such user.';
