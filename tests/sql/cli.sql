-- cli.sql: the CLI login flow, anonymous users and the merge, case by case.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(68);

-- Helpers: a signed-in browser user.
CREATE TEMP TABLE browser AS SELECT * FROM authflow.session_create('did:plc:browser', 'browser.test');

-- The whole flow without an anonymous user.
CREATE TEMP TABLE attempt AS SELECT * FROM authflow.cli_start();
SELECT ok((SELECT polling_code LIKE 'afp\_%' AND login_code LIKE 'afl\_%' FROM attempt), 'cli_start returns both codes');
SELECT is((SELECT expires_at FROM attempt), now() + interval '2 hours', 'attempts expire after 2 hours by default');
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM attempt))), 'waiting', 'poll: waiting');
SELECT is(authflow.cli_check((SELECT login_code FROM attempt)), 'none', 'check: none without an anonymous session');
SELECT throws_ok($$SELECT * FROM authflow.cli_claim_anon_session((SELECT login_code FROM attempt))$$, 'AF021',
                 'No anonymous session associated with this code', 'claim without an anonymous session');
SELECT throws_ok($$SELECT authflow.cli_complete((SELECT login_code FROM attempt), NULL)$$, 'AF022',
                 'refresh_token is required when mode is ''complete''', 'complete needs a refresh token');
SELECT throws_ok($$SELECT authflow.cli_complete((SELECT login_code FROM attempt), authflow.token_generate('refresh'))$$, 'AF023',
                 'Invalid refresh token', 'complete with an unknown refresh token');
SELECT throws_ok($$SELECT authflow.cli_complete((SELECT login_code FROM attempt), (SELECT access_token FROM browser))$$, 'AF023',
                 'Invalid refresh token', 'complete with an access token');
SELECT ok(authflow.cli_complete((SELECT login_code FROM attempt), (SELECT refresh_token FROM browser)), 'complete');
SELECT throws_ok($$SELECT authflow.cli_complete((SELECT login_code FROM attempt), (SELECT refresh_token FROM browser))$$, 'AF020',
                 'Invalid login code or the code has expired', 'a second completion fails');
SELECT throws_ok($$SELECT authflow.cli_check((SELECT login_code FROM attempt))$$, 'AF020',
                 'Invalid login code or the code has expired', 'check of a completed attempt');
CREATE TEMP TABLE success AS SELECT * FROM authflow.cli_poll((SELECT polling_code FROM attempt));
SELECT is((SELECT status || ' ' || user_id FROM success), 'success did:plc:browser', 'poll: success for the browser user');
SELECT isnt((SELECT refresh_token FROM success), (SELECT refresh_token FROM browser), 'the CLI gets a new session, not the browser''s');
SELECT is((SELECT user_id FROM authflow.session_validate((SELECT access_token FROM success))), 'did:plc:browser',
          'the CLI''s access token works');
SELECT is((SELECT kind FROM authflow.session_list('did:plc:browser') WHERE session_id =
             (SELECT session_id FROM authflow.session_validate((SELECT access_token FROM success)))), 'cli',
          'the CLI session is of kind cli');
SELECT isnt_empty($$SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM success))$$, 'the CLI''s refresh token works');
SELECT is((SELECT status || coalesce(refresh_token, '-') FROM authflow.cli_poll((SELECT polling_code FROM attempt))), 'used-',
          'poll after success: used, without tokens');

-- Polling codes.
SELECT throws_ok($$SELECT * FROM authflow.cli_poll(authflow.token_generate('polling'))$$, 'AF010',
                 'The polling code is invalid or does not exist.', 'poll of an unknown code');
SELECT throws_ok($$SELECT * FROM authflow.cli_poll((SELECT login_code FROM attempt))$$, 'AF010',
                 'The polling code is invalid or does not exist.', 'a login code is not a polling code');
SELECT throws_ok($$SELECT * FROM authflow.cli_poll(NULL)$$, 'AF010', 'The polling code is invalid or does not exist.', 'poll(NULL)');
SELECT throws_ok($$SELECT * FROM authflow.cli_poll(repeat('p', 10 * 1024 * 1024))$$, 'AF010',
                 'The polling code is invalid or does not exist.', 'poll of 10 MB');
SELECT throws_ok($$SELECT authflow.cli_check((SELECT polling_code FROM attempt))$$, 'AF020',
                 'Invalid login code or the code has expired', 'a polling code is not a login code');

-- Expiry: expired wins over everything.
CREATE TEMP TABLE expiring AS SELECT * FROM authflow.cli_start(expires_in => interval '10 minutes');
SELECT ok(authflow.cli_complete((SELECT login_code FROM expiring), (SELECT refresh_token FROM browser)), 'complete before expiry');
UPDATE authflow.cli_attempts SET expires_at = now() - interval '1 second'
 WHERE attempt_id = (authflow.token_parse((SELECT polling_code FROM expiring))).row_id;
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM expiring))), 'expired', 'poll: expired wins over completed');
CREATE TEMP TABLE expired AS SELECT * FROM authflow.cli_start();
UPDATE authflow.cli_attempts SET expires_at = now() - interval '1 second'
 WHERE attempt_id = (authflow.token_parse((SELECT polling_code FROM expired))).row_id;
SELECT throws_ok($$SELECT authflow.cli_check((SELECT login_code FROM expired))$$, 'AF020',
                 'Invalid login code or the code has expired', 'check of an expired attempt');
SELECT throws_ok($$SELECT * FROM authflow.cli_claim_anon_session((SELECT login_code FROM expired))$$, 'AF020',
                 'Invalid login code or the code has expired', 'claim of an expired attempt');
SELECT throws_ok($$SELECT authflow.cli_complete((SELECT login_code FROM expired), (SELECT refresh_token FROM browser))$$, 'AF020',
                 'Invalid login code or the code has expired', 'complete of an expired attempt');
SELECT throws_ok($$SELECT * FROM authflow.cli_start(expires_in => interval '25 hours')$$, '22023',
                 'expires_in must be greater than 0 and at most 24:00:00', 'expires_in over 24 hours');
SELECT throws_ok($$SELECT * FROM authflow.cli_start(expires_in => interval '-1 second')$$, '22023',
                 'expires_in must be greater than 0 and at most 24:00:00', 'negative expires_in');

-- Tenants.
SELECT lives_ok($$SELECT authflow.tenant_set('other-project')$$, 'a second tenant');
CREATE TEMP TABLE other_attempt AS SELECT * FROM authflow.cli_start(tenant => 'other-project');
SELECT throws_ok($$SELECT * FROM authflow.cli_poll((SELECT polling_code FROM other_attempt))$$, 'AF010',
                 'The polling code is invalid or does not exist.', 'poll in the wrong tenant');
SELECT throws_ok($$SELECT authflow.cli_check((SELECT login_code FROM other_attempt))$$, 'AF024',
                 'Project ID mismatch; please ensure that you are using the correct app url.', 'check in the wrong tenant');
SELECT throws_ok($$SELECT authflow.cli_complete((SELECT login_code FROM other_attempt), (SELECT refresh_token FROM browser), tenant => 'other-project')$$,
                 'AF025', 'Refresh token does not belong to this project', 'complete with a refresh token of another tenant');

-- Anonymous users.
CREATE TEMP TABLE anon AS SELECT * FROM authflow.user_create_anonymous();
SELECT is((SELECT is_anonymous FROM authflow.session_validate((SELECT access_token FROM anon))), true,
          'an anonymous user''s session says so');
SELECT throws_ok($$SELECT * FROM authflow.cli_start(anon_refresh_token => 'nonsense')$$, 'AF001', 'Invalid anon refresh token',
                 'start with an invalid anon token');
SELECT throws_ok($$SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM anon), tenant => 'other-project')$$,
                 'AF002', 'Anon refresh token does not belong to this project', 'start with an anon token of another tenant');
SELECT throws_ok($$SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM browser))$$, 'AF004',
                 'The provided refresh token does not belong to an anonymous user', 'start with a regular user''s token');
CREATE TEMP TABLE stale_anon AS SELECT * FROM authflow.user_create_anonymous();
UPDATE authflow.sessions SET expires_at = now() - interval '1 second' WHERE session_id = (SELECT session_id FROM stale_anon);
SELECT throws_ok($$SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM stale_anon))$$, 'AF003',
                 'The provided anon refresh token has expired', 'start with an expired anon token');

-- Claim, then complete as another user without a merge.
CREATE TEMP TABLE anon_attempt AS SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM anon));
SELECT is(authflow.cli_check((SELECT login_code FROM anon_attempt)), 'anonymous', 'check: anonymous');
CREATE TEMP TABLE claimed AS SELECT * FROM authflow.cli_claim_anon_session((SELECT login_code FROM anon_attempt));
SELECT is((SELECT user_id FROM claimed), (SELECT user_id FROM anon), 'claim returns the anonymous user');
SELECT isnt((SELECT refresh_token FROM claimed), (SELECT refresh_token FROM anon), 'claim gives the browser a new session');
SELECT throws_ok($$SELECT * FROM authflow.cli_claim_anon_session((SELECT login_code FROM anon_attempt))$$, 'AF021',
                 'No anonymous session associated with this code', 'claim is one-shot');
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM anon_attempt))), 'waiting', 'the attempt stays waiting after a claim');
SELECT ok(authflow.cli_complete((SELECT login_code FROM anon_attempt), (SELECT refresh_token FROM browser)), 'complete as another user, no merge');
SELECT isnt_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM anon))$$, 'without merge the anonymous user lives on');

-- The in-place upgrade path: claim, upgrade, complete as the same user.
CREATE TEMP TABLE anon2 AS SELECT * FROM authflow.user_create_anonymous();
CREATE TEMP TABLE upgrade_attempt AS SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM anon2));
CREATE TEMP TABLE claimed2 AS SELECT * FROM authflow.cli_claim_anon_session((SELECT login_code FROM upgrade_attempt));
SELECT ok(authflow.user_upgrade((SELECT user_id FROM anon2), 'upgraded.test'), 'user_upgrade');
SELECT ok(NOT authflow.user_upgrade((SELECT user_id FROM anon2)), 'a second upgrade is false');
SELECT is((SELECT is_anonymous::text || ' ' || handle FROM authflow.session_validate((SELECT access_token FROM anon2))),
          'false upgraded.test', 'the CLI''s anonymous session reports the upgraded user');
SELECT is(authflow.cli_check((SELECT login_code FROM upgrade_attempt)), 'none', 'check: none once the user is no longer anonymous');
SELECT ok(authflow.cli_complete((SELECT login_code FROM upgrade_attempt), (SELECT refresh_token FROM claimed2), merge => true),
          'complete as the same, upgraded user (merge requested, nothing to merge)');
SELECT is((SELECT user_id FROM authflow.cli_poll((SELECT polling_code FROM upgrade_attempt))), (SELECT user_id FROM anon2),
          'the CLI is signed in as the upgraded user');

-- Merge with two application tables: one whose unique key collides, one of credentials.
CREATE TABLE public.test_preferences (owner text NOT NULL, name text NOT NULL, value text, UNIQUE (owner, name));
CREATE TABLE public.test_api_keys (owner text NOT NULL, key_hash text NOT NULL);
-- On Citus the merge runs its rules on the workers too: the application's tables named in merge
-- rules are Citus tables there (docs/scale-out.md); here reference tables.
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_reference_table('public.test_preferences'), create_reference_table('public.test_api_keys');
  END IF;
END $$;
SELECT lives_ok($$SELECT authflow.merge_rule_add('public.test_preferences', 'owner', '{name}', 'keep_target')$$, 'merge_rule_add');
SELECT lives_ok($$SELECT authflow.merge_rule_add('public.test_api_keys', 'owner', is_credential => true)$$, 'merge_rule_add, credentials');
SELECT throws_ok($$SELECT authflow.merge_rule_add('public.test_api_keys', 'nope')$$, '22023',
                 'column "nope" does not exist in table public.test_api_keys', 'merge_rule_add of a missing column');
CREATE TEMP TABLE anon3 AS SELECT * FROM authflow.user_create_anonymous();
SELECT user_id AS anon3_id FROM anon3 \gset
INSERT INTO public.test_preferences VALUES (:'anon3_id', 'theme', 'dark'), (:'anon3_id', 'lang', 'fr'),
                                           ('did:plc:browser', 'theme', 'light');
INSERT INTO public.test_api_keys VALUES (:'anon3_id', 'attacker-key');
CREATE TEMP TABLE merge_attempt AS SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM anon3));
SELECT ok(authflow.cli_complete((SELECT login_code FROM merge_attempt), (SELECT refresh_token FROM browser), merge => true),
          'complete with merge');
SELECT results_eq($$SELECT name, value FROM public.test_preferences WHERE owner = 'did:plc:browser' ORDER BY name$$,
                  $$VALUES ('lang', 'fr'), ('theme', 'light')$$, 'rows moved; on a collision the target''s row won');
SELECT is((SELECT count(*) FROM public.test_api_keys), 0::bigint, 'credential rows are deleted, never moved');
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM anon3))$$, 'the anonymous user''s sessions are revoked');
SELECT is((SELECT count(*) FROM authflow.users WHERE user_id = (SELECT user_id FROM anon3)), 0::bigint, 'the anonymous user is deleted');

-- A merge that fails rolls back the completion: the attempt stays pending.
SELECT lives_ok($$SELECT authflow.merge_rule_add('public.test_preferences', 'owner', '{name}', 'error')$$, 'a rule that refuses collisions');
CREATE TEMP TABLE anon4 AS SELECT * FROM authflow.user_create_anonymous();
SELECT user_id AS anon4_id FROM anon4 \gset
INSERT INTO public.test_preferences VALUES (:'anon4_id', 'theme', 'blue');
CREATE TEMP TABLE failing AS SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM anon4));
SELECT throws_ok($$SELECT authflow.cli_complete((SELECT login_code FROM failing), (SELECT refresh_token FROM browser), merge => true)$$,
                 'AF032', 'merge conflict: 1 rows of public.test_preferences collide with rows of the target user', 'the failing merge raises');
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM failing))), 'waiting', 'the attempt is still pending');
SELECT is((SELECT value FROM public.test_preferences WHERE owner = (SELECT user_id FROM anon4)), 'blue', 'no row moved');
SELECT throws_ok($$SELECT authflow.merge_anonymous_user('did:plc:browser', (SELECT user_id FROM anon4))$$, 'AF030',
                 'user "did:plc:browser" is not anonymous', 'merge refuses a user that is not anonymous');

-- purge_expired: expired attempts, and anonymous users without sessions past the retention.
SELECT user_id AS stale_anon_id FROM stale_anon \gset
UPDATE authflow.users SET created_at = now() - interval '31 days' WHERE user_id = :'stale_anon_id';
SELECT cmp_ok(authflow.purge_expired(), '>=', 3::bigint, 'purge_expired deletes expired attempts, sessions and users');
SELECT is((SELECT count(*) FROM authflow.cli_attempts WHERE expires_at <= now()), 0::bigint, 'no expired attempt is left');
SELECT is((SELECT count(*) FROM authflow.users WHERE user_id = (SELECT user_id FROM stale_anon)), 0::bigint,
          'an old anonymous user without sessions is purged');

-- sessions.kind has no CHECK constraint (sql/state/20_tables.sql): every flow above wrote one of
-- the three kinds, and all three were written.
SELECT is((SELECT array_agg(DISTINCT kind ORDER BY kind) FROM authflow.sessions), '{anonymous,cli,web}'::text[],
          'the flows write exactly the kinds anonymous, cli and web');

SELECT * FROM finish();
ROLLBACK;
