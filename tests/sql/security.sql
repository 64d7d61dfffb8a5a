-- security.sql: the attacks of the 0.1.0 review, each tried for real: a merge rule that would run
-- the application's code as superuser, parked CLI logins that outlive "log out everywhere",
-- functions callable by PUBLIC, tokens in the server log.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(46);

-- 1. A role that owns an application table and may add merge rules (grant_api with admin).
CREATE ROLE authflow_test_owner NOLOGIN;
CREATE ROLE authflow_test_gateway NOLOGIN;
SELECT authflow.grant_api('authflow_test_owner', true);
SELECT authflow.grant_http('authflow_test_gateway');
CREATE SCHEMA appx AUTHORIZATION authflow_test_owner;
CREATE TABLE public.not_theirs (owner text);
SET LOCAL ROLE authflow_test_owner;
CREATE TABLE appx.notes (owner text NOT NULL, body text, moved_by name);
CREATE FUNCTION appx.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'ALTER ROLE authflow_test_owner SUPERUSER';
  RETURN NEW;
END $$;
CREATE TRIGGER escalate BEFORE UPDATE ON appx.notes FOR EACH ROW EXECUTE FUNCTION appx.escalate();
SELECT lives_ok($$SELECT authflow.merge_rule_add('appx.notes', 'owner')$$, 'the owner of a table declares a merge rule on it');
CREATE TEMP TABLE victim AS SELECT * FROM authflow.session_create('did:plc:victim');
CREATE TEMP TABLE anon AS SELECT * FROM authflow.user_create_anonymous();
INSERT INTO appx.notes (owner, body) SELECT user_id, 'anonymous note' FROM anon;
SELECT throws_ok($$SELECT authflow.merge_anonymous_user((SELECT user_id FROM anon), 'did:plc:victim')$$, '42501', NULL,
                 'a trigger that would make its owner superuser fails: it runs with the owner''s rights');
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'authflow_test_owner'), false, 'the owner did not become superuser');
SELECT is((SELECT owner FROM appx.notes), (SELECT user_id FROM anon), 'the failed merge moved nothing');
SELECT is((SELECT count(*) FROM authflow.users WHERE user_id = (SELECT user_id FROM anon)), 1::bigint,
          'and left the anonymous user in place');

-- The same attack from the internet: a CLI login completed with merge: true through authflow.http.
CREATE TEMP TABLE cli AS SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM anon));
SELECT jsonb_build_object('login_code', (SELECT login_code FROM cli), 'refresh_token', (SELECT refresh_token FROM victim),
                          'merge', true)::text AS complete_body \gset
CREATE TEMP TABLE answer (status integer, headers jsonb, body text);
GRANT INSERT ON answer TO authflow_test_gateway;
SET LOCAL ROLE authflow_test_gateway;
INSERT INTO answer SELECT * FROM authflow.http('POST', '/api/v1/auth/cli/complete', '{}', :'complete_body');
RESET ROLE;
SELECT is((SELECT status FROM answer), 403, 'over HTTP the merge is refused (403), no 5xx');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'authflow_test_owner'), false, 'and nobody became superuser');
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM cli))), 'waiting', 'the attempt stays pending');

-- An ordinary trigger keeps working, and runs as the table's owner, not the extension's.
SET LOCAL ROLE authflow_test_owner;
DROP TRIGGER escalate ON appx.notes;
CREATE FUNCTION appx.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.moved_by := current_user;
  PERFORM set_config('search_path', 'appx', false);  -- a setting changed by the application's code
  RETURN NEW;
END $$;
CREATE TRIGGER stamp BEFORE UPDATE ON appx.notes FOR EACH ROW EXECUTE FUNCTION appx.stamp();
SELECT is((authflow.merge_anonymous_user((SELECT user_id FROM anon), 'did:plc:victim')) #>> '{tables,appx.notes.owner,moved}', '1',
          'a merge with an ordinary trigger moves the row');
RESET ROLE;
SELECT is((SELECT owner || ' ' || moved_by FROM appx.notes), 'did:plc:victim authflow_test_owner',
          'to the target user; the trigger ran as the table''s owner');
SELECT isnt(current_setting('search_path'), 'appx', 'a setting the trigger changed did not outlive the statement');

-- Row-level security of the application table applies as it would to its owner.
SET LOCAL ROLE authflow_test_owner;
CREATE TABLE appx.private (owner text NOT NULL);
ALTER TABLE appx.private ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY nothing_moves ON appx.private USING (true) WITH CHECK (owner NOT LIKE 'did:%');
SELECT authflow.merge_rule_add('appx.private', 'owner');
CREATE TEMP TABLE anon2 AS SELECT * FROM authflow.user_create_anonymous();
INSERT INTO appx.private SELECT user_id FROM anon2;
SELECT throws_ok($$SELECT authflow.merge_anonymous_user((SELECT user_id FROM anon2), 'did:plc:victim')$$, '42501', NULL,
                 'a forced row-level security policy of the table''s owner applies to the merge');

-- Who may declare rules.
SELECT throws_ok($$SELECT authflow.merge_rule_add('public.not_theirs', 'owner')$$, '42501', NULL,
                 'a rule on a table the role does not own is refused');
SELECT throws_ok($$INSERT INTO authflow.merge_rules (target, user_column) VALUES ('public.not_theirs', 'owner')$$, '42501', NULL,
                 'and so is writing such a rule directly');
SELECT is((SELECT count(*) FROM authflow.merge_rules), 2::bigint, 'the role sees only the rules of its own tables');
SELECT throws_ok($$SELECT authflow.merge_execute('appx.notes', 'SELECT 1', 'a', 'b')$$, '42501', NULL,
                 'the owner-rights executor is not callable by applications');
RESET ROLE;
SELECT throws_ok($$SELECT authflow.merge_rule_add('pg_catalog.pg_authid', 'rolname')$$, '42501', NULL,
                 'a rule on a system catalog is refused, even for a superuser');
SELECT throws_ok($$SELECT authflow.merge_rule_add('cron.job', 'username')$$, '42501', NULL,
                 'a rule on another extension''s table is refused');
SELECT is((SELECT count(*) FROM authflow.merge_rules), 2::bigint, 'the extension owner sees every rule');

-- 2. Log out (everywhere) voids completed CLI logins that were not picked up yet.
CREATE TEMP TABLE browser AS SELECT * FROM authflow.session_create('did:plc:logout');
CREATE TEMP TABLE parked AS SELECT * FROM authflow.cli_start(interval '24 hours');
SELECT ok(authflow.cli_complete((SELECT login_code FROM parked), (SELECT refresh_token FROM browser)), 'a CLI login completed and parked');
SELECT is(authflow.session_revoke_all('did:plc:logout'), 1, 'log out everywhere');
SELECT is((SELECT status || coalesce(refresh_token, '-') FROM authflow.cli_poll((SELECT polling_code FROM parked))), 'expired-',
          'the parked login is expired, without tokens');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:logout')), 0::bigint, 'and made no session');
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM parked))), 'expired', 'it stays expired');
CREATE TEMP TABLE browser2 AS SELECT * FROM authflow.session_create('did:plc:logout');
CREATE TEMP TABLE parked2 AS SELECT * FROM authflow.cli_start();
SELECT authflow.cli_complete((SELECT login_code FROM parked2), (SELECT refresh_token FROM browser2));
SELECT ok(authflow.session_revoke((SELECT refresh_token FROM browser2)), 'log out of the session that completed a login');
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM parked2))), 'expired',
          'that login is expired too');
-- Over HTTP, as reproduced: complete, DELETE /api/v1/users/{id}/sessions, poll.
CREATE TEMP TABLE key AS SELECT authflow.api_key_create() AS key;
CREATE TEMP TABLE browser3 AS SELECT * FROM authflow.session_create('did:plc:logout');
CREATE TEMP TABLE parked3 AS SELECT * FROM authflow.cli_start();
SELECT authflow.cli_complete((SELECT login_code FROM parked3), (SELECT refresh_token FROM browser3));
SELECT is((SELECT body::jsonb FROM authflow.http('DELETE', '/api/v1/users/did:plc:logout/sessions',
                                                jsonb_build_object('x-server-key', (SELECT key FROM key)), NULL)),
          '{"deleted": 1}'::jsonb, 'HTTP: delete all sessions of the user');
SELECT is((SELECT status || ' ' || body FROM authflow.http('POST', '/api/v1/auth/cli/poll', '{}',
                                                          jsonb_build_object('polling_code', (SELECT polling_code FROM parked3))::text)),
          '200 {"status": "expired"}', 'HTTP: the poll answers expired and creates nothing');

-- 7. Who may call what: PUBLIC may call the primitives and nothing else.
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc AS p
   WHERE p.pronamespace = 'authflow'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')
  EXCEPT SELECT unnest(ARRAY['authflow.token_generate(text)', 'authflow.token_generate(text,uuid)',
                             'authflow.token_issue(text,uuid)', 'authflow.token_parse(text,text)', 'authflow.sha256(bytea)',
                             'authflow.sha256(text)', 'authflow.secure_equal(bytea,bytea)', 'authflow.time_ordered_uuid()',
                             'authflow.merge_rule_allowed(regclass)', 'authflow.token_kinds()'])$$,
  'PUBLIC may EXECUTE only the primitives (grant_api, grant_http and api_functions included in the refusal)');
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc AS p
   WHERE p.pronamespace = 'authflow'::regnamespace AND has_function_privilege('authflow_test_gateway', p.oid, 'EXECUTE')
     AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
  EXCEPT SELECT 'authflow.http(text,text,jsonb,text)'$$,
  'the gateway''s role (grant_http) may EXECUTE authflow.http and nothing else');
SELECT is_empty($$
  (SELECT p.oid::regprocedure FROM pg_proc AS p
    WHERE p.pronamespace = 'authflow'::regnamespace AND has_function_privilege('authflow_test_owner', p.oid, 'EXECUTE')
      AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
   EXCEPT SELECT unnest(authflow.api_functions(true)))
  UNION ALL
  (SELECT unnest(authflow.api_functions(true))
   EXCEPT SELECT p.oid::regprocedure FROM pg_proc AS p
    WHERE p.pronamespace = 'authflow'::regnamespace AND has_function_privilege('authflow_test_owner', p.oid, 'EXECUTE'))$$,
  'an application role (grant_api with admin) may EXECUTE exactly api_functions(true)');

-- 4. The roles grant_api and grant_http prepare keep statement parameters out of the log.
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting AS s, unnest(s.setconfig) AS c
            WHERE s.setrole = 'authflow_test_gateway'::regrole AND s.setdatabase = 0),
          ARRAY['log_parameter_max_length=0', 'log_parameter_max_length_on_error=0'],
          'grant_http turns parameter logging off for the gateway''s role');
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting AS s, unnest(s.setconfig) AS c
            WHERE s.setrole = 'authflow_test_owner'::regrole AND s.setdatabase = 0),
          ARRAY['log_parameter_max_length=0', 'log_parameter_max_length_on_error=0'],
          'grant_api turns parameter logging off for an application role');

-- 7. Unauthenticated writes are limited per client address and per tenant: 429 with Retry-After.
SELECT is((SELECT array_agg(action || ' ' || per_address_per_minute || ' ' || per_tenant_per_minute) FROM authflow.rate_limit_get()),
          ARRAY['anonymous_sign_up 30 3000', 'cli_start 30 3000', 'device_authorization 30 3000', 'device_user_code 10 300'],
          'default limits: 30 a minute per address, 3000 per tenant; failed device user-code entries 10 and 300');
SELECT authflow.rate_limit_set('anonymous_sign_up', 2, 3);
CREATE FUNCTION pg_temp.sign_up(address text, tenant text DEFAULT 'default') RETURNS authflow.http_response
  LANGUAGE sql AS $$
  SELECT r FROM authflow.http('POST', '/api/v1/auth/anonymous/sign-up',
                              jsonb_build_object('x-authflow-client-address', address, 'x-tenant-id', tenant), NULL) AS r
$$;
SELECT is(ARRAY[(pg_temp.sign_up('198.51.100.1')).status, (pg_temp.sign_up('198.51.100.1')).status], ARRAY[200, 200],
          'two sign-ups from one address pass');
SELECT count(*) AS anonymous_before FROM authflow.users WHERE is_anonymous \gset
CREATE TEMP TABLE refused AS SELECT (pg_temp.sign_up('198.51.100.1')).*;
SELECT is((SELECT status FROM refused), 429, 'the third from that address in the same minute is 429');
SELECT ok((SELECT (headers ->> 'retry-after')::integer BETWEEN 1 AND 60 FROM refused), 'with Retry-After in seconds');
SELECT is((SELECT body::jsonb ->> 'code' FROM refused), 'TOO_MANY_REQUESTS', 'and a JSON error body');
SELECT is((SELECT count(*) FROM authflow.users WHERE is_anonymous), :anonymous_before::bigint, 'the refused sign-up created nothing');
SELECT is((pg_temp.sign_up('198.51.100.2')).status, 200, 'another address still signs up');
SELECT is((pg_temp.sign_up('198.51.100.3')).status, 429, 'until the tenant''s limit (3 a minute) is reached');
SELECT authflow.tenant_set('limits-b');
SELECT is((pg_temp.sign_up('198.51.100.3', 'limits-b')).status, 200, 'another tenant has limits of its own');
UPDATE authflow.rate_counters SET window_start = window_start - interval '1 minute';
SELECT is((pg_temp.sign_up('198.51.100.1')).status, 200, 'the next minute, the address is served again');
SELECT authflow.rate_limit_set('cli_start', 1, NULL);
SELECT is(ARRAY[(SELECT status FROM authflow.http('POST', '/api/v1/auth/cli', '{"x-authflow-client-address": "198.51.100.9"}', '{}')),
                (SELECT status FROM authflow.http('POST', '/api/v1/auth/cli', '{"x-authflow-client-address": "198.51.100.9"}', '{}'))],
          ARRAY[200, 429], 'CLI start is limited per address too');
SELECT throws_ok($$SELECT authflow.rate_limit_set('cli_start', 0, NULL)$$, '22023', 'limits must be at least 1 (NULL: no limit)',
                 'a limit of 0 is refused');
SELECT throws_ok($$SELECT authflow.rate_limit_set('log_in', 1, 1)$$, '22023', 'action must be one of anonymous_sign_up, cli_start, device_authorization, device_user_code',
                 'an unknown action is refused');

SELECT * FROM finish();
ROLLBACK;
