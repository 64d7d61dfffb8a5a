-- rotation.sql: refresh-token rotation with reuse detection, the absolute lifetime of new
-- tenants, and security events. Time passing is simulated by moving rotated_at back (the clock
-- of a transaction does not move), never by sleeping.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(38);

SELECT authflow.tenant_set('rot');
SELECT is((SELECT refresh_rotation::text || ' ' || session_max_lifetime::text || ' ' || refresh_reuse_grace::text
             FROM authflow.tenant_get('rot')), 'true 90 days 00:00:10',
          'a new tenant rotates refresh tokens, with a 10 s grace window and a 90-day absolute lifetime');
SELECT is((SELECT refresh_rotation::text || ' ' || coalesce(session_max_lifetime::text, 'none') FROM authflow.tenant_get('default')),
          'false none', 'the default tenant keeps one refresh token per session and no cap (the stores authflow replaces)');

CREATE TEMP TABLE s0 AS SELECT * FROM authflow.session_create('did:plc:rot', NULL, NULL, 'rot');
CREATE TEMP TABLE r1 AS SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM s0));
SELECT ok((SELECT new_refresh_token LIKE 'afr\_%' AND new_refresh_token <> (SELECT refresh_token FROM s0) FROM r1),
          'refresh returns a new refresh token');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM r1))), 1::bigint, 'the new access token validates');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM s0))), 0::bigint, 'the old one does not');
SELECT is((SELECT expires_at FROM r1), least(now() + interval '7 days', (SELECT created_at FROM s0) + interval '90 days'),
          'the sliding expiry, capped');

-- Inside the grace window the replaced token answers with the same pair, and writes nothing.
CREATE TEMP TABLE r1_again AS SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM s0));
SELECT is((SELECT new_refresh_token || access_token FROM r1_again), (SELECT new_refresh_token || access_token FROM r1),
          'within the grace window the replaced token gets the same new pair');
SELECT is((SELECT refresh_generation FROM authflow.sessions WHERE session_id = (SELECT session_id FROM s0)), 1,
          'and rotates nothing more');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM r1))), 1::bigint,
          'exactly that pair stays valid');

-- A forged token for the same session (its id is public in the access token) revokes nothing.
SELECT is_empty(format($$SELECT * FROM authflow.session_refresh(%L)$$,
                       authflow.token_generate('refresh', (SELECT session_id FROM s0))), 'a forged refresh token: no row');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM r1))), 1::bigint,
          'and the session lives on (nobody can log a user out with a session id)');

-- Reuse after the window: the session dies, every token of it.
-- (The new value and the key first: Citus runs no UPDATE of a column from itself through a
-- STABLE operator, nor one keyed by a temporary table.)
SELECT session_id AS s0_id, rotated_at - interval '11 seconds' AS rotated_back
  FROM authflow.sessions WHERE session_id = (SELECT session_id FROM s0) \gset
UPDATE authflow.sessions SET rotated_at = :'rotated_back' WHERE session_id = :'s0_id';
SELECT is_empty($$SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM s0))$$,
                'the replaced token 11 s later: no row');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM r1))), 0::bigint, 'the session is revoked');
SELECT is_empty($$SELECT * FROM authflow.session_refresh((SELECT new_refresh_token FROM r1))$$,
                'its current refresh token is dead too');
SELECT is((SELECT kind || ' ' || user_id || ' ' || (details ->> 'generations_back') FROM authflow.security_events_list('rot')
            WHERE kind = 'refresh_token_reuse'), 'refresh_token_reuse did:plc:rot 1', 'a security event records the reuse');

-- An older token of the chain, long after: also reuse.
CREATE TEMP TABLE t0 AS SELECT * FROM authflow.session_create('did:plc:rot2', NULL, NULL, 'rot');
CREATE TEMP TABLE t1 AS SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM t0));
CREATE TEMP TABLE t2 AS SELECT * FROM authflow.session_refresh((SELECT new_refresh_token FROM t1));
CREATE TEMP TABLE t3 AS SELECT * FROM authflow.session_refresh((SELECT new_refresh_token FROM t2));
SELECT is((SELECT refresh_generation FROM authflow.sessions WHERE session_id = (SELECT session_id FROM t0)), 3, 'three rotations');
SELECT is_empty($$SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM t0))$$,
                'the first token, three generations back, even inside the window: no row');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM t3))), 0::bigint, 'the session is revoked');
SELECT is((SELECT details ->> 'generations_back' FROM authflow.security_events_list('rot')
            WHERE kind = 'refresh_token_reuse' AND user_id = 'did:plc:rot2'), '3', 'the event says how far back');

-- Rotation off (the default tenant): the contract of 0.1.0.
CREATE TEMP TABLE d0 AS SELECT * FROM authflow.session_create('did:plc:norot');
CREATE TEMP TABLE d1 AS SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM d0));
SELECT ok((SELECT new_refresh_token IS NULL AND access_token <> (SELECT access_token FROM d0) FROM d1),
          'without rotation: a new access token and no new refresh token');
SELECT isnt_empty($$SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM d0))$$, 'the refresh token keeps working');
SELECT authflow.tenant_set('default', refresh_rotation => true);
CREATE TEMP TABLE d2 AS SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM d0));
SELECT ok((SELECT new_refresh_token IS NOT NULL FROM d2), 'turned on, the same session rotates from its next refresh');
SELECT authflow.tenant_set('default', refresh_rotation => false);

-- Security events: revocations, CLI logins, API keys, merges; never a secret.
SELECT authflow.session_revoke((SELECT new_refresh_token FROM d2));
SELECT is((SELECT count(*) FROM authflow.security_events_list() WHERE kind = 'session_revoked' AND user_id = 'did:plc:norot'), 1::bigint,
          'a revoke is an event');
CREATE TEMP TABLE e0 AS SELECT * FROM authflow.session_create('did:plc:events');
SELECT authflow.session_create('did:plc:events');
SELECT authflow.session_revoke_all('did:plc:events');
SELECT is((SELECT details FROM authflow.security_events_list() WHERE kind = 'sessions_revoked_all'), '{"revoked": 2}'::jsonb,
          'revoke-all is an event with its count');
CREATE TEMP TABLE e1 AS SELECT * FROM authflow.session_create('did:plc:events');
CREATE TEMP TABLE attempt AS SELECT * FROM authflow.cli_start();
SELECT authflow.cli_complete((SELECT login_code FROM attempt), (SELECT refresh_token FROM e1));
SELECT is((SELECT user_id || ' ' || (session_id = (SELECT session_id FROM e1))::text FROM authflow.security_events_list()
            WHERE kind = 'cli_login_completed'), 'did:plc:events true', 'a completed CLI login is an event, with the browser session');
CREATE TEMP TABLE key AS SELECT authflow.api_key_create() AS key;
SELECT authflow.api_key_revoke((SELECT key FROM key));
SELECT is((SELECT array_agg(kind ORDER BY event_id) FROM authflow.security_events_list() WHERE kind LIKE 'api_key%'),
          ARRAY['api_key_created', 'api_key_revoked'], 'API keys created and revoked are events');
CREATE TEMP TABLE anon AS SELECT * FROM authflow.user_create_anonymous();
SELECT authflow.merge_anonymous_user((SELECT user_id FROM anon), 'did:plc:events');
SELECT is((SELECT details ->> 'anon_user_id' FROM authflow.security_events_list() WHERE kind = 'merge_performed'),
          (SELECT user_id FROM anon), 'a merge is an event');
SELECT is_empty($$
  SELECT 1 FROM authflow.security_events AS e,
         (SELECT refresh_token AS t FROM s0 UNION ALL SELECT access_token FROM s0 UNION ALL SELECT new_refresh_token FROM r1
          UNION ALL SELECT refresh_token FROM e1 UNION ALL SELECT key FROM key UNION ALL SELECT login_code FROM attempt
          UNION ALL SELECT polling_code FROM attempt) AS issued
   WHERE position(substr(issued.t, 38) IN e::text) > 0$$, 'no event holds a secret');
SELECT is((SELECT count(*) FROM authflow.security_events_list('rot', now() - interval '1 hour', 1)), 1::bigint,
          'security_events_list takes a row limit');
SELECT throws_ok($$SELECT * FROM authflow.security_events_list('no-such-tenant')$$, '22023', NULL, 'an unknown tenant');
SELECT ok(authflow.notify_channel('rot') ~ '^authflow_events_[0-9]+$' AND authflow.notify_channel('rot') <> authflow.notify_channel(),
          'each tenant has its own notification channel');

-- Events are purged after the tenant's retention.
SELECT authflow.tenant_set('rot', security_event_retention => '1 day');
UPDATE authflow.security_events SET occurred_at = now() - interval '2 days'
 WHERE tenant_id = (SELECT tenant_id FROM authflow.tenants WHERE name = 'rot');
SELECT cmp_ok(authflow.purge_expired(), '>=', 2::bigint, 'purge_expired deletes old events');
SELECT is((SELECT count(*) FROM authflow.security_events_list('rot', '-infinity')), 0::bigint, 'the tenant''s old events are gone');
SELECT isnt((SELECT count(*) FROM authflow.security_events_list('default', '-infinity')), 0::bigint, 'others are kept');

-- Settings.
SELECT throws_ok($$SELECT authflow.tenant_set('rot', refresh_reuse_grace => '1 hour')$$, '22023',
                 'refresh_reuse_grace must be greater than 0 and at most 00:05:00', 'a grace window over 5 minutes is refused');
SELECT is((SELECT refresh_reuse_grace FROM authflow.tenant_set('rot', refresh_reuse_grace => '30 seconds')), interval '30 seconds',
          'the grace window is a tenant setting');

-- security_events.kind has no CHECK constraint: its only writer refuses unknown kinds.
SELECT throws_ok($$SELECT authflow.security_event(1, 'not_a_kind', NULL, NULL, NULL, false)$$, '22023',
                 'unknown security event kind not_a_kind', 'security_event refuses an unknown kind');
SELECT is((SELECT array_agg(DISTINCT kind ORDER BY kind) <@ authflow.security_event_kinds() FROM authflow.security_events), true,
          'every recorded kind is in security_event_kinds()');

SELECT * FROM finish();
ROLLBACK;
