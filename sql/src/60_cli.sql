-- CLI login: start, poll, check, claim the anonymous session, complete (with an optional merge).
-- Messages are those of Stack Auth's CLI endpoints; each failure has its own SQLSTATE (AF0xx,
-- see docs/sql-api.md).

CREATE OR REPLACE FUNCTION authflow.cli_start(expires_in interval DEFAULT NULL, anon_refresh_token text DEFAULT NULL,
                                   client jsonb DEFAULT NULL, tenant text DEFAULT 'default')
RETURNS TABLE (polling_code text, login_code text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants;
  anon authflow.refresh_session;
  id uuid := gen_random_uuid();
  polling record;
  login record;
  expiry timestamptz;
BEGIN
  PERFORM authflow.require_client(client);
  settings := authflow.require_tenant(tenant);
  IF expires_in IS NOT NULL AND (expires_in <= interval '0' OR expires_in > settings.cli_attempt_max_ttl) THEN
    RAISE EXCEPTION 'expires_in must be greater than 0 and at most %', settings.cli_attempt_max_ttl
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  expiry := now() + coalesce(expires_in, settings.cli_attempt_ttl);

  IF anon_refresh_token IS NOT NULL THEN
    anon := authflow.session_of_refresh_token(anon_refresh_token);
    IF anon.session_id IS NULL THEN
      RAISE EXCEPTION 'Invalid anon refresh token' USING ERRCODE = 'AF001';
    ELSIF anon.tenant_id <> settings.tenant_id THEN
      RAISE EXCEPTION 'Anon refresh token does not belong to this project' USING ERRCODE = 'AF002';
    ELSIF NOT anon.is_live THEN
      RAISE EXCEPTION 'The provided anon refresh token has expired' USING ERRCODE = 'AF003';
    ELSIF NOT anon.is_anonymous THEN
      RAISE EXCEPTION 'The provided refresh token does not belong to an anonymous user' USING ERRCODE = 'AF004';
    END IF;
  END IF;

  SELECT * INTO polling FROM authflow.token_issue('polling', id);
  SELECT * INTO login FROM authflow.token_issue('login', id);
  INSERT INTO authflow.cli_attempts (expires_at, created_at, tenant_id, anon_user_key, attempt_id, anon_session_id,
                                     polling_hash, login_hash, client)
  VALUES (expiry, now(), settings.tenant_id, anon.user_key, id, anon.session_id,
          polling.secret_hash, login.secret_hash, client);
  polling_code := polling.token;
  login_code := login.token;
  expires_at := expiry;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.cli_start(interval, text, jsonb, text) IS
  'Starts a CLI login attempt: a secret polling code for the CLI and a login code for the browser URL';

-- attempt_approver_live: the browser session that completed (or approved) a login attempt is
-- still live, checked where the attempt is picked up. It first takes the approving user's row
-- FOR SHARE, which the FOR NO KEY UPDATE of session_revoke_all and session_revoke_others
-- (sessions_delete_of_user) waits for: a "log out everywhere" racing the pick-up either comes
-- first (then the session is gone here) or waits until the pick-up commits (then its DELETE sees
-- the session the pick-up made). The lock on the session row does the same for a revoke of that
-- session. The CLI and device flows share it.
CREATE OR REPLACE FUNCTION authflow.attempt_approver_live(approver_session_id uuid, approver_user_key bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM 1 FROM authflow.users AS u WHERE u.user_key = approver_user_key FOR SHARE;
  -- A new statement, so a new snapshot: it sees what a revocation the lock waited for did.
  RETURN approver_session_id IS NULL
      OR EXISTS (SELECT 1 FROM authflow.sessions AS s
                  WHERE s.session_id = approver_session_id AND s.expires_at > now() FOR KEY SHARE);
END $$;
COMMENT ON FUNCTION authflow.attempt_approver_live(uuid, bigint) IS
  'Internal: true while the session that completed a CLI attempt or approved a device code is live (true without one: attempts of 0.1.0); locks the user and the session against a concurrent revoke';

CREATE OR REPLACE FUNCTION authflow.cli_poll(polling_code text, tenant text DEFAULT 'default', client_address text DEFAULT NULL,
                                             user_agent text DEFAULT NULL)
RETURNS TABLE (status text, user_id text, refresh_token text, access_token text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  code record;
  attempt authflow.cli_attempts;
  winner bigint;
  created record;
BEGIN
  SELECT * INTO code FROM authflow.token_parse(polling_code, 'polling');
  SELECT * INTO attempt FROM authflow.cli_attempts AS a
   WHERE a.attempt_id = code.row_id AND a.tenant_id = settings.tenant_id
     AND authflow.secure_equal(a.polling_hash, code.secret_hash);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'The polling code is invalid or does not exist.' USING ERRCODE = 'AF010';
  END IF;

  IF attempt.expires_at <= now() THEN
    status := 'expired';
  ELSIF attempt.used_at IS NOT NULL THEN
    status := 'used';
  ELSIF attempt.completed_user_key IS NULL THEN
    status := 'waiting';
  ELSIF NOT authflow.attempt_approver_live(attempt.completed_session_id, attempt.completed_user_key) THEN
    -- The browser session that completed it was revoked (log out, log out everywhere) or ended:
    -- the attempt dies with it, before it mints a session.
    UPDATE authflow.cli_attempts AS a SET expires_at = now() WHERE a.attempt_id = attempt.attempt_id;
    status := 'expired';
  ELSE
    -- Exactly one poll wins: the row lock serializes them, and the losers find used_at set.
    UPDATE authflow.cli_attempts AS a SET used_at = now()
     WHERE a.attempt_id = attempt.attempt_id AND a.used_at IS NULL AND a.expires_at > now()
    RETURNING a.completed_user_key INTO winner;
    IF winner IS NULL THEN
      status := 'used';
    ELSE
      SELECT * INTO created FROM authflow.session_insert(settings, winner, 'cli', attempt.client, client_address, user_agent);
      status := 'success';
      user_id := (SELECT u.user_id FROM authflow.users AS u WHERE u.user_key = winner);
      refresh_token := created.refresh_token;
      access_token := created.access_token;
    END IF;
  END IF;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.cli_poll(text, text, text, text) IS
  'The state of a CLI login attempt: expired (also once the browser session that completed it is revoked), used, waiting, or (exactly once) success with a new cli session of the user who completed it';

-- cli_pending_attempt is the attempt of a login code that can still be completed, or an error.
CREATE OR REPLACE FUNCTION authflow.cli_pending_attempt(login_code text, settings authflow.tenants)
RETURNS authflow.cli_attempts
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  attempt authflow.cli_attempts;
  code record;
BEGIN
  -- Parsed first: the attempt id is then a parameter, and on Citus the lookup is one shard's.
  SELECT * INTO code FROM authflow.token_parse(login_code, 'login');
  SELECT a.* INTO attempt FROM authflow.cli_attempts AS a
   WHERE a.attempt_id = code.row_id AND authflow.secure_equal(a.login_hash, code.secret_hash);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid login code or the code has expired' USING ERRCODE = 'AF020';
  ELSIF attempt.tenant_id <> settings.tenant_id THEN
    RAISE EXCEPTION 'Project ID mismatch; please ensure that you are using the correct app url.' USING ERRCODE = 'AF024';
  ELSIF attempt.completed_user_key IS NOT NULL OR attempt.used_at IS NOT NULL OR attempt.expires_at <= now() THEN
    RAISE EXCEPTION 'Invalid login code or the code has expired' USING ERRCODE = 'AF020';
  END IF;
  RETURN attempt;
END $$;
COMMENT ON FUNCTION authflow.cli_pending_attempt(text, authflow.tenants) IS
  'Internal: the pending attempt of a login code; AF020 when unknown, completed, used or expired, AF024 for another tenant';

-- cli_live_anonymous_user is the CLI's anonymous user of an attempt while its session is live and
-- the user is still anonymous; NULL otherwise.
CREATE OR REPLACE FUNCTION authflow.cli_live_anonymous_user(attempt authflow.cli_attempts)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- PL/pgSQL, not SQL: Citus plans no statement of a SQL function that has parameters.
  RETURN (SELECT u.user_key FROM authflow.sessions AS s JOIN authflow.users AS u ON u.user_key = s.user_key
           WHERE s.session_id = attempt.anon_session_id AND s.expires_at > now() AND u.is_anonymous);
END $$;
COMMENT ON FUNCTION authflow.cli_live_anonymous_user(authflow.cli_attempts) IS
  'Internal: the anonymous user of an attempt''s CLI session, when that session is live and the user still anonymous';

CREATE OR REPLACE FUNCTION authflow.cli_check(login_code text, tenant text DEFAULT 'default')
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  attempt authflow.cli_attempts := authflow.cli_pending_attempt(login_code, authflow.require_tenant(tenant));
BEGIN
  RETURN CASE WHEN authflow.cli_live_anonymous_user(attempt) IS NULL THEN 'none' ELSE 'anonymous' END;
END $$;
COMMENT ON FUNCTION authflow.cli_check(text, text) IS
  '''anonymous'' when the pending attempt has a live CLI session of a still-anonymous user, else ''none''';

CREATE OR REPLACE FUNCTION authflow.cli_claim_anon_session(login_code text, tenant text DEFAULT 'default',
                                                           client_address text DEFAULT NULL, user_agent text DEFAULT NULL)
RETURNS TABLE (user_id text, refresh_token text, access_token text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  attempt authflow.cli_attempts := authflow.cli_pending_attempt(login_code, settings);
  anon_key bigint := authflow.cli_live_anonymous_user(attempt);
  created record;
BEGIN
  IF anon_key IS NOT NULL THEN
    -- One-shot: of concurrent claims, only the first finds anon_claimed_at empty.
    UPDATE authflow.cli_attempts AS a SET anon_claimed_at = now()
     WHERE a.attempt_id = attempt.attempt_id AND a.anon_claimed_at IS NULL
       AND a.completed_user_key IS NULL AND a.used_at IS NULL;
  END IF;
  IF anon_key IS NULL OR NOT FOUND THEN
    RAISE EXCEPTION 'No anonymous session associated with this code' USING ERRCODE = 'AF021';
  END IF;
  SELECT * INTO created FROM authflow.session_insert(settings, anon_key, 'web', attempt.client, client_address, user_agent);
  user_id := (SELECT u.user_id FROM authflow.users AS u WHERE u.user_key = anon_key);
  refresh_token := created.refresh_token;
  access_token := created.access_token;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.cli_claim_anon_session(text, text, text, text) IS
  'A new browser session of the CLI''s anonymous user, once per attempt; the attempt stays waiting';

-- browser_session is the live session of the signed-in browser user who completes a CLI attempt
-- or approves a device code: AF025 for another tenant's token, AF023 for any other that is not live.
CREATE OR REPLACE FUNCTION authflow.browser_session(refresh_token text, settings authflow.tenants)
RETURNS authflow.refresh_session
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  browser authflow.refresh_session := authflow.session_of_refresh_token(refresh_token);
BEGIN
  IF browser.session_id IS NOT NULL AND browser.tenant_id <> settings.tenant_id THEN
    RAISE EXCEPTION 'Refresh token does not belong to this project' USING ERRCODE = 'AF025';
  ELSIF browser.session_id IS NULL OR NOT browser.is_live THEN
    RAISE EXCEPTION 'Invalid refresh token' USING ERRCODE = 'AF023';
  END IF;
  RETURN browser;
END $$;
COMMENT ON FUNCTION authflow.browser_session(text, authflow.tenants) IS
  'Internal: the live session of a browser''s refresh token in the tenant; AF025 for another tenant''s, AF023 otherwise';

CREATE OR REPLACE FUNCTION authflow.cli_complete(login_code text, refresh_token text, merge boolean DEFAULT false,
                                      tenant text DEFAULT 'default')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  attempt authflow.cli_attempts := authflow.cli_pending_attempt(login_code, settings);
  browser authflow.refresh_session;
  anon_key bigint;
BEGIN
  IF refresh_token IS NULL OR refresh_token = '' THEN
    RAISE EXCEPTION 'refresh_token is required when mode is ''complete''' USING ERRCODE = 'AF022';
  END IF;
  browser := authflow.browser_session(refresh_token, settings);

  -- Claim the attempt first: concurrent completions serialize on its row, and the losers fail.
  UPDATE authflow.cli_attempts AS a SET completed_user_key = browser.user_key, completed_at = now(),
                                        completed_session_id = browser.session_id
   WHERE a.attempt_id = attempt.attempt_id AND a.completed_user_key IS NULL AND a.used_at IS NULL
     AND a.expires_at > now()
  RETURNING a.* INTO attempt;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid login code or the code has expired' USING ERRCODE = 'AF020';
  END IF;

  PERFORM authflow.security_event(settings.tenant_id, 'cli_login_completed', browser.user_id, browser.session_id,
                                  jsonb_build_object('merge', coalesce(merge, false)), false);

  -- Only on explicit request, and only a live, still-anonymous CLI user other than the browser's.
  -- Any failure of the merge rolls back the completion with it.
  IF merge THEN
    anon_key := authflow.cli_live_anonymous_user(attempt);
    IF anon_key IS NOT NULL AND anon_key <> browser.user_key THEN
      PERFORM authflow.merge_users(anon_key, browser.user_key, missing_ok => true);
    END IF;
  END IF;
  RETURN true;
END $$;
COMMENT ON FUNCTION authflow.cli_complete(text, text, boolean, text) IS
  'Completes a pending CLI login attempt as the user of a live refresh token (exactly once); with merge, merges the CLI''s anonymous user into that user in the same transaction';
