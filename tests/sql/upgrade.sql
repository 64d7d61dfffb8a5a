-- upgrade.sql: ALTER EXTENSION authflow UPDATE from every released version reaches the catalog of
-- a fresh install, and from 0.1.0 keeps every session, CLI attempt, anonymous user, merge rule and
-- API key working, with the volatile tables unlogged (the default) and logged (set_durable).
-- Between the two, the database runs 0.1.0's SQL on the current library: that must work too.
BEGIN;
SELECT plan(67);
\ir ../fixtures/catalog.sql

-- The catalog of a fresh install of the default version.
DROP EXTENSION authflow CASCADE;
CREATE EXTENSION authflow;
SELECT cmp_ok(pg_temp.snapshot_catalog('fresh'), '>', 300::bigint, 'the catalog of a fresh install has its objects');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'authflow'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'authflow'), 'a fresh install has the default version');

-- Every released version updates to the same catalog.
CREATE TEMP TABLE older_versions AS
  SELECT version FROM pg_available_extension_versions
   WHERE name = 'authflow' AND version <> (SELECT default_version FROM pg_available_extensions WHERE name = 'authflow');
SELECT ok((SELECT count(*) FROM older_versions WHERE version = '0.1.0') = 1, 'release 0.1.0 is installable');
CREATE TEMP TABLE update_problems (from_version text, problem text);
DO $$
DECLARE
  old_version text;
BEGIN
  FOR old_version IN SELECT version FROM older_versions ORDER BY version LOOP
    DROP EXTENSION authflow CASCADE;
    EXECUTE format('CREATE EXTENSION authflow VERSION %L', old_version);
    ALTER EXTENSION authflow UPDATE;
    PERFORM pg_temp.snapshot_catalog('updated from ' || old_version);
    INSERT INTO update_problems SELECT old_version, d FROM pg_temp.catalog_differences('fresh', 'updated from ' || old_version) AS d;
  END LOOP;
END $$;
SELECT is((SELECT count(DISTINCT label) FROM catalog_snapshots WHERE label LIKE 'updated from %'),
          (SELECT count(*) FROM older_versions), 'each older version was updated and its catalog taken');
SELECT is_empty($$SELECT from_version || ': ' || problem FROM update_problems$$,
                'from every released version, ALTER EXTENSION UPDATE gives the catalog of a fresh install');

-- Data of 0.1.0, made by 0.1.0's own functions on the current library, then updated.
-- pg_temp.make_data builds every kind of object 0.1.0 has; the tokens land in temp tables.
CREATE TEMP TABLE tokens (name text PRIMARY KEY, token text);
CREATE SCHEMA upgrade_app;
CREATE TABLE upgrade_app.notes (owner text NOT NULL, body text);
CREATE FUNCTION pg_temp.make_data() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  made record;
BEGIN
  DELETE FROM pg_temp.tokens;
  DELETE FROM upgrade_app.notes;
  PERFORM authflow.tenant_set('upgrade-b');
  SELECT * INTO made FROM authflow.session_create('did:plc:keep', 'keep.example', '{"agent": "test"}');
  INSERT INTO pg_temp.tokens VALUES ('keep access', made.access_token), ('keep refresh', made.refresh_token);
  SELECT * INTO made FROM authflow.session_create('did:plc:keep');
  INSERT INTO pg_temp.tokens VALUES ('second refresh', made.refresh_token), ('second access', made.access_token);
  SELECT * INTO made FROM authflow.session_create('did:plc:other', NULL, NULL, 'upgrade-b');
  INSERT INTO pg_temp.tokens VALUES ('tenant b access', made.access_token);
  SELECT * INTO made FROM authflow.user_create_anonymous();
  INSERT INTO pg_temp.tokens VALUES ('anon user', made.user_id), ('anon refresh', made.refresh_token),
                                    ('anon access', made.access_token);
  INSERT INTO upgrade_app.notes VALUES (made.user_id, 'written while anonymous');
  PERFORM authflow.merge_rule_add('upgrade_app.notes', 'owner');
  -- CLI attempts: waiting; completed; waiting with an anonymous CLI user; completed with one.
  SELECT * INTO made FROM authflow.cli_start();
  INSERT INTO pg_temp.tokens VALUES ('waiting polling', made.polling_code), ('waiting login', made.login_code);
  SELECT * INTO made FROM authflow.cli_start();
  INSERT INTO pg_temp.tokens VALUES ('completed polling', made.polling_code);
  PERFORM authflow.cli_complete(made.login_code, (SELECT token FROM pg_temp.tokens WHERE name = 'keep refresh'));
  SELECT * INTO made FROM authflow.cli_start(NULL, (SELECT token FROM pg_temp.tokens WHERE name = 'anon refresh'));
  INSERT INTO pg_temp.tokens VALUES ('anon waiting polling', made.polling_code), ('anon waiting login', made.login_code);
  SELECT * INTO made FROM authflow.user_create_anonymous();
  INSERT INTO pg_temp.tokens VALUES ('anon2 user', made.user_id);
  SELECT * INTO made FROM authflow.cli_start(NULL, made.refresh_token);
  INSERT INTO pg_temp.tokens VALUES ('anon completed polling', made.polling_code);
  PERFORM authflow.cli_complete(made.login_code, (SELECT token FROM pg_temp.tokens WHERE name = 'keep refresh'));
  INSERT INTO pg_temp.tokens VALUES ('server key', authflow.api_key_create());
END $$;

-- pg_temp.token(name) is a token kept by make_data.
CREATE FUNCTION pg_temp.token(name text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT token FROM pg_temp.tokens WHERE tokens.name = token.name
$$;

-- pg_temp.check_data(mode) checks, after the update, that everything made under 0.1.0 still works.
CREATE FUNCTION pg_temp.check_data(mode text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  refreshed record;
  success record;
  response record;  -- no variable of an authflow type: the extension is re-created between calls
BEGIN
  RETURN NEXT is((SELECT extversion FROM pg_extension WHERE extname = 'authflow'),
                 (SELECT default_version FROM pg_available_extensions WHERE name = 'authflow'), mode || ': updated to the default version');
  RETURN NEXT is((SELECT user_id || ' ' || handle || ' ' || tenant FROM authflow.session_validate(pg_temp.token('keep access'))),
                 'did:plc:keep keep.example default', mode || ': an access token of 0.1.0 validates');
  RETURN NEXT is((SELECT tenant FROM authflow.session_validate(pg_temp.token('tenant b access'))),
                 'upgrade-b', mode || ': a session of another tenant validates');
  RETURN NEXT is((SELECT count(*) FROM authflow.session_list('did:plc:keep') WHERE client = '{"agent": "test"}'), 1::bigint,
                 mode || ': session_list shows what 0.1.0 stored');
  SELECT * INTO refreshed FROM authflow.session_refresh(pg_temp.token('keep refresh'));
  RETURN NEXT is(refreshed.user_id, 'did:plc:keep', mode || ': a refresh token of 0.1.0 refreshes');
  RETURN NEXT is((SELECT count(*) FROM authflow.session_validate(refreshed.access_token)), 1::bigint,
                 mode || ': the new access token validates');
  RETURN NEXT is((SELECT count(*) FROM authflow.session_validate(pg_temp.token('keep access'))), 0::bigint,
                 mode || ': the access token it replaced does not');
  RETURN NEXT ok(authflow.session_revoke(pg_temp.token('second refresh')), mode || ': a refresh token of 0.1.0 revokes');
  RETURN NEXT is((SELECT count(*) FROM authflow.session_validate(pg_temp.token('second access'))), 0::bigint,
                 mode || ': the revoked session is gone');
  RETURN NEXT is((SELECT is_anonymous FROM authflow.session_validate(pg_temp.token('anon access'))), true,
                 mode || ': an anonymous user''s session validates');
  RETURN NEXT is((SELECT status FROM authflow.cli_poll(pg_temp.token('waiting polling'))), 'waiting',
                 mode || ': a waiting CLI attempt still waits');
  SELECT * INTO success FROM authflow.cli_poll(pg_temp.token('completed polling'));
  RETURN NEXT is(success.status || ' ' || success.user_id, 'success did:plc:keep',
                 mode || ': a CLI attempt completed under 0.1.0 is picked up');
  RETURN NEXT is((SELECT user_id FROM authflow.session_validate(success.access_token)), 'did:plc:keep',
                 mode || ': the CLI session of that pick-up validates');
  RETURN NEXT is((SELECT status FROM authflow.cli_poll(pg_temp.token('completed polling'))), 'used',
                 mode || ': and only once');
  RETURN NEXT is((SELECT status FROM authflow.cli_poll(pg_temp.token('anon completed polling'))), 'success',
                 mode || ': an attempt completed under 0.1.0 with an anonymous CLI user is picked up');
  RETURN NEXT is(authflow.cli_check(pg_temp.token('anon waiting login')), 'anonymous',
                 mode || ': a waiting attempt of an anonymous CLI user still knows it');
  RETURN NEXT ok(authflow.cli_complete(pg_temp.token('anon waiting login'), pg_temp.token('keep refresh'), merge => false),
                 mode || ': a waiting attempt of 0.1.0 completes');
  RETURN NEXT is((SELECT status FROM authflow.cli_poll(pg_temp.token('anon waiting polling'))), 'success',
                 mode || ': and is picked up');
  RETURN NEXT is((authflow.merge_anonymous_user(pg_temp.token('anon user'), 'did:plc:keep')) #>> '{tables,upgrade_app.notes.owner,moved}',
                 '1', mode || ': a merge rule of 0.1.0 still moves rows');
  RETURN NEXT is((SELECT owner FROM upgrade_app.notes), 'did:plc:keep', mode || ': to the target user');
  SELECT * INTO response FROM authflow.http('GET', '/api/v1/users/did:plc:keep/sessions',
                                            jsonb_build_object('x-server-key', pg_temp.token('server key')), NULL);
  RETURN NEXT is(response.status, 200, mode || ': an API key of 0.1.0 authorises');
  RETURN NEXT is(jsonb_array_length(response.body::jsonb -> 'sessions'), 4, mode || ': and sees the user''s sessions');
  RETURN NEXT is((SELECT count(*) FROM authflow.users WHERE user_id = pg_temp.token('anon2 user')), 1::bigint,
                 mode || ': anonymous users survive');
END $$;

-- Unlogged (the default).
DROP EXTENSION authflow CASCADE;
CREATE EXTENSION authflow VERSION '0.1.0';
SELECT lives_ok($$SELECT pg_temp.make_data()$$, 'the functions of 0.1.0 run on the current library');
CREATE ROLE authflow_upgrade_app NOLOGIN;
SELECT authflow.grant_api('authflow_upgrade_app');
CREATE TEMP TABLE granted_before AS
  SELECT p.oid::regprocedure::text AS signature FROM pg_proc AS p
   WHERE p.pronamespace = 'authflow'::regnamespace AND has_function_privilege('authflow_upgrade_app', p.oid, 'EXECUTE')
     AND NOT has_function_privilege('public', p.oid, 'EXECUTE');  -- 0.1.0 let PUBLIC call three by mistake
SELECT isnt((SELECT count(*) FROM authflow.session_refresh(pg_temp.token('second refresh'))), 0::bigint,
            '0.1.0''s session_refresh (seven columns) refreshes on the current library');
SELECT is((SELECT count(*) FROM authflow.session_validate(pg_temp.token('keep access'))), 1::bigint,
          '0.1.0''s session_validate reads on the current library');
ALTER EXTENSION authflow UPDATE;
SELECT * FROM pg_temp.check_data('unlogged');
SELECT is_empty($$SELECT signature FROM granted_before
                  WHERE to_regprocedure(signature) IS NOT NULL
                    AND NOT has_function_privilege('authflow_upgrade_app', signature, 'EXECUTE')$$,
                'an application role keeps EXECUTE on every function it had, session_refresh (re-created) included');
SELECT is((SELECT string_agg(relpersistence::text, '' ORDER BY relname) FROM pg_class
            WHERE oid = ANY (authflow.volatile_tables())), 'uuuuu',
          'unlogged: the volatile tables stay unlogged, and those the update made are unlogged too');

-- Logged (set_durable(true) under 0.1.0).
DROP EXTENSION authflow CASCADE;
CREATE EXTENSION authflow VERSION '0.1.0';
SELECT authflow.set_durable(true);
SELECT lives_ok($$SELECT pg_temp.make_data()$$, 'durable: the data of 0.1.0 is made');
ALTER EXTENSION authflow UPDATE;
SELECT * FROM pg_temp.check_data('durable');
SELECT is((SELECT string_agg(relpersistence::text, '' ORDER BY relname) FROM pg_class
            WHERE oid = ANY (authflow.volatile_tables())), 'ppppp',
          'durable: the volatile tables stay logged, and those the update made are logged too');

-- 0.1.0's SQL on the current library: every function of 0.1.0 called with NULL arguments returns
-- or raises a named error (never the internal-error class XX, never a crash of the backend).
DROP EXTENSION authflow CASCADE;
CREATE EXTENSION authflow VERSION '0.1.0';
CREATE TEMP TABLE null_call_problems (function_name text, problem text);
DO $$
DECLARE
  f regprocedure;
  state text;
  message text;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p WHERE p.pronamespace = 'authflow'::regnamespace
              AND p.proname NOT IN ('grant_api', 'grant_http', 'set_durable', 'schedule_purge', 'unschedule_purge')
            ORDER BY 1 LOOP
    BEGIN
      EXECUTE format('SELECT * FROM %s(%s)', (SELECT p.oid::regproc FROM pg_proc AS p WHERE p.oid = f),
                     (SELECT string_agg('NULL::' || format_type(t, NULL), ', ')
                        FROM unnest((SELECT p.proargtypes::oid[] FROM pg_proc AS p WHERE p.oid = f)) AS t));
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
      IF state LIKE 'XX%' THEN
        INSERT INTO null_call_problems VALUES (f::text, state || ' ' || message);
      END IF;
    END;
  END LOOP;
END $$;
SELECT is_empty($$SELECT * FROM null_call_problems$$, '0.1.0''s functions with NULL arguments on the current library: no internal error');

-- A declaration that does not match the library is refused with a named error, never misread.
CREATE FUNCTION pg_temp.validate_one_column(text) RETURNS TABLE (session_id uuid)
  AS '$libdir/authflow', 'authflow_session_validate' LANGUAGE C STRICT;
CREATE FUNCTION pg_temp.validate_wrong_types(text)
  RETURNS TABLE (a text, b text, c text, d text, e text, f text, g text, h text)
  AS '$libdir/authflow', 'authflow_session_validate' LANGUAGE C STRICT;
CREATE FUNCTION pg_temp.create_wide(text, text, jsonb, text) RETURNS TABLE (a uuid, b text, c text, d timestamptz, e timestamptz, f timestamptz, g int)
  AS '$libdir/authflow', 'authflow_session_create' LANGUAGE C;
CREATE FUNCTION pg_temp.refresh_narrow(text) RETURNS TABLE (session_id uuid)
  AS '$libdir/authflow', 'authflow_session_refresh' LANGUAGE C STRICT;
CREATE FUNCTION pg_temp.parse_narrow(text, text, OUT kind text, OUT row_id uuid) RETURNS record
  AS '$libdir/authflow', 'authflow_token_parse' LANGUAGE C;
CREATE FUNCTION pg_temp.issue_wrong(text, uuid, OUT token int, OUT secret_hash bytea) RETURNS record
  AS '$libdir/authflow', 'authflow_token_issue' LANGUAGE C STRICT;
CREATE TEMP TABLE live AS SELECT * FROM authflow.session_create('did:plc:shape');
SELECT throws_ok($$SELECT * FROM pg_temp.validate_one_column((SELECT access_token FROM live))$$, '39000', NULL,
                 'session_validate declared with one column: a named error');
SELECT throws_ok($$SELECT * FROM pg_temp.validate_wrong_types((SELECT access_token FROM live))$$, '39000', NULL,
                 'session_validate declared with other column types: a named error');
SELECT throws_ok($$SELECT * FROM pg_temp.create_wide('did:plc:shape', NULL, NULL, 'default')$$, '39000', NULL,
                 'session_create declared with an extra column: a named error');
SELECT throws_ok($$SELECT * FROM pg_temp.refresh_narrow((SELECT refresh_token FROM live))$$, '39000', NULL,
                 'session_refresh declared with one column: a named error');
SELECT throws_ok($$SELECT * FROM pg_temp.parse_narrow((SELECT access_token FROM live), NULL)$$, '39000', NULL,
                 'token_parse declared with two columns: a named error');
SELECT throws_ok($$SELECT * FROM pg_temp.issue_wrong('access', gen_random_uuid())$$, '39000', NULL,
                 'token_issue declared with other types: a named error');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM live))), 1::bigint,
          'the refused calls changed nothing: the session still validates');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:shape')), 1::bigint,
          'and the refused session_create made no session');

SELECT * FROM finish();
ROLLBACK;
