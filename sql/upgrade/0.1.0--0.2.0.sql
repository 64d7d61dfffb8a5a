-- authflow 0.1.0 -> 0.2.0: the changes to tables and types. The build appends every function
-- of sql/src (CREATE OR REPLACE), so the functions of an updated database are those of a fresh
-- install; tests/sql/upgrade.sql holds the two catalogs equal.
\echo Use "ALTER EXTENSION authflow UPDATE" to load this file. \quit

-- The composite types moved to sql/state in 0.2.0; their definitions did not change.

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
