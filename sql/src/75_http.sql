-- HTTP: one entry point, authflow.http, for the gateway. Routing, JSON, status codes, cookies and
-- key checks all live here, so the whole HTTP contract is testable in SQL and the gateway only
-- carries requests. See docs/http-api.md.

-- Request and response headers by family: the one list of the names authflow reads and writes.
-- Stack Auth's clients send x-stack-* names; since Stack Auth became Hexclave its SDK sends
-- x-hexclave-* names, and the real server accepts both. A request header family is read through
-- http_header (the first of its names present wins); a response header family is written with
-- every name. See docs/http-api.md, Conventions. The names live in http_header_names(family), a
-- CASE the planner folds where the family is a constant (the hot route pays nothing for it).
CREATE OR REPLACE FUNCTION authflow.http_header_names(family text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE family
  WHEN 'tenant' THEN '{x-tenant-id,x-stack-project-id,x-hexclave-project-id}'::text[]
  WHEN 'server_key' THEN '{x-server-key,x-stack-secret-server-key,x-hexclave-secret-server-key}'
  WHEN 'access_token' THEN '{x-stack-access-token,x-hexclave-access-token}'
  WHEN 'refresh_token' THEN '{x-refresh-token,x-stack-refresh-token,x-hexclave-refresh-token}'
  WHEN 'access_type' THEN '{x-stack-access-type,x-hexclave-access-type}'
  WHEN 'publishable_client_key' THEN '{x-stack-publishable-client-key,x-hexclave-publishable-client-key}'
  WHEN 'override_error_status' THEN '{x-stack-override-error-status,x-hexclave-override-error-status}'
  WHEN 'known_error' THEN '{x-known-error,x-stack-known-error,x-hexclave-known-error}'
  WHEN 'actual_status' THEN '{x-stack-actual-status,x-hexclave-actual-status}'
END;
COMMENT ON FUNCTION authflow.http_header_names(text) IS 'The header names of one family, in precedence order (NULL for an unknown family)';

CREATE OR REPLACE FUNCTION authflow.http_header_names()
RETURNS TABLE (family text, direction text, names text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT f.family, f.direction, authflow.http_header_names(f.family)
    FROM (VALUES ('tenant', 'request'), ('server_key', 'request'), ('access_token', 'request'), ('refresh_token', 'request'),
                 ('access_type', 'request'), ('publishable_client_key', 'request'), ('override_error_status', 'request'),
                 ('known_error', 'response'), ('actual_status', 'response')) AS f(family, direction)
$$;
COMMENT ON FUNCTION authflow.http_header_names() IS
  'Every header family authflow reads (request) or writes (response), with its names in precedence order';

-- http_header is the value of a request header family: its first name present, else NULL.
CREATE OR REPLACE FUNCTION authflow.http_header(headers jsonb, family text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  name text;
  value text;
BEGIN
  FOREACH name IN ARRAY authflow.http_header_names(family) LOOP
    value := headers ->> name;
    IF value IS NOT NULL THEN
      RETURN value;
    END IF;
  END LOOP;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION authflow.http_header(jsonb, text) IS 'Internal: the first header of a family present in a request, NULL when none is';

-- http_headers_all sets every name of a response header family to one value.
CREATE OR REPLACE FUNCTION authflow.http_headers_all(family text, value text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  name text;
  headers jsonb := '{}';
BEGIN
  FOREACH name IN ARRAY authflow.http_header_names(family) LOOP
    headers := headers || jsonb_build_object(name, value);
  END LOOP;
  RETURN headers;
END $$;
COMMENT ON FUNCTION authflow.http_headers_all(text, text) IS 'Internal: {name: value} for every header name of a family';

-- The tenant of a request is named by the tenant family, the first present winning; without any
-- of them it is default. Every route reads the tenant through http_tenant_name.
CREATE OR REPLACE FUNCTION authflow.http_tenant_headers()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN authflow.http_header_names('tenant');
COMMENT ON FUNCTION authflow.http_tenant_headers() IS 'The request headers that name the tenant, in precedence order';

-- A tenant named by a UUID is one tenant whatever the case of its hex digits: the name is
-- canonical (authflow.tenant_canonical_name, lower case), as Stack's project ids are UUIDs.
-- Any other name is taken as it is written.
CREATE OR REPLACE FUNCTION authflow.http_tenant_name(headers jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- SQL, so that the planner inlines it: a request without any tenant header (the common case)
-- costs one ?| test, no PL/pgSQL call.
RETURN CASE WHEN headers ?| authflow.http_header_names('tenant')
            THEN coalesce(authflow.tenant_canonical_name(authflow.http_header(headers, 'tenant')), 'default')
            ELSE 'default' END;
COMMENT ON FUNCTION authflow.http_tenant_name(jsonb) IS
  'Internal: the tenant a request names (the first of http_tenant_headers present, canonical), default when none';

-- http_override_error_status: a client that asks for it (Stack's SDK always does) gets every
-- error as 200 with the real status in the actual_status headers, as from Stack's server; the
-- body and the known-error headers stay as they are.
CREATE OR REPLACE FUNCTION authflow.http_override_error_status(response authflow.http_response, headers jsonb)
RETURNS authflow.http_response
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF response.status BETWEEN 400 AND 599 AND lower(authflow.http_header(headers, 'override_error_status')) = 'true' THEN
    response.headers := response.headers || authflow.http_headers_all('actual_status', response.status::text);
    response.status := 200;
  END IF;
  RETURN response;
END $$;
COMMENT ON FUNCTION authflow.http_override_error_status(authflow.http_response, jsonb) IS
  'Internal: an error response as 200 with x-stack-actual-status (and its twin) when the request asks for it';

CREATE OR REPLACE FUNCTION authflow.api_key_create(kind text DEFAULT 'server', tenant text DEFAULT 'default')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
  id uuid := gen_random_uuid();
  key record;
BEGIN
  IF kind IS NULL OR kind <> 'server' THEN
    RAISE EXCEPTION 'kind must be server' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO key FROM authflow.token_issue('key', id);
  INSERT INTO authflow.api_keys (key_id, tenant_id, kind, key_hash) VALUES (id, settings.tenant_id, kind, key.secret_hash);
  PERFORM authflow.security_event(settings.tenant_id, 'api_key_created', NULL, NULL, jsonb_build_object('key_id', id), false);
  RETURN key.token;
END $$;
COMMENT ON FUNCTION authflow.api_key_create(text, text) IS 'A new API key of a tenant, returned raw once (stored hashed)';

CREATE OR REPLACE FUNCTION authflow.api_key_revoke(key text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  revoked record;
  token record := authflow.token_parse(key, 'key');  -- parsed first: Citus ships no function's rows to a node
BEGIN
  UPDATE authflow.api_keys AS k SET revoked_at = now()
   WHERE k.key_id = token.row_id AND authflow.secure_equal(k.key_hash, token.secret_hash) AND k.revoked_at IS NULL
  RETURNING k.tenant_id, k.key_id INTO revoked;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM authflow.security_event(revoked.tenant_id, 'api_key_revoked', NULL, NULL,
                                  jsonb_build_object('key_id', revoked.key_id), false);
  RETURN true;
END $$;
COMMENT ON FUNCTION authflow.api_key_revoke(text) IS 'Revokes an API key; false when it is unknown or already revoked';

CREATE OR REPLACE FUNCTION authflow.http_json(status integer, body jsonb, extra_headers jsonb DEFAULT '{}')
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN ROW(status, jsonb_build_object('content-type', 'application/json') || extra_headers, body::text)::authflow.http_response;
COMMENT ON FUNCTION authflow.http_json(integer, jsonb, jsonb) IS 'Internal: a response with a JSON body';

-- The codes Stack's SDK knows as errors with details get Stack's details too, or the SDK cannot
-- rebuild the error from the body (KnownError.fromJson reads details.message); PROJECT_NOT_FOUND
-- has its own (http_project_not_found).
CREATE OR REPLACE FUNCTION authflow.http_error(status integer, code text, message text, extra_headers jsonb DEFAULT '{}')
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN authflow.http_json(status,
                          jsonb_build_object('code', code, 'error', message)
                            || CASE WHEN code IN ('SCHEMA_ERROR', 'INVALID_ACCESS_TOKEN')
                                    THEN jsonb_build_object('details', jsonb_build_object('message', message)) ELSE '{}' END,
                          authflow.http_headers_all('known_error', code) || extra_headers);
COMMENT ON FUNCTION authflow.http_error(integer, text, text, jsonb) IS
  'Internal: an error response {"code", "error"} (and Stack''s details for the codes its SDK reads them of) with the code in the known-error headers';

-- http_too_many_requests is the answer to a request over a rate limit (authflow.rate_limit_hit).
-- It names its code in x-known-error only: Stack's SDK turns any answer with an x-stack-known-error
-- or x-hexclave-known-error header into an error it cannot retry (an unknown code reads as "update
-- your SDK"), while a plain 429 makes it wait retry-after seconds and try again.
CREATE OR REPLACE FUNCTION authflow.http_too_many_requests(wait_seconds integer)
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN authflow.http_json(429, jsonb_build_object('code', 'TOO_MANY_REQUESTS', 'error', 'too many requests, try again later'),
                          jsonb_build_object('x-known-error', 'TOO_MANY_REQUESTS', 'retry-after', wait_seconds::text));
COMMENT ON FUNCTION authflow.http_too_many_requests(integer) IS 'Internal: a 429 response with Retry-After';

-- http_error_for maps an error raised while serving a request to a response, or NULL when it is
-- not the client's mistake (serialization failures, deadlocks, bugs): those are raised again, for
-- the gateway to retry or answer with a 5xx. Data errors (class 22) and program limits hit by the
-- request's data (class 54: nesting depth, sizes) are the client's; so is every AFxxx code.
-- Messages pass through only for errors authflow raises (22023 and AFxxx).
CREATE OR REPLACE FUNCTION authflow.http_error_for(state text, message text)
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN known.code IS NOT NULL THEN authflow.http_error(known.status, known.code, message)
    WHEN http_error_for.state = '22023' OR http_error_for.state LIKE 'AF%'
      THEN authflow.http_error(400, 'INVALID_ARGUMENT', message)
    WHEN http_error_for.state LIKE '22%' THEN authflow.http_error(400, 'INVALID_ARGUMENT', 'invalid value in the request')
    WHEN http_error_for.state LIKE '54%'
      THEN authflow.http_error(400, 'INVALID_ARGUMENT', 'the request is too large or too deeply nested')
    WHEN http_error_for.state = '42501' THEN authflow.http_error(403, 'FORBIDDEN', 'forbidden')
    WHEN http_error_for.state = '23505' THEN authflow.http_error(409, 'CONFLICT', 'conflict')
  END
  FROM (SELECT NULL) AS nothing
  LEFT JOIN (VALUES
    ('AF001', 400, 'INVALID_ANON_REFRESH_TOKEN'), ('AF002', 400, 'ANON_REFRESH_TOKEN_WRONG_PROJECT'),
    ('AF003', 400, 'ANON_REFRESH_TOKEN_EXPIRED'), ('AF004', 400, 'REFRESH_TOKEN_NOT_ANONYMOUS'),
    ('AF010', 400, 'INVALID_POLLING_CODE'),
    ('AF020', 400, 'INVALID_LOGIN_CODE'), ('AF021', 400, 'NO_ANONYMOUS_SESSION'), ('AF022', 400, 'REFRESH_TOKEN_REQUIRED'),
    ('AF023', 400, 'INVALID_REFRESH_TOKEN'), ('AF024', 400, 'PROJECT_ID_MISMATCH'), ('AF025', 400, 'REFRESH_TOKEN_WRONG_PROJECT'),
    ('AF030', 400, 'USER_NOT_ANONYMOUS'), ('AF031', 400, 'USER_NOT_FOUND'), ('AF032', 409, 'MERGE_CONFLICT'),
    ('AF033', 400, 'MERGE_RULE_BROKEN'),
    ('AF400', 400, 'SCHEMA_ERROR'), ('AF413', 413, 'PAYLOAD_TOO_LARGE')) AS known(state, status, code)
    ON known.state = http_error_for.state
$$;
COMMENT ON FUNCTION authflow.http_error_for(text, text) IS 'Internal: the HTTP response for a SQLSTATE, NULL when it is no client error';

CREATE OR REPLACE FUNCTION authflow.http_project_not_found(tenant_name text)
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN authflow.http_json(400, jsonb_build_object('code', 'PROJECT_NOT_FOUND', 'error', format('project "%s" does not exist', left(tenant_name, 128)),
                                                  'details', jsonb_build_object('project_id', left(tenant_name, 128))),
                          authflow.http_headers_all('known_error', 'PROJECT_NOT_FOUND'));
COMMENT ON FUNCTION authflow.http_project_not_found(text) IS 'Internal: the 400 response for an unknown tenant';

-- Request bodies and their fields. Each failure is an AF400 (400 SCHEMA_ERROR) naming the field.
CREATE OR REPLACE FUNCTION authflow.http_body(body text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  parsed jsonb;
BEGIN
  IF octet_length(body) > 65536 THEN
    RAISE EXCEPTION 'request body must be at most 65536 bytes' USING ERRCODE = 'AF413';
  END IF;
  IF body IS NULL OR btrim(body) = '' THEN
    RETURN '{}';
  END IF;
  BEGIN
    parsed := body::jsonb;
  EXCEPTION WHEN invalid_text_representation OR untranslatable_character OR character_not_in_repertoire THEN
    RAISE EXCEPTION 'request body is not valid JSON' USING ERRCODE = 'AF400';
  WHEN statement_too_complex THEN
    RAISE EXCEPTION 'request body is nested too deeply' USING ERRCODE = 'AF400';
  WHEN numeric_value_out_of_range THEN
    RAISE EXCEPTION 'request body holds a number out of range' USING ERRCODE = 'AF400';
  END;
  IF jsonb_typeof(parsed) <> 'object' THEN
    RAISE EXCEPTION 'request body must be a JSON object' USING ERRCODE = 'AF400';
  END IF;
  RETURN parsed;
END $$;
COMMENT ON FUNCTION authflow.http_body(text) IS 'Internal: the JSON object of a request body ({} when empty); AF400 otherwise';

CREATE OR REPLACE FUNCTION authflow.http_field(body jsonb, field text, json_type text, required boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  value jsonb := body -> field;
BEGIN
  IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
    IF required THEN
      RAISE EXCEPTION '% is required', field USING ERRCODE = 'AF400';
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(value) <> json_type THEN
    RAISE EXCEPTION '% must be a %', field, json_type USING ERRCODE = 'AF400';
  END IF;
  RETURN value;
END $$;
COMMENT ON FUNCTION authflow.http_field(jsonb, text, text, boolean) IS 'Internal: a field of a request body, of a JSON type; AF400 otherwise';

CREATE OR REPLACE FUNCTION authflow.http_string(body jsonb, field text, required boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE
RETURN authflow.http_field(body, field, 'string', required) #>> '{}';
COMMENT ON FUNCTION authflow.http_string(jsonb, text, boolean) IS 'Internal: a string field of a request body';

-- The refresh-token cookie: HTTP-only, Secure, SameSite=Lax, named per tenant. A __Host- name
-- must have Path=/ and no Domain (the browser then refuses it from any other host, a sibling
-- subdomain included); any other name is sent only to the session routes.
CREATE OR REPLACE FUNCTION authflow.http_refresh_cookie(token text, expires_at timestamptz, settings authflow.tenants)
RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT format('%s=%s; Path=%s; Max-Age=%s; HttpOnly; Secure; SameSite=Lax', settings.refresh_cookie_name, token,
                CASE WHEN settings.refresh_cookie_name LIKE '\_\_Host-%' THEN '/' ELSE '/api/v1/sessions' END,
                CASE WHEN token IS NULL THEN 0
                     ELSE greatest(0, floor(extract(epoch FROM expires_at - now())))::bigint END)
$$;
COMMENT ON FUNCTION authflow.http_refresh_cookie(text, timestamptz, authflow.tenants) IS
  'Internal: Set-Cookie for the tenant''s refresh-token cookie (NULL token: clear it)';

CREATE OR REPLACE FUNCTION authflow.http_refresh_token(headers jsonb, settings authflow.tenants)
RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(authflow.http_header(headers, 'refresh_token'),
                  (SELECT nullif(substr(btrim(c.pair), length(settings.refresh_cookie_name) + 2), '')
                     FROM regexp_split_to_table(headers ->> 'cookie', ';') WITH ORDINALITY AS c(pair, position)
                    WHERE starts_with(btrim(c.pair), settings.refresh_cookie_name || '=')
                    ORDER BY c.position LIMIT 1))
$$;
COMMENT ON FUNCTION authflow.http_refresh_token(jsonb, authflow.tenants) IS
  'Internal: the refresh token of a request: the refresh_token header family, else the tenant''s cookie';

-- http_token_of_tenant: false when a refresh token belongs to a session of another tenant; an
-- unknown token is left to the route (it fails there as it would in any tenant).
CREATE OR REPLACE FUNCTION authflow.http_token_of_tenant(refresh_token text, settings authflow.tenants)
RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT coalesce((authflow.session_of_refresh_token(refresh_token)).tenant_id = settings.tenant_id, true) $$;
COMMENT ON FUNCTION authflow.http_token_of_tenant(text, authflow.tenants) IS
  'Internal: false when the refresh token is of a session of another tenant than the request''s';

-- http_server_key_problem is NULL when the request carries a live server key of the tenant, else
-- the error response.
CREATE OR REPLACE FUNCTION authflow.http_server_key_problem(headers jsonb, settings authflow.tenants)
RETURNS authflow.http_response
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  presented text := authflow.http_header(headers, 'server_key');
  key_tenant integer;
BEGIN
  IF presented IS NULL THEN
    RETURN authflow.http_error(401, 'SERVER_KEY_REQUIRED', 'this route needs a server key (x-server-key)');
  END IF;
  SELECT k.tenant_id INTO key_tenant FROM authflow.api_keys AS k
   WHERE k.key_id = (authflow.token_parse(presented, 'key')).row_id
     AND authflow.secure_equal(k.key_hash, (authflow.token_parse(presented, 'key')).secret_hash)
     AND k.revoked_at IS NULL AND k.kind = 'server';
  IF NOT FOUND THEN
    RETURN authflow.http_error(401, 'INVALID_SERVER_KEY', 'the server key is invalid or revoked');
  ELSIF key_tenant <> settings.tenant_id THEN
    RETURN authflow.http_error(403, 'SERVER_KEY_WRONG_PROJECT', 'the server key belongs to another project');
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION authflow.http_server_key_problem(jsonb, authflow.tenants) IS
  'Internal: NULL when the request has a live server key of the tenant, else a 401/403 response';

-- http_path_user_id decodes the {user_id} of /api/v1/users/{user_id}/sessions[/{session_id}].
CREATE OR REPLACE FUNCTION authflow.http_path_user_id(path text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  encoded text := substring(path FROM '^/api/v1/users/([^/]+)/sessions(?:/[^/]+)?$');
BEGIN
  IF encoded ~ '%(?![0-9A-Fa-f]{2})' THEN
    RAISE EXCEPTION 'user_id in the path is not properly percent-encoded' USING ERRCODE = 'AF400';
  END IF;
  RETURN convert_from(string_agg(CASE WHEN part[1] IS NOT NULL THEN decode(substr(part[1], 2), 'hex')
                                      ELSE convert_to(part[2], 'UTF8') END, ''::bytea), 'UTF8')
    FROM regexp_matches(encoded, '(%[0-9A-Fa-f]{2})|([^%]+)', 'g') AS part;
END $$;
COMMENT ON FUNCTION authflow.http_path_user_id(text) IS
  'Internal: the percent-decoded user id of a /api/v1/users/{user_id}/sessions[/{session_id}] path';

-- http_path_session_id is the {session_id} of a path ending in /sessions/{session_id}: a UUID
-- (8-4-4-4-12 hex digits, any case), else AF400 (400 SCHEMA_ERROR).
CREATE OR REPLACE FUNCTION authflow.http_path_session_id(path text)
RETURNS uuid
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  given text := substring(path FROM '/sessions/([^/]+)$');
BEGIN
  IF NOT coalesce(authflow.is_uuid_text(given), false) THEN
    RAISE EXCEPTION 'session_id in the path must be a UUID' USING ERRCODE = 'AF400';
  END IF;
  RETURN given::uuid;
END $$;
COMMENT ON FUNCTION authflow.http_path_session_id(text) IS 'Internal: the {session_id} of a path, a UUID; AF400 otherwise';

-- http_client_address is the address of the client a request came from, as the gateway saw it
-- (x-authflow-client-address: the TCP peer, or what a trusted proxy forwarded; the gateway
-- replaces any such header a client sends). NULL when the header is missing or no address (a
-- caller of authflow.http other than the gateway): then nothing is recorded or counted by it.
CREATE OR REPLACE FUNCTION authflow.http_client_address(headers jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN authflow.require_client_address(nullif(headers ->> 'x-authflow-client-address', ''));
EXCEPTION WHEN invalid_parameter_value THEN
  RETURN NULL;
END $$;
COMMENT ON FUNCTION authflow.http_client_address(jsonb) IS
  'Internal: the client address of a request (x-authflow-client-address, set by the gateway), canonical; NULL when none or invalid';

-- http_user_agent is the request's User-Agent (NULL when empty); session_insert keeps its first
-- 512 characters.
CREATE OR REPLACE FUNCTION authflow.http_user_agent(headers jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN nullif(headers ->> 'user-agent', '');
COMMENT ON FUNCTION authflow.http_user_agent(jsonb) IS 'Internal: the User-Agent of a request, NULL when none';

-- http_access_token_problem is the 401 of a request whose access token is missing (presented
-- false) or invalid, expired or of another tenant (presented true).
CREATE OR REPLACE FUNCTION authflow.http_access_token_problem(presented boolean)
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN presented
            THEN authflow.http_error(401, 'INVALID_ACCESS_TOKEN', 'the access token is invalid or expired', '{"www-authenticate": "Bearer"}')
            ELSE authflow.http_error(401, 'ACCESS_TOKEN_REQUIRED', 'an access token is required (Authorization: Bearer)',
                                     '{"www-authenticate": "Bearer"}') END;
COMMENT ON FUNCTION authflow.http_access_token_problem(boolean) IS
  'Internal: the 401 response for a missing (false) or invalid (true) access token';

-- http_session_not_found answers a session id that is not one of the user's: the same 404
-- whether it is another user's, another tenant's, expired or made up, so it tells nothing.
CREATE OR REPLACE FUNCTION authflow.http_session_not_found()
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN authflow.http_error(404, 'SESSION_NOT_FOUND', 'no such session');
COMMENT ON FUNCTION authflow.http_session_not_found() IS 'Internal: the 404 response for a session id that is not the user''s';

-- http_access_token is the access token of a request: Authorization: Bearer, else the
-- access_token header family (Stack's SDK); NULL when there is none. SQL, so that it is inlined.
CREATE OR REPLACE FUNCTION authflow.http_access_token(headers jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN lower(left(headers ->> 'authorization', 7)) = 'bearer ' THEN ltrim(substr(headers ->> 'authorization', 8))
            ELSE authflow.http_header(headers, 'access_token') END;
COMMENT ON FUNCTION authflow.http_access_token(jsonb) IS
  'Internal: the access token of a request (Authorization: Bearer, else the access_token header family), NULL when none';

-- http_session_json is the body of the hot route's answer, written once in C++ from the same
-- three primary-key probes as session_validate (extension/pg_session_validate.cpp).
CREATE OR REPLACE FUNCTION authflow.http_session_json(access_token text, tenant text)
RETURNS text
AS 'MODULE_PATHNAME', 'authflow_http_session_json'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.http_session_json(text, text) IS
  'Internal: the session of a live access token of that tenant as the JSON text to_jsonb gives session_validate''s row; NULL when there is none';

-- http_session_headers are the headers of the hot route's 200: authflow.http's C++ fast path
-- takes them from here (once per backend), and http_serve writes them.
CREATE OR REPLACE FUNCTION authflow.http_session_headers(tenant_name text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN jsonb_build_object('content-type', 'application/json', 'x-authflow-route', 'GET /api/v1/sessions/current',
                          'x-authflow-tenant', left(tenant_name, 128));
COMMENT ON FUNCTION authflow.http_session_headers(text) IS
  'Internal: the headers of GET /api/v1/sessions/current''s 200 for a tenant';

-- http_session_refused answers GET /api/v1/sessions/current when http_session_json found no
-- session of the request's tenant: the unknown tenant, the invalid token or the missing one,
-- finished as http_answer finishes the answers of the other routes (x-authflow-tenant, and the
-- error-status override). authflow.http's C++ fast path calls it directly, hence SECURITY DEFINER.
CREATE OR REPLACE FUNCTION authflow.http_session_refused(headers jsonb, tenant_name text)
RETURNS authflow.http_response
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  refusal authflow.http_response;
BEGIN
  IF NOT EXISTS (SELECT FROM authflow.tenants AS t WHERE t.name = tenant_name) THEN
    refusal := authflow.http_project_not_found(tenant_name);
  ELSE
    refusal := authflow.http_access_token_problem(authflow.http_access_token(headers) IS NOT NULL);
  END IF;
  refusal.headers := refusal.headers || jsonb_build_object('x-authflow-route', 'GET /api/v1/sessions/current',
                                                           'x-authflow-tenant', left(tenant_name, 128));
  RETURN authflow.http_override_error_status(refusal, headers);
END $$;
COMMENT ON FUNCTION authflow.http_session_refused(jsonb, text) IS
  'Internal: the answer of GET /api/v1/sessions/current without a live session of the request''s tenant (400 or 401)';

-- http_routes is every route authflow.http serves: its path template and allowed methods.
CREATE OR REPLACE FUNCTION authflow.http_routes()
RETURNS TABLE (template text, methods text[])
LANGUAGE sql IMMUTABLE
AS $$
  VALUES
    ('/api/v1/auth/cli', '{POST}'::text[]),
    ('/api/v1/auth/cli/poll', '{POST}'),
    ('/api/v1/auth/cli/complete', '{POST}'),
    ('/api/v1/auth/anonymous/sign-up', '{POST}'),
    ('/api/v1/sessions', '{GET,POST,DELETE}'),
    ('/api/v1/sessions/current', '{GET,DELETE}'),
    ('/api/v1/sessions/current/refresh', '{POST}'),
    ('/api/v1/sessions/{session_id}', '{DELETE}'),
    ('/api/v1/users/{user_id}/sessions', '{GET,DELETE}'),
    ('/api/v1/users/{user_id}/sessions/{session_id}', '{DELETE}'),
    ('/healthz', '{GET}')
  UNION ALL SELECT o.template, o.methods FROM authflow.http_oauth_routes() AS o  -- device login (77_oauth.sql)
$$;
COMMENT ON FUNCTION authflow.http_routes() IS 'Every route authflow.http serves, with its allowed methods';

-- http_route is the route of a path: its template and methods; no row when unknown. A template
-- written out wins over one with parameters ({name}: one path segment), so /api/v1/sessions/current
-- is never taken for a session id.
CREATE OR REPLACE FUNCTION authflow.http_route(path text)
RETURNS TABLE (template text, methods text[])
LANGUAGE sql IMMUTABLE
AS $$
  SELECT r.template, r.methods FROM authflow.http_routes() AS r
   WHERE r.template = path
      OR (strpos(r.template, '{') > 0 AND path ~ ('^' || regexp_replace(r.template, '\{[a-z_]+\}', '[^/]+', 'g') || '$'))
   ORDER BY r.template = path DESC
   LIMIT 1
$$;
COMMENT ON FUNCTION authflow.http_route(text) IS 'Internal: the route template of a path and its allowed methods';

-- http_dispatch serves every route but the hot one; it may raise (authflow.http maps the error).
CREATE OR REPLACE FUNCTION authflow.http_dispatch(method text, template text, path text, headers jsonb, body text)
RETURNS authflow.http_response
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tenant_name text := authflow.http_tenant_name(headers);
  settings authflow.tenants;
  request jsonb := '{}';
  problem authflow.http_response;
  millis numeric;
  mode text;
  token text;
  result record;
  holder record;
  revoked integer;
  wait integer;
BEGIN
  IF template = '/healthz' THEN
    RETURN authflow.http_json(200, '{"status": "ok"}');
  ELSIF template IN (SELECT o.template FROM authflow.http_oauth_routes() AS o) THEN  -- form bodies, the RFC's errors
    RETURN authflow.http_oauth(template, headers, body);
  END IF;
  SELECT * INTO settings FROM authflow.tenants AS t WHERE t.name = tenant_name;
  IF NOT FOUND THEN
    RETURN authflow.http_project_not_found(tenant_name);
  END IF;
  IF method = 'POST' THEN
    request := authflow.http_body(body);
  END IF;

  CASE template
  WHEN '/api/v1/auth/cli' THEN
    wait := authflow.rate_limit_hit(settings.tenant_id, 'cli_start', authflow.http_client_address(headers));
    IF wait IS NOT NULL THEN
      RETURN authflow.http_too_many_requests(wait);
    END IF;
    millis := authflow.http_field(request, 'expires_in_millis', 'number')::numeric;
    IF millis <= 0 OR millis > extract(epoch FROM settings.cli_attempt_max_ttl) * 1000 THEN
      RAISE EXCEPTION 'expires_in_millis must be greater than 0 and at most %', (extract(epoch FROM settings.cli_attempt_max_ttl) * 1000)::bigint
        USING ERRCODE = 'AF400';
    END IF;
    SELECT * INTO result FROM authflow.cli_start(make_interval(secs => millis / 1000),
                                                 authflow.http_string(request, 'anon_refresh_token'), NULL, settings.name);
    RETURN authflow.http_json(200, jsonb_build_object('polling_code', result.polling_code, 'login_code', result.login_code,
                                                      'expires_at', result.expires_at));

  WHEN '/api/v1/auth/cli/poll' THEN
    SELECT * INTO result FROM authflow.cli_poll(authflow.http_string(request, 'polling_code', true), settings.name,
                                                authflow.http_client_address(headers), authflow.http_user_agent(headers));
    IF result.status = 'success' THEN
      RETURN authflow.http_json(201, jsonb_build_object('status', result.status, 'refresh_token', result.refresh_token,
                                                        'access_token', result.access_token));
    END IF;
    RETURN authflow.http_json(200, jsonb_build_object('status', result.status));

  WHEN '/api/v1/auth/cli/complete' THEN
    mode := coalesce(authflow.http_string(request, 'mode'), 'complete');
    IF mode NOT IN ('check', 'claim-anon-session', 'complete') THEN
      RAISE EXCEPTION 'mode must be check, claim-anon-session or complete' USING ERRCODE = 'AF400';
    END IF;
    token := authflow.http_string(request, 'login_code', true);
    IF mode = 'check' THEN
      RETURN authflow.http_json(200, jsonb_build_object('cli_session_state', authflow.cli_check(token, settings.name)));
    ELSIF mode = 'claim-anon-session' THEN
      SELECT * INTO result FROM authflow.cli_claim_anon_session(token, settings.name, authflow.http_client_address(headers),
                                                                authflow.http_user_agent(headers));
      RETURN authflow.http_json(200, jsonb_build_object('access_token', result.access_token, 'refresh_token', result.refresh_token));
    END IF;
    PERFORM authflow.cli_complete(token, authflow.http_string(request, 'refresh_token'),
                                  coalesce((authflow.http_field(request, 'merge', 'boolean'))::boolean, false), settings.name);
    RETURN authflow.http_json(200, '{"success": true}');

  WHEN '/api/v1/auth/anonymous/sign-up' THEN
    wait := authflow.rate_limit_hit(settings.tenant_id, 'anonymous_sign_up', authflow.http_client_address(headers));
    IF wait IS NOT NULL THEN
      RETURN authflow.http_too_many_requests(wait);
    END IF;
    SELECT * INTO result FROM authflow.user_create_anonymous(settings.name, authflow.http_client_address(headers),
                                                             authflow.http_user_agent(headers));
    RETURN authflow.http_json(200, to_jsonb(result));

  WHEN '/api/v1/sessions' THEN
    IF method <> 'POST' THEN  -- GET: the devices of the token's user; DELETE: sign out all others
      SELECT * INTO holder FROM authflow.session_validate(authflow.http_access_token(headers)) AS v
       WHERE v.tenant = settings.name;
      IF holder.session_id IS NULL THEN
        RETURN authflow.http_access_token_problem(authflow.http_access_token(headers) IS NOT NULL);
      ELSIF method = 'GET' THEN
        RETURN authflow.http_json(200, jsonb_build_object('sessions', (
          SELECT coalesce(jsonb_agg(to_jsonb(s) || jsonb_build_object('is_current', s.session_id = holder.session_id)
                                    ORDER BY s.created_at, s.session_id), '[]')
            FROM authflow.session_list(holder.user_id, settings.name) AS s)));
      END IF;
      revoked := authflow.session_revoke_others(holder.user_id, holder.session_id, settings.name);
      RETURN authflow.http_json(200, jsonb_build_object('deleted', revoked));
    END IF;
    -- POST (server key): the application's server makes the session, so the request's own
    -- address and user agent are the server's: the device's come in the body, when known.
    problem := authflow.http_server_key_problem(headers, settings);
    IF problem IS NOT NULL THEN RETURN problem; END IF;
    SELECT * INTO result FROM authflow.session_create(
      authflow.http_string(request, 'user_id', true), authflow.http_string(request, 'handle'),
      authflow.http_field(request, 'client', 'object'), settings.name,
      authflow.http_string(request, 'client_address'), authflow.http_string(request, 'user_agent'));
    RETURN authflow.http_json(201, to_jsonb(result) || jsonb_build_object('user_id', request ->> 'user_id'));

  WHEN '/api/v1/sessions/{session_id}' THEN  -- DELETE: sign out one device of the token's user
    SELECT * INTO holder FROM authflow.session_validate(authflow.http_access_token(headers)) AS v
     WHERE v.tenant = settings.name;
    IF holder.session_id IS NULL THEN
      RETURN authflow.http_access_token_problem(authflow.http_access_token(headers) IS NOT NULL);
    END IF;
    IF NOT authflow.session_revoke_by_id(holder.user_id, authflow.http_path_session_id(path), settings.name) THEN
      RETURN authflow.http_session_not_found();
    END IF;
    RETURN ROW(204, '{}', NULL)::authflow.http_response;

  WHEN '/api/v1/sessions/current' THEN  -- DELETE: log out; GET is served by authflow.http itself
    token := authflow.http_refresh_token(headers, settings);
    IF token IS NOT NULL AND NOT authflow.http_token_of_tenant(token, settings) THEN
      RETURN authflow.http_error(401, 'INVALID_REFRESH_TOKEN', 'the refresh token is invalid or expired',
                                 jsonb_build_object('set-cookie', authflow.http_refresh_cookie(NULL, NULL, settings)));
    END IF;
    IF token IS NOT NULL THEN
      PERFORM authflow.session_revoke(token);
    END IF;
    RETURN ROW(204, jsonb_build_object('set-cookie', authflow.http_refresh_cookie(NULL, NULL, settings)), NULL)::authflow.http_response;

  WHEN '/api/v1/sessions/current/refresh' THEN
    token := authflow.http_refresh_token(headers, settings);
    IF token IS NULL THEN
      RETURN authflow.http_error(401, 'REFRESH_TOKEN_REQUIRED', 'a refresh token is required (cookie or x-refresh-token)',
                                 jsonb_build_object('set-cookie', authflow.http_refresh_cookie(NULL, NULL, settings)));
    END IF;
    -- Another tenant's token refreshes nothing; an unknown one finds no session.
    problem := authflow.http_error(401, 'INVALID_REFRESH_TOKEN', 'the refresh token is invalid or expired',
                                   jsonb_build_object('set-cookie', authflow.http_refresh_cookie(NULL, NULL, settings)));
    IF NOT authflow.http_token_of_tenant(token, settings) THEN
      RETURN problem;
    END IF;
    SELECT * INTO result FROM authflow.session_refresh(token);
    IF result.session_id IS NULL THEN
      RETURN problem;
    END IF;
    -- With rotation, the new refresh token replaces the cookie and is in the body; without, the
    -- cookie is set again with the same token (its expiry slid).
    RETURN authflow.http_json(200, to_jsonb(result) - 'new_refresh_token'
                                   || jsonb_strip_nulls(jsonb_build_object('refresh_token', result.new_refresh_token)),
                              jsonb_build_object('set-cookie', authflow.http_refresh_cookie(
                                coalesce(result.new_refresh_token, token), result.expires_at, settings)));

  WHEN '/api/v1/users/{user_id}/sessions' THEN
    problem := authflow.http_server_key_problem(headers, settings);
    IF problem IS NOT NULL THEN RETURN problem; END IF;
    IF method = 'GET' THEN
      RETURN authflow.http_json(200, jsonb_build_object('sessions', (
        SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]') FROM authflow.session_list(authflow.http_path_user_id(path), settings.name) AS s)));
    END IF;
    revoked := authflow.session_revoke_all(authflow.http_path_user_id(path), settings.name);
    RETURN authflow.http_json(200, jsonb_build_object('deleted', revoked));

  WHEN '/api/v1/users/{user_id}/sessions/{session_id}' THEN  -- DELETE
    problem := authflow.http_server_key_problem(headers, settings);
    IF problem IS NOT NULL THEN RETURN problem; END IF;
    IF NOT authflow.session_revoke_by_id(authflow.http_path_user_id(path), authflow.http_path_session_id(path), settings.name) THEN
      RETURN authflow.http_session_not_found();
    END IF;
    RETURN ROW(204, '{}', NULL)::authflow.http_response;
  END CASE;
END $$;
COMMENT ON FUNCTION authflow.http_dispatch(text, text, text, jsonb, text) IS 'Internal: serves a routed request';

-- http_answer finishes every response of authflow.http: the error-status override a client asked
-- for, and the tenant the request named, for the gateway's access log (x-authflow-tenant, which
-- the gateway takes out of the response like x-authflow-route).
CREATE OR REPLACE FUNCTION authflow.http_answer(response authflow.http_response, headers jsonb)
RETURNS authflow.http_response
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  response := authflow.http_override_error_status(response, headers);
  response.headers := response.headers || jsonb_build_object('x-authflow-tenant', left(authflow.http_tenant_name(headers), 128));
  RETURN response;
END $$;
COMMENT ON FUNCTION authflow.http_answer(authflow.http_response, jsonb) IS
  'Internal: a response with the error-status override applied and x-authflow-tenant set';

-- http_serve is the HTTP API in SQL, every route: authflow.http serves the hot route's 200 itself
-- and hands every other request here.
CREATE OR REPLACE FUNCTION authflow.http_serve(method text, path text, headers jsonb, body text)
RETURNS authflow.http_response
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  route_path text := split_part(path, '?', 1);
  tenant_name text;
  session_json text;
  template text;
  methods text[];
  response authflow.http_response;
  state text;
  message text;
BEGIN
  -- The hot route, GET /api/v1/sessions/current (with or without a query string), first: no route
  -- lookup, no subtransaction, no query, nothing raised on the way to its 200. The tenant rule is
  -- that of every route: the request's tenant (default without a header) must be the token's.
  -- The body is written once, as text, by http_session_json.
  IF route_path = '/api/v1/sessions/current' AND method = 'GET' THEN
    tenant_name := authflow.http_tenant_name(headers);
    session_json := authflow.http_session_json(authflow.http_access_token(headers), tenant_name);
    IF session_json IS NULL THEN
      RETURN authflow.http_session_refused(headers, tenant_name);
    END IF;
    RETURN ROW(200, authflow.http_session_headers(tenant_name), session_json);
  END IF;
  SELECT r.template, r.methods INTO template, methods FROM authflow.http_route(route_path) AS r;
  IF template IS NULL THEN
    RETURN authflow.http_answer(authflow.http_error(404, 'NOT_FOUND', 'no such route', '{"x-authflow-route": "other"}'), headers);
  ELSIF method IS NULL OR NOT method = ANY (methods) THEN
    response := authflow.http_error(405, 'METHOD_NOT_ALLOWED', 'method not allowed',
                                    jsonb_build_object('allow', array_to_string(methods, ', ')));
  ELSE
    -- A client's mistake rolls back what the request did (the block's subtransaction) and becomes
    -- a 4xx; anything else is raised again for the gateway (retry on 40001/40P01, else 5xx).
    BEGIN
      response := authflow.http_dispatch(method, template, route_path, coalesce(headers, '{}'), body);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
      response := authflow.http_error_for(state, message);
      IF response IS NULL THEN
        RAISE;
      END IF;
    END;
  END IF;
  -- The metrics label is a route template with one of its methods, or "other": never the
  -- client's raw method (each distinct label is a series the gateway keeps).
  response.headers := response.headers || jsonb_build_object('x-authflow-route',
    CASE WHEN method = ANY (methods) THEN method || ' ' || template ELSE 'other' END);
  RETURN authflow.http_answer(response, headers);
END $$;
COMMENT ON FUNCTION authflow.http_serve(text, text, jsonb, text) IS
  'Internal: the HTTP API in SQL, every route; authflow.http answers with it (and serves the hot route''s 200 itself)';

-- authflow.http is C++ (extension/pg_http.cpp) in front of http_serve: GET /api/v1/sessions/current
-- with a bearer token of the default tenant (no tenant header) is answered there, from the same
-- lookup as http_session_json and the headers of http_session_headers, without a PL/pgSQL call,
-- a GUC switch or a jsonb value built per request; http_session_refused answers when the token
-- finds no session, and http_serve every other request. It reads the tables like a SECURITY
-- DEFINER function and resolves nothing by the caller's search_path; EXECUTE on it is what the
-- gateway's role is granted. tests/sql/http.sql holds its answers equal to http_serve's.
CREATE OR REPLACE FUNCTION authflow.http(method text, path text, headers jsonb, body text)
RETURNS SETOF authflow.http_response
AS 'MODULE_PATHNAME', 'authflow_http'
LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION authflow.http(text, text, jsonb, text) IS
  'The HTTP API in one function: routes a request (method, path with optional query, lower-case headers, body) and returns status, headers and body. The gateway calls only this.';
