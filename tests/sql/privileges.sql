-- privileges.sql: tables only through functions; SECURITY DEFINER functions ignore the caller's search_path.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(14);

CREATE ROLE authflow_test_app NOLOGIN;
CREATE ROLE authflow_test_nobody NOLOGIN;
SELECT lives_ok($$SELECT authflow.grant_api('authflow_test_app')$$, 'grant_api grants the API to a role');
SELECT throws_ok($$SELECT authflow.grant_api('no_such_role_here')$$, '42704', 'role "no_such_role_here" does not exist',
                 'grant_api to an unknown role');
CREATE TEMP TABLE tokens AS SELECT * FROM authflow.session_create('did:plc:priv');
GRANT SELECT ON tokens TO authflow_test_app, authflow_test_nobody;

SET LOCAL ROLE authflow_test_app;
SELECT isnt_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM tokens))$$,
                  'an EXECUTE-only role validates');
SELECT isnt_empty($$SELECT * FROM authflow.session_create('did:plc:priv2')$$, 'an EXECUTE-only role creates sessions');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:priv')), 1::bigint, 'an EXECUTE-only role lists sessions');
SELECT throws_ok($$SELECT * FROM authflow.sessions$$, '42501', NULL, 'it cannot SELECT sessions');
SELECT throws_ok($$UPDATE authflow.users SET handle = 'x'$$, '42501', NULL, 'it cannot UPDATE users');
SELECT throws_ok($$DELETE FROM authflow.tenants$$, '42501', NULL, 'it cannot DELETE tenants');
SELECT throws_ok($$SELECT authflow.tenant_set('evil')$$, '42501', NULL, 'it cannot change tenant settings');
SELECT throws_ok($$SELECT authflow.session_insert(NULL, 1, 'web', NULL)$$, '42501', NULL, 'it cannot call internal functions');
RESET ROLE;

SET LOCAL ROLE authflow_test_nobody;
SELECT throws_ok($$SELECT * FROM authflow.session_validate((SELECT access_token FROM tokens))$$, '42501', NULL,
                 'a role without grants cannot call the API');
SELECT lives_ok($$SELECT authflow.sha256('x')$$, 'anyone may call the primitives');
RESET ROLE;

-- A hostile caller's search_path: objects shadowing what the functions use are not picked up.
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT timestamptz '1970-01-01' $$;
CREATE FUNCTION hostile.least(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE sql AS $$ SELECT timestamptz '1970-01-01' $$;
CREATE FUNCTION hostile.gen_random_uuid() RETURNS uuid LANGUAGE sql AS $$ SELECT '00000000-0000-4000-8000-000000000000'::uuid $$;
CREATE TABLE hostile.sessions (LIKE authflow.sessions);
CREATE OPERATOR hostile.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = pg_catalog.timestamptz_lt);
SET LOCAL search_path = hostile, public;
CREATE TEMP TABLE hostile_session AS SELECT * FROM authflow.session_create('did:plc:hostile');
SELECT isnt((SELECT session_id FROM hostile_session), '00000000-0000-4000-8000-000000000000'::uuid,
            'session_create does not call a shadowing gen_random_uuid');
SELECT isnt_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM hostile_session))$$,
                  'session_validate ignores shadowing now() and > operators');
RESET search_path;

SELECT * FROM finish();
ROLLBACK;
