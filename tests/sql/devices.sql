-- devices.sql: the "active devices" of a user: what is recorded of each session (client address,
-- user agent), listing them, signing one out, or all but the current one, in SQL and over HTTP.
BEGIN;
\ir ../fixtures/clean_slate.sql
\ir ../fixtures/http_call.sql
SELECT plan(92);

CREATE FUNCTION pg_temp.bearer(token text, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('authorization', 'Bearer ' || token) || extra $$;
-- device(session id): what is stored of a session, as one text. (PL/pgSQL, so that Citus can
-- route its query: it plans no statement of a SQL function over its parameters.)
CREATE FUNCTION pg_temp.device(id uuid) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT coalesce(client_address, '-') || ' ' || coalesce(user_agent, '-') FROM authflow.sessions WHERE session_id = id);
END $$;
CREATE FUNCTION pg_temp.exists(id uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM authflow.sessions WHERE session_id = id);
END $$;
SELECT lives_ok($$SELECT authflow.tenant_set('devices-other')$$, 'a second tenant');

-- What session_create records.
CREATE TEMP TABLE alice1 AS SELECT * FROM authflow.session_create('did:plc:alice', client_address => '203.0.113.7',
                                                                   user_agent => 'Firefox/130');
SELECT is(pg_temp.device((SELECT session_id FROM alice1)), '203.0.113.7 Firefox/130', 'session_create records address and user agent');
CREATE TEMP TABLE alice2 AS SELECT * FROM authflow.session_create('did:plc:alice', client_address => '2001:DB8:0:0::1',
                                                                   user_agent => repeat('u', 2000));
SELECT is(pg_temp.device((SELECT session_id FROM alice2)), '2001:db8::1 ' || repeat('u', 512),
          'an IPv6 address is stored canonical; the user agent is cut at 512 characters');
CREATE TEMP TABLE alice3 AS SELECT * FROM authflow.session_create('did:plc:alice');
SELECT is(pg_temp.device((SELECT session_id FROM alice3)), '- -', 'without them nothing is recorded');
SELECT throws_ok($$SELECT authflow.session_create('did:plc:alice', client_address => 'evil.example')$$, '22023',
                 'client_address must be an IPv4 or IPv6 address', 'a client address that is no address: 22023');
SELECT throws_ok($$SELECT authflow.session_create('did:plc:alice', client_address => '1.2.3.4/8')$$, '22023',
                 'client_address must be an IPv4 or IPv6 address', 'a network is no client address');
SELECT throws_ok($$SELECT authflow.session_create('did:plc:alice', client_address => '300.1.1.1')$$, '22023',
                 'client_address must be an IPv4 or IPv6 address', 'an out-of-range IPv4 address');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:alice')), 3::bigint, 'the refused calls created nothing');

-- session_list shows the devices, oldest first, and no secret.
SELECT is((SELECT array_agg(client_address || ' ' || left(user_agent, 7) ORDER BY created_at, session_id)
             FROM authflow.session_list('did:plc:alice') WHERE client_address IS NOT NULL),
          ARRAY['203.0.113.7 Firefox', '2001:db8::1 uuuuuuu'], 'session_list shows address and user agent');
SELECT is_empty($$SELECT 1 FROM authflow.session_list('did:plc:alice') AS s, alice1 AS a
                   WHERE position(substr(a.refresh_token, 38) IN s::text) > 0 OR position(substr(a.access_token, 38) IN s::text) > 0$$,
                'session_list holds no secret');

-- session_revoke_by_id: one session of one user of one tenant.
CREATE TEMP TABLE bob AS SELECT * FROM authflow.session_create('did:plc:bob');
CREATE TEMP TABLE alice_elsewhere AS SELECT * FROM authflow.session_create('did:plc:alice', tenant => 'devices-other');
SELECT is(authflow.session_revoke_by_id('did:plc:alice', (SELECT session_id FROM bob)), false,
          'session_revoke_by_id: another user''s session is not found');
SELECT ok(pg_temp.exists((SELECT session_id FROM bob)), '... and stays');
SELECT is(authflow.session_revoke_by_id('did:plc:alice', (SELECT session_id FROM alice_elsewhere)), false,
          'session_revoke_by_id: the same user id''s session in another tenant is not found');
SELECT ok(pg_temp.exists((SELECT session_id FROM alice_elsewhere)), '... and stays');
SELECT is(authflow.session_revoke_by_id('did:plc:alice', gen_random_uuid()), false, 'an unknown session id: false');
SELECT is((SELECT count(*) FROM authflow.security_events_list() WHERE kind = 'session_revoked'), 0::bigint,
          'nothing revoked, no event');
SELECT throws_ok($$SELECT authflow.session_revoke_by_id('did:plc:alice', NULL)$$, '22023', 'session_id must not be empty',
                 'session_revoke_by_id: a NULL session id');
SELECT throws_ok($$SELECT authflow.session_revoke_by_id('', gen_random_uuid())$$, '22023', 'user_id must not be empty',
                 'session_revoke_by_id: an empty user id');
SELECT is(authflow.session_revoke_by_id('did:plc:alice', (SELECT session_id FROM alice3)), true, 'session_revoke_by_id: the user''s own');
SELECT ok(NOT pg_temp.exists((SELECT session_id FROM alice3)), '... is gone');
SELECT is((SELECT user_id || ' ' || (session_id = (SELECT session_id FROM alice3))::text FROM authflow.security_events_list()
            WHERE kind = 'session_revoked'), 'did:plc:alice true', '... and it is a session_revoked event with its id');
SELECT is_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM alice3))$$, '... its access token is dead');

-- session_revoke_others: every session of the user but one.
CREATE TEMP TABLE carol AS
  SELECT s.*, n FROM generate_series(1, 3) AS n, LATERAL authflow.session_create('did:plc:carol', client => jsonb_build_object('n', n)) AS s;
SELECT is(authflow.session_revoke_others('did:plc:carol', (SELECT session_id FROM carol WHERE n = 2)), 2,
          'session_revoke_others counts the live sessions it deleted');
SELECT is((SELECT array_agg(session_id) FROM authflow.session_list('did:plc:carol')), (SELECT array_agg(session_id) FROM carol WHERE n = 2),
          '... and kept the one named');
SELECT is((SELECT details FROM authflow.security_events_list() WHERE kind = 'sessions_revoked_all' AND user_id = 'did:plc:carol'),
          jsonb_build_object('revoked', 2, 'kept_session_id', (SELECT session_id FROM carol WHERE n = 2)),
          '... a sessions_revoked_all event naming the kept session');
SELECT is(authflow.session_revoke_others('did:plc:carol', (SELECT session_id FROM carol WHERE n = 2)), 0, 'a second call deletes nothing');
SELECT ok(pg_temp.exists((SELECT session_id FROM bob)) AND pg_temp.exists((SELECT session_id FROM alice_elsewhere)),
          'other users'' and tenants'' sessions are untouched');
SELECT throws_ok($$SELECT authflow.session_revoke_others('did:plc:carol', NULL)$$, '22023', 'session_id must not be empty',
                 'session_revoke_others: a NULL session id');
SELECT throws_ok($$SELECT authflow.session_revoke_others('did:plc:carol', gen_random_uuid(), 'no-such-tenant')$$, '22023',
                 'tenant "no-such-tenant" does not exist', 'session_revoke_others: an unknown tenant');

-- Sessions made over HTTP record the address the gateway saw (x-authflow-client-address) and the
-- User-Agent.
CREATE TEMP TABLE seen AS SELECT '{"x-authflow-client-address": "198.51.100.4", "user-agent": "authflow-cli/2.0"}'::jsonb AS headers;
CREATE TEMP TABLE anon AS SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/auth/anonymous/sign-up', (SELECT headers FROM seen))) AS j;
SELECT is(pg_temp.device((SELECT (j ->> 'session_id')::uuid FROM anon)), '198.51.100.4 authflow-cli/2.0',
          'anonymous sign-up records the client address and user agent');
SELECT is(pg_temp.device((SELECT (pg_temp.json(pg_temp.call('POST', '/api/v1/auth/anonymous/sign-up',
                                    '{"x-authflow-client-address": "not an address", "user-agent": ""}')) ->> 'session_id')::uuid)),
          '- -', 'a client address header that is no address, and an empty user agent, record nothing (and fail nothing)');
SELECT is(pg_temp.device((SELECT (pg_temp.json(pg_temp.call('POST', '/api/v1/auth/anonymous/sign-up',
                                    jsonb_build_object('user-agent', repeat('é', 3000)))) ->> 'session_id')::uuid)),
          '- ' || repeat('é', 512), 'a long user agent is cut at 512 characters');
-- CLI: the poll that succeeds makes the CLI's session; claim-anon-session the browser's.
CREATE TEMP TABLE attempt AS SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT j ->> 'refresh_token' FROM anon));
CREATE TEMP TABLE claimed AS
  SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/complete', '{"x-authflow-client-address": "192.0.2.10", "user-agent": "Safari/17"}',
                                   (SELECT jsonb_build_object('login_code', login_code, 'mode', 'claim-anon-session')::text FROM attempt))) AS j;
SELECT is(pg_temp.device((SELECT s.session_id FROM authflow.session_validate((SELECT j ->> 'access_token' FROM claimed)) AS s)),
          '192.0.2.10 Safari/17', 'claim-anon-session records the browser''s address and user agent');
SELECT authflow.cli_complete((SELECT login_code FROM attempt), (SELECT refresh_token FROM alice1));
CREATE TEMP TABLE polled AS
  SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/poll', (SELECT headers FROM seen),
                                   (SELECT jsonb_build_object('polling_code', polling_code)::text FROM attempt))) AS j;
SELECT is((SELECT j ->> 'status' FROM polled), 'success', 'the CLI poll succeeds');
SELECT is(pg_temp.device((SELECT s.session_id FROM authflow.session_validate((SELECT j ->> 'access_token' FROM polled)) AS s)),
          '198.51.100.4 authflow-cli/2.0', '... and its session records the CLI''s address and user agent');
-- POST /api/v1/sessions comes from the application's server: the device's address and user agent
-- are body fields.
CREATE TEMP TABLE keys AS SELECT authflow.api_key_create() AS server_key, authflow.api_key_create('server', 'devices-other') AS other_key;
CREATE TEMP TABLE made AS
  SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/sessions', (SELECT jsonb_build_object('x-server-key', server_key) || headers FROM keys, seen),
                                   '{"user_id": "did:plc:dave", "client_address": "203.0.113.99", "user_agent": "Chrome/128"}')) AS j;
SELECT is(pg_temp.device((SELECT (j ->> 'session_id')::uuid FROM made)), '203.0.113.99 Chrome/128',
          'POST /api/v1/sessions records the body''s client_address and user_agent, not the server''s own');
SELECT is(pg_temp.device((SELECT (pg_temp.json(pg_temp.call('POST', '/api/v1/sessions', (SELECT jsonb_build_object('x-server-key', server_key) || headers FROM keys, seen),
                                   '{"user_id": "did:plc:dave"}')) ->> 'session_id')::uuid)), '- -',
          '... and nothing without them');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/sessions', (SELECT jsonb_build_object('x-server-key', server_key) FROM keys),
                                    '{"user_id": "did:plc:erin", "client_address": "localhost"}')),
          '{"code": "INVALID_ARGUMENT", "error": "client_address must be an IPv4 or IPv6 address"}', 'a bad client_address: 400 naming it');
SELECT is((pg_temp.call('POST', '/api/v1/sessions', (SELECT jsonb_build_object('x-server-key', server_key) FROM keys),
                        '{"user_id": "did:plc:erin", "user_agent": 7}')).status, 400, 'a user_agent that is no string: 400');
SELECT is((SELECT count(*) FROM authflow.users WHERE user_id = 'did:plc:erin'), 0::bigint, '... and they created nothing');

-- GET /api/v1/sessions: the devices of the access token's user, the current one marked.
CREATE TEMP TABLE listed AS SELECT * FROM pg_temp.call('GET', '/api/v1/sessions', pg_temp.bearer((SELECT access_token FROM alice1)));
SELECT is((SELECT status FROM listed), 200, 'GET /api/v1/sessions: 200');
SELECT is((SELECT headers ->> 'x-authflow-route' FROM listed), 'GET /api/v1/sessions', '... labelled by its template');
SELECT is((SELECT array_agg((s ->> 'session_id')::uuid ORDER BY o) FROM listed, jsonb_array_elements(body::jsonb -> 'sessions') WITH ORDINALITY AS e(s, o)),
          (SELECT array_agg(session_id ORDER BY created_at, session_id) FROM authflow.session_list('did:plc:alice')),
          '... the user''s live sessions of the tenant, oldest first (not the other tenant''s, not Bob''s)');
SELECT is((SELECT array_agg(s ->> 'session_id') FROM listed, jsonb_array_elements(body::jsonb -> 'sessions') AS s WHERE (s ->> 'is_current')::boolean),
          (SELECT array_agg(session_id::text) FROM alice1), '... exactly the token''s own session is_current');
SELECT is((SELECT s - 'session_id' - 'created_at' - 'refreshed_at' - 'access_expires_at' - 'expires_at'
             FROM listed, jsonb_array_elements(body::jsonb -> 'sessions') AS s WHERE (s ->> 'is_current')::boolean),
          '{"kind": "web", "client": null, "client_address": "203.0.113.7", "user_agent": "Firefox/130", "is_current": true}'::jsonb,
          '... each with its kind, client, address and user agent');
SELECT ok((SELECT bool_and(s ?& ARRAY['session_id', 'created_at', 'refreshed_at', 'access_expires_at', 'expires_at'])
             FROM listed, jsonb_array_elements(body::jsonb -> 'sessions') AS s), '... and its times (refreshed_at: last active)');
SELECT is_empty($$SELECT 1 FROM listed, (SELECT refresh_token AS t FROM alice1 UNION ALL SELECT access_token FROM alice1
                                         UNION ALL SELECT refresh_token FROM alice2 UNION ALL SELECT access_token FROM alice2) AS issued
                   WHERE position(substr(issued.t, 38) IN body) > 0 OR body ~ '(hash|token)'$$,
                'no token, no secret and no hash in the list');
SELECT is(pg_temp.json(pg_temp.call('GET', '/api/v1/sessions')) ->> 'code', 'ACCESS_TOKEN_REQUIRED', 'GET /api/v1/sessions without a token: 401');
SELECT is((pg_temp.call('GET', '/api/v1/sessions', pg_temp.bearer('afa_forged'))).status, 401, '... with a forged one: 401');
SELECT is((pg_temp.call('GET', '/api/v1/sessions', pg_temp.bearer((SELECT refresh_token FROM alice1)))).status, 401,
          '... with a refresh token: 401');
SELECT is(pg_temp.json(pg_temp.call('GET', '/api/v1/sessions', pg_temp.bearer((SELECT access_token FROM alice_elsewhere)))) ->> 'code',
          'INVALID_ACCESS_TOKEN', '... with a token of another tenant than the request''s: 401');
SELECT is(jsonb_array_length(pg_temp.json(pg_temp.call('GET', '/api/v1/sessions',
            pg_temp.bearer((SELECT access_token FROM alice_elsewhere), '{"x-tenant-id": "devices-other"}'))) -> 'sessions'), 1,
          '... and its own tenant''s sessions with its tenant named');
SELECT is((pg_temp.call('GET', '/api/v1/sessions', jsonb_build_object('x-stack-access-token', (SELECT access_token FROM alice1)))).status, 200,
          '... the access token family is read too (Stack''s SDK)');

-- DELETE /api/v1/sessions/{session_id}: sign out one device of the token's user.
CREATE FUNCTION pg_temp.sign_out(token text, id text, extra jsonb DEFAULT '{}') RETURNS authflow.http_response LANGUAGE sql AS $$
  SELECT pg_temp.call('DELETE', '/api/v1/sessions/' || id, pg_temp.bearer(token, extra)) $$;
CREATE TEMP TABLE foreign_user AS SELECT * FROM pg_temp.sign_out((SELECT access_token FROM alice1), (SELECT session_id::text FROM bob));
SELECT is((SELECT status FROM foreign_user), 404, 'DELETE a session of another user: 404');
SELECT is((SELECT body::jsonb FROM foreign_user), '{"code": "SESSION_NOT_FOUND", "error": "no such session"}', '... SESSION_NOT_FOUND');
SELECT ok(pg_temp.exists((SELECT session_id FROM bob)), '... and Bob''s session stays');
SELECT is((SELECT body FROM pg_temp.sign_out((SELECT access_token FROM alice1), (SELECT session_id::text FROM alice_elsewhere))),
          (SELECT body FROM foreign_user), 'DELETE the same user id''s session in another tenant: the same 404');
SELECT ok(pg_temp.exists((SELECT session_id FROM alice_elsewhere)), '... and it stays');
SELECT is((SELECT body FROM pg_temp.sign_out((SELECT access_token FROM alice1), gen_random_uuid()::text)), (SELECT body FROM foreign_user),
          'DELETE an unknown session id: the same 404');
SELECT is((pg_temp.sign_out((SELECT access_token FROM alice_elsewhere), (SELECT session_id::text FROM alice2))).status, 401,
          'DELETE with a token of another tenant than the request''s: 401');
SELECT ok(pg_temp.exists((SELECT session_id FROM alice2)), '... and nothing is revoked');
SELECT is(pg_temp.json(pg_temp.sign_out((SELECT access_token FROM alice1), 'not-a-uuid')),
          '{"code": "SCHEMA_ERROR", "error": "session_id in the path must be a UUID", "details": {"message": "session_id in the path must be a UUID"}}',
          'DELETE a session id that is no UUID: 400 naming it');
SELECT is((pg_temp.sign_out((SELECT access_token FROM alice1), repeat('f', 5000))).status, 400, '... a huge one: 400');
SELECT is((pg_temp.sign_out((SELECT access_token FROM alice1), '00000000-0000-0000-0000-00000000000%27')).status, 400, '... an escaped one: 400');
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions/' || (SELECT session_id FROM alice2))).status, 401, 'DELETE without a token: 401');
SELECT ok(pg_temp.exists((SELECT session_id FROM alice2)), '... and nothing is revoked');
CREATE TEMP TABLE signed_out AS SELECT * FROM pg_temp.sign_out((SELECT access_token FROM alice1), upper((SELECT session_id::text FROM alice2)));
SELECT is((SELECT status FROM signed_out), 204, 'DELETE one of the user''s own sessions (its id in any case): 204');
SELECT is((SELECT headers ->> 'x-authflow-route' FROM signed_out), 'DELETE /api/v1/sessions/{session_id}',
          '... labelled by the template, never the id');
SELECT ok(NOT pg_temp.exists((SELECT session_id FROM alice2)), '... the session is gone');
SELECT is((SELECT count(*) FROM authflow.security_events_list() WHERE kind = 'session_revoked' AND session_id = (SELECT session_id FROM alice2)),
          1::bigint, '... recorded as session_revoked');
SELECT is((pg_temp.sign_out((SELECT access_token FROM alice1), (SELECT session_id::text FROM alice2))).status, 404, 'again: 404');
SELECT is((pg_temp.call('PUT', '/api/v1/sessions/' || gen_random_uuid())).headers ->> 'allow', 'DELETE', 'other methods: 405, allow DELETE');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current', pg_temp.bearer((SELECT access_token FROM alice1)))).status, 200,
          'sessions/current is still its own route');
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions/a/b')).status, 404, 'a deeper path is no route');

-- DELETE /api/v1/sessions: sign out everywhere else (Alice has the CLI's session and two more).
CREATE TEMP TABLE alice4 AS
  SELECT s.* FROM generate_series(1, 2) AS n, LATERAL authflow.session_create('did:plc:alice', client => jsonb_build_object('n', n)) AS s;
CREATE TEMP TABLE others_out AS SELECT * FROM pg_temp.call('DELETE', '/api/v1/sessions', pg_temp.bearer((SELECT access_token FROM alice1)));
SELECT is((SELECT body::jsonb FROM others_out), '{"deleted": 3}', 'DELETE /api/v1/sessions: the count of the other sessions revoked');
SELECT is((SELECT array_agg(session_id) FROM authflow.session_list('did:plc:alice')), (SELECT array_agg(session_id) FROM alice1),
          '... the current one is kept');
SELECT isnt_empty($$SELECT * FROM authflow.session_validate((SELECT access_token FROM alice1))$$, '... and still works');
SELECT ok(pg_temp.exists((SELECT session_id FROM bob)) AND pg_temp.exists((SELECT session_id FROM alice_elsewhere)),
          '... other users'' and tenants'' sessions are untouched');
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions', pg_temp.bearer('afa_forged'))).status, 401, 'DELETE /api/v1/sessions with a forged token: 401');

-- DELETE /api/v1/users/{user_id}/sessions/{session_id} (server key).
CREATE TEMP TABLE bob2 AS SELECT * FROM authflow.session_create('did:plc:bob');
CREATE FUNCTION pg_temp.revoke_by_key(key text, user_id text, id text) RETURNS authflow.http_response LANGUAGE sql AS $$
  SELECT pg_temp.call('DELETE', '/api/v1/users/' || user_id || '/sessions/' || id, jsonb_strip_nulls(jsonb_build_object('x-server-key', key))) $$;
SELECT is((pg_temp.revoke_by_key(NULL, 'did%3Aplc%3Abob', (SELECT session_id::text FROM bob2))).status, 401, 'by user id without a key: 401');
SELECT is((pg_temp.revoke_by_key((SELECT other_key FROM keys), 'did%3Aplc%3Abob', (SELECT session_id::text FROM bob2))).status, 403,
          'by user id with a key of another tenant: 403');
SELECT is(pg_temp.json(pg_temp.revoke_by_key((SELECT server_key FROM keys), 'did%3Aplc%3Aalice', (SELECT session_id::text FROM bob2))) ->> 'code',
          'SESSION_NOT_FOUND', 'by user id, a session of another user: 404');
SELECT is((pg_temp.revoke_by_key((SELECT other_key FROM keys), 'did%3Aplc%3Aalice', (SELECT session_id::text FROM alice1))).status, 403,
          'by user id, another tenant''s key cannot reach the default tenant''s sessions');
SELECT is((pg_temp.call('DELETE', '/api/v1/users/did%3Aplc%3Aalice/sessions/' || (SELECT session_id FROM alice1),
                        (SELECT jsonb_build_object('x-server-key', other_key, 'x-tenant-id', 'devices-other') FROM keys))).status, 404,
          '... and, naming its own tenant, finds no such session there');
SELECT ok(pg_temp.exists((SELECT session_id FROM bob2)) AND pg_temp.exists((SELECT session_id FROM alice1)), '... nothing was revoked');
SELECT is((pg_temp.revoke_by_key((SELECT server_key FROM keys), 'did%3Aplc%3Abob', 'nope')).status, 400, 'by user id, a bad session id: 400');
SELECT is((pg_temp.revoke_by_key((SELECT server_key FROM keys), 'bad%zz', (SELECT session_id::text FROM bob2))).status, 400,
          'by user id, a badly encoded user id: 400');
CREATE TEMP TABLE by_key AS SELECT * FROM pg_temp.revoke_by_key((SELECT server_key FROM keys), 'did%3Aplc%3Abob', (SELECT session_id::text FROM bob2));
SELECT is((SELECT status FROM by_key), 204, 'by user id, the user''s session: 204');
SELECT is((SELECT headers ->> 'x-authflow-route' FROM by_key), 'DELETE /api/v1/users/{user_id}/sessions/{session_id}', '... labelled by the template');
SELECT ok(NOT pg_temp.exists((SELECT session_id FROM bob2)) AND pg_temp.exists((SELECT session_id FROM bob)), '... that one is gone, the other stays');
SELECT is((pg_temp.call('GET', '/api/v1/users/did%3Aplc%3Abob/sessions/' || (SELECT session_id FROM bob))).status, 405, 'by user id: DELETE only');
SELECT is(jsonb_array_length(pg_temp.json(pg_temp.call('GET', '/api/v1/users/did%3Aplc%3Abob/sessions',
                                                       (SELECT jsonb_build_object('x-server-key', server_key) FROM keys))) -> 'sessions'), 1,
          'GET users/{user_id}/sessions still lists the user''s sessions');

SELECT * FROM finish();
ROLLBACK;
