-- http.sql: the HTTP contract of authflow.http, route by route, error by error.
BEGIN;
\ir ../fixtures/clean_slate.sql
\ir ../fixtures/http_call.sql
SELECT plan(141);


-- Routing.
SELECT is((pg_temp.call('GET', '/api/v1/nothing-here')).status, 404, 'unknown route: 404');
SELECT is(pg_temp.json(pg_temp.call('GET', '/api/v1/nothing-here')) ->> 'code', 'NOT_FOUND', '404 body has a code');
SELECT is((pg_temp.call('GET', '/api/v1/auth/cli')).status, 405, 'wrong method: 405');
SELECT is((pg_temp.call('PUT', '/api/v1/sessions/current')).headers ->> 'allow', 'GET, DELETE', '405 lists the allowed methods');
SELECT is((pg_temp.call(NULL, NULL, NULL, NULL)).status, 404, 'all-NULL request: 404, no crash');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '{not json')).status, 400, 'invalid JSON: 400');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '{not json')) ->> 'code', 'SCHEMA_ERROR', 'invalid JSON: SCHEMA_ERROR');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '[1, 2]')).status, 400, 'a body that is not an object: 400');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '{"polling_code": 7}')).status, 400, 'a field of the wrong type: 400');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '{"polling_code": "' || repeat('a', 70000) || '"}')).status, 413,
          'a body over 64 KiB: 413');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{"x-tenant-id": "no-such-project"}', '{}')).status, 400, 'unknown tenant: 400');
SELECT is((pg_temp.call('GET', '/healthz')).status, 200, 'healthz');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli?x=1', '{}', '')).status, 200, 'a query string does not change the route');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli')).headers ->> 'x-authflow-route', 'POST /api/v1/auth/cli',
          'responses name their route template for the gateway''s metrics');

SELECT is((pg_temp.call(repeat('X', 3000), '/api/v1/auth/cli')).headers ->> 'x-authflow-route', 'other',
          'a 405 never names the client''s method in the route label: other');
SELECT is((pg_temp.call('GET', '/api/v1/' || repeat('x', 3000))).headers ->> 'x-authflow-route', 'other', 'a 404 is labelled other');
SELECT is((SELECT count(DISTINCT (pg_temp.call(m, p)).headers ->> 'x-authflow-route')
             FROM unnest(ARRAY['GET', 'PUT', 'BREW', 'x' || repeat('y', 100)]) AS m, unnest(ARRAY['/api/v1/auth/cli', '/nope', '/api/v1/users/a/sessions']) AS p
            WHERE (pg_temp.call(m, p)).status IN (404, 405)), 1::bigint, 'every refused request shares one label');

-- POST /api/v1/auth/cli
CREATE TEMP TABLE started AS SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{}')) AS j;
SELECT ok((SELECT j ->> 'polling_code' LIKE 'afp\_%' AND j ->> 'login_code' LIKE 'afl\_%' FROM started), 'start: both codes');
SELECT ok((SELECT (j ->> 'expires_at')::timestamptz = now() + interval '2 hours' FROM started), 'start: expires_at, ISO 8601, 2 hours');
SELECT ok((SELECT (pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"expires_in_millis": 60000}')) ->> 'expires_at')::timestamptz
                  = now() + interval '1 minute'), 'start: expires_in_millis');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"expires_in_millis": 86400001}')).status, 400, 'start: over 24 hours is 400');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"expires_in_millis": -5}')).status, 400, 'start: negative is 400');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"expires_in_millis": "soon"}')).status, 400, 'start: a string is 400');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"anon_refresh_token": "garbage"}')),
          '{"code": "INVALID_ANON_REFRESH_TOKEN", "error": "Invalid anon refresh token"}', 'start: invalid anon token');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '')).status, 200, 'start: an empty body is {}');

-- POST /api/v1/auth/cli/poll
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', (SELECT jsonb_build_object('polling_code', j -> 'polling_code')::text FROM started))).body::jsonb,
          '{"status": "waiting"}', 'poll: waiting, 200');
CREATE TEMP TABLE unknown_poll AS SELECT * FROM pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '{"polling_code": "nope"}');
SELECT is((SELECT status FROM unknown_poll), 400, 'poll of an unknown code: 400');
SELECT is((SELECT body::jsonb FROM unknown_poll),
          '{"code": "INVALID_POLLING_CODE", "error": "The polling code is invalid or does not exist."}', 'poll: Stack''s error body');
SELECT is((SELECT headers ->> 'x-stack-known-error' FROM unknown_poll), 'INVALID_POLLING_CODE', 'poll: x-stack-known-error');
SELECT is((SELECT headers ->> 'x-known-error' FROM unknown_poll), 'INVALID_POLLING_CODE', 'poll: x-known-error');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '{}')).status, 400, 'poll without polling_code: 400');

-- POST /api/v1/auth/cli/complete
CREATE TEMP TABLE browser AS SELECT * FROM authflow.session_create('did:plc:http-browser');
CREATE FUNCTION pg_temp.complete(fields jsonb) RETURNS authflow.http_response LANGUAGE sql AS $$
  SELECT pg_temp.call('POST', '/api/v1/auth/cli/complete', '{}',
                      (jsonb_build_object('login_code', (SELECT j ->> 'login_code' FROM started)) || fields)::text) $$;
SELECT is(pg_temp.json(pg_temp.complete('{"mode": "check"}')), '{"cli_session_state": "none"}', 'complete/check: none');
SELECT is(pg_temp.json(pg_temp.complete('{"mode": "claim-anon-session"}')),
          '{"code": "NO_ANONYMOUS_SESSION", "error": "No anonymous session associated with this code"}', 'complete/claim without anon: 400');
SELECT is(pg_temp.json(pg_temp.complete('{}')),
          '{"code": "REFRESH_TOKEN_REQUIRED", "error": "refresh_token is required when mode is ''complete''"}', 'complete without refresh_token');
SELECT is((pg_temp.complete('{"refresh_token": "afr_nope"}')).status, 400, 'complete with an invalid refresh token: 400');
SELECT is(pg_temp.json(pg_temp.complete('{"refresh_token": "afr_nope"}')) ->> 'error', 'Invalid refresh token', '... Stack''s message');
SELECT is((pg_temp.complete('{"mode": "steal"}')).status, 400, 'complete with an unknown mode: 400');
SELECT is((pg_temp.complete('{"merge": "yes", "refresh_token": "x"}')).status, 400, 'merge must be a boolean');
SELECT is(pg_temp.json(pg_temp.complete(jsonb_build_object('refresh_token', (SELECT refresh_token FROM browser)))),
          '{"success": true}', 'complete: success');
SELECT is(pg_temp.json(pg_temp.complete(jsonb_build_object('refresh_token', (SELECT refresh_token FROM browser)))) ->> 'error',
          'Invalid login code or the code has expired', 'a second complete: Stack''s message');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/complete', '{}', '{"login_code": "afl_x", "mode": "check"}')).status, 400,
          'check of an unknown login code: 400');
CREATE TEMP TABLE polled AS SELECT * FROM pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}',
  (SELECT jsonb_build_object('polling_code', j -> 'polling_code')::text FROM started));
SELECT is((SELECT status FROM polled), 201, 'poll after completion: 201');
SELECT ok((SELECT body::jsonb ->> 'status' = 'success' AND body::jsonb ->> 'refresh_token' LIKE 'afr\_%'
                  AND body::jsonb ->> 'access_token' LIKE 'afa\_%' FROM polled), 'poll: success with both tokens');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}',
  (SELECT jsonb_build_object('polling_code', j -> 'polling_code')::text FROM started))), '{"status": "used"}', 'poll again: used');

-- The anonymous flow over HTTP: sign-up, start with the anon token, check, claim.
CREATE TEMP TABLE anon AS SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/auth/anonymous/sign-up')) AS j;
SELECT ok((SELECT j ->> 'refresh_token' LIKE 'afr\_%' AND j ? 'user_id' FROM anon), 'anonymous sign-up returns a user and tokens');
CREATE TEMP TABLE anon_started AS
  SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli', '{}', (SELECT jsonb_build_object('anon_refresh_token', j -> 'refresh_token')::text FROM anon))) AS j;
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/complete', '{}',
  (SELECT jsonb_build_object('login_code', j -> 'login_code', 'mode', 'check')::text FROM anon_started))), '{"cli_session_state": "anonymous"}',
  'check: anonymous');
SELECT ok((pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/complete', '{}',
  (SELECT jsonb_build_object('login_code', j -> 'login_code', 'mode', 'claim-anon-session')::text FROM anon_started)))) ?& ARRAY['access_token', 'refresh_token'],
  'claim-anon-session: tokens');

-- POST /api/v1/sessions (server key)
CREATE TEMP TABLE keys AS SELECT authflow.api_key_create() AS server_key;
SELECT lives_ok($$SELECT authflow.tenant_set('http-other')$$, 'a second tenant');
INSERT INTO keys SELECT authflow.api_key_create('server', 'http-other');
CREATE FUNCTION pg_temp.create_session(key text, body text, extra jsonb DEFAULT '{}') RETURNS authflow.http_response LANGUAGE sql AS $$
  SELECT pg_temp.call('POST', '/api/v1/sessions', jsonb_strip_nulls(jsonb_build_object('x-server-key', key)) || extra, body) $$;
SELECT is((pg_temp.create_session(NULL, '{"user_id": "did:plc:h1"}')).status, 401, 'create without a server key: 401');
SELECT is((pg_temp.create_session('afk_bad', '{"user_id": "did:plc:h1"}')).status, 401, 'create with a bad key: 401');
SELECT is((pg_temp.create_session((SELECT server_key FROM keys OFFSET 1 LIMIT 1), '{"user_id": "did:plc:h1"}')).status, 403,
          'create with a key of another tenant: 403');
SELECT is((pg_temp.create_session((SELECT server_key FROM keys LIMIT 1), '{}')).status, 400, 'create without user_id: 400');
SELECT is((pg_temp.create_session((SELECT server_key FROM keys LIMIT 1), '{"user_id": "did:plc:h1", "client": [1]}')).status, 400,
          'create with a client that is not an object: 400');
SELECT is((SELECT count(*) FROM authflow.users WHERE user_id = 'did:plc:h1'), 0::bigint, 'refused requests created nothing');
CREATE TEMP TABLE created AS
  SELECT pg_temp.json(pg_temp.create_session((SELECT server_key FROM keys LIMIT 1), '{"user_id": "did:plc:h1", "handle": "h1.test"}')) AS j;
SELECT ok((SELECT j ->> 'access_token' LIKE 'afa\_%' AND j ->> 'user_id' = 'did:plc:h1' FROM created), 'create with the key: tokens');
SELECT is((pg_temp.create_session(NULL, '{"user_id": "did:plc:h1"}', (SELECT jsonb_build_object('x-stack-secret-server-key', server_key) FROM keys LIMIT 1))).status,
          201, 'x-stack-secret-server-key is accepted');

-- GET /api/v1/sessions/current
CREATE FUNCTION pg_temp.current(token text, extra jsonb DEFAULT '{}') RETURNS authflow.http_response LANGUAGE sql AS $$
  SELECT pg_temp.call('GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || token) || extra) $$;
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current')).status, 401, 'current without a token: 401');
SELECT is((pg_temp.current((SELECT j ->> 'access_token' FROM created))).status, 200, 'current with a valid token: 200');
SELECT is(pg_temp.json(pg_temp.current((SELECT j ->> 'access_token' FROM created))) ->> 'handle', 'h1.test', 'current: the session');
SELECT is((pg_temp.current((SELECT j ->> 'refresh_token' FROM created))).status, 401, 'a refresh token as bearer: 401');
SELECT is((pg_temp.current((SELECT j ->> 'access_token' FROM created), '{"x-tenant-id": "http-other"}')).status, 401,
          'a token of another tenant than the header''s: 401');
SELECT is((pg_temp.current(repeat('z', 100000))).status, 401, 'a huge bearer: 401');
-- The body is written once by http_session_json: it must be the very text to_jsonb gives
-- session_validate's row, whatever the values hold (quotes, backslashes, non-ASCII, no handle).
CREATE TEMP TABLE odd_session AS
  SELECT * FROM authflow.session_create(E'did:plc:"odd\\' || chr(233) || chr(128512) || E'\t', NULL);
SELECT is((pg_temp.current((SELECT access_token FROM odd_session))).body,
          (SELECT to_jsonb(v)::text FROM authflow.session_validate((SELECT access_token FROM odd_session)) AS v),
          'current: the body is to_jsonb of session_validate''s row, to the byte (escapes, no handle)');
SELECT is((pg_temp.current((SELECT j ->> 'access_token' FROM created))).body,
          (SELECT to_jsonb(v)::text FROM authflow.session_validate((SELECT j ->> 'access_token' FROM created)) AS v),
          'current: ... and with a handle');
SELECT is((pg_temp.current((SELECT j ->> 'access_token' FROM created))).headers,
          '{"content-type": "application/json", "x-authflow-route": "GET /api/v1/sessions/current", "x-authflow-tenant": "default"}',
          'current: content type, route and tenant, nothing else');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current', (SELECT jsonb_build_object('authorization', 'bEaReR   ' || (j ->> 'access_token')) FROM created))).status,
          200, 'current: the scheme in any case, spaces after it');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current', (SELECT jsonb_build_object('x-stack-access-token', j ->> 'access_token') FROM created))).status,
          200, 'current: the token in x-stack-access-token (Stack''s SDK)');
SELECT is(authflow.http_session_json((SELECT j ->> 'access_token' FROM created), 'http-other'), NULL,
          'http_session_json: NULL for a token of another tenant');

-- POST /api/v1/sessions/current/refresh, with the cookie and with x-refresh-token
CREATE TEMP TABLE refreshed AS SELECT * FROM pg_temp.call('POST', '/api/v1/sessions/current/refresh',
  (SELECT jsonb_build_object('cookie', 'theme=dark; authflow_refresh=' || (j ->> 'refresh_token') || '; other=1') FROM created));
SELECT is((SELECT status FROM refreshed), 200, 'refresh with the cookie: 200');
SELECT matches((SELECT headers ->> 'set-cookie' FROM refreshed),
               '^authflow_refresh=afr_[^;]+; Path=/api/v1/sessions; Max-Age=6048\d\d; HttpOnly; Secure; SameSite=Lax$',
               'refresh re-sets the HTTP-only, Secure, SameSite=Lax cookie');
SELECT is((pg_temp.current((SELECT j ->> 'access_token' FROM created))).status, 401, 'the previous access token is dead');
SELECT is((pg_temp.current((SELECT body::jsonb ->> 'access_token' FROM refreshed))).status, 200, 'the new one works');
SELECT is((pg_temp.call('POST', '/api/v1/sessions/current/refresh', (SELECT jsonb_build_object('x-refresh-token', j ->> 'refresh_token') FROM created))).status,
          200, 'refresh with x-refresh-token: 200');
CREATE TEMP TABLE refused AS SELECT * FROM pg_temp.call('POST', '/api/v1/sessions/current/refresh', '{"x-refresh-token": "afr_nope"}');
SELECT is((SELECT status FROM refused), 401, 'refresh with an invalid token: 401');
SELECT matches((SELECT headers ->> 'set-cookie' FROM refused), '^authflow_refresh=; .*Max-Age=0', '... and the cookie is cleared');
SELECT is((pg_temp.call('POST', '/api/v1/sessions/current/refresh')).status, 401, 'refresh without a token: 401');

-- GET / DELETE /api/v1/users/{user_id}/sessions (server key), then DELETE /api/v1/sessions/current
CREATE FUNCTION pg_temp.user_sessions(method text, key text) RETURNS authflow.http_response LANGUAGE sql AS $$
  SELECT pg_temp.call(method, '/api/v1/users/did%3Aplc%3Ah1/sessions', jsonb_strip_nulls(jsonb_build_object('x-server-key', key))) $$;
SELECT is((pg_temp.user_sessions('GET', NULL)).status, 401, 'list without a key: 401');
SELECT is(jsonb_array_length(pg_temp.json(pg_temp.user_sessions('GET', (SELECT server_key FROM keys LIMIT 1))) -> 'sessions'), 2,
          'list: the user''s sessions (percent-decoded user id)');
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions/current', (SELECT jsonb_build_object('x-refresh-token', j ->> 'refresh_token') FROM created))).status,
          204, 'logout: 204');
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions/current')).headers ->> 'set-cookie',
          'authflow_refresh=; Path=/api/v1/sessions; Max-Age=0; HttpOnly; Secure; SameSite=Lax', 'logout without a token: 204, cookie cleared');
SELECT is(pg_temp.json(pg_temp.user_sessions('DELETE', (SELECT server_key FROM keys LIMIT 1))), '{"deleted": 1}', 'revoke all: the count');
SELECT is((pg_temp.call('GET', '/api/v1/users/bad%zzencoding/sessions', (SELECT jsonb_build_object('x-server-key', server_key) FROM keys LIMIT 1))).status,
          400, 'a badly encoded user id: 400');
SELECT ok(authflow.api_key_revoke((SELECT server_key FROM keys LIMIT 1)), 'api_key_revoke');
SELECT is((pg_temp.user_sessions('GET', (SELECT server_key FROM keys LIMIT 1))).status, 401, 'a revoked key: 401');

CREATE FUNCTION pg_temp.key_headers() RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('x-server-key', authflow.api_key_create()) $$;

-- One tenant rule on every route: the tenant headers (x-tenant-id, x-stack-project-id, x-hexclave-project-id) name
-- the tenant, no header means default, and a token of another tenant is refused.
SELECT is(authflow.http_tenant_headers(), '{x-tenant-id,x-stack-project-id,x-hexclave-project-id}', 'the tenant headers, in precedence order');
SELECT is(authflow.http_tenant_name('{}'), 'default', 'no tenant header: default');
SELECT is(authflow.http_tenant_name('{"x-stack-project-id": "b", "x-tenant-id": "a"}'), 'a', 'x-tenant-id wins over x-stack-project-id');
SELECT is(authflow.http_tenant_name('{"x-stack-project-id": "b"}'), 'b', 'x-stack-project-id alone');
CREATE TEMP TABLE other_tenant AS SELECT * FROM authflow.session_create('did:plc:http-other-user', tenant => 'http-other');
CREATE TEMP TABLE default_tenant AS SELECT * FROM authflow.session_create('did:plc:http-default-user');
SELECT is((pg_temp.current((SELECT access_token FROM other_tenant))).status, 401,
          'GET sessions/current: a token of another tenant without a tenant header is 401 (default)');
SELECT is((pg_temp.current((SELECT access_token FROM other_tenant), '{"x-tenant-id": "http-other"}')).status, 200,
          'GET sessions/current: ... and 200 with its tenant in x-tenant-id');
SELECT is((pg_temp.current((SELECT access_token FROM other_tenant), '{"x-stack-project-id": "http-other"}')).status, 200,
          'GET sessions/current: ... and in x-stack-project-id');
SELECT is((pg_temp.current((SELECT access_token FROM other_tenant), '{"x-tenant-id": "default", "x-stack-project-id": "http-other"}')).status, 401,
          'GET sessions/current: x-tenant-id wins');
SELECT is((pg_temp.current((SELECT access_token FROM default_tenant))).status, 200, 'GET sessions/current: a default token without header: 200');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current?x=1', (SELECT jsonb_build_object('authorization', 'Bearer ' || access_token) FROM other_tenant))).status,
          401, 'GET sessions/current with a query string: the same rule');
SELECT is(pg_temp.json(pg_temp.current((SELECT access_token FROM default_tenant), '{"x-tenant-id": "no-such-project"}')) ->> 'code',
          'PROJECT_NOT_FOUND', 'GET sessions/current: an unknown tenant is PROJECT_NOT_FOUND, as on every route');
SELECT is((pg_temp.call('POST', '/api/v1/sessions/current/refresh', (SELECT jsonb_build_object('x-refresh-token', refresh_token) FROM other_tenant))).status,
          401, 'POST sessions/current/refresh: a token of another tenant without a tenant header is 401');
SELECT is((pg_temp.current((SELECT access_token FROM other_tenant), '{"x-tenant-id": "http-other"}')).status, 200,
          '... and it refreshed nothing (the access token still works)');
CREATE TEMP TABLE other_refreshed AS
  SELECT (pg_temp.call('POST', '/api/v1/sessions/current/refresh', (SELECT jsonb_build_object('x-refresh-token', refresh_token, 'x-tenant-id', 'http-other') FROM other_tenant))).*;
SELECT is((SELECT status FROM other_refreshed), 200, 'POST sessions/current/refresh: 200 with its tenant');
-- A new tenant rotates refresh tokens: the body and the cookie carry the new one.
SELECT isnt((SELECT body::jsonb ->> 'refresh_token' FROM other_refreshed), (SELECT refresh_token FROM other_tenant),
            'POST sessions/current/refresh with rotation: a new refresh token in the body');
SELECT ok((SELECT headers ->> 'set-cookie' LIKE '%' || (body::jsonb ->> 'refresh_token') || ';%' FROM other_refreshed),
          '... and in the cookie');
UPDATE other_tenant SET refresh_token = (SELECT body::jsonb ->> 'refresh_token' FROM other_refreshed);
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions/current', (SELECT jsonb_build_object('x-refresh-token', refresh_token) FROM other_tenant))).status,
          401, 'DELETE sessions/current: a token of another tenant without a tenant header is 401');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:http-other-user', 'http-other')), 1::bigint, '... and revoked nothing');
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions/current', (SELECT jsonb_build_object('x-refresh-token', refresh_token, 'x-tenant-id', 'http-other') FROM other_tenant))).status,
          204, 'DELETE sessions/current: 204 with its tenant');
SELECT is((pg_temp.call('POST', '/api/v1/sessions', (SELECT jsonb_build_object('x-server-key', authflow.api_key_create('server', 'http-other'))), '{"user_id": "u"}')).status,
          403, 'POST sessions: a server key of another tenant without a tenant header is 403 (default)');
SELECT is((pg_temp.call('GET', '/api/v1/users/did%3Aplc%3Ahttp-default-user/sessions', (SELECT jsonb_build_object('x-server-key', authflow.api_key_create('server', 'http-other'))))).status,
          403, 'GET users/{user_id}/sessions: a key of another tenant without a tenant header is 403');
SELECT is(jsonb_array_length(pg_temp.json(pg_temp.call('GET', '/api/v1/users/did%3Aplc%3Ahttp-default-user/sessions', pg_temp.key_headers())) -> 'sessions'),
          1, 'GET users/{user_id}/sessions: no header lists the default tenant''s user');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', (SELECT jsonb_build_object('anon_refresh_token', refresh_token)::text FROM other_tenant))).status,
          400, 'POST auth/cli: an anon token of another tenant without a tenant header is refused (Stack''s 400)');
CREATE TEMP TABLE other_attempt AS SELECT * FROM authflow.cli_start(tenant => 'http-other');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', (SELECT jsonb_build_object('polling_code', polling_code)::text FROM other_attempt))) ->> 'code',
          'INVALID_POLLING_CODE', 'POST auth/cli/poll: a code of another tenant without a tenant header is unknown');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/complete', '{}', (SELECT jsonb_build_object('login_code', login_code, 'mode', 'check')::text FROM other_attempt))) ->> 'code',
          'PROJECT_ID_MISMATCH', 'POST auth/cli/complete: a code of another tenant without a tenant header is refused (Stack''s 400)');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli/poll', '{"x-tenant-id": "http-other"}', (SELECT jsonb_build_object('polling_code', polling_code)::text FROM other_attempt))),
          '{"status": "waiting"}', 'POST auth/cli/poll: ... and known with its tenant');
CREATE TEMP TABLE signed_up AS SELECT pg_temp.json(pg_temp.call('POST', '/api/v1/auth/anonymous/sign-up')) ->> 'user_id' AS user_id;
SELECT is((SELECT t.name FROM authflow.users AS u JOIN authflow.tenants AS t USING (tenant_id) JOIN signed_up AS s USING (user_id)), 'default',
          'POST auth/anonymous/sign-up: no header signs up in default');

-- The refresh cookie per tenant: a __Host- name (Path=/, no Domain) for new tenants; default
-- keeps 0.1.0's authflow_refresh on /api/v1/sessions.
SELECT is((authflow.tenant_get()).refresh_cookie_name, 'authflow_refresh', 'the default tenant keeps 0.1.0''s cookie name');
SELECT is((authflow.tenant_set('http-cookie')).refresh_cookie_name, '__Host-authflow_refresh', 'a new tenant gets a __Host- cookie');
SELECT is((authflow.tenant_set('http-cookie', refresh_cookie_name => '__Host-app_refresh')).refresh_cookie_name, '__Host-app_refresh',
          'tenant_set names the cookie');
SELECT is((authflow.tenant_set('http-cookie', session_ttl => interval '2 days')).refresh_cookie_name, '__Host-app_refresh',
          'tenant_set without it keeps the name');
SELECT throws_ok($$SELECT authflow.tenant_set('http-cookie', refresh_cookie_name => 'a=b; Domain=evil')$$, '22023',
                 'refresh_cookie_name must be 1 to 100 characters of A-Z a-z 0-9 _ . - (e.g. __Host-myapp_refresh)', 'tenant_set: a bad cookie name');
CREATE TEMP TABLE cookie_session AS SELECT * FROM authflow.session_create('did:plc:http-cookie', tenant => 'http-cookie');
CREATE TEMP TABLE cookie_refreshed AS SELECT * FROM pg_temp.call('POST', '/api/v1/sessions/current/refresh',
  (SELECT jsonb_build_object('x-tenant-id', 'http-cookie', 'cookie', 'authflow_refresh=planted; __Host-app_refresh=' || refresh_token) FROM cookie_session));
SELECT is((SELECT status FROM cookie_refreshed), 200, 'refresh with the tenant''s __Host- cookie: 200');
SELECT matches((SELECT headers ->> 'set-cookie' FROM cookie_refreshed),
               '^__Host-app_refresh=afr_[^;]+; Path=/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax$',
               '... re-set as a __Host- cookie: Secure, Path=/, no Domain');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/sessions/current/refresh',
  (SELECT jsonb_build_object('x-tenant-id', 'http-cookie', 'cookie', 'authflow_refresh=' || refresh_token) FROM cookie_session))) ->> 'code',
  'REFRESH_TOKEN_REQUIRED', 'a cookie of another name is not this tenant''s (a planted authflow_refresh is ignored)');
SELECT is((pg_temp.call('DELETE', '/api/v1/sessions/current', '{"x-tenant-id": "http-cookie"}')).headers ->> 'set-cookie',
          '__Host-app_refresh=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax', 'logout clears the tenant''s cookie');

-- Every client mistake is a 4xx, whatever the SQLSTATE behind it (22xxx, 54001, AFxxx).
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"a": ' || repeat('[', 20000) || repeat(']', 20000) || '}')).status, 400,
          'a body nested 20000 levels deep: 400 (not a stack-depth 500)');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"a": ' || repeat('[', 20000) || repeat(']', 20000) || '}')) ->> 'code',
          'SCHEMA_ERROR', '... SCHEMA_ERROR');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"expires_in_millis": 1e999999}')).status, 400, 'expires_in_millis 1e999999: 400');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"expires_in_millis": 1e-99999}')).status, 400, 'expires_in_millis 1e-99999: 400');
SELECT is((pg_temp.call('POST', '/api/v1/sessions', pg_temp.key_headers(), '{"user_id": ""}')).status, 400, 'create with an empty user_id: 400');
SELECT is(pg_temp.json(pg_temp.call('POST', '/api/v1/sessions', pg_temp.key_headers(), '{"user_id": ""}')),
          '{"code": "INVALID_ARGUMENT", "error": "user_id must not be empty"}', '... INVALID_ARGUMENT naming the field');
SELECT is((pg_temp.call('POST', '/api/v1/sessions', pg_temp.key_headers(), '{"user_id": "u", "handle": ""}')).status, 400,
          'create with an empty handle: 400');
SELECT is((pg_temp.call('GET', '/api/v1/users/a%00b/sessions', pg_temp.key_headers())).status, 400, 'a user id with %00: 400');
SELECT is((pg_temp.call('GET', '/api/v1/users/a%FFb/sessions', pg_temp.key_headers())).status, 400, 'a user id with %FF (not UTF-8): 400');
SELECT is((pg_temp.call('DELETE', '/api/v1/users/' || repeat('u', 300) || '/sessions', pg_temp.key_headers())).status, 400,
          'a user id over 256 bytes: 400');
SELECT is((pg_temp.call('POST', '/api/v1/sessions', pg_temp.key_headers(), '{"user_id": "u", "client": {"a": ' || repeat('[', 20000) || repeat(']', 20000) || '}}')).status,
          400, 'a deeply nested client: 400');
SELECT is((authflow.http_error_for('AF499', 'some authflow error')).status, 400, 'an AF code without its own status: 400');
SELECT is((authflow.http_error_for('54001', 'stack depth limit exceeded')).status, 400, '54001: 400');
SELECT is((authflow.http_error_for('22P02', 'invalid input syntax')).status, 400, '22P02: 400');
SELECT is(authflow.http_error_for('40001', 'conflict'), NULL, 'a serialization failure is no client error (retried)');
SELECT is(authflow.http_error_for('XX000', 'bug'), NULL, 'a bug is no client error (500)');

-- authflow.http answers GET /api/v1/sessions/current with a bearer token of the default tenant
-- itself (C++); http_serve is the route's definition in SQL. The same answer, to the byte, for
-- every kind of request the fast path sees or hands on.
CREATE TEMP TABLE hot_session AS SELECT * FROM authflow.session_create('did:plc:http-hot', 'hot.test');
CREATE TEMP TABLE hot_requests AS
  SELECT r.* FROM (SELECT access_token AS live, refresh_token AS refresh FROM hot_session) AS t,
         (SELECT access_token AS other FROM other_tenant) AS o,
         (SELECT access_token AS odd FROM odd_session) AS d,
         LATERAL (VALUES
           ('a live token', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || t.live)),
           ('a session without a handle, odd characters', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || d.odd)),
           ('the scheme in another case, spaces', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'BEARER   ' || t.live)),
           ('with a query string', 'GET', '/api/v1/sessions/current?x=1', jsonb_build_object('authorization', 'Bearer ' || t.live)),
           ('with other headers', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || t.live, 'host', 'h', 'x-authflow-client-address', '127.0.0.1')),
           ('a refresh token', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || t.refresh)),
           ('a malformed token', 'GET', '/api/v1/sessions/current', '{"authorization": "Bearer nope"}'::jsonb),
           ('an empty bearer', 'GET', '/api/v1/sessions/current', '{"authorization": "Bearer "}'::jsonb),
           ('another scheme', 'GET', '/api/v1/sessions/current', '{"authorization": "Basic dTpw"}'::jsonb),
           ('a token of another tenant', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || o.other)),
           ('... with its tenant header', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || o.other, 'x-tenant-id', 'http-other')),
           ('an unknown tenant', 'GET', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || t.live, 'x-stack-project-id', 'nobody')),
           ('Stack''s token header', 'GET', '/api/v1/sessions/current', jsonb_build_object('x-stack-access-token', t.live)),
           ('no token', 'GET', '/api/v1/sessions/current', '{}'::jsonb),
           ('no token, errors as 200', 'GET', '/api/v1/sessions/current', '{"x-stack-override-error-status": "true"}'::jsonb),
           ('a bearer that is no string', 'GET', '/api/v1/sessions/current', '{"authorization": 5}'::jsonb),
           ('headers that are no object', 'GET', '/api/v1/sessions/current', '[1]'::jsonb),
           ('NULL headers', 'GET', '/api/v1/sessions/current', NULL::jsonb),
           ('HEAD', 'HEAD', '/api/v1/sessions/current', jsonb_build_object('authorization', 'Bearer ' || t.live)),
           ('another path', 'GET', '/api/v1/sessions/currently', jsonb_build_object('authorization', 'Bearer ' || t.live))
         ) AS r(label, method, path, headers);
SELECT is((SELECT count(*) FROM hot_requests AS q,
                   LATERAL (SELECT (SELECT h FROM authflow.http(q.method, q.path, q.headers, '') AS h) IS NOT DISTINCT FROM
                                   authflow.http_serve(q.method, q.path, q.headers, '') AS same) AS c
            WHERE c.same), 20::bigint, 'authflow.http answers as http_serve: ' ||
          (SELECT string_agg(label, ', ') FROM hot_requests AS q
            WHERE (SELECT h FROM authflow.http(q.method, q.path, q.headers, '') AS h) IS DISTINCT FROM
                  authflow.http_serve(q.method, q.path, q.headers, '')));
SELECT is((SELECT status FROM authflow.http('GET', '/api/v1/sessions/current', (SELECT jsonb_build_object('authorization', 'Bearer ' || access_token) FROM hot_session), '')),
          200, '... the 200 among them');

-- The gateway's role may call authflow.http and nothing else.
CREATE ROLE authflow_test_gateway NOLOGIN;
SELECT lives_ok($$SELECT authflow.grant_http('authflow_test_gateway')$$, 'grant_http');
SET LOCAL ROLE authflow_test_gateway;
SELECT is((SELECT status FROM authflow.http('GET', '/healthz', '{}', '')), 200, 'the gateway role calls authflow.http');
SELECT throws_ok($$SELECT * FROM authflow.session_validate('x')$$, '42501', NULL, 'but nothing else');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
