-- authflow 0.1.0 -> 0.2.0: the changes to tables and types. The build appends every function
-- of sql/src (CREATE OR REPLACE), so the functions of an updated database are those of a fresh
-- install; tests/sql/upgrade.sql holds the two catalogs equal.
\echo Use "ALTER EXTENSION authflow UPDATE" to load this file. \quit

-- The composite types moved to sql/state in 0.2.0; their definitions did not change.

-- Security: revoking the session that completed a CLI attempt (or all of the user's sessions)
-- voids the attempt before the CLI picks it up. Attempts completed under 0.1.0 have no session
-- recorded and are picked up as before.
ALTER TABLE authflow.cli_attempts ADD COLUMN completed_session_id uuid;

-- Security: limits on unauthenticated writes over HTTP.
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
SELECT pg_catalog.pg_extension_config_dump('authflow.rate_limits', '');

-- The refresh-token cookie's name, per tenant. Tenants of 0.1.0 keep its cookie (a new name would
-- log every browser out); tenants created from now on get a __Host- cookie. session_expiry's
-- SQL-standard body depends on the row type of tenants; sql/src creates it again.
DROP FUNCTION authflow.session_expiry(authflow.tenants, timestamptz, timestamptz);
ALTER TABLE authflow.tenants ADD COLUMN refresh_cookie_name text NOT NULL DEFAULT 'authflow_refresh';
ALTER TABLE authflow.tenants ALTER COLUMN refresh_cookie_name SET DEFAULT '__Host-authflow_refresh';
DROP FUNCTION authflow.tenant_set(text, interval, interval, interval, interval, interval, interval, boolean);
ALTER TYPE authflow.tenant_settings ADD ATTRIBUTE refresh_cookie_name text;
-- The cookie helpers of 0.1.0 took no tenant.
DROP FUNCTION authflow.http_refresh_cookie(text, timestamptz);
DROP FUNCTION authflow.http_refresh_token(jsonb);

-- Sessions beyond Valkey: refresh-token rotation with reuse detection, an absolute lifetime and
-- security events. Tenants of 0.1.0 keep one refresh token per session and no cap (their clients
-- expect it); tenants created from now on get rotation and a 90-day cap.
ALTER TABLE authflow.tenants ADD COLUMN refresh_rotation boolean NOT NULL DEFAULT false,
                             ADD COLUMN refresh_reuse_grace interval NOT NULL DEFAULT '10 seconds',
                             ADD COLUMN security_event_retention interval NOT NULL DEFAULT '90 days';
ALTER TABLE authflow.tenants ALTER COLUMN refresh_rotation SET DEFAULT true,
                             ALTER COLUMN session_max_lifetime SET DEFAULT '90 days';
ALTER TYPE authflow.tenant_settings ADD ATTRIBUTE refresh_rotation boolean, ADD ATTRIBUTE refresh_reuse_grace interval,
                                    ADD ATTRIBUTE security_event_retention interval;
ALTER TABLE authflow.sessions ADD COLUMN previous_refresh_hash bytea, ADD COLUMN rotated_at timestamptz,
                              ADD COLUMN refresh_generation integer NOT NULL DEFAULT 0;

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
  kind        text NOT NULL,  -- one of authflow.security_event_kinds() (see sql/state/20_tables.sql)
  user_id     text,
  session_id  uuid,
  details     jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, event_id)
);
COMMENT ON TABLE authflow.security_events IS 'Security events per tenant (no secrets); see authflow.security_events_list';
CREATE INDEX security_events_tenant_time ON authflow.security_events (tenant_id, occurred_at);
SELECT pg_catalog.pg_extension_config_dump('authflow.security_events', '');
-- Active devices: what the gateway saw when a session was made.
ALTER TABLE authflow.sessions ADD COLUMN client_address text, ADD COLUMN user_agent text;

-- Device login (RFC 8628): registered clients, device authorizations and their user codes, and
-- the sessions they create (kind device; sessions.kind has no CHECK any more, see below).
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
SELECT pg_catalog.pg_extension_config_dump('authflow.oauth_clients', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.device_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.device_user_codes', '');

-- The volatile tables this update creates follow the sessions' durability: a database switched
-- to logged tables under 0.1.0 (authflow.set_durable(true)) keeps all of them logged.
DO $$
BEGIN
  IF (SELECT c.relpersistence FROM pg_class AS c WHERE c.oid = 'authflow.sessions'::regclass) = 'p' THEN
    ALTER TABLE authflow.security_events SET LOGGED;
    ALTER TABLE authflow.device_attempts SET LOGGED;
    ALTER TABLE authflow.device_user_codes SET LOGGED;
  END IF;
END $$;

-- Functions whose result or arguments changed are dropped and made again by sql/src. Dropping
-- them would drop the grants applications were given (grant_api): the .after.sql part gives them
-- again on the new signatures.
CREATE TABLE authflow.upgrade_grants AS
  SELECT f.new_signature, a.grantee
    FROM (VALUES ('authflow.session_refresh(text)', 'authflow.session_refresh(text)'),
                 ('authflow.session_create(text, text, jsonb, text)', 'authflow.session_create(text, text, jsonb, text, text, text)'),
                 ('authflow.user_create_anonymous(text)', 'authflow.user_create_anonymous(text, text, text)'),
                 ('authflow.cli_poll(text, text)', 'authflow.cli_poll(text, text, text, text)'),
                 ('authflow.cli_claim_anon_session(text, text)', 'authflow.cli_claim_anon_session(text, text, text, text)'),
                 ('authflow.session_list(text, text)', 'authflow.session_list(text, text)'))
         AS f(old_signature, new_signature)
    JOIN pg_proc AS p ON p.oid = f.old_signature::regprocedure,
         aclexplode(p.proacl) AS a
   WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;
DROP FUNCTION authflow.session_refresh(text);
DROP FUNCTION authflow.session_create(text, text, jsonb, text);
DROP FUNCTION authflow.user_create_anonymous(text);
DROP FUNCTION authflow.cli_poll(text, text);
DROP FUNCTION authflow.cli_claim_anon_session(text, text);
DROP FUNCTION authflow.session_list(text, text);
DROP FUNCTION authflow.session_insert(authflow.tenants, bigint, text, jsonb);

-- Tenants named by a UUID are named in lower case from 0.2.0 on (authflow.tenant_canonical_name),
-- as a request naming one in upper case means the same tenant. Two tenants of 0.1.0 whose UUID
-- names differ only in case cannot both keep their name: the update stops and says which.
DO $$
DECLARE
  clash text;
BEGIN
  SELECT string_agg(format('%L', t.name), ', ' ORDER BY t.name) INTO clash
    FROM authflow.tenants AS t
   WHERE t.name ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
     AND (SELECT count(*) FROM authflow.tenants AS o WHERE lower(o.name) = lower(t.name)) > 1;
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'tenants % differ only in the case of a UUID; rename all but one before updating', clash
      USING ERRCODE = 'unique_violation';
  END IF;
  UPDATE authflow.tenants SET name = lower(name)
   WHERE name ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$' AND name <> lower(name);
END $$;

-- sessions.kind: no CHECK constraint (see sql/state/20_tables.sql).
ALTER TABLE authflow.sessions DROP CONSTRAINT sessions_kind_check;
-- GET /api/v1/sessions/current is served by authflow.http itself from 0.2.0 on, its body written
-- once by http_session_json; what 0.1.0's http_session_current did on the other answers is
-- http_session_refused.
DROP FUNCTION authflow.http_session_current(jsonb);
