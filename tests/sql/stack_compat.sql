-- stack_compat.sql: what Stack's SDKs send and expect. The x-hexclave-* header family (Stack Auth
-- is now Hexclave) is accepted wherever the x-stack-* one is, from one list
-- (authflow.http_header_names); errors are answered as 200 with the real status in
-- x-stack-actual-status when a client asks for it; tenants are named as Stack names projects
-- (a UUID, or internal).
\set http_api_doc `cat docs/http-api.md`
BEGIN;
\ir ../fixtures/clean_slate.sql
\ir ../fixtures/http_call.sql
SELECT plan(57);


-- The one list.
SELECT is((SELECT array_agg(family ORDER BY family) FROM authflow.http_header_names()),
          '{access_token,access_type,actual_status,known_error,override_error_status,publishable_client_key,refresh_token,server_key,tenant}',
          'header families');
SELECT is((SELECT count(*) FROM authflow.http_header_names() AS h, unnest(h.names) AS n
            WHERE n LIKE 'x-stack-%' AND NOT replace(n, 'x-stack-', 'x-hexclave-') = ANY (h.names)), 0::bigint,
          'every x-stack-* name has its x-hexclave-* twin in the same family');
SELECT is((SELECT count(*) FROM authflow.http_header_names() AS h, unnest(h.names) AS n WHERE n <> lower(n)), 0::bigint,
          'names are lower case (the gateway lowercases request headers)');
SELECT is((SELECT count(*) FROM authflow.http_header_names() AS h, unnest(h.names) AS n
            WHERE h.direction = 'request' AND authflow.http_header(jsonb_build_object(n, 'v'), h.family) IS DISTINCT FROM 'v'),
          0::bigint, 'http_header reads every name of every request family');
SELECT is((SELECT array_agg(n ORDER BY n) FROM authflow.http_header_names() AS h, unnest(h.names) AS n
            WHERE strpos(:'http_api_doc', '`' || n || '`') = 0), NULL,
          'docs/http-api.md names every header of the list');
SELECT is(authflow.http_header('{"x-hexclave-project-id": "c", "x-stack-project-id": "b"}', 'tenant'), 'b',
          'x-stack-project-id wins over x-hexclave-project-id');
SELECT is(authflow.http_header('{"x-hexclave-project-id": "c", "x-tenant-id": "a"}', 'tenant'), 'a', 'x-tenant-id wins over both');
SELECT is(authflow.http_tenant_name('{"x-hexclave-project-id": "c"}'), 'c', 'x-hexclave-project-id alone names the tenant');

-- The tenant, by its hexclave header, on the CLI routes: start, complete, poll.
SELECT lives_ok($$SELECT authflow.tenant_set('stack-compat')$$, 'a tenant');
CREATE TEMP TABLE attempt AS
  SELECT body::jsonb AS j FROM pg_temp.call('POST', '/api/v1/auth/cli', '{"x-hexclave-project-id": "stack-compat"}', '{}');
SELECT is((SELECT status FROM pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', (SELECT jsonb_build_object('polling_code', j ->> 'polling_code')::text FROM attempt))),
          400, 'the attempt is not in default');
CREATE TEMP TABLE browser AS SELECT * FROM authflow.session_create('did:plc:compat-browser', tenant => 'stack-compat');
SELECT is((SELECT body::jsonb FROM pg_temp.call('POST', '/api/v1/auth/cli/complete', '{"x-hexclave-project-id": "stack-compat"}',
             (SELECT jsonb_build_object('login_code', j ->> 'login_code', 'refresh_token', (SELECT refresh_token FROM browser))::text FROM attempt))),
          '{"success": true}', 'complete in the tenant the CLI named by x-hexclave-project-id');
CREATE TEMP TABLE polled AS
  SELECT * FROM pg_temp.call('POST', '/api/v1/auth/cli/poll', '{"x-hexclave-project-id": "stack-compat"}',
                             (SELECT jsonb_build_object('polling_code', j ->> 'polling_code')::text FROM attempt));
SELECT is((SELECT status FROM polled), 201, 'poll: 201 success');

-- Credentials by their hexclave (and stack) headers.
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('x-hexclave-access-token', body::jsonb ->> 'access_token', 'x-hexclave-project-id', 'stack-compat') FROM polled))).status,
          200, 'x-hexclave-access-token is an access token');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('x-stack-access-token', body::jsonb ->> 'access_token', 'x-stack-project-id', 'stack-compat') FROM polled))).status,
          200, 'x-stack-access-token too');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('x-hexclave-access-token', body::jsonb ->> 'access_token', 'authorization', 'Bearer afa_forged',
                                        'x-hexclave-project-id', 'stack-compat') FROM polled))).status,
          401, 'Authorization: Bearer comes first');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('x-hexclave-access-token', body::jsonb ->> 'access_token') FROM polled))).status,
          401, 'the tenant rule holds for these headers too (no tenant header: default)');
SELECT is((pg_temp.call('POST', '/api/v1/sessions/current/refresh',
             (SELECT jsonb_build_object('x-hexclave-refresh-token', body::jsonb ->> 'refresh_token', 'x-hexclave-project-id', 'stack-compat') FROM polled))).status,
          200, 'x-hexclave-refresh-token refreshes');
SELECT is((pg_temp.call('POST', '/api/v1/sessions/current/refresh',
             (SELECT jsonb_build_object('x-stack-refresh-token', body::jsonb ->> 'refresh_token', 'x-stack-project-id', 'stack-compat') FROM polled))).status,
          200, 'x-stack-refresh-token refreshes');
SELECT is((pg_temp.call('POST', '/api/v1/sessions',
             jsonb_build_object('x-hexclave-secret-server-key', authflow.api_key_create('server', 'stack-compat'), 'x-hexclave-project-id', 'stack-compat'),
             '{"user_id": "did:plc:compat-keyed"}')).status,
          201, 'x-hexclave-secret-server-key is a server key');
SELECT is((pg_temp.call('POST', '/api/v1/sessions', jsonb_build_object('x-hexclave-secret-server-key', authflow.api_key_create('server', 'stack-compat')),
             '{"user_id": "did:plc:compat-keyed"}')).status,
          403, '... of its tenant only');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli',
             '{"x-hexclave-project-id": "stack-compat", "x-hexclave-access-type": "client", "x-hexclave-publishable-client-key": "pck_anything",
               "x-hexclave-client-version": "js @stackframe/js@2.8.108", "x-hexclave-random-nonce": "n", "x-hexclave-allow-anonymous-user": "true"}',
             '{}')).status,
          200, 'the rest of what the SDK sends is accepted (access type and publishable key change nothing)');

-- Known errors carry their code in every known-error header.
CREATE TEMP TABLE unknown_poll AS SELECT * FROM pg_temp.call('POST', '/api/v1/auth/cli/poll', '{}', '{"polling_code": "nope"}');
SELECT is((SELECT ARRAY[headers ->> 'x-known-error', headers ->> 'x-stack-known-error', headers ->> 'x-hexclave-known-error'] FROM unknown_poll),
          '{INVALID_POLLING_CODE,INVALID_POLLING_CODE,INVALID_POLLING_CODE}', 'x-known-error, x-stack-known-error, x-hexclave-known-error');
SELECT ok((SELECT NOT headers ? 'x-stack-actual-status' FROM unknown_poll), 'no override asked: the real status, no actual-status header');
-- Stack's SDK rebuilds these errors from their details (KnownError.fromJson); they carry Stack's.
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{"x-hexclave-project-id": "nope"}', '{}')).body::jsonb -> 'details',
          '{"project_id": "nope"}', 'PROJECT_NOT_FOUND: details.project_id, as Stack''s');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{}', '{"expires_in_millis": 86400001}')).body::jsonb #>> '{details,message}',
          'expires_in_millis must be greater than 0 and at most 86400000', 'SCHEMA_ERROR: details.message, as Stack''s');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current', '{"authorization": "Bearer afa_forged"}')).body::jsonb #>> '{details,message}',
          'the access token is invalid or expired', 'INVALID_ACCESS_TOKEN: details.message');

-- Error-status override: 200, the real status in x-stack-actual-status and x-hexclave-actual-status,
-- the same body and known-error headers.
CREATE FUNCTION pg_temp.overridden(header text, value text DEFAULT 'true') RETURNS authflow.http_response LANGUAGE sql AS $$
  SELECT * FROM pg_temp.call('POST', '/api/v1/auth/cli/poll', jsonb_build_object(header, value), '{"polling_code": "nope"}') $$;
SELECT is((pg_temp.overridden('x-stack-override-error-status')).status, 200, 'x-stack-override-error-status: true gives 200');
SELECT is((pg_temp.overridden('x-hexclave-override-error-status')).status, 200, 'x-hexclave-override-error-status: true too');
SELECT is((SELECT ARRAY[headers ->> 'x-stack-actual-status', headers ->> 'x-hexclave-actual-status'] FROM pg_temp.overridden('x-hexclave-override-error-status')),
          '{400,400}', '... with the real status in x-stack-actual-status and x-hexclave-actual-status');
SELECT is((pg_temp.overridden('x-hexclave-override-error-status')).body, (SELECT body FROM unknown_poll), '... the same body');
SELECT is((SELECT headers - '{x-stack-actual-status,x-hexclave-actual-status}'::text[] FROM pg_temp.overridden('x-stack-override-error-status')),
          (SELECT headers FROM unknown_poll), '... and otherwise the same headers (known-error ones included)');
SELECT is((pg_temp.overridden('x-stack-override-error-status', 'TRUE')).status, 200, 'the value is case-insensitive');
SELECT is((pg_temp.overridden('x-stack-override-error-status', 'false')).status, 400, 'false: the real status');
SELECT is((pg_temp.overridden('x-stack-override-error-status', '')).status, 400, 'empty: the real status');
SELECT is((SELECT status || ' ' || (headers ->> 'x-stack-actual-status') FROM pg_temp.call('GET', '/api/v1/sessions/current', '{"x-stack-override-error-status": "true"}')),
          '200 401', 'the hot route too (401 without a token)');
SELECT is((SELECT status || ' ' || (headers ->> 'x-stack-actual-status') FROM pg_temp.call('GET', '/nowhere', '{"x-stack-override-error-status": "true"}')),
          '200 404', 'an unknown route (404)');
SELECT is((SELECT status || ' ' || (headers ->> 'x-stack-actual-status') FROM pg_temp.call('PUT', '/api/v1/auth/cli', '{"x-stack-override-error-status": "true"}')),
          '200 405', 'a method not allowed (405)');
SELECT is((SELECT status || ' ' || (headers ->> 'x-hexclave-actual-status') || ' ' || (headers ->> 'retry-after') FROM
             (SELECT (authflow.http_override_error_status(authflow.http_too_many_requests(7), '{"x-hexclave-override-error-status": "true"}')).*) AS r),
          '200 429 7', 'a rate-limited answer keeps retry-after');
-- Stack's SDK retries a plain 429 after retry-after seconds, but gives up on any answer with its
-- known-error headers (client-interface: _processResponse runs before the 429 branch).
SELECT is((SELECT status || ' ' || (headers ->> 'retry-after') || ' ' || (headers ->> 'x-known-error') || ' '
                  || (headers ? 'x-stack-known-error')::text || ' ' || (headers ? 'x-hexclave-known-error')::text
             FROM (SELECT (authflow.http_too_many_requests(7)).*) AS r),
          '429 7 TOO_MANY_REQUESTS false false', 'a 429 carries no Stack known-error header, so the SDK waits and retries');
SELECT is((SELECT status || ' ' || (headers ? 'x-stack-actual-status')::text FROM pg_temp.call('POST', '/api/v1/auth/cli', '{"x-stack-override-error-status": "true"}', '{}')),
          '200 false', 'a success is left alone');
SELECT is((SELECT status || ' ' || (headers ? 'x-stack-actual-status')::text FROM pg_temp.call('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('authorization', 'Bearer ' || access_token, 'x-stack-override-error-status', 'true', 'x-stack-project-id', 'stack-compat')
                FROM authflow.session_create('did:plc:compat-two', tenant => 'stack-compat')))),
          '200 false', 'a success on the hot route too');

-- The tenant SQL resolved is named to the gateway in x-authflow-tenant (its access log).
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli/poll', '{"x-hexclave-project-id": "stack-compat"}', '{}')).headers ->> 'x-authflow-tenant',
          'stack-compat', 'x-authflow-tenant: the tenant the request named');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current')).headers ->> 'x-authflow-tenant', 'default', '... default without a tenant header');
SELECT is((pg_temp.call('GET', '/nowhere', jsonb_build_object('x-tenant-id', repeat('t', 300)))).headers ->> 'x-authflow-tenant', repeat('t', 128),
          '... cut to 128 characters');

-- Tenants named as Stack names projects: a UUID, or internal (the Stack CLI's own project).
SELECT is((authflow.tenant_set('8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55')).tenant, '8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55',
          'a tenant named by a UUID is stored in lower case');
SELECT is((authflow.tenant_get('8c7a52e4-0e27-4a61-9b1b-3F0A6D1E2C55')).tenant, '8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55',
          'any case of its digits names it');
SELECT is((SELECT count(*) FROM authflow.tenants WHERE lower(name) = '8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55'), 1::bigint,
          'one tenant, however it was written');
SELECT is((authflow.tenant_set('8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55', session_ttl => '1 day')).session_ttl, '1 day'::interval,
          'setting it again in lower case updates the same tenant');
CREATE TEMP TABLE uuid_session AS SELECT * FROM authflow.session_create('did:plc:compat-uuid', tenant => '8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55');
SELECT is((SELECT tenant FROM authflow.session_validate((SELECT access_token FROM uuid_session))), '8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55',
          'a session made under the upper-case name is of the tenant');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('authorization', 'Bearer ' || access_token, 'x-hexclave-project-id', '8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55') FROM uuid_session))).status,
          200, 'over HTTP, an upper-case project id names the same tenant');
SELECT is(authflow.tenant_canonical_name('{8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55}'), '{8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55}',
          'only the 8-4-4-4-12 form is a UUID name (braces are another name)');
SELECT is(authflow.tenant_canonical_name('8C7A52E40E274A619B1B3F0A6D1E2C55'), '8C7A52E40E274A619B1B3F0A6D1E2C55', '... and so is the form without hyphens');
SELECT is((pg_temp.call('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('authorization', 'Bearer ' || access_token, 'x-hexclave-project-id', '8C7A52E40E274A619B1B3F0A6D1E2C55') FROM uuid_session))
            ).body::jsonb ->> 'code', 'PROJECT_NOT_FOUND', 'a UUID written without hyphens is not the tenant');
SELECT lives_ok($$SELECT authflow.tenant_set('Acme'), authflow.tenant_set('acme')$$, 'other names are case-sensitive: Acme and acme');
SELECT is((SELECT count(*) FROM authflow.tenants WHERE lower(name) = 'acme'), 2::bigint, '... are two tenants');
SELECT is((authflow.tenant_set('internal')).tenant, 'internal', 'a tenant named internal');
SELECT is((pg_temp.call('POST', '/api/v1/auth/cli', '{"x-hexclave-project-id": "internal"}', '{}')).status, 200, '... is a project id like any other');

SELECT * FROM finish();
ROLLBACK;
