-- Tables. Reachable only through the functions of this extension: nothing is granted on them.

-- One row per tenant (project): its TTLs and flow settings.
CREATE TABLE authflow.tenants (
  tenant_id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                     text NOT NULL UNIQUE,
  session_ttl              interval NOT NULL DEFAULT '7 days',
  access_token_ttl         interval NOT NULL DEFAULT '15 minutes',
  session_max_lifetime     interval DEFAULT '90 days',   -- NULL: sliding sessions are not capped
  cli_attempt_ttl          interval NOT NULL DEFAULT '2 hours',
  cli_attempt_max_ttl      interval NOT NULL DEFAULT '24 hours',
  anonymous_user_retention interval NOT NULL DEFAULT '30 days',
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  -- The refresh-token cookie: a __Host- name is pinned to the host (Secure, Path=/, no Domain),
  -- so a sibling subdomain cannot plant one. The default tenant keeps 0.1.0's name.
  refresh_cookie_name      text NOT NULL DEFAULT '__Host-authflow_refresh',
  -- Refresh-token rotation with reuse detection (new tenants: on); within the grace window the
  -- token just replaced still answers with the same new pair (two tabs, a retried request).
  refresh_rotation         boolean NOT NULL DEFAULT true,
  refresh_reuse_grace      interval NOT NULL DEFAULT '10 seconds',
  security_event_retention interval NOT NULL DEFAULT '90 days'
);
COMMENT ON TABLE authflow.tenants IS 'One row per tenant (project): TTLs and flow settings; see authflow.tenant_set';
-- The default tenant keeps the contract of the stores authflow replaces (0.1.0's): its cookie, one
-- refresh token for a session's life, no absolute cap. tenant_set changes any of it.
INSERT INTO authflow.tenants (name, refresh_cookie_name, refresh_rotation, session_max_lifetime)
VALUES ('default', 'authflow_refresh', false, NULL);

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
  -- 'web', 'cli', 'anonymous' or 'device'. Only the extension's own functions write this table; no
  -- CHECK constraint, because PostgreSQL re-reads a CHECK from its stored text on every insert (7 %
  -- of session_create's instructions). tests/sql/cli.sql and device.sql hold the written kinds.
  kind              text NOT NULL,
  access_hash       bytea NOT NULL,   -- SHA-256 of the access token's secret
  refresh_hash      bytea NOT NULL,   -- SHA-256 of the refresh token's secret
  client            jsonb,            -- what the caller said about the client (user agent, ...)
  -- Rotation: the hash of the refresh token the current one replaced, when, and how many times.
  previous_refresh_hash bytea,
  rotated_at        timestamptz,
  refresh_generation integer NOT NULL DEFAULT 0,
  -- What the gateway saw when the session was made (the "active devices" list).
  client_address    text,
  user_agent        text
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
  client             jsonb,
  completed_session_id uuid         -- the browser session that completed it: revoking it voids the attempt
);
COMMENT ON TABLE authflow.cli_attempts IS 'CLI login attempts; only hashes of the polling and login codes; unlogged unless authflow.set_durable(true)';

-- OAuth clients of the device authorization grant (RFC 8628), registered per tenant: a CLI, a TV
-- app, an agent. They are public clients: a client_id, no secret.
CREATE TABLE authflow.oauth_clients (
  tenant_id        integer NOT NULL REFERENCES authflow.tenants ON DELETE CASCADE,
  client_id        text NOT NULL,
  name             text NOT NULL,
  scopes           text[] NOT NULL DEFAULT '{}',   -- the scopes it may ask for
  verification_uri text NOT NULL,                  -- the page where a person enters its user codes
  poll_interval    integer NOT NULL DEFAULT 5,     -- seconds between polls, until slow_down raises it
  code_lifetime    interval NOT NULL DEFAULT '10 minutes',
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, client_id)
);
COMMENT ON TABLE authflow.oauth_clients IS 'OAuth clients of the device grant per tenant (public: no secret); see authflow.oauth_client_register';

-- One row per device authorization: the CLI attempt's state machine (waiting -> approved or
-- denied -> used; expired at any point) and the polling rule's state (docs/http-api.md). The
-- device code carries attempt_id; only the hash of its secret is stored. The device's tokens are
-- not kept here: the successful poll creates a new session.
CREATE UNLOGGED TABLE authflow.device_attempts (
  expires_at          timestamptz NOT NULL,
  created_at          timestamptz NOT NULL,
  polled_at           timestamptz NOT NULL,   -- the last accepted poll (at first: when the code was issued)
  slowed_at           timestamptz,            -- when poll_interval last grew (once per accepted-poll window)
  approved_at         timestamptz,
  denied_at           timestamptz,
  used_at             timestamptz,
  tenant_id           integer NOT NULL,
  poll_interval       integer NOT NULL,       -- seconds
  issued_interval     integer NOT NULL,       -- the interval it was issued with: slow_down adds at most 15 s to it
  approved_user_key   bigint,
  attempt_id          uuid NOT NULL PRIMARY KEY,
  approved_session_id uuid,                   -- the browser session that approved it: revoking it voids the attempt
  client_id           text NOT NULL,
  scopes              text[] NOT NULL,
  device_hash         bytea NOT NULL
);
COMMENT ON TABLE authflow.device_attempts IS 'Device authorizations (RFC 8628); only the hash of the device code; unlogged unless authflow.set_durable(true)';

-- The user code of each pending device authorization, keyed by an HMAC of the normalised code
-- (the code itself is never stored): what a person types is found with one primary-key probe.
-- The row goes when the attempt is approved or denied.
CREATE UNLOGGED TABLE authflow.device_user_codes (
  expires_at     timestamptz NOT NULL,
  tenant_id      integer NOT NULL,
  attempt_id     uuid NOT NULL,
  user_code_hash bytea NOT NULL PRIMARY KEY
);
COMMENT ON TABLE authflow.device_user_codes IS 'HMACs of the user codes of pending device authorizations; unlogged unless authflow.set_durable(true)';

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

-- Limits on what anyone on the internet may do without a credential (anonymous sign-up, CLI
-- start), per tenant: at most per_address_per_minute from one client address and
-- per_tenant_per_minute in all. No row: the defaults of authflow.rate_limit_defaults().
CREATE TABLE authflow.rate_limits (
  tenant_id              integer NOT NULL REFERENCES authflow.tenants ON DELETE CASCADE,
  action                 text NOT NULL CHECK (action IN ('anonymous_sign_up', 'cli_start', 'device_authorization',
                                                      'device_user_code')),
  per_address_per_minute integer CHECK (per_address_per_minute > 0),   -- NULL: no limit
  per_tenant_per_minute  integer CHECK (per_tenant_per_minute > 0),    -- NULL: no limit
  PRIMARY KEY (tenant_id, action)
);
COMMENT ON TABLE authflow.rate_limits IS 'Per-tenant limits on unauthenticated writes over HTTP; see authflow.rate_limit_set';

-- The counters behind them: one row per (tenant, action, client address or '*' for the whole
-- tenant), counting the requests of the current minute. Unlogged: a crash resets them.
CREATE UNLOGGED TABLE authflow.rate_counters (
  window_start timestamptz NOT NULL,
  tenant_id    integer NOT NULL,
  hits         integer NOT NULL,
  action       text NOT NULL,
  subject      text NOT NULL,
  PRIMARY KEY (tenant_id, action, subject)
);
COMMENT ON TABLE authflow.rate_counters IS 'Requests per minute per tenant, action and client address (rate limits); unlogged';

-- The extension's own keys; only its functions read them. refresh_rotation keys the HMAC that
-- derives a rotated refresh token's successor (see extension/token.hpp).
CREATE TABLE authflow.secrets (
  name  text NOT NULL PRIMARY KEY,
  value bytea NOT NULL
);
COMMENT ON TABLE authflow.secrets IS 'Keys of the extension (the refresh-rotation HMAC key); readable by its functions only';

-- Security events per tenant: reuse of a rotated refresh token, revocations, CLI logins, merges,
-- API keys. No secret in them. They share the sessions' durability (set_durable) and are purged
-- after the tenant's security_event_retention.
CREATE UNLOGGED TABLE authflow.security_events (
  event_id    bigint GENERATED ALWAYS AS IDENTITY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  tenant_id   integer NOT NULL,
  -- One of authflow.security_event_kinds(), which security_event (the only writer) checks: no CHECK
  -- constraint, which PostgreSQL would re-read from its stored text on every insert (every revoke).
  kind        text NOT NULL,
  user_id     text,
  session_id  uuid,
  details     jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, event_id)
);
COMMENT ON TABLE authflow.security_events IS 'Security events per tenant (no secrets); see authflow.security_events_list';
CREATE INDEX security_events_tenant_time ON authflow.security_events (tenant_id, occurred_at);

-- Application data that pg_dump must keep (the default tenant is re-created by CREATE EXTENSION).
SELECT pg_catalog.pg_extension_config_dump('authflow.tenants', 'WHERE name <> ''default''');
SELECT pg_catalog.pg_extension_config_dump('authflow.users', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.cli_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.merge_rules', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.rate_limits', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.security_events', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.oauth_clients', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.device_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.device_user_codes', '');
