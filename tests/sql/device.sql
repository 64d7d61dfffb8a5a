-- device.sql: the device login (RFC 8628) in SQL, case by case: registered clients, the device
-- authorization, the polling rule on a test clock (device_poll_at: now() stands still inside
-- this transaction, so every poll's time is now() + an offset), approve and deny exactly once,
-- revocation, brute-force limits on user codes, the refresh grant, purge.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(124);

-- Helpers. poll(code, seconds): a poll of the tv client, that many seconds after the code was issued.
CREATE FUNCTION pg_temp.poll(code text, seconds numeric, client text DEFAULT 'tv')
RETURNS TABLE (status text, poll_interval integer, user_id text, access_token text, refresh_token text,
               access_expires_at timestamptz, scope text)
LANGUAGE sql AS $$
  SELECT * FROM authflow.device_poll_at(code, client, 'default', '192.0.2.7', 'tv-agent/1', now() + make_interval(secs => seconds))
$$;
CREATE FUNCTION pg_temp.status(code text, seconds numeric) RETURNS text LANGUAGE sql AS $$
  SELECT status || ' ' || poll_interval FROM pg_temp.poll(code, seconds)
$$;
CREATE FUNCTION pg_temp.attempt_of(code text) RETURNS authflow.device_attempts LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT a FROM authflow.device_attempts AS a WHERE a.attempt_id = (authflow.token_parse(code)).row_id);
END $$;
CREATE TEMP TABLE browser AS SELECT * FROM authflow.session_create('did:plc:device-owner', 'owner.test');

-- Registered clients.
SELECT lives_ok($$SELECT authflow.oauth_client_register('tv', 'Living-room TV', 'https://example.test/device', '{read,profile,read}')$$,
                'a client is registered');
SELECT results_eq($$SELECT client_id, name, scopes, verification_uri, poll_interval, code_lifetime FROM authflow.oauth_client_list()$$,
                  $$VALUES ('tv', 'Living-room TV', '{profile,read}'::text[], 'https://example.test/device', 5, interval '10 minutes')$$,
                  'the list shows it: scopes as a set, 5 s interval, 10-minute codes by default');
SELECT authflow.oauth_client_register('tv', 'The TV', 'https://example.test/device', '{read,profile}');
SELECT is((SELECT name FROM authflow.oauth_client_list()), 'The TV', 'registering again updates the client');
SELECT authflow.oauth_client_register('cli', 'Command line', 'http://localhost:8080/device?from=cli', '{}', poll_interval => 1);
SELECT is((SELECT count(*) FROM authflow.oauth_client_list()), 2::bigint, 'two clients');
CREATE TEMP TABLE bad_registrations (label text, call text, message text);
INSERT INTO bad_registrations VALUES
  ('a client_id with a space', $$SELECT authflow.oauth_client_register('t v', 'x', 'https://example.test/d')$$,
   'client_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)'),
  ('an empty name', $$SELECT authflow.oauth_client_register('x', '', 'https://example.test/d')$$, 'name must not be empty'),
  ('an http page elsewhere than localhost', $$SELECT authflow.oauth_client_register('x', 'x', 'http://example.test/d')$$,
   'verification_uri must be an https URL (http only for localhost) of at most 2048 bytes, without a fragment'),
  ('a javascript: page', $$SELECT authflow.oauth_client_register('x', 'x', 'javascript:alert(1)')$$,
   'verification_uri must be an https URL (http only for localhost) of at most 2048 bytes, without a fragment'),
  ('a page with a fragment', $$SELECT authflow.oauth_client_register('x', 'x', 'https://example.test/d#code')$$,
   'verification_uri must be an https URL (http only for localhost) of at most 2048 bytes, without a fragment'),
  ('a scope with a space', $$SELECT authflow.oauth_client_register('x', 'x', 'https://example.test/d', '{"read write"}')$$,
   'scopes must be at most 100 scope tokens of 1 to 128 printable ASCII characters (no space, " or \)'),
  ('an interval of 0 s', $$SELECT authflow.oauth_client_register('x', 'x', 'https://example.test/d', poll_interval => 0)$$,
   'poll_interval must be 1 to 60 seconds'),
  ('codes living 2 hours', $$SELECT authflow.oauth_client_register('x', 'x', 'https://example.test/d', code_lifetime => '2 hours')$$,
   'code_lifetime must be 10 seconds to 1 hour'),
  ('an unknown tenant', $$SELECT authflow.oauth_client_register('x', 'x', 'https://example.test/d', tenant => 'nope')$$,
   'tenant "nope" does not exist');
SELECT throws_ok(call, '22023', message, 'register refuses ' || label) FROM bad_registrations;
SELECT is((SELECT count(*) FROM authflow.oauth_client_list()), 2::bigint, 'the refused registrations changed nothing');
SELECT is(authflow.oauth_client_remove('nothing'), false, 'removing an unknown client: false');

-- The device authorization.
CREATE TEMP TABLE started AS SELECT * FROM authflow.device_authorize('tv', 'read');
SELECT ok((SELECT device_code LIKE 'afd\_%' AND length(device_code) = 80 FROM started), 'the device code is an afd token');
SELECT matches((SELECT user_code FROM started), '^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$',
               'the user code is XXXX-XXXX of the 20 consonants');
SELECT is((SELECT user_code_alphabet FROM authflow.user_code_alphabet()), 'BCDFGHJKLMNPQRSTVWXZ', 'the library''s alphabet');
SELECT is((SELECT verification_uri || ' ' || verification_uri_complete FROM started),
          'https://example.test/device https://example.test/device?user_code=' || (SELECT user_code FROM started),
          'the verification page, and the same with the code');
SELECT is((SELECT expires_in || ' ' || poll_interval FROM started), '600 5', 'expires_in 600, interval 5');
SELECT is((SELECT expires_at FROM started), now() + interval '10 minutes', 'expires_at');
SELECT ok((SELECT verification_uri_complete LIKE 'http://localhost:8080/device?from=cli&user_code=____-____' FROM authflow.device_authorize('cli')),
          'a page with a query gets the code appended with &');
SELECT is((pg_temp.attempt_of((SELECT device_code FROM started))).scopes, '{read}', 'the scopes asked for are kept');
SELECT is((SELECT device_hash FROM pg_temp.attempt_of((SELECT device_code FROM started))),
          (authflow.token_parse((SELECT device_code FROM started))).secret_hash, 'only the hash of the device code''s secret is stored');
-- (Values and rows are taken first, then compared: on Citus a query over a distributed table
-- runs on its shards, which may not call back into other tables nor join a temporary table.)
SELECT authflow.device_user_code_hash(user_code) AS started_hash FROM started \gset
SELECT count(*) AS stored_codes FROM authflow.device_user_codes WHERE user_code_hash = :'started_hash' \gset
SELECT is(:stored_codes::bigint, 1::bigint, 'the user code is stored as its HMAC');
CREATE TEMP TABLE stored_rows AS
  SELECT a::text AS stored FROM authflow.device_attempts AS a UNION ALL SELECT u::text FROM authflow.device_user_codes AS u;
SELECT is_empty($$SELECT 1 FROM stored_rows AS r, started AS s
                   WHERE r.stored LIKE '%' || replace(s.user_code, '-', '') || '%' OR r.stored LIKE '%' || right(s.device_code, 43) || '%'$$,
                'no table holds the user code or the device code''s secret');
SELECT ok((SELECT count(*) FROM stored_rows) >= 2, '... and the rows searched are there');
SELECT throws_ok($$SELECT * FROM authflow.device_authorize('nobody')$$, 'AF050', 'unknown client_id', 'an unknown client: AF050');
SELECT throws_ok($$SELECT * FROM authflow.device_authorize('tv', 'read admin')$$, 'AF051', 'scope "admin" is not allowed for this client',
                 'a scope the client may not ask for: AF051');
SELECT throws_ok($$SELECT * FROM authflow.device_authorize('tv', 'read  profile')$$, 'AF051',
                 'scope must be scope tokens separated by single spaces', 'a malformed scope: AF051');
SELECT throws_ok($$SELECT * FROM authflow.device_authorize('tv', NULL, 'nope')$$, '22023', 'tenant "nope" does not exist',
                 'an unknown tenant: 22023');
SELECT is((pg_temp.attempt_of((SELECT device_code FROM authflow.device_authorize('tv')))).scopes, '{}', 'no scope: none');

-- The verification page's lookup: normalised input.
SELECT results_eq($$SELECT client_id, client_name, scopes, expires_at FROM authflow.device_lookup((SELECT user_code FROM started))$$,
                  $$VALUES ('tv', 'The TV', '{read}'::text[], now() + interval '10 minutes')$$, 'lookup: what the page shows');
SELECT isnt_empty($$SELECT * FROM authflow.device_lookup(lower(replace((SELECT user_code FROM started), '-', '')))$$,
                  'lookup in lower case without the dash');
SELECT isnt_empty($$SELECT * FROM authflow.device_lookup(' ' || replace((SELECT user_code FROM started), '-', ' - ') || E'\t')$$,
                  'lookup with spaces, dashes and a tab');
SELECT is_empty($$SELECT * FROM authflow.device_lookup('BCDF-GHJKL')$$, 'lookup of nine characters: nothing');
SELECT is_empty($$SELECT * FROM authflow.device_lookup(NULL)$$, 'lookup of NULL: nothing');
SELECT is_empty($$SELECT * FROM authflow.device_lookup(repeat('B', 100000))$$, 'lookup of 100,000 characters: nothing');
SELECT hits AS tenant_hits FROM authflow.rate_counters WHERE action = 'device_user_code' AND subject = '*' \gset
SELECT is(:tenant_hits, 3, 'each failed lookup was counted for the tenant, the found ones were not');

-- The polling rule, for one code (interval 5 s), on the test clock.
SELECT is(pg_temp.status((SELECT device_code FROM started), 4.9), 'slow_down 10',
          'a poll before the interval (4.9 s after issue) is slow_down, and the interval grows by 5 s');
SELECT is(ARRAY[pg_temp.status((SELECT device_code FROM started), 6), pg_temp.status((SELECT device_code FROM started), 7),
                pg_temp.status((SELECT device_code FROM started), 9.9)], ARRAY['slow_down 10', 'slow_down 10', 'slow_down 10'],
          'more early polls in the same window: slow_down, the interval grows once only');
SELECT is(pg_temp.status((SELECT device_code FROM started), 10), 'authorization_pending 10',
          'at 10 s, measured from the issue (not from the early polls): accepted, pending');
SELECT is(pg_temp.status((SELECT device_code FROM started), 12), 'slow_down 15', 'a new window: an early poll raises it again');
SELECT is(pg_temp.status((SELECT device_code FROM started), 25), 'authorization_pending 15', 'served 15 s after the accepted poll');
SELECT is(pg_temp.status((SELECT device_code FROM started), 40), 'authorization_pending 15', 'a client that waits the interval is never slowed');

-- A compliant client, whose first poll came early (it started its timer before the answer):
-- on slow_down it adds 5 s to its interval, and waits it from its own last poll. One slow_down.
CREATE FUNCTION pg_temp.compliant_client(code text, first_poll numeric, approve_at_poll integer)
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
  wait numeric := 5;
  t numeric := first_poll;
  answer text;
  answers text[] := '{}';
BEGIN
  FOR poll_number IN 1..50 LOOP
    IF poll_number = approve_at_poll THEN
      PERFORM authflow.device_approve((SELECT user_code FROM pg_temp.codes WHERE device_code = code),
                                      (SELECT refresh_token FROM browser));
    END IF;
    answer := (SELECT status FROM pg_temp.poll(code, t));
    answers := answers || answer;
    EXIT WHEN answer NOT IN ('slow_down', 'authorization_pending');
    IF answer = 'slow_down' THEN
      wait := wait + 5;
    END IF;
    t := t + wait;
  END LOOP;
  RETURN answers;
END $$;
-- A client that keeps a fixed cadence a little under 5 s (a fast clock, timer jitter) and ignores
-- slow_down: it is served again and again, and after the approval it gets its tokens within a
-- bounded number of polls.
CREATE FUNCTION pg_temp.fixed_cadence_client(code text, approve_at_poll integer)
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
  gaps numeric[] := '{4.9, 4.7, 5.0, 4.8, 4.6, 4.95, 4.75}';
  t numeric := 0;
  answer text;
  answers text[] := '{}';
BEGIN
  FOR poll_number IN 1..200 LOOP
    IF poll_number = approve_at_poll THEN
      PERFORM authflow.device_approve((SELECT user_code FROM pg_temp.codes WHERE device_code = code),
                                      (SELECT refresh_token FROM browser));
    END IF;
    t := t + gaps[1 + poll_number % cardinality(gaps)];
    answer := (SELECT status FROM pg_temp.poll(code, t));
    answers := answers || answer;
    EXIT WHEN answer NOT IN ('slow_down', 'authorization_pending');
  END LOOP;
  RETURN answers;
END $$;
CREATE TEMP TABLE codes AS SELECT 'compliant' AS client, * FROM authflow.device_authorize('tv');
INSERT INTO codes SELECT 'fixed', * FROM authflow.device_authorize('tv');
INSERT INTO codes SELECT 'fixed late', * FROM authflow.device_authorize('tv');
CREATE TEMP TABLE runs AS
  SELECT 'compliant' AS client, pg_temp.compliant_client((SELECT device_code FROM codes WHERE client = 'compliant'), 4, 6) AS answers
  UNION ALL SELECT 'fixed', pg_temp.fixed_cadence_client((SELECT device_code FROM codes WHERE client = 'fixed'), 8)
  UNION ALL SELECT 'fixed late', pg_temp.fixed_cadence_client((SELECT device_code FROM codes WHERE client = 'fixed late'), 100);
SELECT is((SELECT answers FROM runs WHERE client = 'compliant'),
          '{slow_down,authorization_pending,authorization_pending,authorization_pending,authorization_pending,success}',
          'the compliant client: one slow_down, then served at every poll, and its tokens at the first poll after approval');
-- longest_slow_downs: the longest run of slow_down answers in a run.
CREATE FUNCTION pg_temp.longest_slow_downs(answers text[]) RETURNS integer LANGUAGE sql AS $$
  SELECT coalesce(max(length(run)), 0)
    FROM regexp_split_to_table(array_to_string(ARRAY(SELECT CASE WHEN a = 'slow_down' THEN 's' ELSE '.' END FROM unnest(answers) AS a), ''),
                               '\.') AS run
$$;
SELECT is((SELECT answers[cardinality(answers)] FROM runs WHERE client = 'fixed'), 'success',
          'the fixed-cadence client gets its tokens');
SELECT ok((SELECT cardinality(answers) - 7 <= 5 FROM runs WHERE client = 'fixed'),
          'within 5 polls of the approval (the interval grows to 20 s at most, polled every 4.6 to 5 s)');
SELECT ok((SELECT 'authorization_pending' = ANY (answers[2:7]) FROM runs WHERE client = 'fixed'),
          'and was served (pending) before the approval too');
SELECT is((SELECT answers[cardinality(answers)] FROM runs WHERE client = 'fixed late'), 'success',
          'a fixed-cadence client approved only after 100 polls (8 minutes) still gets its tokens');
SELECT cmp_ok((SELECT pg_temp.longest_slow_downs(answers) FROM runs WHERE client = 'fixed late'), '<=', 4,
              'never more than 4 slow_down answers in a row: early polls do not lock it out');
SELECT cmp_ok((SELECT count(*) FROM runs, unnest(answers) AS a WHERE client = 'fixed late' AND a = 'authorization_pending'), '>=', 19::bigint,
              'it was served at every fifth poll or sooner while it waited (19 times in 100 polls)');
SELECT is((pg_temp.attempt_of((SELECT device_code FROM codes WHERE client = 'fixed late'))).poll_interval, 20,
          'the interval stopped growing 15 s over the one it was issued with');

-- Approve, pick up exactly once.
CREATE TEMP TABLE approving AS SELECT * FROM authflow.device_authorize('tv', 'profile read');
SELECT ok(authflow.device_approve((SELECT user_code FROM approving), (SELECT refresh_token FROM browser), client_address => '192.0.2.1'),
          'approve');
SELECT is(authflow.device_approve((SELECT user_code FROM approving), (SELECT refresh_token FROM browser)), false,
          'a second approval: false');
SELECT is(authflow.device_deny((SELECT user_code FROM approving)), false, 'a denial after the approval: false');
SELECT is_empty($$SELECT * FROM authflow.device_lookup((SELECT user_code FROM approving))$$, 'the answered code is looked up no more');
SELECT is(pg_temp.status((SELECT device_code FROM approving), 3), 'slow_down 10', 'an early poll after approval is still slow_down');
CREATE TEMP TABLE picked AS SELECT * FROM pg_temp.poll((SELECT device_code FROM approving), 10);
SELECT is((SELECT status || ' ' || user_id || ' ' || scope FROM picked), 'success did:plc:device-owner profile read',
          'the accepted poll: success, the approving user, the scopes');
SELECT ok((SELECT access_token LIKE 'afa\_%' AND refresh_token LIKE 'afr\_%' AND access_expires_at = now() + interval '15 minutes' FROM picked),
          'with an access and a refresh token');
SELECT isnt((SELECT refresh_token FROM picked), (SELECT refresh_token FROM browser), 'a new session, not the browser''s');
SELECT is((SELECT user_id FROM authflow.session_validate((SELECT access_token FROM picked))), 'did:plc:device-owner',
          'the access token validates');
SELECT results_eq($$SELECT kind, client, client_address, user_agent FROM authflow.session_list('did:plc:device-owner')
                     WHERE session_id = (SELECT session_id FROM authflow.session_validate((SELECT access_token FROM picked)))$$,
                  $$VALUES ('device', '{"scope": "profile read", "oauth_client_id": "tv"}'::jsonb, '192.0.2.7', 'tv-agent/1')$$,
                  'a session of kind device, naming its client, with the device''s address and user agent');
SELECT throws_ok($$SELECT * FROM pg_temp.poll((SELECT device_code FROM approving), 100)$$, 'AF053', 'the device code was already used',
                 'a poll after the pick-up: AF053');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:device-owner') WHERE kind = 'device' AND client ->> 'scope' = 'profile read'),
          1::bigint, 'one device session of that code');

-- The refresh grant of that session.
CREATE TEMP TABLE refreshed AS SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM picked), 'tv');
SELECT ok((SELECT access_token LIKE 'afa\_%' AND new_refresh_token IS NULL AND scope = 'profile read' FROM refreshed),
          'oauth_refresh: a new access token; without rotation (default tenant) no new refresh token');
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM picked))$$, 'the previous access token is dead');
SELECT isnt_empty($$SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM picked), 'tv', 'read')$$,
                  'a scope within the granted one is accepted');
SELECT throws_ok($$SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM picked), 'tv', 'read admin')$$, 'AF051',
                 'scope "admin" is not allowed for this client', 'a scope beyond the granted one: AF051');
SELECT is_empty($$SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM picked), 'cli')$$,
                'the refresh token of another client''s session: nothing');
SELECT is_empty($$SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM browser), 'tv')$$,
                'a web session''s refresh token: nothing');
SELECT is_empty($$SELECT * FROM authflow.oauth_refresh('afr_garbage', 'tv')$$, 'garbage: nothing');
SELECT throws_ok($$SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM picked), 'nobody')$$, 'AF050', 'unknown client_id',
                 'an unknown client: AF050');
-- With the tenant's rotation, the grant hands out the next refresh token and the old one dies.
SELECT authflow.tenant_set('rotating', refresh_rotation => true);
SELECT authflow.oauth_client_register('tv', 'TV', 'https://rotating.test/device', tenant => 'rotating');
CREATE TEMP TABLE rotating_browser AS SELECT * FROM authflow.session_create('did:plc:rotating', tenant => 'rotating');
CREATE TEMP TABLE rotating AS SELECT * FROM authflow.device_authorize('tv', NULL, 'rotating');
SELECT ok(authflow.device_approve((SELECT user_code FROM rotating), (SELECT refresh_token FROM rotating_browser), 'rotating'),
          'approve in a rotating tenant');
CREATE TEMP TABLE rotating_picked AS
  SELECT * FROM authflow.device_poll_at((SELECT device_code FROM rotating), 'tv', 'rotating', NULL, NULL, now() + interval '5 seconds');
CREATE TEMP TABLE rotated AS SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM rotating_picked), 'tv', NULL, 'rotating');
SELECT ok((SELECT new_refresh_token LIKE 'afr\_%' AND new_refresh_token <> (SELECT refresh_token FROM rotating_picked) FROM rotated),
          'rotation: a new refresh token');
SELECT isnt_empty($$SELECT * FROM authflow.oauth_refresh((SELECT new_refresh_token FROM rotated), 'tv', NULL, 'rotating')$$,
                  'which refreshes in turn');
SELECT is_empty($$SELECT * FROM authflow.oauth_refresh((SELECT refresh_token FROM picked), 'tv', NULL, 'rotating')$$,
                'a device session of another tenant: nothing');

-- Deny.
CREATE TEMP TABLE denied AS SELECT * FROM authflow.device_authorize('tv');
SELECT ok(authflow.device_deny(lower((SELECT user_code FROM denied))), 'deny (the code typed in lower case)');
SELECT is(authflow.device_deny((SELECT user_code FROM denied)), false, 'a second denial: false');
SELECT is(authflow.device_approve((SELECT user_code FROM denied), (SELECT refresh_token FROM browser)), false,
          'an approval after the denial: false');
SELECT is(ARRAY[pg_temp.status((SELECT device_code FROM denied), 5), pg_temp.status((SELECT device_code FROM denied), 6)],
          ARRAY['access_denied 5', 'access_denied 5'], 'the device is told access_denied, poll after poll');

-- Expiry wins over everything.
CREATE TEMP TABLE expiring AS SELECT * FROM authflow.device_authorize('tv');
SELECT is(pg_temp.status((SELECT device_code FROM expiring), 600), 'expired_token 5', 'a poll at the expiry: expired_token');
SELECT is(pg_temp.status((SELECT device_code FROM expiring), 5), 'authorization_pending 5', 'before it: pending');
SELECT (pg_temp.attempt_of(device_code)).attempt_id AS expiring_id FROM expiring \gset
UPDATE authflow.device_attempts SET expires_at = now() - interval '1 second' WHERE attempt_id = :'expiring_id';
SELECT is(authflow.device_approve((SELECT user_code FROM expiring), (SELECT refresh_token FROM browser)), false,
          'an expired code cannot be approved');

-- Revocation of the approving user voids approved codes that were not picked up.
CREATE TEMP TABLE browser2 AS SELECT * FROM authflow.session_create('did:plc:revoked');
CREATE TEMP TABLE parked AS SELECT * FROM authflow.device_authorize('tv');
SELECT ok(authflow.device_approve((SELECT user_code FROM parked), (SELECT refresh_token FROM browser2)), 'a device login approved and parked');
SELECT is(authflow.session_revoke_all('did:plc:revoked'), 1, 'log out everywhere');
SELECT is((SELECT status || coalesce(refresh_token, '-') FROM pg_temp.poll((SELECT device_code FROM parked), 5)), 'expired_token-',
          'the parked login is expired_token, without tokens');
SELECT is(pg_temp.status((SELECT device_code FROM parked), 50), 'expired_token 5', 'and stays so');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:revoked')), 0::bigint, 'no session was made');
CREATE TEMP TABLE browser3 AS SELECT * FROM authflow.session_create('did:plc:revoked');
CREATE TEMP TABLE parked2 AS SELECT * FROM authflow.device_authorize('tv');
SELECT authflow.device_approve((SELECT user_code FROM parked2), (SELECT refresh_token FROM browser3));
SELECT ok(authflow.session_revoke((SELECT refresh_token FROM browser3)), 'log out of the approving session');
SELECT is(pg_temp.status((SELECT device_code FROM parked2), 5), 'expired_token 5', 'that login is expired_token too');

-- Device codes that are not this client's, or not device codes.
CREATE TEMP TABLE bad_polls (label text, code text, client text, state text, message text);
INSERT INTO bad_polls VALUES
  ('another client''s code', (SELECT device_code FROM expiring), 'cli', 'AF052', 'the device code is invalid or was not issued to this client'),
  ('an unknown client', (SELECT device_code FROM expiring), 'nobody', 'AF050', 'unknown client_id'),
  ('an unknown device code', authflow.token_generate('device'), 'tv', 'AF052', 'the device code is invalid or was not issued to this client'),
  ('a CLI polling code', (SELECT polling_code FROM authflow.cli_start()), 'tv', 'AF052', 'the device code is invalid or was not issued to this client'),
  ('garbage', 'afd_nope', 'tv', 'AF052', 'the device code is invalid or was not issued to this client'),
  ('NULL', NULL, 'tv', 'AF052', 'the device code is invalid or was not issued to this client'),
  ('another tenant''s code', (SELECT device_code FROM rotating), 'tv', 'AF052', 'the device code is invalid or was not issued to this client');
SELECT throws_ok(format('SELECT * FROM pg_temp.poll(%L, 30, %L)', code, client), state, message, 'poll with ' || label) FROM bad_polls;
CREATE TEMP TABLE other_tenant_browser AS SELECT * FROM authflow.session_create('did:plc:elsewhere', tenant => 'rotating');
CREATE TEMP TABLE pending AS SELECT * FROM authflow.device_authorize('tv');
SELECT throws_ok($$SELECT authflow.device_approve((SELECT user_code FROM pending), 'afr_garbage')$$, 'AF023', 'Invalid refresh token',
                 'approve with an unknown refresh token: AF023');
SELECT throws_ok($$SELECT authflow.device_approve((SELECT user_code FROM pending), (SELECT access_token FROM browser))$$, 'AF023',
                 'Invalid refresh token', 'approve with an access token: AF023');
SELECT throws_ok($$SELECT authflow.device_approve((SELECT user_code FROM pending), (SELECT refresh_token FROM other_tenant_browser))$$,
                 'AF025', 'Refresh token does not belong to this project', 'approve with another tenant''s token: AF025');
SELECT throws_ok($$SELECT authflow.device_approve((SELECT user_code FROM pending), NULL)$$, '22023', 'refresh_token must not be empty',
                 'approve without a refresh token: 22023');
SELECT throws_ok($$SELECT * FROM authflow.device_lookup((SELECT user_code FROM pending), client_address => 'not-an-address')$$, '22023',
                 'client_address must be an IPv4 or IPv6 address', 'a bad client address: 22023');
SELECT is_empty($$SELECT * FROM authflow.device_lookup((SELECT user_code FROM pending), 'rotating')$$,
                'a code is looked up in its own tenant only');
SELECT is(pg_temp.status((SELECT device_code FROM pending), 5), 'authorization_pending 5', 'the refused approvals changed nothing');

-- Security events.
SELECT results_eq($$SELECT kind, user_id, details ->> 'client_id' FROM authflow.security_events_list()
                     WHERE kind LIKE 'device_login_%' ORDER BY event_id LIMIT 2$$,
                  $$VALUES ('device_login_approved', 'did:plc:device-owner', 'tv'), ('device_login_approved', 'did:plc:device-owner', 'tv')$$,
                  'approvals are security events of the approving user, naming the client');
SELECT is((SELECT count(*) FROM authflow.security_events_list() WHERE kind = 'device_login_denied' AND user_id IS NULL), 1::bigint,
          'the denial is one too');

-- Brute force: failed user-code entries are limited per client address and per tenant.
DELETE FROM authflow.rate_counters;
SELECT authflow.rate_limit_set('device_user_code', 3, 5);
CREATE FUNCTION pg_temp.guess(address text, code text DEFAULT 'BBBB-BBBB') RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT count(*) FROM authflow.device_lookup(code, 'default', address))::text;
EXCEPTION WHEN SQLSTATE 'AF054' THEN
  RETURN 'refused';
END $$;
SELECT is(ARRAY[pg_temp.guess('198.51.100.1'), pg_temp.guess('198.51.100.1'), pg_temp.guess('198.51.100.1')], ARRAY['0', '0', '0'],
          'three wrong guesses from one address are answered (nothing found)');
SELECT is(pg_temp.guess('198.51.100.1', (SELECT user_code FROM pending)), 'refused',
          'the fourth entry from that address is refused, even with a right code');
SELECT throws_ok($$SELECT * FROM authflow.device_lookup('BBBB-BBBB', 'default', '198.51.100.1')$$, 'AF054',
                 'too many failed user code entries, try again later', 'AF054');
SELECT throws_ok($$SELECT authflow.device_approve((SELECT user_code FROM pending), (SELECT refresh_token FROM browser), 'default', '198.51.100.1')$$,
                 'AF054', 'too many failed user code entries, try again later', 'approve shares the limit');
SELECT throws_ok($$SELECT authflow.device_deny((SELECT user_code FROM pending), 'default', '198.51.100.1')$$,
                 'AF054', 'too many failed user code entries, try again later', 'and so does deny');
SELECT is(ARRAY[pg_temp.guess('198.51.100.2', (SELECT user_code FROM pending)), pg_temp.guess('198.51.100.2'), pg_temp.guess('198.51.100.3')],
          ARRAY['1', '0', '0'], 'other addresses go on: a right code is found (not counted), wrong ones counted for the tenant');
SELECT is(pg_temp.guess('198.51.100.4', (SELECT user_code FROM pending)), 'refused',
          'five failures in the tenant this minute: every entry is refused, from any address');
-- (Every counter here is of this minute's window; Citus updates no column from itself through
-- timestamptz arithmetic, so the earlier window is written as a value.)
SELECT is((SELECT count(*) FROM authflow.rate_counters WHERE window_start <> date_trunc('minute', now())), 0::bigint,
          'every counter is of this minute');
UPDATE authflow.rate_counters SET window_start = date_trunc('minute', now()) - interval '1 minute';
SELECT is(pg_temp.guess('198.51.100.1', (SELECT user_code FROM pending)), '1', 'the next minute, entries are served again');
SELECT is(pg_temp.status((SELECT device_code FROM pending), 10), 'authorization_pending 5', 'the refused entries changed nothing');

-- A removed client takes its pending codes with it.
SELECT ok(authflow.oauth_client_remove('tv'), 'remove the client');
SELECT throws_ok($$SELECT * FROM pg_temp.poll((SELECT device_code FROM pending), 20)$$, 'AF050', 'unknown client_id',
                 'its device codes are refused');
SELECT is((SELECT count(*) FROM authflow.device_attempts WHERE client_id = 'tv' AND tenant_id = 1), 0::bigint, 'and gone');

-- Purge: expired device attempts and user codes are garbage, live ones are not.
CREATE TEMP TABLE live_code AS SELECT * FROM authflow.device_authorize('cli');
SELECT (pg_temp.attempt_of(device_code)).attempt_id AS live_id FROM live_code \gset
UPDATE authflow.device_attempts SET expires_at = now() - interval '1 second' WHERE client_id = 'cli' AND attempt_id <> :'live_id';
UPDATE authflow.device_user_codes SET expires_at = now() - interval '1 second' WHERE attempt_id <> :'live_id';
SELECT cmp_ok(authflow.purge_expired(), '>=', 2::bigint, 'purge_expired deletes expired device attempts and user codes');
SELECT is((SELECT count(*) FROM authflow.device_attempts WHERE expires_at <= now()), 0::bigint, 'no expired device attempt is left');
SELECT is((SELECT count(*) FROM authflow.device_user_codes WHERE expires_at <= now()), 0::bigint, 'no expired user code is left');
SELECT isnt_empty($$SELECT * FROM authflow.device_lookup((SELECT user_code FROM live_code))$$, 'the live code is kept');

SELECT * FROM finish();
ROLLBACK;
