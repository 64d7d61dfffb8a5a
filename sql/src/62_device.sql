-- Device login: the OAuth 2.0 Device Authorization Grant (RFC 8628) on the CLI login's state
-- machine (waiting -> approved or denied -> used; expired at any point; voided when the session
-- that approved it is revoked). Registered clients, the device authorization, polling with the
-- slow_down rule, the verification page's lookup, approve and deny, and the refresh grant of the
-- sessions it creates. Failures have their own SQLSTATEs (AF05x, docs/sql-api.md); the HTTP
-- endpoints (77_oauth.sql) turn them into the RFC's error values.

-- The key of the user codes' HMAC, made once per database.
INSERT INTO authflow.secrets (name, value)
VALUES ('user_code', (authflow.token_parse(authflow.token_generate('key'))).secret)
ON CONFLICT (name) DO NOTHING;

-- User codes, implemented in C++ (extension/user_code.hpp): one alphabet, one normal form.
CREATE OR REPLACE FUNCTION authflow.user_code_generate()
RETURNS text
AS 'MODULE_PATHNAME', 'authflow_user_code_generate'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION authflow.user_code_generate() IS
  'Internal: a new user code, XXXX-XXXX, 8 characters drawn uniformly from user_code_alphabet() with the CSPRNG';

CREATE OR REPLACE FUNCTION authflow.user_code_hash(user_code text, key bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'authflow_user_code_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.user_code_hash(text, bytea) IS
  'Internal: HMAC-SHA-256 under key of a user code as typed, normalised (case, dashes and white space do not count); NULL when it is not a user code';

CREATE OR REPLACE FUNCTION authflow.user_code_alphabet()
RETURNS text
AS 'MODULE_PATHNAME', 'authflow_user_code_alphabet'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION authflow.user_code_alphabet() IS
  'Internal: the 20 consonants of user codes (RFC 8628 section 6.1), from the library''s one list';

-- device_user_code_hash is the stored form of a user code: its HMAC under this database's key.
CREATE OR REPLACE FUNCTION authflow.device_user_code_hash(user_code text)
RETURNS bytea
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT authflow.user_code_hash(user_code, k.value) FROM authflow.secrets AS k WHERE k.name = 'user_code');
END $$;
COMMENT ON FUNCTION authflow.device_user_code_hash(text) IS
  'Internal: the HMAC a user code is stored and looked up by; NULL when the text is not a user code';

-- require_scopes is a list of scope tokens (RFC 6749 section 3.3: printable ASCII but space, " and
-- \), or 22023 naming the argument.
CREATE OR REPLACE FUNCTION authflow.require_scopes(scopes text[], argument text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF cardinality(scopes) > 100 OR EXISTS (SELECT 1 FROM unnest(scopes) AS s(scope)
                                            WHERE s.scope IS NULL OR s.scope !~ '^[!#-\[\]-~]{1,128}$') THEN
    RAISE EXCEPTION '% must be at most 100 scope tokens of 1 to 128 printable ASCII characters (no space, " or \)', argument
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN ARRAY(SELECT DISTINCT s FROM unnest(coalesce(scopes, '{}')) AS s ORDER BY s);
END $$;
COMMENT ON FUNCTION authflow.require_scopes(text[], text) IS
  'Internal: a sorted set of valid scope tokens, else 22023 naming the argument';

-- Registered clients.

CREATE OR REPLACE FUNCTION authflow.oauth_client_register(client_id text, name text, verification_uri text,
                                                          scopes text[] DEFAULT '{}', tenant text DEFAULT 'default',
                                                          poll_interval integer DEFAULT 5,
                                                          code_lifetime interval DEFAULT '10 minutes')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  allowed text[] := authflow.require_scopes(scopes, 'scopes');
BEGIN
  IF client_id IS NULL OR client_id !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' THEN
    RAISE EXCEPTION 'client_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM authflow.require_text(name, 'name', 200);
  -- An https page, or http on the machine itself (development); the user code is appended as a
  -- query parameter, so there is no fragment.
  IF verification_uri IS NULL OR octet_length(verification_uri) > 2048
     OR verification_uri !~ '^(https://[A-Za-z0-9.-]+|http://(localhost|127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?(/[!$-;=?-~]*)?$' THEN
    RAISE EXCEPTION 'verification_uri must be an https URL (http only for localhost) of at most 2048 bytes, without a fragment'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF poll_interval IS NULL OR poll_interval NOT BETWEEN 1 AND 60 THEN
    RAISE EXCEPTION 'poll_interval must be 1 to 60 seconds' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF code_lifetime IS NULL OR code_lifetime < interval '10 seconds' OR code_lifetime > interval '1 hour' THEN
    RAISE EXCEPTION 'code_lifetime must be 10 seconds to 1 hour' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO authflow.oauth_clients AS c (tenant_id, client_id, name, scopes, verification_uri, poll_interval, code_lifetime)
  VALUES (settings.tenant_id, client_id, name, allowed, verification_uri, poll_interval, code_lifetime)
  ON CONFLICT ON CONSTRAINT oauth_clients_pkey DO UPDATE
    SET name = excluded.name, scopes = excluded.scopes, verification_uri = excluded.verification_uri,
        poll_interval = excluded.poll_interval, code_lifetime = excluded.code_lifetime;
END $$;
COMMENT ON FUNCTION authflow.oauth_client_register(text, text, text, text[], text, integer, interval) IS
  'Registers (or updates) a device-grant client of a tenant: its client_id, the name the verification page shows, the scopes it may ask for, the verification page, the polling interval and how long its codes live';

CREATE OR REPLACE FUNCTION authflow.oauth_client_list(tenant text DEFAULT 'default')
RETURNS TABLE (client_id text, name text, scopes text[], verification_uri text, poll_interval integer,
               code_lifetime interval, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
BEGIN
  RETURN QUERY
    SELECT c.client_id, c.name, c.scopes, c.verification_uri, c.poll_interval, c.code_lifetime, c.created_at
      FROM authflow.oauth_clients AS c WHERE c.tenant_id = settings.tenant_id
     ORDER BY c.client_id;
END $$;
COMMENT ON FUNCTION authflow.oauth_client_list(text) IS 'The device-grant clients of a tenant';

CREATE OR REPLACE FUNCTION authflow.oauth_client_remove(client_id text, tenant text DEFAULT 'default')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
BEGIN
  DELETE FROM authflow.oauth_clients AS c WHERE c.tenant_id = settings.tenant_id AND c.client_id = oauth_client_remove.client_id;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  -- Its pending codes can never be picked up: they go with it.
  WITH gone AS (
    DELETE FROM authflow.device_attempts AS a
     WHERE a.tenant_id = settings.tenant_id AND a.client_id = oauth_client_remove.client_id
    RETURNING a.attempt_id)
  DELETE FROM authflow.device_user_codes AS u USING gone WHERE u.attempt_id = gone.attempt_id;
  RETURN true;
END $$;
COMMENT ON FUNCTION authflow.oauth_client_remove(text, text) IS
  'Removes a device-grant client and its pending device codes; the sessions it got stay (revoke them like any other). false when there is no such client';

-- oauth_client_of is a registered client, or AF050 (the RFC's invalid_client).
CREATE OR REPLACE FUNCTION authflow.oauth_client_of(client_id text, settings authflow.tenants)
RETURNS authflow.oauth_clients
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  client authflow.oauth_clients;
BEGIN
  SELECT * INTO client FROM authflow.oauth_clients AS c WHERE c.tenant_id = settings.tenant_id AND c.client_id = oauth_client_of.client_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown client_id' USING ERRCODE = 'AF050';
  END IF;
  RETURN client;
END $$;
COMMENT ON FUNCTION authflow.oauth_client_of(text, authflow.tenants) IS 'Internal: a registered client of the tenant, else AF050';

-- requested_scopes reads a scope parameter (space-delimited, RFC 6749 section 3.3) against what
-- is allowed: the set asked for, or AF051 (invalid_scope). No scope (NULL or empty) is none.
CREATE OR REPLACE FUNCTION authflow.requested_scopes(scope text, allowed text[])
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  asked text[];
  refused text;
BEGIN
  IF scope IS NULL OR scope = '' THEN
    RETURN '{}';
  END IF;
  IF octet_length(scope) > 4096 OR scope !~ '^[!#-\[\]-~]+( [!#-\[\]-~]+)*$' THEN
    RAISE EXCEPTION 'scope must be scope tokens separated by single spaces' USING ERRCODE = 'AF051';
  END IF;
  asked := ARRAY(SELECT DISTINCT s FROM unnest(string_to_array(scope, ' ')) AS s ORDER BY s);
  SELECT s INTO refused FROM unnest(asked) AS s WHERE NOT s = ANY (allowed) LIMIT 1;
  IF refused IS NOT NULL THEN
    RAISE EXCEPTION 'scope "%" is not allowed for this client', left(refused, 128) USING ERRCODE = 'AF051';
  END IF;
  RETURN asked;
END $$;
COMMENT ON FUNCTION authflow.requested_scopes(text, text[]) IS
  'Internal: the scopes a scope parameter asks for, when all are allowed, else AF051';

-- The grant.

CREATE OR REPLACE FUNCTION authflow.device_authorize(client_id text, scope text DEFAULT NULL, tenant text DEFAULT 'default')
RETURNS TABLE (device_code text, user_code text, verification_uri text, verification_uri_complete text,
               expires_in integer, poll_interval integer, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  client authflow.oauth_clients := authflow.oauth_client_of(client_id, settings);
  granted text[] := authflow.requested_scopes(scope, client.scopes);
  id uuid := gen_random_uuid();
  at timestamptz := now();
  device record;
  code text;
  placed boolean;
BEGIN
  -- A code still in use is never handed out twice; the row of an expired one is taken over.
  FOR attempt_number IN 1..8 LOOP
    code := authflow.user_code_generate();
    placed := NULL;
    INSERT INTO authflow.device_user_codes AS u (expires_at, tenant_id, attempt_id, user_code_hash)
    VALUES (at + client.code_lifetime, settings.tenant_id, id, authflow.device_user_code_hash(code))
    ON CONFLICT ON CONSTRAINT device_user_codes_pkey DO UPDATE
      SET expires_at = excluded.expires_at, tenant_id = excluded.tenant_id, attempt_id = excluded.attempt_id
      WHERE u.expires_at <= at
    RETURNING true INTO placed;
    EXIT WHEN placed;
  END LOOP;
  IF placed IS NULL THEN
    RAISE EXCEPTION 'no free user code was found; try again' USING ERRCODE = 'unique_violation';
  END IF;
  SELECT * INTO device FROM authflow.token_issue('device', id);
  INSERT INTO authflow.device_attempts (expires_at, created_at, polled_at, tenant_id, poll_interval, issued_interval,
                                        attempt_id, client_id, scopes, device_hash)
  VALUES (at + client.code_lifetime, at, at, settings.tenant_id, client.poll_interval, client.poll_interval, id,
          client.client_id, granted, device.secret_hash);
  device_code := device.token;
  user_code := code;
  verification_uri := client.verification_uri;
  verification_uri_complete := client.verification_uri
    || CASE WHEN strpos(client.verification_uri, '?') > 0 THEN '&' ELSE '?' END || 'user_code=' || code;
  expires_in := ceil(extract(epoch FROM client.code_lifetime))::integer;
  poll_interval := client.poll_interval;
  expires_at := at + client.code_lifetime;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.device_authorize(text, text, text) IS
  'Starts a device login (RFC 8628 section 3.1) for a registered client: a secret device code for the device, a user code (XXXX-XXXX) and the verification page for the person; AF050 for an unknown client, AF051 for a scope it may not ask for';

-- device_poll_at is device_poll at a given time: the polling rule is a function of the times of
-- the polls, so the tests move the clock with it instead of sleeping.
CREATE OR REPLACE FUNCTION authflow.device_poll_at(device_code text, client_id text, tenant text, client_address text,
                                                   user_agent text, at timestamptz)
RETURNS TABLE (status text, poll_interval integer, user_id text, access_token text, refresh_token text,
               access_expires_at timestamptz, scope text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  client authflow.oauth_clients := authflow.oauth_client_of(client_id, settings);
  code record;
  attempt authflow.device_attempts;
  created record;
BEGIN
  SELECT * INTO code FROM authflow.token_parse(device_code, 'device');
  -- The row lock serializes the polls of one code: each sees what the one before it did.
  SELECT * INTO attempt FROM authflow.device_attempts AS a
   WHERE a.attempt_id = code.row_id AND a.tenant_id = settings.tenant_id AND a.client_id = client.client_id
     AND authflow.secure_equal(a.device_hash, code.secret_hash)
     FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the device code is invalid or was not issued to this client' USING ERRCODE = 'AF052';
  END IF;
  poll_interval := attempt.poll_interval;
  scope := nullif(array_to_string(attempt.scopes, ' '), '');

  IF attempt.expires_at <= at THEN
    status := 'expired_token';
  ELSIF attempt.used_at IS NOT NULL THEN
    RAISE EXCEPTION 'the device code was already used' USING ERRCODE = 'AF053';
  ELSIF attempt.denied_at IS NOT NULL THEN
    status := 'access_denied';
  ELSIF at < attempt.polled_at + make_interval(secs => attempt.poll_interval) THEN
    -- Early: measured from the last accepted poll, never from an early one; the interval grows
    -- by 5 s at most once between two accepted polls, and by 15 s at most in all, so that a
    -- client whose timer runs a little fast is served every few polls, not locked out.
    IF attempt.slowed_at IS NULL OR attempt.slowed_at < attempt.polled_at THEN
      UPDATE authflow.device_attempts AS a SET poll_interval = least(a.poll_interval + 5, a.issued_interval + 15),
                                               slowed_at = at
       WHERE a.attempt_id = attempt.attempt_id
      RETURNING a.poll_interval INTO poll_interval;
    END IF;
    status := 'slow_down';
  ELSIF attempt.approved_user_key IS NULL THEN
    UPDATE authflow.device_attempts AS a SET polled_at = at WHERE a.attempt_id = attempt.attempt_id;
    status := 'authorization_pending';
  ELSIF NOT authflow.attempt_approver_live(attempt.approved_session_id, attempt.approved_user_key) THEN
    -- The session that approved it was revoked (log out, log out everywhere) or ended: the
    -- device code dies with it, before it mints a session.
    UPDATE authflow.device_attempts AS a SET expires_at = at, polled_at = at WHERE a.attempt_id = attempt.attempt_id;
    status := 'expired_token';
  ELSE
    -- Exactly once: the row is locked, and every later poll finds used_at set.
    UPDATE authflow.device_attempts AS a SET used_at = at, polled_at = at WHERE a.attempt_id = attempt.attempt_id;
    SELECT * INTO created FROM authflow.session_insert(settings, attempt.approved_user_key, 'device',
      jsonb_build_object('oauth_client_id', attempt.client_id, 'scope', array_to_string(attempt.scopes, ' ')),
      client_address, user_agent);
    status := 'success';
    user_id := (SELECT u.user_id FROM authflow.users AS u WHERE u.user_key = attempt.approved_user_key);
    access_token := created.access_token;
    refresh_token := created.refresh_token;
    access_expires_at := created.access_expires_at;
  END IF;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.device_poll_at(text, text, text, text, text, timestamptz) IS
  'Internal: device_poll as of a given time (the tests'' clock)';

CREATE OR REPLACE FUNCTION authflow.device_poll(device_code text, client_id text, tenant text DEFAULT 'default',
                                                client_address text DEFAULT NULL, user_agent text DEFAULT NULL)
RETURNS TABLE (status text, poll_interval integer, user_id text, access_token text, refresh_token text,
               access_expires_at timestamptz, scope text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM authflow.device_poll_at(device_code, client_id, tenant, client_address, user_agent, now())
$$;
COMMENT ON FUNCTION authflow.device_poll(text, text, text, text, text) IS
  'A device''s poll (RFC 8628 section 3.4): authorization_pending, slow_down (early: poll_interval is the new interval), access_denied, expired_token (also once the approving session is revoked), or exactly once success with a new device session of the approving user; AF050 for an unknown client, AF052 for a code unknown or of another client, AF053 once it was used';

-- The verification page.

-- device_pending_attempt is the attempt of a user code that is still waiting for a person, or
-- NULL; a failed lookup counts against the tenant's device_user_code limits, and while they are
-- used up every lookup raises AF054 (DETAIL: the seconds to wait).
CREATE OR REPLACE FUNCTION authflow.device_pending_attempt(user_code text, settings authflow.tenants, client_address text)
RETURNS authflow.device_attempts
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  wait integer := authflow.rate_limit_exceeded(settings.tenant_id, 'device_user_code', client_address);
  -- The hash first, then the probe by it: on Citus the probe is one shard's, and the hash (which
  -- reads authflow.secrets) must not be pushed into it.
  code_hash bytea := authflow.device_user_code_hash(user_code);
  found_id uuid;
  attempt authflow.device_attempts;
BEGIN
  IF wait IS NOT NULL THEN
    RAISE EXCEPTION 'too many failed user code entries, try again later' USING ERRCODE = 'AF054', DETAIL = wait::text;
  END IF;
  SELECT u.attempt_id INTO found_id FROM authflow.device_user_codes AS u
   WHERE u.user_code_hash = code_hash AND u.tenant_id = settings.tenant_id
     AND u.expires_at > now();
  SELECT * INTO attempt FROM authflow.device_attempts AS a
   WHERE a.attempt_id = found_id AND a.expires_at > now() AND a.approved_at IS NULL AND a.denied_at IS NULL;
  IF NOT FOUND THEN
    PERFORM authflow.rate_limit_hit(settings.tenant_id, 'device_user_code', client_address);
    RETURN NULL;
  END IF;
  RETURN attempt;
END $$;
COMMENT ON FUNCTION authflow.device_pending_attempt(text, authflow.tenants, text) IS
  'Internal: the waiting device attempt of a user code, or NULL (counted as a failed entry); AF054 while the tenant''s device_user_code limits are used up';

CREATE OR REPLACE FUNCTION authflow.device_lookup(user_code text, tenant text DEFAULT 'default', client_address text DEFAULT NULL)
RETURNS TABLE (client_id text, client_name text, scopes text[], expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  attempt authflow.device_attempts := authflow.device_pending_attempt(user_code, settings, authflow.require_client_address(client_address));
BEGIN
  RETURN QUERY
    SELECT c.client_id, c.name, attempt.scopes, attempt.expires_at
      FROM authflow.oauth_clients AS c
     WHERE attempt.attempt_id IS NOT NULL AND c.tenant_id = settings.tenant_id AND c.client_id = attempt.client_id;
END $$;
COMMENT ON FUNCTION authflow.device_lookup(text, text, text) IS
  'What the verification page shows for a user code that waits for a person: the client, its name, the scopes and the expiry; no row otherwise (a failed entry, counted per client address and tenant; AF054 while their limits are used up)';

CREATE OR REPLACE FUNCTION authflow.device_approve(user_code text, refresh_token text, tenant text DEFAULT 'default',
                                                   client_address text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  browser authflow.refresh_session;
  attempt authflow.device_attempts;
  code_hash bytea;
BEGIN
  PERFORM authflow.require_text(refresh_token, 'refresh_token', 1024);
  browser := authflow.browser_session(refresh_token, settings);
  attempt := authflow.device_pending_attempt(user_code, settings, authflow.require_client_address(client_address));
  IF attempt.attempt_id IS NULL THEN
    RETURN false;
  END IF;
  -- Exactly once: concurrent approvals and denials serialize on the row, and the losers find it
  -- decided.
  UPDATE authflow.device_attempts AS a SET approved_user_key = browser.user_key, approved_at = now(),
                                           approved_session_id = browser.session_id
   WHERE a.attempt_id = attempt.attempt_id AND a.approved_at IS NULL AND a.denied_at IS NULL AND a.expires_at > now();
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  code_hash := authflow.device_user_code_hash(user_code);
  DELETE FROM authflow.device_user_codes AS u WHERE u.user_code_hash = code_hash;
  PERFORM authflow.security_event(settings.tenant_id, 'device_login_approved', browser.user_id, browser.session_id,
                                  jsonb_build_object('client_id', attempt.client_id, 'scope', array_to_string(attempt.scopes, ' ')),
                                  false);
  RETURN true;
END $$;
COMMENT ON FUNCTION authflow.device_approve(text, text, text, text) IS
  'Approves the device login of a user code as the user of a live refresh token (exactly once: false for an unknown, decided or expired code, a counted failed entry); the device then gets a new session of that user, unless that browser session is revoked first';

CREATE OR REPLACE FUNCTION authflow.device_deny(user_code text, tenant text DEFAULT 'default', client_address text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  attempt authflow.device_attempts := authflow.device_pending_attempt(user_code, settings, authflow.require_client_address(client_address));
  code_hash bytea;
BEGIN
  IF attempt.attempt_id IS NULL THEN
    RETURN false;
  END IF;
  UPDATE authflow.device_attempts AS a SET denied_at = now()
   WHERE a.attempt_id = attempt.attempt_id AND a.approved_at IS NULL AND a.denied_at IS NULL AND a.expires_at > now();
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  code_hash := authflow.device_user_code_hash(user_code);
  DELETE FROM authflow.device_user_codes AS u WHERE u.user_code_hash = code_hash;
  PERFORM authflow.security_event(settings.tenant_id, 'device_login_denied', NULL, NULL,
                                  jsonb_build_object('client_id', attempt.client_id, 'scope', array_to_string(attempt.scopes, ' ')),
                                  false);
  RETURN true;
END $$;
COMMENT ON FUNCTION authflow.device_deny(text, text, text) IS
  'Denies the device login of a user code (exactly once, like device_approve); the device''s next poll is access_denied';

-- The refresh grant (RFC 6749 section 6) of the sessions the device grant made.
CREATE OR REPLACE FUNCTION authflow.oauth_refresh(refresh_token text, client_id text, requested_scope text DEFAULT NULL,
                                                  tenant text DEFAULT 'default')
RETURNS TABLE (user_id text, access_token text, access_expires_at timestamptz, new_refresh_token text, scope text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  client authflow.oauth_clients := authflow.oauth_client_of(client_id, settings);
  issued record;
  refreshed record;
BEGIN
  -- Only a device session of this client, looked up by the id in the token; session_refresh
  -- then checks the secret (and, with rotation, the grace window and reuse).
  SELECT s.client ->> 'scope' AS scope INTO issued
    FROM authflow.sessions AS s
    JOIN authflow.users AS u ON u.user_key = s.user_key
   WHERE s.session_id = (authflow.token_parse(refresh_token, 'refresh')).row_id AND u.tenant_id = settings.tenant_id AND s.kind = 'device' AND s.client ->> 'oauth_client_id' = client.client_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM authflow.requested_scopes(requested_scope, string_to_array(issued.scope, ' '));
  SELECT * INTO refreshed FROM authflow.session_refresh(refresh_token);
  IF refreshed.session_id IS NULL THEN
    RETURN;
  END IF;
  user_id := refreshed.user_id;
  access_token := refreshed.access_token;
  access_expires_at := refreshed.access_expires_at;
  new_refresh_token := refreshed.new_refresh_token;
  scope := nullif(issued.scope, '');
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.oauth_refresh(text, text, text, text) IS
  'The refresh grant of a device session of a client: session_refresh (with the tenant''s rotation: new_refresh_token, else NULL) for a refresh token the device grant issued to that client; no row otherwise; AF050 for an unknown client, AF051 for a scope beyond the one granted';
