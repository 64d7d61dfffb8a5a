-- facts.sql: rules written in more than one place agree. The sliding expiry, least(now + session
-- TTL, created_at + session_max_lifetime), is authflow.session_expiry in SQL and is spelled out in
-- the saved statements of session_create and session_refresh (C++, for speed): all three must
-- give the same times, for an uncapped tenant, a cap beyond the TTL and a cap within it.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(12);

SELECT authflow.tenant_set('facts-uncapped', session_ttl => '1 day', access_token_ttl => '10 minutes');
SELECT authflow.tenant_set('facts-far-cap', session_ttl => '1 day', access_token_ttl => '10 minutes',
                           session_max_lifetime => '30 days');
SELECT authflow.tenant_set('facts-near-cap', session_ttl => '1 day', access_token_ttl => '10 minutes',
                           session_max_lifetime => '5 minutes');
CREATE TEMP TABLE made AS
  SELECT t.name, c.* FROM (VALUES ('facts-uncapped'), ('facts-far-cap'), ('facts-near-cap')) AS t(name),
         LATERAL authflow.session_create('did:plc:facts', NULL, NULL, t.name) AS c;
-- The tenant's row is read into a variable first: on Citus a query passing a whole row of the
-- reference table would run on its shard, whose row type is not authflow.tenants.
CREATE FUNCTION pg_temp.expiry(tenant text, created_at timestamptz) RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
  settings authflow.tenants;
BEGIN
  SELECT * INTO STRICT settings FROM authflow.tenants AS t WHERE t.name = tenant;
  RETURN authflow.session_expiry(settings, created_at, now());
END $$;
CREATE TEMP TABLE expected AS SELECT m.name, pg_temp.expiry(m.name, m.created_at) AS expires_at FROM made AS m;

SELECT is((SELECT m.expires_at FROM made AS m WHERE m.name = n), (SELECT e.expires_at FROM expected AS e WHERE e.name = n),
          'session_create and session_expiry agree: ' || n)
  FROM unnest(ARRAY['facts-uncapped', 'facts-far-cap', 'facts-near-cap']) AS n;
SELECT is((SELECT m.access_expires_at FROM made AS m WHERE m.name = n),
          least(now() + interval '10 minutes', (SELECT e.expires_at FROM expected AS e WHERE e.name = n)),
          'session_create: the access token never outlives the session: ' || n)
  FROM unnest(ARRAY['facts-uncapped', 'facts-far-cap', 'facts-near-cap']) AS n;
CREATE TEMP TABLE refreshed AS
  SELECT m.name, r.* FROM made AS m, LATERAL authflow.session_refresh(m.refresh_token) AS r;
SELECT is((SELECT r.expires_at FROM refreshed AS r WHERE r.name = n), (SELECT e.expires_at FROM expected AS e WHERE e.name = n),
          'session_refresh and session_expiry agree: ' || n)
  FROM unnest(ARRAY['facts-uncapped', 'facts-far-cap', 'facts-near-cap']) AS n;
SELECT is((SELECT r.access_expires_at FROM refreshed AS r WHERE r.name = n),
          least(now() + interval '10 minutes', (SELECT e.expires_at FROM expected AS e WHERE e.name = n)),
          'session_refresh: the access token never outlives the session: ' || n)
  FROM unnest(ARRAY['facts-uncapped', 'facts-far-cap', 'facts-near-cap']) AS n;

SELECT * FROM finish();
ROLLBACK;
