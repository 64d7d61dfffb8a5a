-- Anonymous users, and the refresh-token lookup the CLI flow shares.

CREATE OR REPLACE FUNCTION authflow.user_create_anonymous(tenant text DEFAULT 'default', client_address text DEFAULT NULL,
                                                          user_agent text DEFAULT NULL)
RETURNS TABLE (user_id text, session_id uuid, refresh_token text, access_token text,
               access_expires_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  new_user_id text := gen_random_uuid()::text;
  key bigint;
  created record;
  wal_before pg_lsn := authflow.transaction_wal_end();
BEGIN
  INSERT INTO authflow.users AS u (tenant_id, user_id, is_anonymous) VALUES (settings.tenant_id, new_user_id, true)
  RETURNING u.user_key INTO key;
  PERFORM authflow.relax_commit_after(wal_before);  -- a volatile session's new user: see relax_commit_after
  SELECT * INTO created FROM authflow.session_insert(settings, key, 'anonymous', NULL, client_address, user_agent);
  user_id := new_user_id;
  session_id := created.session_id;
  refresh_token := created.refresh_token;
  access_token := created.access_token;
  access_expires_at := created.access_expires_at;
  expires_at := created.expires_at;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.user_create_anonymous(text, text, text) IS
  'Creates an anonymous user (a fresh uuid as user_id) with a session, and returns both tokens, raw, once';

CREATE OR REPLACE FUNCTION authflow.user_upgrade(user_id text, handle text DEFAULT NULL, tenant text DEFAULT 'default')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_user_arguments(user_id, handle, tenant);
BEGIN
  UPDATE authflow.users AS u SET is_anonymous = false, handle = coalesce(user_upgrade.handle, u.handle)
   WHERE u.tenant_id = settings.tenant_id AND u.user_id = user_upgrade.user_id AND u.is_anonymous;
  RETURN FOUND;
END $$;
COMMENT ON FUNCTION authflow.user_upgrade(text, text, text) IS
  'Makes an anonymous user a regular one in place (same user_id; its sessions keep working); false when there is no such anonymous user';

CREATE OR REPLACE FUNCTION authflow.session_of_refresh_token(refresh_token text)
RETURNS authflow.refresh_session
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ROW(s.session_id, u.user_key, u.user_id, u.tenant_id, u.is_anonymous, s.expires_at > now())::authflow.refresh_session
    FROM authflow.token_parse(refresh_token, 'refresh') AS p
    JOIN authflow.sessions AS s ON s.session_id = p.row_id
    JOIN authflow.users AS u ON u.user_key = s.user_key
   WHERE authflow.secure_equal(s.refresh_hash, p.secret_hash)
$$;
COMMENT ON FUNCTION authflow.session_of_refresh_token(text) IS
  'Internal: the session and user of a refresh token (live or expired); NULL when the token matches no session';
