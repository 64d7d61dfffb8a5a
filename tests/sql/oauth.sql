-- oauth.sql: the device login over authflow.http: the RFC's endpoints (form bodies, the error
-- values table by table, never cached) and the verification page's backend. now() stands still
-- in this transaction, so a test that needs "the interval has passed" moves the code's last
-- accepted poll back in time instead of sleeping.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(101);

CREATE FUNCTION pg_temp.post(path text, body text, headers jsonb DEFAULT '{}') RETURNS authflow.http_response
LANGUAGE sql AS $$
  SELECT * FROM authflow.http('POST', path, '{"content-type": "application/x-www-form-urlencoded",
                                             "x-authflow-client-address": "203.0.113.5", "user-agent": "oauth-test"}' || headers, body)
$$;
CREATE FUNCTION pg_temp.page(path text, body jsonb, headers jsonb DEFAULT '{}') RETURNS authflow.http_response
LANGUAGE sql AS $$
  SELECT * FROM authflow.http('POST', path, '{"content-type": "application/json", "x-authflow-client-address": "203.0.113.9"}' || headers,
                              body::text)
$$;
-- authorize(): a new device code of the tv client over HTTP, as JSON.
CREATE FUNCTION pg_temp.authorize(scope text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS $$
  SELECT (pg_temp.post('/oauth/device_authorization', 'client_id=tv' || coalesce('&scope=' || scope, ''))).body::jsonb
$$;
-- wait_interval(code): the code's last accepted poll moves an hour back, as if the interval had passed.
-- (PL/pgSQL, and the new times computed first: Citus plans no statement of a SQL function over
-- its parameters, and updates no column from itself through timestamptz arithmetic.)
CREATE FUNCTION pg_temp.wait_interval(code jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  id uuid := (authflow.token_parse(code ->> 'device_code')).row_id;
  polled timestamptz;
  created timestamptz;
BEGIN
  SELECT a.polled_at - interval '1 hour', a.created_at - interval '1 hour' INTO STRICT polled, created
    FROM authflow.device_attempts AS a WHERE a.attempt_id = id;
  UPDATE authflow.device_attempts SET polled_at = polled, created_at = created WHERE attempt_id = id;
END $$;
CREATE FUNCTION pg_temp.token_body(code jsonb, client text DEFAULT 'tv') RETURNS text LANGUAGE sql AS $$
  SELECT 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=' || (code ->> 'device_code')
         || '&client_id=' || client
$$;

SELECT authflow.oauth_client_register('tv', 'Living-room TV', 'https://example.test/device', '{read,write}', poll_interval => 2);
SELECT authflow.oauth_client_register('other', 'Other', 'https://example.test/device');
CREATE TEMP TABLE browser AS SELECT * FROM authflow.session_create('did:plc:oauth-owner');

-- Routes.
SELECT is((SELECT count(*) FROM authflow.http_routes() WHERE template IN ('/oauth/device_authorization', '/oauth/token',
           '/api/v1/device/lookup', '/api/v1/device/approve', '/api/v1/device/deny')), 5::bigint, 'authflow.http serves the five routes');
SELECT is((SELECT status || ' ' || (headers ->> 'allow') FROM authflow.http('GET', '/oauth/token', '{}', NULL)), '405 POST',
          'GET /oauth/token: 405');

-- POST /oauth/device_authorization.
CREATE TEMP TABLE authorized AS SELECT * FROM pg_temp.post('/oauth/device_authorization', 'client_id=tv&scope=read+write');
SELECT is((SELECT status FROM authorized), 200, 'device_authorization: 200');
SELECT is((SELECT array_agg(k ORDER BY k) FROM authorized, jsonb_object_keys(body::jsonb) AS k),
          '{device_code,expires_in,interval,user_code,verification_uri,verification_uri_complete}',
          'with the RFC''s fields');
SELECT ok((SELECT (body::jsonb ->> 'device_code') LIKE 'afd\_%' AND body::jsonb -> 'expires_in' = '600' AND body::jsonb -> 'interval' = '2'
             AND body::jsonb ->> 'user_code' ~ '^[B-Z]{4}-[B-Z]{4}$'
             AND body::jsonb ->> 'verification_uri_complete' = 'https://example.test/device?user_code=' || (body::jsonb ->> 'user_code')
             FROM authorized), 'a device code, 600 s, interval 2 (numbers), the user code and the page');
SELECT is((SELECT headers ->> 'cache-control' || ' ' || (headers ->> 'pragma') || ' ' || (headers ->> 'content-type') FROM authorized),
          'no-store no-cache application/json', 'never cached, JSON');
SELECT is((SELECT headers ->> 'x-authflow-route' FROM authorized), 'POST /oauth/device_authorization', 'its route label');
SELECT is((pg_temp.post('/oauth/device_authorization', 'client_id=tv', '{"content-type": "application/x-www-form-urlencoded; charset=UTF-8"}')).status,
          200, 'a content-type with charset=UTF-8 is accepted');

-- The form parser, case by case.
SELECT is(authflow.http_form('a=1&b=%20x+y&c=&d=e=f'), '{"a": "1", "b": " x y", "c": "", "d": "e=f"}',
          'form: pairs, %20 and + as spaces, an empty value, = inside a value');
SELECT is(authflow.http_form('%41%42=%e2%82%ac&grant_type=urn:ietf:params:oauth:grant-type:device_code'),
          '{"AB": "€", "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}',
          'form: percent-decoded UTF-8, raw colons (curl -d) accepted');
SELECT is(authflow.http_form(''), '{}', 'form: an empty body is no parameter');
CREATE TEMP TABLE bad_forms (label text, body text, message text);
INSERT INTO bad_forms VALUES
  ('a parameter without =', 'a', 'every parameter of the request body must be name=value'),
  ('an empty pair', 'a=1&&b=2', 'every parameter of the request body must be name=value'),
  ('a trailing &', 'a=1&', 'every parameter of the request body must be name=value'),
  ('an empty name', '=x', 'every parameter of the request body must be name=value'),
  ('a repeated parameter', 'a=1&a=2', 'parameter "a" is given more than once'),
  ('a repeated parameter, encoded', 'a=1&%61=2', 'parameter "a" is given more than once'),
  ('a malformed escape', 'a=%4', 'malformed percent-encoding in the request body'),
  ('a non-hex escape', 'a=%zz', 'malformed percent-encoding in the request body'),
  ('an escape that is not UTF-8', 'a=%ff', 'the request body does not decode to UTF-8 text'),
  ('an escaped NUL', 'a=%00', 'the request body does not decode to UTF-8 text'),
  ('a raw space', 'a=b c', 'the request body must be form-encoded: visible ASCII characters only, the rest percent-encoded'),
  ('a raw newline', E'a=b\nc=d', 'the request body must be form-encoded: visible ASCII characters only, the rest percent-encoded'),
  ('raw UTF-8', 'a=€', 'the request body must be form-encoded: visible ASCII characters only, the rest percent-encoded'),
  ('JSON', '{"client_id": "tv"}', 'the request body must be form-encoded: visible ASCII characters only, the rest percent-encoded');
SELECT throws_ok(format('SELECT authflow.http_form(%L)', body), 'AF400', message, 'form refuses ' || label) FROM bad_forms;
SELECT throws_ok($$SELECT authflow.http_form(repeat('a', 70000))$$, 'AF413', 'request body must be at most 65536 bytes', 'form: over 64 KiB');

-- Every error value of the two endpoints, table-driven: status 400 (413 for a body over 64 KiB),
-- {error, error_description}, never cached. Each case has a code in the state it needs.
SELECT authflow.tenant_set('oauth-b');
SELECT authflow.oauth_client_register('tv', 'TV of b', 'https://b.example.test/device', tenant => 'oauth-b');
CREATE TEMP TABLE code_of (name text PRIMARY KEY, code jsonb);
INSERT INTO code_of SELECT name, pg_temp.authorize('read') FROM unnest('{fresh,pending,denied,expired,used,other}'::text[]) AS name;
SELECT pg_temp.wait_interval(code) FROM code_of WHERE name IN ('pending', 'denied', 'used', 'other');
SELECT authflow.device_deny(code ->> 'user_code') FROM code_of WHERE name = 'denied';
UPDATE authflow.device_attempts SET expires_at = now() - interval '1 second'
 WHERE attempt_id = (SELECT (authflow.token_parse(code ->> 'device_code')).row_id FROM code_of WHERE name = 'expired');
SELECT authflow.device_approve(code ->> 'user_code', (SELECT refresh_token FROM browser)) FROM code_of WHERE name = 'used';
SELECT is((pg_temp.post('/oauth/token', pg_temp.token_body(code))).status, 200, 'the "used" code is picked up')
  FROM code_of WHERE name = 'used';
CREATE TEMP TABLE picked_session AS SELECT * FROM authflow.session_create('did:plc:web-only');

CREATE TEMP TABLE error_cases (n serial, label text, path text, body text, headers jsonb, status integer, error text);
INSERT INTO error_cases (label, path, body, headers, status, error) VALUES
  ('authorize without client_id', '/oauth/device_authorization', 'scope=read', '{}', 400, 'invalid_request'),
  ('authorize with JSON', '/oauth/device_authorization', '{"client_id": "tv"}', '{"content-type": "application/json"}', 400, 'invalid_request'),
  ('authorize without a content-type', '/oauth/device_authorization', 'client_id=tv', '{"content-type": null}', 400, 'invalid_request'),
  ('authorize in latin1', '/oauth/device_authorization', 'client_id=tv', '{"content-type": "application/x-www-form-urlencoded; charset=latin1"}', 400, 'invalid_request'),
  ('authorize with a malformed body', '/oauth/device_authorization', 'client_id=tv&&', '{}', 400, 'invalid_request'),
  ('authorize with client_id twice', '/oauth/device_authorization', 'client_id=tv&client_id=other', '{}', 400, 'invalid_request'),
  ('authorize with %FF', '/oauth/device_authorization', 'client_id=%FF', '{}', 400, 'invalid_request'),
  ('authorize with %00', '/oauth/device_authorization', 'client_id=t%00v', '{}', 400, 'invalid_request'),
  ('authorize over 64 KiB', '/oauth/device_authorization', 'client_id=' || repeat('t', 70000), '{}', 413, 'invalid_request'),
  ('authorize with an unknown client', '/oauth/device_authorization', 'client_id=nobody', '{}', 400, 'invalid_client'),
  ('authorize in an unknown tenant', '/oauth/device_authorization', 'client_id=tv', '{"x-tenant-id": "no-such-tenant"}', 400, 'invalid_client'),
  ('authorize with a scope not allowed', '/oauth/device_authorization', 'client_id=tv&scope=read+admin', '{}', 400, 'invalid_scope'),
  ('authorize with a malformed scope', '/oauth/device_authorization', 'client_id=tv&scope=read++write', '{}', 400, 'invalid_scope'),
  ('token without grant_type', '/oauth/token', 'client_id=tv', '{}', 400, 'invalid_request'),
  ('token with the password grant', '/oauth/token', 'grant_type=password&client_id=tv', '{}', 400, 'unsupported_grant_type'),
  ('token with the authorization code grant', '/oauth/token', 'grant_type=authorization_code&code=x&client_id=tv', '{}', 400, 'unsupported_grant_type'),
  ('token without device_code', '/oauth/token', 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=tv', '{}', 400, 'invalid_request'),
  ('token without client_id', '/oauth/token', replace(pg_temp.token_body((SELECT code FROM code_of WHERE name = 'pending')), '&client_id=tv', ''), '{}', 400, 'invalid_request'),
  ('token as form data in JSON', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'pending')), '{"content-type": "text/plain"}', 400, 'invalid_request'),
  ('token with an unknown client', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'pending'), 'nobody'), '{}', 400, 'invalid_client'),
  ('token with another client''s code', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'other'), 'other'), '{}', 400, 'invalid_grant'),
  ('token with an unknown device code', '/oauth/token', pg_temp.token_body(jsonb_build_object('device_code', authflow.token_generate('device'))), '{}', 400, 'invalid_grant'),
  ('token with garbage for a device code', '/oauth/token', pg_temp.token_body('{"device_code": "garbage"}'), '{}', 400, 'invalid_grant'),
  ('token with a code of another tenant', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'pending')), '{"x-tenant-id": "oauth-b"}', 400, 'invalid_grant'),
  ('token before approval', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'pending')), '{}', 400, 'authorization_pending'),
  ('token polled too early', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'fresh')), '{}', 400, 'slow_down'),
  ('token of a denied code', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'denied')), '{}', 400, 'access_denied'),
  ('token of an expired code', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'expired')), '{}', 400, 'expired_token'),
  ('token of a code already picked up', '/oauth/token', pg_temp.token_body((SELECT code FROM code_of WHERE name = 'used')), '{}', 400, 'invalid_grant'),
  ('refresh without refresh_token', '/oauth/token', 'grant_type=refresh_token&client_id=tv', '{}', 400, 'invalid_request'),
  ('refresh with garbage', '/oauth/token', 'grant_type=refresh_token&client_id=tv&refresh_token=afr_x', '{}', 400, 'invalid_grant'),
  ('refresh of a web session', '/oauth/token', 'grant_type=refresh_token&client_id=tv&refresh_token=' || (SELECT refresh_token FROM picked_session), '{}', 400, 'invalid_grant'),
  ('refresh with an unknown client', '/oauth/token', 'grant_type=refresh_token&client_id=nobody&refresh_token=afr_x', '{}', 400, 'invalid_client');
CREATE TEMP TABLE error_answers AS
  SELECT c.*, r.status AS got_status, r.headers AS got_headers, r.body::jsonb AS got_body
    FROM error_cases AS c, LATERAL pg_temp.post(c.path, c.body, c.headers) AS r;
SELECT is(got_status || ' ' || (got_body ->> 'error'), status || ' ' || error, label) FROM error_answers ORDER BY n;
SELECT is_empty($$SELECT label FROM error_answers
                   WHERE NOT (got_headers ->> 'cache-control' = 'no-store' AND got_headers ->> 'pragma' = 'no-cache'
                              AND got_headers ->> 'content-type' = 'application/json'
                              AND jsonb_typeof(got_body -> 'error_description') = 'string'
                              AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(got_body) AS k) <@ '{error,error_description,interval}')$$,
                'every error is JSON {error, error_description}, never cached');
SELECT set_eq($$SELECT DISTINCT error FROM error_cases$$,
              ARRAY['invalid_request', 'invalid_client', 'invalid_grant', 'invalid_scope', 'unsupported_grant_type',
                    'authorization_pending', 'slow_down', 'access_denied', 'expired_token'],
              'the table covers every error value of RFC 8628 section 3.5 and RFC 6749 section 5.2 the endpoints answer');
SELECT is((SELECT got_body -> 'interval' FROM error_answers WHERE error = 'slow_down'), '7', 'slow_down says the new interval (2 + 5 s)');
SELECT is((SELECT count(*) FROM authflow.device_attempts), (SELECT count(*) FROM code_of) + 2,
          'the refused authorizations created nothing');

-- The verification page, then the token.
CREATE TEMP TABLE flow AS SELECT pg_temp.authorize('read') AS code;
CREATE TEMP TABLE looked AS SELECT * FROM pg_temp.page('/api/v1/device/lookup', jsonb_build_object('user_code', lower((SELECT code ->> 'user_code' FROM flow))));
SELECT is((SELECT status FROM looked), 200, 'lookup: 200');
SELECT is((SELECT body::jsonb - 'expires_at' FROM looked), '{"client_id": "tv", "client_name": "Living-room TV", "scopes": ["read"]}',
          'lookup: the client, its name and the scopes');
SELECT is((SELECT (body::jsonb ->> 'expires_at')::timestamptz FROM looked), now() + interval '10 minutes', 'lookup: the expiry');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/lookup', '{"user_code": "BBBB-BBBB"}')),
          '400 INVALID_USER_CODE', 'lookup of an unknown code: 400 INVALID_USER_CODE');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/lookup', '{}')), '400 SCHEMA_ERROR',
          'lookup without user_code: 400 SCHEMA_ERROR');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/lookup', '{"user_code": 7}')), '400 SCHEMA_ERROR',
          'a user_code that is not a string: 400');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/lookup', '{}', '{"x-tenant-id": "nope"}')),
          '400 PROJECT_NOT_FOUND', 'an unknown tenant: PROJECT_NOT_FOUND');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM authflow.http('POST', '/api/v1/device/approve',
             jsonb_build_object('content-type', 'text/plain', 'x-refresh-token', (SELECT refresh_token FROM browser)),
             jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM flow))::text)),
          '415 UNSUPPORTED_MEDIA_TYPE', 'approve from a cross-site form (text/plain): 415, nothing approved');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM authflow.http('POST', '/api/v1/device/approve',
             jsonb_build_object('cookie', 'authflow_refresh=' || (SELECT refresh_token FROM browser)),
             jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM flow))::text)),
          '415 UNSUPPORTED_MEDIA_TYPE', 'approve with the cookie but no content-type: 415');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/approve',
             jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM flow)))),
          '401 REFRESH_TOKEN_REQUIRED', 'approve without a refresh token: 401');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/approve',
             jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM flow), 'refresh_token', 'afr_nope'))),
          '400 INVALID_REFRESH_TOKEN', 'approve with an invalid refresh token: 400 INVALID_REFRESH_TOKEN');
SELECT is((SELECT status || ' ' || body FROM pg_temp.page('/api/v1/device/approve', jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM flow)),
             jsonb_build_object('cookie', 'authflow_refresh=' || (SELECT refresh_token FROM browser)))),
          '200 {"success": true}', 'approve with the signed-in browser''s cookie');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/approve',
             jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM flow), 'refresh_token', (SELECT refresh_token FROM browser)))),
          '400 INVALID_USER_CODE', 'a second approval: 400 INVALID_USER_CODE');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM pg_temp.page('/api/v1/device/deny', jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM flow)))),
          '400 INVALID_USER_CODE', 'a denial after it: 400');
SELECT pg_temp.wait_interval(code) FROM flow;
CREATE TEMP TABLE tokens AS SELECT * FROM pg_temp.post('/oauth/token', pg_temp.token_body((SELECT code FROM flow)));
SELECT is((SELECT status FROM tokens), 200, 'token: 200 once approved');
SELECT is((SELECT array_agg(k ORDER BY k) FROM tokens, jsonb_object_keys(body::jsonb) AS k),
          '{access_token,expires_in,refresh_token,scope,token_type}', 'token: the RFC''s fields');
SELECT is((SELECT body::jsonb - 'access_token' - 'refresh_token' FROM tokens), '{"scope": "read", "expires_in": 900, "token_type": "Bearer"}',
          'Bearer, 900 s, the scope');
SELECT is((SELECT headers ->> 'cache-control' || ' ' || (headers ->> 'pragma') FROM tokens), 'no-store no-cache', 'tokens are never cached');
SELECT is((SELECT status FROM authflow.http('GET', '/api/v1/sessions/current',
             jsonb_build_object('authorization', 'Bearer ' || (SELECT body::jsonb ->> 'access_token' FROM tokens)), NULL)), 200,
          'the access token works on GET /api/v1/sessions/current');
SELECT is((SELECT array_agg(DISTINCT user_agent || ' ' || client_address) FROM authflow.session_list('did:plc:oauth-owner') WHERE kind = 'device'),
          '{"oauth-test 203.0.113.5"}', 'device sessions record the device''s user agent and address');
CREATE TEMP TABLE renewed AS SELECT * FROM pg_temp.post('/oauth/token',
  'grant_type=refresh_token&client_id=tv&refresh_token=' || (SELECT body::jsonb ->> 'refresh_token' FROM tokens));
SELECT is((SELECT status FROM renewed), 200, 'refresh_token grant: 200');
SELECT ok((SELECT body::jsonb ->> 'access_token' LIKE 'afa\_%' AND NOT body::jsonb ? 'refresh_token' FROM renewed),
          'a new access token; no new refresh token in a tenant without rotation (keep the one you have)');
SELECT is((SELECT headers ->> 'cache-control' FROM renewed), 'no-store', 'never cached');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'error') FROM pg_temp.post('/oauth/token',
             'grant_type=refresh_token&client_id=tv&scope=write&refresh_token=' || (SELECT body::jsonb ->> 'refresh_token' FROM tokens))),
          '400 invalid_scope', 'a refresh asking for a scope never granted: invalid_scope');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'error') FROM pg_temp.post('/oauth/token',
             'grant_type=refresh_token&client_id=other&refresh_token=' || (SELECT body::jsonb ->> 'refresh_token' FROM tokens))),
          '400 invalid_grant', 'another client refreshing it: invalid_grant');

-- Deny over HTTP.
CREATE TEMP TABLE refused AS SELECT pg_temp.authorize() AS code;
SELECT is((SELECT status || ' ' || body FROM pg_temp.page('/api/v1/device/deny', jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM refused)))),
          '200 {"success": true}', 'deny: 200');
SELECT pg_temp.wait_interval(code) FROM refused;
SELECT is((SELECT body::jsonb ->> 'error' FROM pg_temp.post('/oauth/token', pg_temp.token_body((SELECT code FROM refused)))), 'access_denied',
          'the device is told access_denied');

-- Brute force over HTTP: 429 with Retry-After.
SELECT authflow.rate_limit_set('device_user_code', 2, NULL);
DELETE FROM authflow.rate_counters WHERE action = 'device_user_code';
SELECT is(ARRAY[(pg_temp.page('/api/v1/device/lookup', '{"user_code": "BBBB-BBBB"}')).status,
                (pg_temp.page('/api/v1/device/approve', '{"user_code": "BBBB-BBBC", "refresh_token": "x"}')).status],
          ARRAY[400, 400], 'a wrong code: 400; an approval with an invalid refresh token: 400, before the code is looked up (not counted)');
SELECT is((pg_temp.page('/api/v1/device/deny', '{"user_code": "BBBB-BBBC"}')).status, 400, 'the second failed entry');
CREATE TEMP TABLE limited AS SELECT * FROM pg_temp.page('/api/v1/device/lookup', jsonb_build_object('user_code', (SELECT code ->> 'user_code' FROM refused)));
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'code') FROM limited), '429 TOO_MANY_REQUESTS', 'then every entry: 429');
SELECT ok((SELECT (headers ->> 'retry-after')::integer BETWEEN 1 AND 60 FROM limited), 'with Retry-After in seconds');
SELECT is((SELECT headers ->> 'x-authflow-route' FROM limited), 'POST /api/v1/device/lookup', 'its route label');

-- Device authorizations are rate limited like CLI start.
SELECT authflow.rate_limit_set('device_authorization', 1, NULL);
DELETE FROM authflow.rate_counters WHERE action = 'device_authorization';
SELECT count(*) AS attempts_before FROM authflow.device_attempts \gset
SELECT is((pg_temp.post('/oauth/device_authorization', 'client_id=tv')).status, 200, 'one authorization a minute from an address');
CREATE TEMP TABLE over AS SELECT * FROM pg_temp.post('/oauth/device_authorization', 'client_id=tv');
SELECT is((SELECT status || ' ' || (body::jsonb ->> 'error') FROM over), '429 too_many_requests', 'the second: 429');
SELECT ok((SELECT (headers ->> 'retry-after')::integer BETWEEN 1 AND 60 AND headers ->> 'cache-control' = 'no-store' FROM over),
          'with Retry-After, never cached');
SELECT is((SELECT count(*) FROM authflow.device_attempts), :attempts_before + 1::bigint, 'the refused one created nothing');
SELECT is((pg_temp.post('/oauth/device_authorization', 'client_id=nobody')).status, 429,
          'requests that fail count too: an unknown client is refused by the limit first');

SELECT * FROM finish();
ROLLBACK;
