-- HTTP of the device login (RFC 8628): the RFC's endpoints, /oauth/device_authorization and
-- /oauth/token (form-encoded requests, JSON answers, the RFC's error values, never cached), and
-- the verification page's backend under /api/v1/device (authflow's JSON conventions). authflow.http
-- routes here through http_oauth_routes and http_oauth; see docs/http-api.md, "Device login
-- (RFC 8628)".

CREATE OR REPLACE FUNCTION authflow.http_oauth_routes()
RETURNS TABLE (template text, methods text[])
LANGUAGE sql IMMUTABLE
AS $$
  VALUES
    ('/oauth/device_authorization', '{POST}'::text[]),
    ('/oauth/token', '{POST}'),
    ('/api/v1/device/lookup', '{POST}'),
    ('/api/v1/device/approve', '{POST}'),
    ('/api/v1/device/deny', '{POST}')
$$;
COMMENT ON FUNCTION authflow.http_oauth_routes() IS 'Internal: the routes of the device login, part of authflow.http_routes()';

-- http_percent_decode decodes %XX escapes (and, in a form, + as a space) into UTF-8 text; AF400
-- for a malformed escape or bytes that are not UTF-8 (or NUL).
CREATE OR REPLACE FUNCTION authflow.http_percent_decode(encoded text, plus_is_space boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF encoded ~ '%(?![0-9A-Fa-f]{2})' THEN
    RAISE EXCEPTION 'malformed percent-encoding in the request body' USING ERRCODE = 'AF400';
  END IF;
  IF plus_is_space THEN
    encoded := replace(encoded, '+', ' ');
  END IF;
  RETURN coalesce(convert_from(string_agg(CASE WHEN part[1] IS NOT NULL THEN decode(substr(part[1], 2), 'hex')
                                               ELSE convert_to(part[2], 'UTF8') END, ''::bytea), 'UTF8'), '')
    FROM regexp_matches(encoded, '(%[0-9A-Fa-f]{2})|([^%]+)', 'g') AS part;
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
  RAISE EXCEPTION 'the request body does not decode to UTF-8 text' USING ERRCODE = 'AF400';
END $$;
COMMENT ON FUNCTION authflow.http_percent_decode(text, boolean) IS
  'Internal: percent-decoded UTF-8 text (+ as space when asked); AF400 for malformed escapes, bytes that are not UTF-8, or NUL';

-- http_form parses an application/x-www-form-urlencoded body, strictly: name=value pairs joined
-- by &, visible ASCII only (anything else percent-encoded), well-formed %XX escapes decoding to
-- UTF-8, each name at most once (RFC 6749 section 3.1). An empty body is {}. AF400 otherwise,
-- AF413 over 64 KiB.
CREATE OR REPLACE FUNCTION authflow.http_form(body text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  form jsonb := '{}';
  pair text;
  name text;
BEGIN
  IF octet_length(body) > 65536 THEN
    RAISE EXCEPTION 'request body must be at most 65536 bytes' USING ERRCODE = 'AF413';
  END IF;
  IF body IS NULL OR body = '' THEN
    RETURN form;
  END IF;
  IF body ~ '[^!-~]' THEN
    RAISE EXCEPTION 'the request body must be form-encoded: visible ASCII characters only, the rest percent-encoded'
      USING ERRCODE = 'AF400';
  END IF;
  FOREACH pair IN ARRAY string_to_array(body, '&') LOOP
    IF pair !~ '^[^=]+=' THEN
      RAISE EXCEPTION 'every parameter of the request body must be name=value' USING ERRCODE = 'AF400';
    END IF;
    name := authflow.http_percent_decode(split_part(pair, '=', 1), true);
    IF form ? name THEN
      RAISE EXCEPTION 'parameter "%" is given more than once', left(name, 64) USING ERRCODE = 'AF400';
    END IF;
    form := form || jsonb_build_object(name, authflow.http_percent_decode(substr(pair, strpos(pair, '=') + 1), true));
  END LOOP;
  RETURN form;
END $$;
COMMENT ON FUNCTION authflow.http_form(text) IS
  'Internal: the parameters of an application/x-www-form-urlencoded body as a JSON object of strings; AF400 for anything malformed or repeated';

-- http_form_parameter is a parameter of a form, or, when required and missing or empty, AF400.
CREATE OR REPLACE FUNCTION authflow.http_form_parameter(form jsonb, name text, required boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF required AND coalesce(form ->> name, '') = '' THEN
    RAISE EXCEPTION '% is required', name USING ERRCODE = 'AF400';
  END IF;
  RETURN form ->> name;
END $$;
COMMENT ON FUNCTION authflow.http_form_parameter(jsonb, text, boolean) IS 'Internal: a parameter of a form body; AF400 when required and missing';

-- http_media_type_is: the request's content-type is the given type (parameters aside; a charset
-- must be UTF-8).
CREATE OR REPLACE FUNCTION authflow.http_media_type_is(headers jsonb, media_type text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
RETURN coalesce(lower(btrim(split_part(headers ->> 'content-type', ';', 1))) = media_type
                AND coalesce(substring(lower(headers ->> 'content-type') FROM ';\s*charset\s*=\s*"?([^";\s]*)') IN ('utf-8', 'utf8'), true),
                false);
COMMENT ON FUNCTION authflow.http_media_type_is(jsonb, text) IS 'Internal: true when the request''s content-type is the media type (charset, if any, UTF-8)';

-- The RFC's answers: JSON that no cache keeps (RFC 6749 section 5.1).
CREATE OR REPLACE FUNCTION authflow.http_oauth_json(status integer, body jsonb, extra_headers jsonb DEFAULT '{}')
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN authflow.http_json(status, body, jsonb_build_object('cache-control', 'no-store', 'pragma', 'no-cache') || extra_headers);
COMMENT ON FUNCTION authflow.http_oauth_json(integer, jsonb, jsonb) IS 'Internal: a JSON response of the OAuth endpoints (Cache-Control: no-store, Pragma: no-cache)';

CREATE OR REPLACE FUNCTION authflow.http_oauth_error(error text, description text, status integer DEFAULT 400,
                                                     extra_body jsonb DEFAULT '{}', extra_headers jsonb DEFAULT '{}')
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
RETURN authflow.http_oauth_json(status, jsonb_build_object('error', error, 'error_description', description) || extra_body,
                                extra_headers);
COMMENT ON FUNCTION authflow.http_oauth_error(text, text, integer, jsonb, jsonb) IS
  'Internal: an OAuth error response {error, error_description} (RFC 6749 section 5.2)';

-- http_oauth_error_for maps an error raised while serving an OAuth endpoint to the RFC's error
-- value, or NULL when it is no client error (raised again, as by authflow.http).
CREATE OR REPLACE FUNCTION authflow.http_oauth_error_for(state text, message text)
RETURNS authflow.http_response
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN state = 'AF050' THEN authflow.http_oauth_error('invalid_client', message)
    WHEN state = 'AF051' THEN authflow.http_oauth_error('invalid_scope', message)
    WHEN state IN ('AF052', 'AF053') THEN authflow.http_oauth_error('invalid_grant', message)
    WHEN state = 'AF413' THEN authflow.http_oauth_error('invalid_request', message, 413)
    WHEN state = '22023' OR state LIKE 'AF%' THEN authflow.http_oauth_error('invalid_request', message)
    WHEN state LIKE '22%' THEN authflow.http_oauth_error('invalid_request', 'invalid value in the request')
    WHEN state LIKE '54%' THEN authflow.http_oauth_error('invalid_request', 'the request is too large')
  END
$$;
COMMENT ON FUNCTION authflow.http_oauth_error_for(text, text) IS
  'Internal: the OAuth error response for a SQLSTATE (AF050 invalid_client, AF051 invalid_scope, AF052/AF053 invalid_grant, the rest of the client''s mistakes invalid_request), NULL when it is no client error';

-- http_oauth_tokens is a successful token response (RFC 6749 section 5.1).
CREATE OR REPLACE FUNCTION authflow.http_oauth_tokens(access_token text, access_expires_at timestamptz, refresh_token text,
                                                      scope text)
RETURNS authflow.http_response
LANGUAGE sql STABLE
RETURN authflow.http_oauth_json(200, jsonb_strip_nulls(jsonb_build_object(
  'access_token', access_token, 'token_type', 'Bearer',
  'expires_in', greatest(0, floor(extract(epoch FROM access_expires_at - now())))::integer,
  'refresh_token', refresh_token, 'scope', scope)));
COMMENT ON FUNCTION authflow.http_oauth_tokens(text, timestamptz, text, text) IS
  'Internal: the token response {access_token, token_type: Bearer, expires_in, refresh_token, scope}';

-- http_oauth_grant serves the two endpoints once the tenant and the rate limit are settled; it
-- may raise (http_oauth maps the error to the RFC's value).
CREATE OR REPLACE FUNCTION authflow.http_oauth_grant(template text, headers jsonb, body text, settings authflow.tenants)
RETURNS authflow.http_response
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  form jsonb;
  grant_type text;
  client_id text;
  result record;
BEGIN
  IF NOT authflow.http_media_type_is(headers, 'application/x-www-form-urlencoded') THEN
    RETURN authflow.http_oauth_error('invalid_request', 'content-type must be application/x-www-form-urlencoded');
  END IF;
  form := authflow.http_form(body);
  IF template = '/oauth/device_authorization' THEN
    SELECT * INTO result FROM authflow.device_authorize(authflow.http_form_parameter(form, 'client_id', true),
                                                        authflow.http_form_parameter(form, 'scope'), settings.name);
    RETURN authflow.http_oauth_json(200, jsonb_build_object(
      'device_code', result.device_code, 'user_code', result.user_code, 'verification_uri', result.verification_uri,
      'verification_uri_complete', result.verification_uri_complete, 'expires_in', result.expires_in,
      'interval', result.poll_interval));
  END IF;

  grant_type := authflow.http_form_parameter(form, 'grant_type', true);
  IF grant_type NOT IN ('urn:ietf:params:oauth:grant-type:device_code', 'refresh_token') THEN
    RETURN authflow.http_oauth_error('unsupported_grant_type',
                                     'grant_type must be urn:ietf:params:oauth:grant-type:device_code or refresh_token');
  END IF;
  client_id := authflow.http_form_parameter(form, 'client_id', true);
  IF grant_type = 'refresh_token' THEN
    SELECT * INTO result FROM authflow.oauth_refresh(authflow.http_form_parameter(form, 'refresh_token', true), client_id,
                                                     authflow.http_form_parameter(form, 'scope'), settings.name);
    IF result.access_token IS NULL THEN
      RETURN authflow.http_oauth_error('invalid_grant', 'the refresh token is invalid, expired, revoked or not of this client');
    END IF;
    RETURN authflow.http_oauth_tokens(result.access_token, result.access_expires_at, result.new_refresh_token, result.scope);
  END IF;

  SELECT * INTO result FROM authflow.device_poll(authflow.http_form_parameter(form, 'device_code', true), client_id,
                                                 settings.name, authflow.http_client_address(headers),
                                                 authflow.http_user_agent(headers));
  RETURN CASE result.status
    WHEN 'success' THEN authflow.http_oauth_tokens(result.access_token, result.access_expires_at, result.refresh_token, result.scope)
    WHEN 'authorization_pending' THEN authflow.http_oauth_error(result.status, 'the user has not answered yet')
    WHEN 'slow_down' THEN authflow.http_oauth_error(result.status, format('poll at most every %s seconds', result.poll_interval),
                                                    400, jsonb_build_object('interval', result.poll_interval))
    WHEN 'access_denied' THEN authflow.http_oauth_error(result.status, 'the user denied the login')
    ELSE authflow.http_oauth_error('expired_token', 'the device code has expired; start again') END;
END $$;
COMMENT ON FUNCTION authflow.http_oauth_grant(text, jsonb, text, authflow.tenants) IS
  'Internal: POST /oauth/device_authorization and POST /oauth/token (device_code and refresh_token grants)';

-- http_device_page serves the verification page's backend: JSON in and out, as every authflow
-- route. It needs content-type application/json: a page of another site cannot send that without
-- a CORS preflight, which the gateway never grants, so it cannot make a signed-in browser approve
-- the attacker's device (the refresh cookie is SameSite=Lax too). A failed entry is answered,
-- not raised, so that it stays counted.
CREATE OR REPLACE FUNCTION authflow.http_device_page(template text, headers jsonb, body text, settings authflow.tenants)
RETURNS authflow.http_response
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  request jsonb;
  user_code text;
  client_address text := authflow.http_client_address(headers);
  refresh_token text;
  found record;
  done boolean;
  wait text;
  unknown constant authflow.http_response :=
    authflow.http_error(400, 'INVALID_USER_CODE', 'the user code is invalid, expired or already answered');
BEGIN
  IF NOT authflow.http_media_type_is(headers, 'application/json') THEN
    RETURN authflow.http_error(415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type must be application/json');
  END IF;
  request := authflow.http_body(body);
  user_code := authflow.http_string(request, 'user_code', true);
  IF template = '/api/v1/device/approve' THEN
    refresh_token := coalesce(authflow.http_string(request, 'refresh_token'), authflow.http_refresh_token(headers, settings));
    IF refresh_token IS NULL THEN
      RETURN authflow.http_error(401, 'REFRESH_TOKEN_REQUIRED', 'a refresh token is required (body, x-refresh-token or cookie)');
    END IF;
  END IF;
  BEGIN
    IF template = '/api/v1/device/lookup' THEN
      SELECT * INTO found FROM authflow.device_lookup(user_code, settings.name, client_address);
      IF found.client_id IS NULL THEN
        RETURN unknown;
      END IF;
      RETURN authflow.http_json(200, to_jsonb(found));
    ELSIF template = '/api/v1/device/approve' THEN
      done := authflow.device_approve(user_code, refresh_token, settings.name, client_address);
    ELSE
      done := authflow.device_deny(user_code, settings.name, client_address);
    END IF;
  EXCEPTION WHEN SQLSTATE 'AF054' THEN
    GET STACKED DIAGNOSTICS wait = PG_EXCEPTION_DETAIL;
    RETURN authflow.http_too_many_requests(wait::integer);
  END;
  RETURN CASE WHEN done THEN authflow.http_json(200, '{"success": true}') ELSE unknown END;
END $$;
COMMENT ON FUNCTION authflow.http_device_page(text, jsonb, text, authflow.tenants) IS
  'Internal: POST /api/v1/device/lookup, /approve and /deny (the verification page''s backend)';

-- http_oauth serves every route of http_oauth_routes: the tenant, the rate limit of device
-- authorizations (counted whatever the request's fate), and the RFC's error values.
CREATE OR REPLACE FUNCTION authflow.http_oauth(template text, headers jsonb, body text)
RETURNS authflow.http_response
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tenant_name text := authflow.http_tenant_name(headers);
  settings authflow.tenants;
  wait integer;
  state text;
  message text;
  response authflow.http_response;
BEGIN
  SELECT * INTO settings FROM authflow.tenants AS t WHERE t.name = tenant_name;
  IF NOT FOUND THEN
    RETURN CASE WHEN template LIKE '/api/v1/device/%' THEN authflow.http_project_not_found(tenant_name)
                ELSE authflow.http_oauth_error('invalid_client', format('project "%s" does not exist', left(tenant_name, 128))) END;
  ELSIF template LIKE '/api/v1/device/%' THEN
    RETURN authflow.http_device_page(template, headers, body, settings);
  END IF;
  IF template = '/oauth/device_authorization' THEN
    wait := authflow.rate_limit_hit(settings.tenant_id, 'device_authorization', authflow.http_client_address(headers));
    IF wait IS NOT NULL THEN
      RETURN authflow.http_oauth_error('too_many_requests', 'too many device authorizations, try again later', 429, '{}',
                                       jsonb_build_object('retry-after', wait::text));
    END IF;
  END IF;
  BEGIN
    RETURN authflow.http_oauth_grant(template, headers, body, settings);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
    response := authflow.http_oauth_error_for(state, message);
    IF response IS NULL THEN
      RAISE;
    END IF;
    RETURN response;
  END;
END $$;
COMMENT ON FUNCTION authflow.http_oauth(text, jsonb, text) IS 'Internal: serves the routes of the device login (http_oauth_routes)';
