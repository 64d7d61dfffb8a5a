-- sessions.sql: the session store's contract, case by case.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(65);

-- Signatures.
SELECT has_function('authflow', 'session_create', ARRAY['text', 'text', 'jsonb', 'text', 'text', 'text'], 'session_create');
SELECT has_function('authflow', 'session_validate', ARRAY['text'], 'session_validate');
SELECT has_function('authflow', 'session_refresh', ARRAY['text'], 'session_refresh');
SELECT has_function('authflow', 'session_revoke', ARRAY['text'], 'session_revoke');
SELECT has_function('authflow', 'session_revoke_all', ARRAY['text', 'text'], 'session_revoke_all');
SELECT has_function('authflow', 'session_list', ARRAY['text', 'text'], 'session_list');
SELECT has_function('authflow', 'user_set_handle', ARRAY['text', 'text', 'text'], 'user_set_handle');
SELECT has_function('authflow', 'purge_expired', ARRAY['integer'], 'purge_expired');
SELECT has_function('authflow', 'set_durable', ARRAY['boolean'], 'set_durable');
SELECT is(
  (SELECT pg_get_function_result('authflow.session_validate(text)'::regprocedure)),
  'TABLE(session_id uuid, tenant text, user_id text, handle text, is_anonymous boolean, access_expires_at timestamp with time zone, expires_at timestamp with time zone, created_at timestamp with time zone)',
  'session_validate returns the contract''s columns');
SELECT is(
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'authflow' AND p.prosecdef
      AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
  0::bigint, 'every SECURITY DEFINER function pins search_path');
SELECT is(
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'authflow' AND obj_description(p.oid, 'pg_proc') IS NULL),
  0::bigint, 'every function has a comment');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'authflow.sessions'::regclass), 'u'::"char",
          'sessions are unlogged by default');

-- Create and validate.
CREATE TEMP TABLE alice AS SELECT * FROM authflow.session_create('did:plc:alice', 'alice.test', '{"agent": "test"}');
SELECT is((SELECT count(*) FROM alice), 1::bigint, 'session_create returns one row');
SELECT ok((SELECT refresh_token LIKE 'afr\_%' AND access_token LIKE 'afa\_%' FROM alice), 'tokens carry their kind');
SELECT ok((SELECT access_token <> refresh_token FROM alice), 'access and refresh tokens differ');
SELECT ok((SELECT access_expires_at = created_at + interval '15 minutes' AND expires_at = created_at + interval '7 days' FROM alice),
          'default TTLs: 15 minutes access, 7 days session');
SELECT results_eq(
  $$SELECT session_id, tenant, user_id, handle, is_anonymous FROM authflow.session_validate((SELECT access_token FROM alice))$$,
  $$SELECT session_id, 'default'::text, 'did:plc:alice'::text, 'alice.test'::text, false FROM alice$$,
  'session_validate returns the session of a live access token');
SELECT is((SELECT handle FROM authflow.users WHERE user_id = 'did:plc:alice'), 'alice.test', 'session_create creates the user');
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT refresh_token FROM alice))$$,
                'a refresh token is not an access token');
SELECT is_empty($$SELECT * FROM authflow.session_validate(
                    (SELECT left(access_token, 37) || repeat('A', 43) FROM alice))$$,
                'a valid prefix and row id with a wrong secret validates nothing');
SELECT is_empty($$SELECT * FROM authflow.session_validate(authflow.token_generate('access'))$$,
                'a well-formed token of no session validates nothing');
SELECT is_empty($$SELECT * FROM authflow.session_validate(NULL)$$, 'validate(NULL) returns no row');
SELECT is_empty($$SELECT * FROM authflow.session_validate('')$$, 'validate('''') returns no row');
SELECT is_empty($$SELECT * FROM authflow.session_validate(repeat('x', 10 * 1024 * 1024))$$, 'validate of 10 MB returns no row');

-- Handles.
SELECT ok(authflow.user_set_handle('did:plc:alice', 'alice.renamed'), 'user_set_handle on an existing user');
SELECT is((SELECT handle FROM authflow.session_validate((SELECT access_token FROM alice))), 'alice.renamed',
          'a live session reports the new handle');
CREATE TEMP TABLE alice2 AS SELECT * FROM authflow.session_create('did:plc:alice');
SELECT is((SELECT handle FROM authflow.session_validate((SELECT access_token FROM alice2))), 'alice.renamed',
          'session_create without a handle keeps the stored one');
SELECT ok(NOT authflow.user_set_handle('did:plc:nobody', 'x'), 'user_set_handle of an unknown user is false');

-- Refresh.
CREATE TEMP TABLE refreshed AS SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM alice));
SELECT is((SELECT session_id FROM refreshed), (SELECT session_id FROM alice), 'refresh keeps the session');
SELECT is((SELECT user_id FROM refreshed), 'did:plc:alice', 'refresh returns the user');
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM alice))$$,
                'the previous access token stops working at once');
SELECT isnt_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM refreshed))$$,
                  'the new access token works');
SELECT is_empty($$SELECT * FROM authflow.session_refresh((SELECT access_token FROM alice))$$,
                'an access token cannot refresh');
SELECT is_empty($$SELECT * FROM authflow.session_refresh(authflow.token_generate('refresh', (SELECT session_id FROM alice)))$$,
                'a refresh token with the right row id and a wrong secret refreshes nothing');

-- Expiry is enforced on every read, before any purge (time is moved by editing the rows).
UPDATE authflow.sessions SET access_expires_at = now() - interval '1 second'
 WHERE session_id = (SELECT session_id FROM alice);
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM refreshed))$$,
                'an expired access token validates nothing');
SELECT isnt_empty($$SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM alice))$$,
                  'a live session refreshes after its access token expired');
UPDATE authflow.sessions SET expires_at = now() - interval '1 second', access_expires_at = now() + interval '1 minute'
 WHERE session_id = (SELECT session_id FROM alice2);
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM alice2))$$,
                'an access token of an expired session validates nothing');
SELECT is_empty($$SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM alice2))$$,
                'an expired session does not refresh');

-- Sliding expiry and the cap.
SELECT lives_ok($$SELECT authflow.tenant_set('capped', session_max_lifetime => interval '1 day')$$, 'tenant_set creates a tenant');
CREATE TEMP TABLE capped AS SELECT * FROM authflow.session_create('u1', tenant => 'capped');
SELECT is((SELECT expires_at FROM capped), (SELECT created_at + interval '1 day' FROM capped),
          'a new session of a capped tenant expires at the cap');
UPDATE authflow.sessions SET created_at = now() - interval '23 hours' WHERE session_id = (SELECT session_id FROM capped);
SELECT is((SELECT expires_at FROM authflow.session_refresh((SELECT refresh_token FROM capped))), now() + interval '1 hour',
          'refresh slides expiry no further than the cap');
UPDATE authflow.sessions SET created_at = now() - interval '25 hours' WHERE session_id = (SELECT session_id FROM capped);
SELECT is_empty($$SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM capped))$$,
                'a session past its cap no longer refreshes');
CREATE TEMP TABLE capped2 AS SELECT * FROM authflow.session_create('u1', tenant => 'capped');
SELECT is((SELECT tenant FROM authflow.session_validate((SELECT access_token FROM capped2))), 'capped',
          'validate reports the tenant');

-- List, revoke, revoke all.
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:alice')), 1::bigint, 'session_list shows live sessions only');
SELECT is((SELECT kind || ':' || (client->>'agent') FROM authflow.session_list('did:plc:alice')), 'web:test',
          'session_list shows kind and client');
SELECT ok(authflow.session_revoke((SELECT refresh_token FROM alice)), 'session_revoke of a live session is true');
SELECT ok(NOT authflow.session_revoke((SELECT refresh_token FROM alice)), 'a second revoke is false');
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM refreshed))$$,
                'a revoked session validates nothing');
SELECT ok(NOT authflow.session_revoke(NULL), 'session_revoke(NULL) is false');
SELECT ok(NOT authflow.session_revoke(repeat('y', 10 * 1024 * 1024)), 'session_revoke of 10 MB is false');
CREATE TEMP TABLE bob AS
  SELECT s.* FROM generate_series(1, 5) AS g, LATERAL authflow.session_create('did:plc:bob', client => jsonb_build_object('n', g)) AS s;
UPDATE authflow.sessions SET expires_at = now() - interval '1 second'
 WHERE session_id = (SELECT session_id FROM bob LIMIT 1);
SELECT is(authflow.session_revoke_all('did:plc:bob'), 4, 'session_revoke_all counts the live sessions it deleted');
SELECT is(authflow.session_revoke_all('did:plc:bob'), 0, 'a second revoke_all deletes nothing');
SELECT is(authflow.session_revoke_all('did:plc:bob', 'capped'), 0, 'revoke_all stays within its tenant');

-- The planner-routed variant answers exactly like the C++ hot path, token by token.
CREATE TEMP TABLE probe_tokens AS
  SELECT access_token AS token FROM alice UNION ALL SELECT access_token FROM alice2 UNION ALL SELECT access_token FROM refreshed
  UNION ALL SELECT access_token FROM capped UNION ALL SELECT access_token FROM capped2 UNION ALL SELECT refresh_token FROM capped2
  UNION ALL SELECT access_token FROM bob UNION ALL SELECT NULL UNION ALL SELECT '' UNION ALL SELECT authflow.token_generate('access')
  UNION ALL SELECT left(access_token, 40) || 'A' FROM capped2;
SELECT cmp_ok((SELECT count(*) FROM probe_tokens, LATERAL authflow.session_validate(token)), '>', 0::bigint,
              'some probe tokens are live');
SELECT set_eq($$SELECT v.* FROM probe_tokens, LATERAL authflow.session_validate(token) AS v$$,
              $$SELECT v.* FROM probe_tokens, LATERAL authflow.session_validate_routed(token) AS v$$,
              'session_validate_routed returns what session_validate returns');

-- Bad input: a named 22023, and nothing changed.
CREATE TEMP TABLE before AS SELECT (SELECT count(*) FROM authflow.sessions) AS sessions, (SELECT count(*) FROM authflow.users) AS users;
SELECT throws_ok($$SELECT authflow.session_create(NULL)$$, '22023', 'user_id must not be empty', 'create: NULL user_id');
SELECT throws_ok($$SELECT authflow.session_create('')$$, '22023', 'user_id must not be empty', 'create: empty user_id');
SELECT throws_ok($$SELECT authflow.session_create(repeat('u', 10 * 1024 * 1024))$$, '22023', 'user_id must be at most 256 bytes',
                 'create: 10 MB user_id');
SELECT throws_ok($$SELECT authflow.session_create('u', repeat('h', 300))$$, '22023', 'handle must be at most 256 bytes',
                 'create: over-long handle');
SELECT throws_ok($$SELECT authflow.session_create('u', client => '[1]')$$, '22023',
                 'client must be a JSON object of at most 4096 bytes', 'create: client not an object');
SELECT throws_ok($$SELECT authflow.session_create('u', tenant => 'nope')$$, '22023', 'tenant "nope" does not exist',
                 'create: unknown tenant');
SELECT throws_ok($$SELECT authflow.session_revoke_all(NULL)$$, '22023', 'user_id must not be empty', 'revoke_all: NULL user_id');
SELECT throws_ok($$SELECT authflow.tenant_set('t2', access_token_ttl => interval '0')$$, '22023',
                 'access_token_ttl must be greater than 0 and at most 1 day', 'tenant_set: zero TTL');
SELECT results_eq($$SELECT (SELECT count(*) FROM authflow.sessions), (SELECT count(*) FROM authflow.users)$$,
                  $$SELECT sessions, users FROM before$$, 'bad input changed nothing');

SELECT * FROM finish();
ROLLBACK;
