-- authflow install script, assembled from sql/src/*.sql in file-name order.
\echo Use "CREATE EXTENSION authflow" to load this file. \quit

-- The extension creates and owns schema authflow, so DROP EXTENSION removes it.
-- Nothing in it is reachable by PUBLIC unless granted below, function by function.
CREATE SCHEMA authflow;
REVOKE ALL ON SCHEMA authflow FROM PUBLIC;
GRANT USAGE ON SCHEMA authflow TO PUBLIC;
-- Token and hash primitives, implemented in C++ (extension/pg_functions.cpp).

CREATE FUNCTION authflow.token_generate(kind text)
RETURNS text
AS 'MODULE_PATHNAME', 'authflow_token_generate'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_generate(text) IS
  'A new token of kind access, refresh, polling, login or key for a random row id: <prefix>_<row id hex>_<256-bit secret, base64url>';

CREATE FUNCTION authflow.token_generate(kind text, row_id uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'authflow_token_generate'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_generate(text, uuid) IS
  'A new token of a kind for the given row id';

CREATE FUNCTION authflow.token_issue(kind text, row_id uuid, OUT token text, OUT secret_hash bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'authflow_token_issue'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_issue(text, uuid) IS
  'A new token of a kind for a row id, with SHA-256 of its secret: the hash is what gets stored';

CREATE FUNCTION authflow.token_parse(token text, expected_kind text DEFAULT NULL,
                                     OUT kind text, OUT row_id uuid, OUT secret bytea, OUT secret_hash bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'authflow_token_parse'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_parse(text, text) IS
  'Splits a token into kind, row id, secret and SHA-256 of the secret; NULL for anything that is not a well-formed token (of expected_kind, when given). An unknown expected_kind raises 22023.';

CREATE FUNCTION authflow.sha256(bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'authflow_sha256'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.sha256(bytea) IS 'SHA-256 of the bytes';

CREATE FUNCTION authflow.sha256(text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'authflow_sha256'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.sha256(text) IS 'SHA-256 of the text''s bytes in the database encoding';

CREATE FUNCTION authflow.secure_equal(bytea, bytea)
RETURNS boolean
AS 'MODULE_PATHNAME', 'authflow_secure_equal'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.secure_equal(bytea, bytea) IS
  'true when both byte strings are equal; constant time for equal lengths';

CREATE FUNCTION authflow.time_ordered_uuid()
RETURNS uuid
AS 'MODULE_PATHNAME', 'authflow_time_ordered_uuid'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION authflow.time_ordered_uuid() IS
  'A version 7 UUID: Unix time in milliseconds, then 74 random bits; later ids sort later (session ids: compact primary key)';
-- Tables. Reachable only through the functions of this extension: nothing is granted on them.

-- One row per tenant (project): its TTLs and flow settings.
CREATE TABLE authflow.tenants (
  tenant_id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                     text NOT NULL UNIQUE,
  session_ttl              interval NOT NULL DEFAULT '7 days',
  access_token_ttl         interval NOT NULL DEFAULT '15 minutes',
  session_max_lifetime     interval,                     -- NULL: sliding sessions are not capped
  cli_attempt_ttl          interval NOT NULL DEFAULT '2 hours',
  cli_attempt_max_ttl      interval NOT NULL DEFAULT '24 hours',
  anonymous_user_retention interval NOT NULL DEFAULT '30 days',
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE authflow.tenants IS 'One row per tenant (project): TTLs and flow settings; see authflow.tenant_set';
INSERT INTO authflow.tenants (name) VALUES ('default');

-- One row per user of a tenant. user_key is the internal id sessions point to, so that renaming
-- a handle or upgrading an anonymous user touches one row, whatever the number of sessions.
CREATE TABLE authflow.users (
  user_key     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id    integer NOT NULL REFERENCES authflow.tenants ON DELETE CASCADE,
  user_id      text NOT NULL,
  handle       text,
  is_anonymous boolean NOT NULL DEFAULT false,
  metadata     jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, user_id)
);
COMMENT ON TABLE authflow.users IS 'Users per tenant: user_id is the application''s id (a DID, a uuid, ...)';

-- One row per session. Unlogged (Valkey semantics) until authflow.set_durable(true). Columns are
-- ordered for alignment; refresh changes no indexed column, so it is a HOT update in place.
-- session_id is time-ordered (UUID version 7), so its primary key fills its pages.
-- No foreign key to users: its check would lock (and so write) the user's row on every create.
CREATE UNLOGGED TABLE authflow.sessions (
  access_expires_at timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,
  created_at        timestamptz NOT NULL,
  refreshed_at      timestamptz NOT NULL,
  user_key          bigint NOT NULL,
  session_id        uuid NOT NULL PRIMARY KEY,
  kind              text NOT NULL CHECK (kind IN ('web', 'cli', 'anonymous')),
  access_hash       bytea NOT NULL,   -- SHA-256 of the access token's secret
  refresh_hash      bytea NOT NULL,   -- SHA-256 of the refresh token's secret
  client            jsonb             -- what the caller said about the client (user agent, ...)
) WITH (fillfactor = 90);
COMMENT ON TABLE authflow.sessions IS 'One row per session; only hashes of token secrets; unlogged unless authflow.set_durable(true)';
-- A btree, not a hash index: deduplication stores a user's sessions under one key (15 bytes a
-- session where a hash index took 47), and refresh never changes it.
CREATE INDEX sessions_user_key ON authflow.sessions (user_key);

-- One row per CLI login attempt (waiting -> completed -> used; expired at any point). Both codes
-- carry attempt_id; only hashes of their secrets are stored. The CLI's tokens are not kept here:
-- the successful poll creates a new session.
CREATE UNLOGGED TABLE authflow.cli_attempts (
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL,
  completed_at       timestamptz,
  used_at            timestamptz,
  anon_claimed_at    timestamptz,
  tenant_id          integer NOT NULL,
  completed_user_key bigint,        -- the user who completed the attempt in the browser
  anon_user_key      bigint,        -- the CLI's anonymous user, when it started with one
  attempt_id         uuid NOT NULL PRIMARY KEY,
  anon_session_id    uuid,          -- the CLI's anonymous session
  polling_hash       bytea NOT NULL,
  login_hash         bytea NOT NULL,
  client             jsonb
);
COMMENT ON TABLE authflow.cli_attempts IS 'CLI login attempts; only hashes of the polling and login codes; unlogged unless authflow.set_durable(true)';

-- Application tables holding user-owned rows, and how a merge of an anonymous user moves them.
CREATE TABLE authflow.merge_rules (
  target        regclass NOT NULL,
  user_column   name NOT NULL,
  key_columns   name[] NOT NULL DEFAULT '{}',
  on_conflict   text NOT NULL DEFAULT 'keep_target' CHECK (on_conflict IN ('keep_target', 'keep_anonymous', 'error')),
  is_credential boolean NOT NULL DEFAULT false,
  tenant_column name,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (target, user_column)
);
COMMENT ON TABLE authflow.merge_rules IS 'Tables with user-owned rows that authflow.merge_anonymous_user moves (or, for credentials, deletes)';

-- API keys for privileged HTTP calls (create a session, list or revoke a user's sessions).
CREATE TABLE authflow.api_keys (
  key_id     uuid NOT NULL PRIMARY KEY,
  tenant_id  integer NOT NULL REFERENCES authflow.tenants ON DELETE CASCADE,
  kind       text NOT NULL CHECK (kind IN ('server')),
  key_hash   bytea NOT NULL,      -- SHA-256 of the key's secret
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
COMMENT ON TABLE authflow.api_keys IS 'API keys per tenant; only hashes of their secrets';

-- Application data that pg_dump must keep (the default tenant is re-created by CREATE EXTENSION).
SELECT pg_catalog.pg_extension_config_dump('authflow.tenants', 'WHERE name <> ''default''');
SELECT pg_catalog.pg_extension_config_dump('authflow.users', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.cli_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.merge_rules', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.api_keys', '');
-- Internal helpers: argument checks and tenant lookup. Each raises 22023 naming the argument.

CREATE FUNCTION authflow.require_text(value text, argument text, max_length integer DEFAULT 256)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value IS NULL OR value = '' THEN
    RAISE EXCEPTION '% must not be empty', argument USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF octet_length(value) > max_length THEN
    RAISE EXCEPTION '% must be at most % bytes', argument, max_length USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN value;
END $$;
COMMENT ON FUNCTION authflow.require_text(text, text, integer) IS
  'Internal: value when it is non-empty and at most max_length bytes, else 22023 naming the argument';

CREATE FUNCTION authflow.require_client(client jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF client IS NOT NULL AND (jsonb_typeof(client) <> 'object' OR octet_length(client::text) > 4096) THEN
    RAISE EXCEPTION 'client must be a JSON object of at most 4096 bytes' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN client;
END $$;
COMMENT ON FUNCTION authflow.require_client(jsonb) IS 'Internal: client info when it is a small JSON object, else 22023';

CREATE FUNCTION authflow.require_tenant(tenant text)
RETURNS authflow.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants;
BEGIN
  SELECT * INTO settings FROM authflow.tenants AS t WHERE t.name = tenant;
  IF NOT FOUND THEN
    IF tenant IS NULL OR tenant = '' THEN
      RAISE EXCEPTION 'tenant must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'tenant "%" does not exist', left(tenant, 128) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN settings;
END $$;
COMMENT ON FUNCTION authflow.require_tenant(text) IS 'Internal: the settings of a tenant, or 22023 when there is no such tenant';

CREATE FUNCTION authflow.require_user_arguments(user_id text, handle text, tenant text)
RETURNS authflow.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM authflow.require_text(user_id, 'user_id');
  IF handle IS NOT NULL THEN
    PERFORM authflow.require_text(handle, 'handle');
  END IF;
  RETURN authflow.require_tenant(tenant);
END $$;
COMMENT ON FUNCTION authflow.require_user_arguments(text, text, text) IS
  'Internal: the tenant''s settings when user_id (and handle, when given) and the tenant are valid, else 22023';

-- session_expiry is when a session refreshed (or created) at `at` expires: now + TTL, never past
-- the tenant's absolute cap.
CREATE FUNCTION authflow.session_expiry(settings authflow.tenants, created_at timestamptz, at timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(at + settings.session_ttl, created_at + settings.session_max_lifetime);
COMMENT ON FUNCTION authflow.session_expiry(authflow.tenants, timestamptz, timestamptz) IS
  'Internal: the sliding expiry of a session at a time, capped by the tenant''s session_max_lifetime';
-- Tenants: settings per project.

CREATE TYPE authflow.tenant_settings AS (
  tenant text, session_ttl interval, access_token_ttl interval, session_max_lifetime interval,
  cli_attempt_ttl interval, cli_attempt_max_ttl interval, anonymous_user_retention interval);
COMMENT ON TYPE authflow.tenant_settings IS 'The settings of a tenant, as tenant_set and tenant_get return them';

CREATE FUNCTION authflow.tenant_set(
  tenant                      text,
  session_ttl                 interval DEFAULT NULL,
  access_token_ttl            interval DEFAULT NULL,
  session_max_lifetime        interval DEFAULT NULL,
  cli_attempt_ttl             interval DEFAULT NULL,
  cli_attempt_max_ttl         interval DEFAULT NULL,
  anonymous_user_retention    interval DEFAULT NULL,
  remove_session_max_lifetime boolean DEFAULT false)
RETURNS authflow.tenant_settings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  setting record;
  settings authflow.tenants;
BEGIN
  IF tenant IS NULL OR tenant !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' THEN
    RAISE EXCEPTION 'tenant must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR setting IN SELECT * FROM (VALUES
      ('session_ttl', session_ttl, interval '10 years'),
      ('access_token_ttl', access_token_ttl, interval '1 day'),
      ('session_max_lifetime', session_max_lifetime, interval '10 years'),
      ('cli_attempt_ttl', cli_attempt_ttl, interval '7 days'),
      ('cli_attempt_max_ttl', cli_attempt_max_ttl, interval '7 days'),
      ('anonymous_user_retention', anonymous_user_retention, interval '10 years')) AS v(name, value, maximum) LOOP
    IF setting.value IS NOT NULL AND (setting.value <= interval '0' OR setting.value > setting.maximum) THEN
      RAISE EXCEPTION '% must be greater than 0 and at most %', setting.name, setting.maximum
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  IF remove_session_max_lifetime AND session_max_lifetime IS NOT NULL THEN
    RAISE EXCEPTION 'session_max_lifetime and remove_session_max_lifetime cannot be given together'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO authflow.tenants AS t (name) VALUES (tenant) ON CONFLICT (name) DO NOTHING;
  UPDATE authflow.tenants AS t SET
    session_ttl = coalesce(session_ttl, t.session_ttl),
    access_token_ttl = coalesce(access_token_ttl, t.access_token_ttl),
    session_max_lifetime = CASE WHEN remove_session_max_lifetime THEN NULL
                                ELSE coalesce(session_max_lifetime, t.session_max_lifetime) END,
    cli_attempt_ttl = coalesce(cli_attempt_ttl, t.cli_attempt_ttl),
    cli_attempt_max_ttl = coalesce(cli_attempt_max_ttl, t.cli_attempt_max_ttl),
    anonymous_user_retention = coalesce(anonymous_user_retention, t.anonymous_user_retention),
    updated_at = now()
  WHERE t.name = tenant
  RETURNING * INTO settings;

  IF settings.access_token_ttl > settings.session_ttl THEN
    RAISE EXCEPTION 'access_token_ttl (%) must not exceed session_ttl (%)', settings.access_token_ttl, settings.session_ttl
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF settings.cli_attempt_ttl > settings.cli_attempt_max_ttl THEN
    RAISE EXCEPTION 'cli_attempt_ttl (%) must not exceed cli_attempt_max_ttl (%)', settings.cli_attempt_ttl,
      settings.cli_attempt_max_ttl USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN ROW(settings.name, settings.session_ttl, settings.access_token_ttl, settings.session_max_lifetime,
             settings.cli_attempt_ttl, settings.cli_attempt_max_ttl, settings.anonymous_user_retention)::authflow.tenant_settings;
END $$;
COMMENT ON FUNCTION authflow.tenant_set(text, interval, interval, interval, interval, interval, interval, boolean) IS
  'Creates or updates a tenant''s settings (NULL keeps the current value) and returns them; out-of-range values raise 22023';

CREATE FUNCTION authflow.tenant_get(tenant text DEFAULT 'default')
RETURNS authflow.tenant_settings
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ROW(s.name, s.session_ttl, s.access_token_ttl, s.session_max_lifetime, s.cli_attempt_ttl,
         s.cli_attempt_max_ttl, s.anonymous_user_retention)::authflow.tenant_settings
    FROM authflow.require_tenant(tenant) AS s
$$;
COMMENT ON FUNCTION authflow.tenant_get(text) IS 'The settings of a tenant; 22023 when there is no such tenant';
-- Sessions: create, validate, refresh, revoke, list. Each is one transaction; validate only reads.

-- user_ensure returns the user_key of (tenant, user_id), creating the user when missing and
-- updating its handle when a different one is given. It writes nothing when nothing changes.
CREATE FUNCTION authflow.user_ensure(owner_tenant_id integer, owner_user_id text, new_handle text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  key bigint;
  current_handle text;
BEGIN
  SELECT u.user_key, u.handle INTO key, current_handle
    FROM authflow.users AS u WHERE u.tenant_id = owner_tenant_id AND u.user_id = owner_user_id;
  IF NOT FOUND THEN
    INSERT INTO authflow.users AS u (tenant_id, user_id, handle) VALUES (owner_tenant_id, owner_user_id, new_handle)
      ON CONFLICT (tenant_id, user_id) DO UPDATE SET handle = coalesce(excluded.handle, u.handle)
      RETURNING u.user_key INTO key;
  ELSIF new_handle IS NOT NULL AND new_handle IS DISTINCT FROM current_handle THEN
    UPDATE authflow.users AS u SET handle = new_handle WHERE u.user_key = key;
  END IF;
  RETURN key;
END $$;
COMMENT ON FUNCTION authflow.user_ensure(integer, text, text) IS
  'Internal: the user_key of a user, created when missing; a given handle replaces the stored one';

-- session_insert creates the session row of a user and returns its tokens (raw, once).
CREATE FUNCTION authflow.session_insert(settings authflow.tenants, owner_key bigint, session_kind text, client_info jsonb)
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
                                 kind, access_hash, refresh_hash, client)
  VALUES (least(at + settings.access_token_ttl, expiry), expiry, at, at, owner_key, id,
          session_kind, access.secret_hash, refresh.secret_hash, client_info);
  session_id := id;
  refresh_token := refresh.token;
  access_token := access.token;
  access_expires_at := least(at + settings.access_token_ttl, expiry);
  expires_at := expiry;
  created_at := at;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.session_insert(authflow.tenants, bigint, text, jsonb) IS
  'Internal: inserts a session for a user and returns its tokens';

-- session_create is C++ (extension/pg_session_write.cpp): one saved lookup of the tenant and the
-- user, one saved insert; argument errors, unknown tenants and new users go through the helpers
-- above, which own their messages.
CREATE FUNCTION authflow.session_create(user_id text, handle text DEFAULT NULL, client jsonb DEFAULT NULL,
                                        tenant text DEFAULT 'default')
RETURNS TABLE (session_id uuid, refresh_token text, access_token text, access_expires_at timestamptz,
               expires_at timestamptz, created_at timestamptz)
AS 'MODULE_PATHNAME', 'authflow_session_create'
LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION authflow.session_create(text, text, jsonb, text) IS
  'Creates a session for a user (created when missing; a given handle is stored) and returns both tokens, raw, once';

-- session_validate is the hot path: C++ (extension/pg_session_validate.cpp), three primary-key
-- probes with no executor around them. It reads the tables like a SECURITY DEFINER function.
CREATE FUNCTION authflow.session_validate(access_token text)
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
CREATE FUNCTION authflow.session_validate_routed(access_token text)
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
CREATE FUNCTION authflow.session_refresh(refresh_token text)
RETURNS TABLE (session_id uuid, user_id text, handle text, access_token text, access_expires_at timestamptz,
               expires_at timestamptz, created_at timestamptz)
AS 'MODULE_PATHNAME', 'authflow_session_refresh'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION authflow.session_refresh(text) IS
  'A new access token for a live refresh token (the previous one stops working at once); expiry slides, never past the tenant''s cap. No row when invalid.';

CREATE FUNCTION authflow.session_revoke(refresh_token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'authflow_session_revoke'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION authflow.session_revoke(text) IS
  'Deletes the session of a refresh token; true when a live session was revoked';

CREATE FUNCTION authflow.session_revoke_all(user_id text, tenant text DEFAULT 'default')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_user_arguments(user_id, NULL, tenant);
  revoked integer;
BEGIN
  WITH deleted AS (
    DELETE FROM authflow.sessions AS s
     USING authflow.users AS u
     WHERE u.tenant_id = settings.tenant_id AND u.user_id = session_revoke_all.user_id AND s.user_key = u.user_key
    RETURNING s.expires_at > now() AS was_live)
  SELECT count(*) FILTER (WHERE was_live) INTO revoked FROM deleted;
  RETURN revoked;
END $$;
COMMENT ON FUNCTION authflow.session_revoke_all(text, text) IS
  'Deletes every session of a user; returns how many of them were live';

CREATE FUNCTION authflow.session_list(user_id text, tenant text DEFAULT 'default')
RETURNS TABLE (session_id uuid, kind text, created_at timestamptz, refreshed_at timestamptz,
               access_expires_at timestamptz, expires_at timestamptz, client jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_user_arguments(user_id, NULL, tenant);
BEGIN
  RETURN QUERY
    SELECT s.session_id, s.kind, s.created_at, s.refreshed_at, s.access_expires_at, s.expires_at, s.client
      FROM authflow.users AS u JOIN authflow.sessions AS s ON s.user_key = u.user_key
     WHERE u.tenant_id = settings.tenant_id AND u.user_id = session_list.user_id AND s.expires_at > now()
     ORDER BY s.created_at, s.session_id;
END $$;
COMMENT ON FUNCTION authflow.session_list(text, text) IS 'The live sessions of a user, oldest first; no secrets';

CREATE FUNCTION authflow.user_set_handle(user_id text, handle text, tenant text DEFAULT 'default')
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
-- Anonymous users, and the refresh-token lookup the CLI flow shares.

CREATE FUNCTION authflow.user_create_anonymous(tenant text DEFAULT 'default')
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
BEGIN
  INSERT INTO authflow.users AS u (tenant_id, user_id, is_anonymous) VALUES (settings.tenant_id, new_user_id, true)
  RETURNING u.user_key INTO key;
  SELECT * INTO created FROM authflow.session_insert(settings, key, 'anonymous', NULL);
  user_id := new_user_id;
  session_id := created.session_id;
  refresh_token := created.refresh_token;
  access_token := created.access_token;
  access_expires_at := created.access_expires_at;
  expires_at := created.expires_at;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.user_create_anonymous(text) IS
  'Creates an anonymous user (a fresh uuid as user_id) with a session, and returns both tokens, raw, once';

CREATE FUNCTION authflow.user_upgrade(user_id text, handle text DEFAULT NULL, tenant text DEFAULT 'default')
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

-- RefreshSession is what a refresh token points to, whether live or not.
CREATE TYPE authflow.refresh_session AS (
  session_id uuid, user_key bigint, user_id text, tenant_id integer, is_anonymous boolean, is_live boolean);
COMMENT ON TYPE authflow.refresh_session IS 'Internal: the session and user of a refresh token';

CREATE FUNCTION authflow.session_of_refresh_token(refresh_token text)
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
-- CLI login: start, poll, check, claim the anonymous session, complete (with an optional merge).
-- Messages are those of Stack Auth's CLI endpoints; each failure has its own SQLSTATE (AF0xx,
-- see docs/sql-api.md).

CREATE FUNCTION authflow.cli_start(expires_in interval DEFAULT NULL, anon_refresh_token text DEFAULT NULL,
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

CREATE FUNCTION authflow.cli_poll(polling_code text, tenant text DEFAULT 'default')
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
  ELSE
    -- Exactly one poll wins: the row lock serializes them, and the losers find used_at set.
    UPDATE authflow.cli_attempts AS a SET used_at = now()
     WHERE a.attempt_id = attempt.attempt_id AND a.used_at IS NULL AND a.expires_at > now()
    RETURNING a.completed_user_key INTO winner;
    IF winner IS NULL THEN
      status := 'used';
    ELSE
      SELECT * INTO created FROM authflow.session_insert(settings, winner, 'cli', attempt.client);
      status := 'success';
      user_id := (SELECT u.user_id FROM authflow.users AS u WHERE u.user_key = winner);
      refresh_token := created.refresh_token;
      access_token := created.access_token;
    END IF;
  END IF;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.cli_poll(text, text) IS
  'The state of a CLI login attempt: expired, used, waiting, or (exactly once) success with a new cli session of the user who completed it';

-- cli_pending_attempt is the attempt of a login code that can still be completed, or an error.
CREATE FUNCTION authflow.cli_pending_attempt(login_code text, settings authflow.tenants)
RETURNS authflow.cli_attempts
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  attempt authflow.cli_attempts;
BEGIN
  SELECT a.* INTO attempt FROM authflow.token_parse(login_code, 'login') AS p
    JOIN authflow.cli_attempts AS a ON a.attempt_id = p.row_id
   WHERE authflow.secure_equal(a.login_hash, p.secret_hash);
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
CREATE FUNCTION authflow.cli_live_anonymous_user(attempt authflow.cli_attempts)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT u.user_key FROM authflow.sessions AS s JOIN authflow.users AS u ON u.user_key = s.user_key
   WHERE s.session_id = attempt.anon_session_id AND s.expires_at > now() AND u.is_anonymous
$$;
COMMENT ON FUNCTION authflow.cli_live_anonymous_user(authflow.cli_attempts) IS
  'Internal: the anonymous user of an attempt''s CLI session, when that session is live and the user still anonymous';

CREATE FUNCTION authflow.cli_check(login_code text, tenant text DEFAULT 'default')
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

CREATE FUNCTION authflow.cli_claim_anon_session(login_code text, tenant text DEFAULT 'default')
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
  SELECT * INTO created FROM authflow.session_insert(settings, anon_key, 'web', attempt.client);
  user_id := (SELECT u.user_id FROM authflow.users AS u WHERE u.user_key = anon_key);
  refresh_token := created.refresh_token;
  access_token := created.access_token;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION authflow.cli_claim_anon_session(text, text) IS
  'A new browser session of the CLI''s anonymous user, once per attempt; the attempt stays waiting';

CREATE FUNCTION authflow.cli_complete(login_code text, refresh_token text, merge boolean DEFAULT false,
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
  browser := authflow.session_of_refresh_token(refresh_token);
  IF browser.session_id IS NOT NULL AND browser.tenant_id <> settings.tenant_id THEN
    RAISE EXCEPTION 'Refresh token does not belong to this project' USING ERRCODE = 'AF025';
  ELSIF browser.session_id IS NULL OR NOT browser.is_live THEN
    RAISE EXCEPTION 'Invalid refresh token' USING ERRCODE = 'AF023';
  END IF;

  -- Claim the attempt first: concurrent completions serialize on its row, and the losers fail.
  UPDATE authflow.cli_attempts AS a SET completed_user_key = browser.user_key, completed_at = now()
   WHERE a.attempt_id = attempt.attempt_id AND a.completed_user_key IS NULL AND a.used_at IS NULL
     AND a.expires_at > now()
  RETURNING a.* INTO attempt;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid login code or the code has expired' USING ERRCODE = 'AF020';
  END IF;

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
-- Merge of an anonymous user into another user: declared rules, set-based moves, credentials
-- deleted rather than moved, both users locked in a fixed order.

CREATE FUNCTION authflow.merge_rule_add(target regclass, user_column name, key_columns name[] DEFAULT '{}',
                                        on_conflict text DEFAULT 'keep_target', is_credential boolean DEFAULT false,
                                        tenant_column name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  column_name name;
BEGIN
  IF target IS NULL OR (SELECT relkind FROM pg_class WHERE oid = target) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'target must be a table' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (SELECT relnamespace FROM pg_class WHERE oid = target) = 'authflow'::regnamespace THEN
    RAISE EXCEPTION 'target must be an application table, not one of authflow''s' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF on_conflict IS NULL OR on_conflict NOT IN ('keep_target', 'keep_anonymous', 'error') THEN
    RAISE EXCEPTION 'on_conflict must be keep_target, keep_anonymous or error' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF key_columns IS NULL OR user_column = ANY (key_columns)
     OR cardinality(key_columns) <> (SELECT count(DISTINCT k) FROM unnest(key_columns) AS k) THEN
    RAISE EXCEPTION 'key_columns must be distinct columns other than user_column' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH column_name IN ARRAY ARRAY[user_column, tenant_column] || key_columns LOOP
    CONTINUE WHEN column_name IS NULL AND tenant_column IS NULL;
    IF column_name IS NULL OR NOT EXISTS (SELECT 1 FROM pg_attribute
                                          WHERE attrelid = target AND attname = column_name AND attnum > 0 AND NOT attisdropped) THEN
      RAISE EXCEPTION 'column "%" does not exist in table %', column_name, target USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  INSERT INTO authflow.merge_rules AS r (target, user_column, key_columns, on_conflict, is_credential, tenant_column)
  VALUES (target, user_column, key_columns, on_conflict, is_credential, tenant_column)
  ON CONFLICT ON CONSTRAINT merge_rules_pkey DO UPDATE
    SET key_columns = excluded.key_columns, on_conflict = excluded.on_conflict,
        is_credential = excluded.is_credential, tenant_column = excluded.tenant_column;
END $$;
COMMENT ON FUNCTION authflow.merge_rule_add(regclass, name, name[], text, boolean, name) IS
  'Declares an application table with user-owned rows: key_columns plus user_column form the unique key that may collide, on_conflict says which side wins, credential tables have the anonymous rows deleted, never moved';

CREATE FUNCTION authflow.merge_rule_remove(target regclass, user_column name DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  removed integer;
BEGIN
  DELETE FROM authflow.merge_rules AS r
   WHERE r.target = merge_rule_remove.target
     AND (merge_rule_remove.user_column IS NULL OR r.user_column = merge_rule_remove.user_column);
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
COMMENT ON FUNCTION authflow.merge_rule_remove(regclass, name) IS
  'Removes the merge rules of a table (of one user column, when given); returns how many';

-- merge_users merges user anon_key into target_key: see merge_anonymous_user. With missing_ok, an
-- anonymous user that is gone (merged by a concurrent transaction) or no longer anonymous is no
-- error: the result is NULL and nothing changes.
CREATE FUNCTION authflow.merge_users(anon_key bigint, target_key bigint, missing_ok boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  anon authflow.users;
  target authflow.users;
  tenant_name text;
  rule authflow.merge_rules;
  user_type text;
  tenant_filter text;
  same_key text;
  moved bigint;
  deleted bigint;
  tables jsonb := '{}';
  sessions_revoked bigint;
BEGIN
  -- Fixed lock order: concurrent merges of overlapping users queue instead of deadlocking.
  PERFORM 1 FROM authflow.users AS u WHERE u.user_key IN (anon_key, target_key) ORDER BY u.user_key FOR UPDATE;
  SELECT * INTO anon FROM authflow.users AS u WHERE u.user_key = anon_key;
  SELECT * INTO target FROM authflow.users AS u WHERE u.user_key = target_key;
  IF anon.user_key IS NULL OR NOT anon.is_anonymous THEN
    IF missing_ok THEN RETURN NULL; END IF;
    IF anon.user_key IS NULL THEN
      RAISE EXCEPTION 'the anonymous user does not exist' USING ERRCODE = 'AF031';
    END IF;
    RAISE EXCEPTION 'user "%" is not anonymous', anon.user_id USING ERRCODE = 'AF030';
  END IF;
  IF target.user_key IS NULL OR target.tenant_id <> anon.tenant_id THEN
    RAISE EXCEPTION 'the target user does not exist' USING ERRCODE = 'AF031';
  END IF;
  tenant_name := (SELECT t.name FROM authflow.tenants AS t WHERE t.tenant_id = anon.tenant_id);

  FOR rule IN SELECT * FROM authflow.merge_rules AS r ORDER BY r.target::text, r.user_column LOOP
    user_type := (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a
                   WHERE a.attrelid = rule.target AND a.attname = rule.user_column AND NOT a.attisdropped);
    IF user_type IS NULL THEN
      RAISE EXCEPTION 'merge rule of %: column "%" no longer exists', rule.target, rule.user_column
        USING ERRCODE = 'AF033';
    END IF;
    tenant_filter := CASE WHEN rule.tenant_column IS NULL THEN 'true'
                          ELSE format('%%1$s.%I = %L', rule.tenant_column, tenant_name) END;
    same_key := (SELECT string_agg(format('other.%1$I = mine.%1$I', k), ' AND ') FROM unnest(rule.key_columns) AS k);
    deleted := 0;
    moved := 0;

    IF rule.is_credential THEN
      EXECUTE format('DELETE FROM %s AS mine WHERE mine.%I = $1::%s AND %s',
                     rule.target, rule.user_column, user_type, format(tenant_filter, 'mine'))
        USING anon.user_id;
      GET DIAGNOSTICS deleted = ROW_COUNT;
    ELSE
      IF same_key IS NOT NULL THEN
        -- Rows of both users with the same key collide once moved: on_conflict decides.
        IF rule.on_conflict = 'error' THEN
          EXECUTE format('SELECT count(*) FROM %1$s AS mine WHERE mine.%2$I = $1::%3$s AND %4$s AND EXISTS '
                         '(SELECT 1 FROM %1$s AS other WHERE other.%2$I = $2::%3$s AND %5$s AND %6$s)',
                         rule.target, rule.user_column, user_type, format(tenant_filter, 'mine'),
                         format(tenant_filter, 'other'), same_key)
            INTO deleted USING anon.user_id, target.user_id;
          IF deleted > 0 THEN
            RAISE EXCEPTION 'merge conflict: % rows of % collide with rows of the target user', deleted, rule.target
              USING ERRCODE = 'AF032';
          END IF;
        ELSE
          -- keep_target deletes the anonymous side's colliding rows, keep_anonymous the target's.
          EXECUTE format('DELETE FROM %1$s AS mine WHERE mine.%2$I = $1::%3$s AND %4$s AND EXISTS '
                         '(SELECT 1 FROM %1$s AS other WHERE other.%2$I = $2::%3$s AND %5$s AND %6$s)',
                         rule.target, rule.user_column, user_type, format(tenant_filter, 'mine'),
                         format(tenant_filter, 'other'), same_key)
            USING CASE WHEN rule.on_conflict = 'keep_target' THEN anon.user_id ELSE target.user_id END,
                  CASE WHEN rule.on_conflict = 'keep_target' THEN target.user_id ELSE anon.user_id END;
          GET DIAGNOSTICS deleted = ROW_COUNT;
        END IF;
      END IF;
      EXECUTE format('UPDATE %s AS mine SET %I = $2::%s WHERE mine.%I = $1::%s AND %s',
                     rule.target, rule.user_column, user_type, rule.user_column, user_type, format(tenant_filter, 'mine'))
        USING anon.user_id, target.user_id;
      GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    tables := tables || jsonb_build_object(format('%s.%s', rule.target, rule.user_column),
                                           jsonb_build_object('moved', moved, 'deleted', deleted));
  END LOOP;

  UPDATE authflow.users AS u SET metadata = anon.metadata || u.metadata WHERE u.user_key = target_key;
  DELETE FROM authflow.sessions AS s WHERE s.user_key = anon_key;
  GET DIAGNOSTICS sessions_revoked = ROW_COUNT;
  UPDATE authflow.cli_attempts AS a SET completed_user_key = target_key WHERE a.completed_user_key = anon_key;
  DELETE FROM authflow.users AS u WHERE u.user_key = anon_key;
  RETURN jsonb_build_object('anon_user_id', anon.user_id, 'target_user_id', target.user_id,
                            'sessions_revoked', sessions_revoked, 'tables', tables);
END $$;
COMMENT ON FUNCTION authflow.merge_users(bigint, bigint, boolean) IS
  'Internal: merges one user into another by user_key (see merge_anonymous_user)';

CREATE FUNCTION authflow.merge_anonymous_user(anon_user_id text, target_user_id text, tenant text DEFAULT 'default')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants;
  anon_key bigint;
  target_key bigint;
BEGIN
  PERFORM authflow.require_text(anon_user_id, 'anon_user_id'), authflow.require_text(target_user_id, 'target_user_id');
  IF anon_user_id = target_user_id THEN
    RAISE EXCEPTION 'anon_user_id and target_user_id must differ' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  settings := authflow.require_tenant(tenant);
  anon_key := (SELECT u.user_key FROM authflow.users AS u WHERE u.tenant_id = settings.tenant_id AND u.user_id = anon_user_id);
  target_key := (SELECT u.user_key FROM authflow.users AS u WHERE u.tenant_id = settings.tenant_id AND u.user_id = target_user_id);
  IF anon_key IS NULL THEN
    RAISE EXCEPTION 'user "%" does not exist', left(anon_user_id, 256) USING ERRCODE = 'AF031';
  ELSIF target_key IS NULL THEN
    RAISE EXCEPTION 'user "%" does not exist', left(target_user_id, 256) USING ERRCODE = 'AF031';
  END IF;
  RETURN authflow.merge_users(anon_key, target_key);
END $$;
COMMENT ON FUNCTION authflow.merge_anonymous_user(text, text, text) IS
  'Merges an anonymous user into another user in the caller''s transaction: moves rows per merge_rules, deletes credential rows, merges metadata (target wins), revokes the anonymous sessions, deletes the anonymous user; returns a summary';
-- Maintenance: garbage collection (pg_cron), durability.

-- purge_rows deletes up to max_rows rows of a table matching a condition, walking the heap in
-- ranges of 256 blocks (TID range scans): one pass over the table, each statement short, and
-- only rows that match are ever locked.
CREATE FUNCTION authflow.purge_rows(target regclass, condition text, max_rows bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  chunk constant integer := 256;
  blocks bigint := pg_relation_size(target) / current_setting('block_size')::integer;
  first_block bigint := 0;
  deleted bigint := 0;
  batch bigint;
BEGIN
  WHILE first_block <= blocks AND deleted < max_rows LOOP
    EXECUTE format(
      'DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE ctid >= %L::tid AND ctid < %L::tid AND (%s) LIMIT %s))',
      target, target, format('(%s,0)', first_block), format('(%s,0)', first_block + chunk), condition,
      max_rows - deleted);
    GET DIAGNOSTICS batch = ROW_COUNT;
    deleted := deleted + batch;
    first_block := first_block + chunk;
  END LOOP;
  RETURN deleted;
END $$;
COMMENT ON FUNCTION authflow.purge_rows(regclass, text, bigint) IS
  'Internal: deletes up to max_rows rows matching condition, in short statements over block ranges';

CREATE FUNCTION authflow.purge_expired(max_rows integer DEFAULT 100000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  deleted bigint;
BEGIN
  IF max_rows IS NULL OR max_rows < 1 THEN
    RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  deleted := authflow.purge_rows('authflow.sessions', 'expires_at <= now()', max_rows);
  deleted := deleted + authflow.purge_rows('authflow.cli_attempts', 'expires_at <= now()', max_rows - deleted);
  -- Anonymous users nobody can sign in as any more, past their tenant's retention.
  deleted := deleted + authflow.purge_rows('authflow.users',
    'is_anonymous AND created_at < now() - (SELECT t.anonymous_user_retention FROM authflow.tenants AS t
                                             WHERE t.tenant_id = users.tenant_id)
     AND NOT EXISTS (SELECT 1 FROM authflow.sessions AS s WHERE s.user_key = users.user_key)',
    max_rows - deleted);
  -- The scheduled job's own history: keep a day of it.
  IF to_regclass('cron.job_run_details') IS NOT NULL THEN
    DELETE FROM cron.job_run_details AS d
     USING cron.job AS j
     WHERE d.jobid = j.jobid AND j.jobname = 'authflow-purge' AND d.end_time < now() - interval '1 day';
  END IF;
  RETURN deleted;
END $$;
COMMENT ON FUNCTION authflow.purge_expired(integer) IS
  'Deletes up to max_rows expired sessions, expired CLI attempts and anonymous users without sessions past their tenant''s retention (garbage only: every read checks expiry itself); the pg_cron job calls it every minute';

CREATE FUNCTION authflow.schedule_purge()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job bigint;
BEGIN
  IF to_regprocedure('cron.schedule(text, text, text)') IS NULL THEN
    RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = format('Add pg_cron to shared_preload_libraries and, in the database named by cron.database_name, run: '
                          'SELECT cron.schedule_in_database(''authflow-purge'', ''* * * * *'', '
                          '''SELECT authflow.purge_expired()'', %L);', current_database());
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'authflow-purge', '* * * * *', 'SELECT authflow.purge_expired()';
  RETURN job;
END $$;
COMMENT ON FUNCTION authflow.schedule_purge() IS
  'Schedules authflow.purge_expired() every minute with pg_cron (job authflow-purge); without pg_cron in this database, raises 55000 with the call to run instead';

CREATE FUNCTION authflow.unschedule_purge()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  removed boolean := false;
BEGIN
  IF to_regclass('cron.job') IS NOT NULL AND EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'authflow-purge') THEN
    EXECUTE 'SELECT cron.unschedule($1)' INTO removed USING 'authflow-purge';
  END IF;
  RETURN removed;
END $$;
COMMENT ON FUNCTION authflow.unschedule_purge() IS 'Removes the pg_cron job authflow-purge; false when there was none';

CREATE FUNCTION authflow.set_durable(durable boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  volatile_table regclass;
BEGIN
  IF durable IS NULL THEN
    RAISE EXCEPTION 'durable must be true or false' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH volatile_table IN ARRAY authflow.volatile_tables() LOOP
    EXECUTE format('ALTER TABLE %s SET %s', volatile_table, CASE WHEN durable THEN 'LOGGED' ELSE 'UNLOGGED' END);
  END LOOP;
END $$;
COMMENT ON FUNCTION authflow.set_durable(boolean) IS
  'true: sessions and CLI attempts become logged tables (survive crashes, visible on replicas); false: unlogged (the default). Rewrites the tables under an exclusive lock.';

CREATE FUNCTION authflow.volatile_tables()
RETURNS regclass[]
LANGUAGE sql STABLE
RETURN ARRAY['authflow.sessions'::regclass, 'authflow.cli_attempts'::regclass];
COMMENT ON FUNCTION authflow.volatile_tables() IS 'Internal: the tables that are unlogged unless set_durable(true)';
-- HTTP: one entry point, authflow.http, for the gateway. Routing, JSON, status codes, cookies and
-- key checks all live here, so the whole HTTP contract is testable in SQL and the gateway only
-- carries requests. See docs/http-api.md.

CREATE FUNCTION authflow.api_key_create(kind text DEFAULT 'server', tenant text DEFAULT 'default')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  id uuid := gen_random_uuid();
  key record;
BEGIN
  IF kind IS NULL OR kind <> 'server' THEN
    RAISE EXCEPTION 'kind must be server' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO key FROM authflow.token_issue('key', id);
  INSERT INTO authflow.api_keys (key_id, tenant_id, kind, key_hash) VALUES (id, settings.tenant_id, kind, key.secret_hash);
  RETURN key.token;
END $$;
COMMENT ON FUNCTION authflow.api_key_create(text, text) IS 'A new API key of a tenant, returned raw once (stored hashed)';

CREATE FUNCTION authflow.api_key_revoke(key text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE authflow.api_keys AS k SET revoked_at = now()
    FROM authflow.token_parse(key, 'key') AS p
   WHERE k.key_id = p.row_id AND authflow.secure_equal(k.key_hash, p.secret_hash) AND k.revoked_at IS NULL;
  RETURN FOUND;
END $$;
COMMENT ON FUNCTION authflow.api_key_revoke(text) IS 'Revokes an API key; false when it is unknown or already revoked';

CREATE TYPE authflow.http_response AS (status integer, headers jsonb, body text);
COMMENT ON TYPE authflow.http_response IS 'What authflow.http answers: status, headers (name to value, or to an array of values), body';

CREATE FUNCTION authflow.http_json(status integer, body jsonb, extra_headers jsonb DEFAULT '{}')
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN ROW(status, jsonb_build_object('content-type', 'application/json') || extra_headers, body::text)::authflow.http_response;
COMMENT ON FUNCTION authflow.http_json(integer, jsonb, jsonb) IS 'Internal: a response with a JSON body';

CREATE FUNCTION authflow.http_error(status integer, code text, message text, extra_headers jsonb DEFAULT '{}')
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN authflow.http_json(status, jsonb_build_object('code', code, 'error', message),
                          jsonb_build_object('x-known-error', code, 'x-stack-known-error', code) || extra_headers);
COMMENT ON FUNCTION authflow.http_error(integer, text, text, jsonb) IS
  'Internal: an error response {"code", "error"} with the code in x-known-error (and x-stack-known-error)';

-- http_error_for maps an error raised while serving a request to a response, or NULL when it is
-- not the client's mistake (serialization failures, deadlocks, bugs): those are raised again, for
-- the gateway to retry or answer with a 5xx. Messages pass through only for errors authflow raises.
CREATE FUNCTION authflow.http_error_for(state text, message text)
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN m.code IS NOT NULL THEN authflow.http_error(m.status, m.code, message)
    WHEN state = '22023' THEN authflow.http_error(400, 'INVALID_ARGUMENT', message)
    WHEN state LIKE '22%' THEN authflow.http_error(400, 'INVALID_ARGUMENT', 'invalid value in the request')
    WHEN state = '42501' THEN authflow.http_error(403, 'FORBIDDEN', 'forbidden')
    WHEN state = '23505' THEN authflow.http_error(409, 'CONFLICT', 'conflict')
  END
  FROM (SELECT NULL) AS nothing
  LEFT JOIN (VALUES
    ('AF001', 400, 'INVALID_ANON_REFRESH_TOKEN'), ('AF002', 400, 'ANON_REFRESH_TOKEN_WRONG_PROJECT'),
    ('AF003', 400, 'ANON_REFRESH_TOKEN_EXPIRED'), ('AF004', 400, 'REFRESH_TOKEN_NOT_ANONYMOUS'),
    ('AF010', 400, 'INVALID_POLLING_CODE'),
    ('AF020', 400, 'INVALID_LOGIN_CODE'), ('AF021', 400, 'NO_ANONYMOUS_SESSION'), ('AF022', 400, 'REFRESH_TOKEN_REQUIRED'),
    ('AF023', 400, 'INVALID_REFRESH_TOKEN'), ('AF024', 400, 'PROJECT_ID_MISMATCH'), ('AF025', 400, 'REFRESH_TOKEN_WRONG_PROJECT'),
    ('AF030', 400, 'USER_NOT_ANONYMOUS'), ('AF031', 400, 'USER_NOT_FOUND'), ('AF032', 409, 'MERGE_CONFLICT'),
    ('AF033', 400, 'MERGE_RULE_BROKEN'),
    ('AF400', 400, 'SCHEMA_ERROR'), ('AF413', 413, 'PAYLOAD_TOO_LARGE')) AS m(state, status, code) ON m.state = http_error_for.state
$$;
COMMENT ON FUNCTION authflow.http_error_for(text, text) IS 'Internal: the HTTP response for a SQLSTATE, NULL when it is no client error';

-- Request bodies and their fields. Each failure is an AF400 (400 SCHEMA_ERROR) naming the field.
CREATE FUNCTION authflow.http_body(body text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  parsed jsonb;
BEGIN
  IF octet_length(body) > 65536 THEN
    RAISE EXCEPTION 'request body must be at most 65536 bytes' USING ERRCODE = 'AF413';
  END IF;
  IF body IS NULL OR btrim(body) = '' THEN
    RETURN '{}';
  END IF;
  BEGIN
    parsed := body::jsonb;
  EXCEPTION WHEN invalid_text_representation OR untranslatable_character OR character_not_in_repertoire THEN
    RAISE EXCEPTION 'request body is not valid JSON' USING ERRCODE = 'AF400';
  END;
  IF jsonb_typeof(parsed) <> 'object' THEN
    RAISE EXCEPTION 'request body must be a JSON object' USING ERRCODE = 'AF400';
  END IF;
  RETURN parsed;
END $$;
COMMENT ON FUNCTION authflow.http_body(text) IS 'Internal: the JSON object of a request body ({} when empty); AF400 otherwise';

CREATE FUNCTION authflow.http_field(body jsonb, field text, json_type text, required boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  value jsonb := body -> field;
BEGIN
  IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
    IF required THEN
      RAISE EXCEPTION '% is required', field USING ERRCODE = 'AF400';
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(value) <> json_type THEN
    RAISE EXCEPTION '% must be a %', field, json_type USING ERRCODE = 'AF400';
  END IF;
  RETURN value;
END $$;
COMMENT ON FUNCTION authflow.http_field(jsonb, text, text, boolean) IS 'Internal: a field of a request body, of a JSON type; AF400 otherwise';

CREATE FUNCTION authflow.http_string(body jsonb, field text, required boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN authflow.http_field(body, field, 'string', required) #>> '{}';
COMMENT ON FUNCTION authflow.http_string(jsonb, text, boolean) IS 'Internal: a string field of a request body';

-- The refresh-token cookie: HTTP-only, Secure, SameSite=Lax, sent only to the session routes.
CREATE FUNCTION authflow.http_refresh_cookie(token text, expires_at timestamptz)
RETURNS text
LANGUAGE sql STABLE
RETURN CASE WHEN token IS NULL
            THEN 'authflow_refresh=; Path=/api/v1/sessions; Max-Age=0; HttpOnly; Secure; SameSite=Lax'
            ELSE format('authflow_refresh=%s; Path=/api/v1/sessions; Max-Age=%s; HttpOnly; Secure; SameSite=Lax',
                        token, greatest(0, floor(extract(epoch FROM expires_at - now())))::bigint) END;
COMMENT ON FUNCTION authflow.http_refresh_cookie(text, timestamptz) IS 'Internal: Set-Cookie for the refresh token (NULL token: clear it)';

CREATE FUNCTION authflow.http_refresh_token(headers jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN coalesce(headers ->> 'x-refresh-token',
                substring(headers ->> 'cookie' FROM '(?:^|;)\s*authflow_refresh=([^;\s]+)'));
COMMENT ON FUNCTION authflow.http_refresh_token(jsonb) IS 'Internal: the refresh token of a request: x-refresh-token, else the cookie';

-- http_server_key_problem is NULL when the request carries a live server key of the tenant, else
-- the error response.
CREATE FUNCTION authflow.http_server_key_problem(headers jsonb, settings authflow.tenants)
RETURNS authflow.http_response
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  presented text := coalesce(headers ->> 'x-server-key', headers ->> 'x-stack-secret-server-key');
  key_tenant integer;
BEGIN
  IF presented IS NULL THEN
    RETURN authflow.http_error(401, 'SERVER_KEY_REQUIRED', 'this route needs a server key (x-server-key)');
  END IF;
  SELECT k.tenant_id INTO key_tenant FROM authflow.token_parse(presented, 'key') AS p
    JOIN authflow.api_keys AS k ON k.key_id = p.row_id
   WHERE authflow.secure_equal(k.key_hash, p.secret_hash) AND k.revoked_at IS NULL AND k.kind = 'server';
  IF NOT FOUND THEN
    RETURN authflow.http_error(401, 'INVALID_SERVER_KEY', 'the server key is invalid or revoked');
  ELSIF key_tenant <> settings.tenant_id THEN
    RETURN authflow.http_error(403, 'SERVER_KEY_WRONG_PROJECT', 'the server key belongs to another project');
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION authflow.http_server_key_problem(jsonb, authflow.tenants) IS
  'Internal: NULL when the request has a live server key of the tenant, else a 401/403 response';

-- http_path_user_id decodes the {user_id} of /api/v1/users/{user_id}/sessions.
CREATE FUNCTION authflow.http_path_user_id(path text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  encoded text := substring(path FROM '^/api/v1/users/([^/]+)/sessions$');
BEGIN
  IF encoded ~ '%(?![0-9A-Fa-f]{2})' THEN
    RAISE EXCEPTION 'user_id in the path is not properly percent-encoded' USING ERRCODE = 'AF400';
  END IF;
  RETURN convert_from(string_agg(CASE WHEN part[1] IS NOT NULL THEN decode(substr(part[1], 2), 'hex')
                                      ELSE convert_to(part[2], 'UTF8') END, ''::bytea), 'UTF8')
    FROM regexp_matches(encoded, '(%[0-9A-Fa-f]{2})|([^%]+)', 'g') AS part;
END $$;
COMMENT ON FUNCTION authflow.http_path_user_id(text) IS 'Internal: the percent-decoded user id of a /api/v1/users/{user_id}/sessions path';

-- GET /api/v1/sessions/current, the hot route: no subtransaction, nothing raised. It sets the
-- route header itself. No SET clause: its only caller, authflow.http, pins search_path already,
-- and a nested SET would switch GUCs twice per request.
CREATE FUNCTION authflow.http_session_current(headers jsonb)
RETURNS authflow.http_response
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  credentials text := headers ->> 'authorization';
  session record;
BEGIN
  IF credentials IS NOT NULL AND lower(left(credentials, 7)) = 'bearer ' THEN
    SELECT * INTO session FROM authflow.session_validate(ltrim(substr(credentials, 8)));
    IF FOUND AND session.tenant = coalesce(headers ->> 'x-tenant-id', headers ->> 'x-stack-project-id', session.tenant) THEN
      RETURN ROW(200, '{"content-type": "application/json", "x-authflow-route": "GET /api/v1/sessions/current"}'::jsonb,
                 to_jsonb(session)::text)::authflow.http_response;
    END IF;
    RETURN authflow.http_error(401, 'INVALID_ACCESS_TOKEN', 'the access token is invalid or expired',
                               '{"www-authenticate": "Bearer", "x-authflow-route": "GET /api/v1/sessions/current"}');
  END IF;
  RETURN authflow.http_error(401, 'ACCESS_TOKEN_REQUIRED', 'an access token is required (Authorization: Bearer)',
                             '{"www-authenticate": "Bearer", "x-authflow-route": "GET /api/v1/sessions/current"}');
END $$;
COMMENT ON FUNCTION authflow.http_session_current(jsonb) IS 'Internal: GET /api/v1/sessions/current';

-- http_routes is every route authflow.http serves: its path template and allowed methods.
CREATE FUNCTION authflow.http_routes()
RETURNS TABLE (template text, methods text[])
LANGUAGE sql IMMUTABLE
AS $$
  VALUES
    ('/api/v1/auth/cli', '{POST}'::text[]),
    ('/api/v1/auth/cli/poll', '{POST}'),
    ('/api/v1/auth/cli/complete', '{POST}'),
    ('/api/v1/auth/anonymous/sign-up', '{POST}'),
    ('/api/v1/sessions', '{POST}'),
    ('/api/v1/sessions/current', '{GET,DELETE}'),
    ('/api/v1/sessions/current/refresh', '{POST}'),
    ('/api/v1/users/{user_id}/sessions', '{GET,DELETE}'),
    ('/healthz', '{GET}')
$$;
COMMENT ON FUNCTION authflow.http_routes() IS 'Every route authflow.http serves, with its allowed methods';

-- http_route is the route of a path: its template and methods; no row when unknown.
CREATE FUNCTION authflow.http_route(path text)
RETURNS TABLE (template text, methods text[])
LANGUAGE sql IMMUTABLE
AS $$
  SELECT r.template, r.methods FROM authflow.http_routes() AS r
   WHERE r.template = path OR (r.template = '/api/v1/users/{user_id}/sessions' AND path ~ '^/api/v1/users/[^/]+/sessions$')
$$;
COMMENT ON FUNCTION authflow.http_route(text) IS 'Internal: the route template of a path and its allowed methods';

-- http_dispatch serves every route but the hot one; it may raise (authflow.http maps the error).
CREATE FUNCTION authflow.http_dispatch(method text, template text, path text, headers jsonb, body text)
RETURNS authflow.http_response
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tenant_name text := coalesce(headers ->> 'x-tenant-id', headers ->> 'x-stack-project-id', 'default');
  settings authflow.tenants;
  request jsonb := '{}';
  problem authflow.http_response;
  millis numeric;
  mode text;
  token text;
  result record;
  revoked integer;
BEGIN
  IF template = '/healthz' THEN
    RETURN authflow.http_json(200, '{"status": "ok"}');
  END IF;
  SELECT * INTO settings FROM authflow.tenants AS t WHERE t.name = tenant_name;
  IF NOT FOUND THEN
    RETURN authflow.http_error(400, 'PROJECT_NOT_FOUND', format('project "%s" does not exist', left(tenant_name, 128)));
  END IF;
  IF method = 'POST' THEN
    request := authflow.http_body(body);
  END IF;

  CASE template
  WHEN '/api/v1/auth/cli' THEN
    millis := authflow.http_field(request, 'expires_in_millis', 'number')::numeric;
    IF millis <= 0 OR millis > extract(epoch FROM settings.cli_attempt_max_ttl) * 1000 THEN
      RAISE EXCEPTION 'expires_in_millis must be greater than 0 and at most %', extract(epoch FROM settings.cli_attempt_max_ttl) * 1000
        USING ERRCODE = 'AF400';
    END IF;
    SELECT * INTO result FROM authflow.cli_start(make_interval(secs => millis / 1000),
                                                 authflow.http_string(request, 'anon_refresh_token'), NULL, settings.name);
    RETURN authflow.http_json(200, jsonb_build_object('polling_code', result.polling_code, 'login_code', result.login_code,
                                                      'expires_at', result.expires_at));

  WHEN '/api/v1/auth/cli/poll' THEN
    SELECT * INTO result FROM authflow.cli_poll(authflow.http_string(request, 'polling_code', true), settings.name);
    IF result.status = 'success' THEN
      RETURN authflow.http_json(201, jsonb_build_object('status', result.status, 'refresh_token', result.refresh_token,
                                                        'access_token', result.access_token));
    END IF;
    RETURN authflow.http_json(200, jsonb_build_object('status', result.status));

  WHEN '/api/v1/auth/cli/complete' THEN
    mode := coalesce(authflow.http_string(request, 'mode'), 'complete');
    IF mode NOT IN ('check', 'claim-anon-session', 'complete') THEN
      RAISE EXCEPTION 'mode must be check, claim-anon-session or complete' USING ERRCODE = 'AF400';
    END IF;
    token := authflow.http_string(request, 'login_code', true);
    IF mode = 'check' THEN
      RETURN authflow.http_json(200, jsonb_build_object('cli_session_state', authflow.cli_check(token, settings.name)));
    ELSIF mode = 'claim-anon-session' THEN
      SELECT * INTO result FROM authflow.cli_claim_anon_session(token, settings.name);
      RETURN authflow.http_json(200, jsonb_build_object('access_token', result.access_token, 'refresh_token', result.refresh_token));
    END IF;
    PERFORM authflow.cli_complete(token, authflow.http_string(request, 'refresh_token'),
                                  coalesce((authflow.http_field(request, 'merge', 'boolean'))::boolean, false), settings.name);
    RETURN authflow.http_json(200, '{"success": true}');

  WHEN '/api/v1/auth/anonymous/sign-up' THEN
    SELECT * INTO result FROM authflow.user_create_anonymous(settings.name);
    RETURN authflow.http_json(200, to_jsonb(result));

  WHEN '/api/v1/sessions' THEN
    problem := authflow.http_server_key_problem(headers, settings);
    IF problem IS NOT NULL THEN RETURN problem; END IF;
    SELECT * INTO result FROM authflow.session_create(
      authflow.http_string(request, 'user_id', true), authflow.http_string(request, 'handle'),
      authflow.http_field(request, 'client', 'object'), settings.name);
    RETURN authflow.http_json(201, to_jsonb(result) || jsonb_build_object('user_id', request ->> 'user_id'));

  WHEN '/api/v1/sessions/current' THEN  -- DELETE: log out; GET is served by authflow.http itself
    token := authflow.http_refresh_token(headers);
    IF token IS NOT NULL THEN
      PERFORM authflow.session_revoke(token);
    END IF;
    RETURN ROW(204, jsonb_build_object('set-cookie', authflow.http_refresh_cookie(NULL, NULL)), NULL)::authflow.http_response;

  WHEN '/api/v1/sessions/current/refresh' THEN
    token := authflow.http_refresh_token(headers);
    IF token IS NOT NULL THEN
      SELECT * INTO result FROM authflow.session_refresh(token);
    END IF;
    IF token IS NULL OR result.session_id IS NULL THEN
      RETURN authflow.http_error(401, CASE WHEN token IS NULL THEN 'REFRESH_TOKEN_REQUIRED' ELSE 'INVALID_REFRESH_TOKEN' END,
                                 CASE WHEN token IS NULL THEN 'a refresh token is required (cookie or x-refresh-token)'
                                      ELSE 'the refresh token is invalid or expired' END,
                                 jsonb_build_object('set-cookie', authflow.http_refresh_cookie(NULL, NULL)));
    END IF;
    RETURN authflow.http_json(200, to_jsonb(result),
                              jsonb_build_object('set-cookie', authflow.http_refresh_cookie(token, result.expires_at)));

  WHEN '/api/v1/users/{user_id}/sessions' THEN
    problem := authflow.http_server_key_problem(headers, settings);
    IF problem IS NOT NULL THEN RETURN problem; END IF;
    IF method = 'GET' THEN
      RETURN authflow.http_json(200, jsonb_build_object('sessions', (
        SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]') FROM authflow.session_list(authflow.http_path_user_id(path), settings.name) AS s)));
    END IF;
    revoked := authflow.session_revoke_all(authflow.http_path_user_id(path), settings.name);
    RETURN authflow.http_json(200, jsonb_build_object('deleted', revoked));
  END CASE;
END $$;
COMMENT ON FUNCTION authflow.http_dispatch(text, text, text, jsonb, text) IS 'Internal: serves a routed request';

CREATE FUNCTION authflow.http(method text, path text, headers jsonb, body text)
RETURNS SETOF authflow.http_response
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  route_path text := split_part(path, '?', 1);
  template text;
  methods text[];
  response authflow.http_response;
  state text;
  message text;
BEGIN
  -- The hot route first: served right here, no route lookup, no subtransaction, nothing raised.
  IF path = '/api/v1/sessions/current' AND method = 'GET' THEN
    RETURN NEXT authflow.http_session_current(headers);
    RETURN;
  END IF;
  SELECT r.template, r.methods INTO template, methods FROM authflow.http_route(route_path) AS r;
  IF template IS NULL THEN
    RETURN NEXT authflow.http_error(404, 'NOT_FOUND', 'no such route');
    RETURN;
  ELSIF method IS NULL OR NOT method = ANY (methods) THEN
    response := authflow.http_error(405, 'METHOD_NOT_ALLOWED', 'method not allowed',
                                    jsonb_build_object('allow', array_to_string(methods, ', ')));
  ELSIF method = 'GET' AND template = '/api/v1/sessions/current' THEN  -- with a query string
    RETURN NEXT authflow.http_session_current(headers);
    RETURN;
  ELSE
    -- A client's mistake rolls back what the request did (the block's subtransaction) and becomes
    -- a 4xx; anything else is raised again for the gateway (retry on 40001/40P01, else 5xx).
    BEGIN
      response := authflow.http_dispatch(method, template, route_path, coalesce(headers, '{}'), body);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
      response := authflow.http_error_for(state, message);
      IF response IS NULL THEN
        RAISE;
      END IF;
    END;
  END IF;
  response.headers := response.headers || jsonb_build_object('x-authflow-route', method || ' ' || template);
  RETURN NEXT response;
END $$;
COMMENT ON FUNCTION authflow.http(text, text, jsonb, text) IS
  'The HTTP API in one function: routes a request (method, path with optional query, lower-case headers, body) and returns status, headers and body. The gateway calls only this.';
-- Privileges. Tables are reachable only through functions; PUBLIC may call the primitives and
-- nothing else. authflow.grant_api gives an application role what it needs.
REVOKE ALL ON ALL TABLES IN SCHEMA authflow FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA authflow FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA authflow FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authflow.token_generate(text), authflow.token_generate(text, uuid),
  authflow.token_issue(text, uuid), authflow.token_parse(text, text), authflow.sha256(bytea),
  authflow.sha256(text), authflow.secure_equal(bytea, bytea), authflow.time_ordered_uuid() TO PUBLIC;

CREATE FUNCTION authflow.api_functions(include_admin boolean DEFAULT false)
RETURNS regprocedure[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  api text[] := ARRAY[
    'authflow.session_create(text, text, jsonb, text)', 'authflow.session_validate(text)', 'authflow.session_validate_routed(text)',
    'authflow.session_refresh(text)', 'authflow.session_revoke(text)', 'authflow.session_revoke_all(text, text)',
    'authflow.session_list(text, text)', 'authflow.user_set_handle(text, text, text)',
    'authflow.tenant_get(text)', 'authflow.user_create_anonymous(text)', 'authflow.user_upgrade(text, text, text)',
    'authflow.cli_start(interval, text, jsonb, text)', 'authflow.cli_poll(text, text)', 'authflow.cli_check(text, text)',
    'authflow.cli_claim_anon_session(text, text)', 'authflow.cli_complete(text, text, boolean, text)',
    'authflow.merge_anonymous_user(text, text, text)', 'authflow.http(text, text, jsonb, text)'];
  admin text[] := ARRAY[
    'authflow.tenant_set(text, interval, interval, interval, interval, interval, interval, boolean)',
    'authflow.purge_expired(integer)', 'authflow.schedule_purge()', 'authflow.unschedule_purge()',
    'authflow.set_durable(boolean)', 'authflow.merge_rule_add(regclass, name, name[], text, boolean, name)',
    'authflow.merge_rule_remove(regclass, name)', 'authflow.api_key_create(text, text)', 'authflow.api_key_revoke(text)'];
BEGIN
  RETURN (SELECT array_agg(signature::regprocedure ORDER BY signature)
            FROM unnest(api || CASE WHEN include_admin THEN admin ELSE '{}' END) AS signature);
END $$;
COMMENT ON FUNCTION authflow.api_functions(boolean) IS
  'The functions an application calls (with include_admin, also tenant settings and maintenance)';

CREATE FUNCTION authflow.grant_api(grantee name, include_admin boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  api_function regprocedure;
BEGIN
  IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
    RAISE EXCEPTION 'role "%" does not exist', grantee USING ERRCODE = 'undefined_object';
  END IF;
  FOREACH api_function IN ARRAY authflow.api_functions(include_admin) LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', api_function, grantee);
  END LOOP;
END $$;
COMMENT ON FUNCTION authflow.grant_api(name, boolean) IS
  'GRANT EXECUTE on the API (with include_admin, also on tenant settings and maintenance) to a role';

-- The gateway's role may call authflow.http and nothing else:
--   CREATE ROLE authflow_gateway LOGIN PASSWORD '...';
--   SELECT authflow.grant_http('authflow_gateway');
CREATE FUNCTION authflow.grant_http(grantee name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
    RAISE EXCEPTION 'role "%" does not exist', grantee USING ERRCODE = 'undefined_object';
  END IF;
  EXECUTE format('GRANT EXECUTE ON FUNCTION authflow.http(text, text, jsonb, text) TO %I', grantee);
END $$;
COMMENT ON FUNCTION authflow.grant_http(name) IS 'GRANT EXECUTE on authflow.http, and nothing else, to a role (the gateway''s)';
