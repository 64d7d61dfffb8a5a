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
CREATE INDEX sessions_user_key ON authflow.sessions USING hash (user_key);

-- Application data that pg_dump must keep (the default tenant is re-created by CREATE EXTENSION).
SELECT pg_catalog.pg_extension_config_dump('authflow.tenants', 'WHERE name <> ''default''');
SELECT pg_catalog.pg_extension_config_dump('authflow.users', '');
SELECT pg_catalog.pg_extension_config_dump('authflow.sessions', '');
