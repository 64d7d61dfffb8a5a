-- Internal helpers: argument checks and tenant lookup. Each raises 22023 naming the argument.

CREATE OR REPLACE FUNCTION authflow.require_text(value text, argument text, max_length integer DEFAULT 256)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value IS NULL OR value = '' THEN
    RAISE EXCEPTION '% must not be empty', argument USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF octet_length(value) > max_length THEN
    RAISE EXCEPTION '% must be at most % bytes', argument, max_length USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN value;
END $$;
COMMENT ON FUNCTION authflow.require_text(text, text, integer) IS
  'Internal: value when it is non-empty and at most max_length bytes, else 22023 naming the argument';

CREATE OR REPLACE FUNCTION authflow.require_client(client jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF client IS NOT NULL AND (jsonb_typeof(client) <> 'object' OR octet_length(client::text) > 4096) THEN
    RAISE EXCEPTION 'client must be a JSON object of at most 4096 bytes' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN client;
END $$;
COMMENT ON FUNCTION authflow.require_client(jsonb) IS 'Internal: client info when it is a small JSON object, else 22023';

-- require_client_address is a client address when it is one (IPv4 or IPv6), else 22023.
CREATE OR REPLACE FUNCTION authflow.require_client_address(client_address text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF client_address IS NULL THEN
    RETURN NULL;
  END IF;
  IF octet_length(client_address) > 64 OR client_address !~ '^[0-9A-Fa-f:.]+$' THEN
    RAISE EXCEPTION 'client_address must be an IPv4 or IPv6 address' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN host(client_address::inet);
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'client_address must be an IPv4 or IPv6 address' USING ERRCODE = 'invalid_parameter_value';
END $$;
COMMENT ON FUNCTION authflow.require_client_address(text) IS 'Internal: a valid client address (canonical text), else 22023';

-- is_uuid_text: a UUID written as 8-4-4-4-12 hex digits, in any case (the form Stack's project
-- ids and authflow's session ids take in text; braces or no hyphens are other text).
CREATE OR REPLACE FUNCTION authflow.is_uuid_text(value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN length(value) = 36 AND value ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
COMMENT ON FUNCTION authflow.is_uuid_text(text) IS 'Internal: whether a text is a UUID of 8-4-4-4-12 hex digits (any case)';

-- tenant_canonical_name: a tenant name that is a UUID (8-4-4-4-12 hex digits, as Stack names its
-- projects) is written in lower case, so that the case of its digits never names another tenant;
-- any other name is returned as it is (names are case-sensitive: Acme and acme are two tenants).
CREATE OR REPLACE FUNCTION authflow.tenant_canonical_name(tenant text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN CASE WHEN authflow.is_uuid_text(tenant) THEN lower(tenant)
            ELSE tenant END;
COMMENT ON FUNCTION authflow.tenant_canonical_name(text) IS
  'The canonical form of a tenant name: a UUID in lower case, any other name unchanged';

CREATE OR REPLACE FUNCTION authflow.require_tenant(tenant text)
RETURNS authflow.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants;
BEGIN
  SELECT * INTO settings FROM authflow.tenants AS t WHERE t.name = authflow.tenant_canonical_name(tenant);
  IF NOT FOUND THEN
    IF tenant IS NULL OR tenant = '' THEN
      RAISE EXCEPTION 'tenant must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'tenant "%" does not exist', left(tenant, 128) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN settings;
END $$;
COMMENT ON FUNCTION authflow.require_tenant(text) IS 'Internal: the settings of a tenant, or 22023 when there is no such tenant';

CREATE OR REPLACE FUNCTION authflow.require_user_arguments(user_id text, handle text, tenant text)
RETURNS authflow.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM authflow.require_text(user_id, 'user_id');
  IF handle IS NOT NULL THEN
    PERFORM authflow.require_text(handle, 'handle');
  END IF;
  RETURN authflow.require_tenant(tenant);
END $$;
COMMENT ON FUNCTION authflow.require_user_arguments(text, text, text) IS
  'Internal: the tenant''s settings when user_id (and handle, when given) and the tenant are valid, else 22023';

CREATE OR REPLACE FUNCTION authflow.require_session_arguments(user_id text, session_id uuid, tenant text)
RETURNS authflow.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF session_id IS NULL THEN
    RAISE EXCEPTION 'session_id must not be empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN authflow.require_user_arguments(user_id, NULL, tenant);
END $$;
COMMENT ON FUNCTION authflow.require_session_arguments(text, uuid, text) IS
  'Internal: the tenant''s settings when user_id, session_id and the tenant are valid, else 22023';

-- session_expiry is when a session refreshed (or created) at `at` expires: now + TTL, never past
-- the tenant's absolute cap.
CREATE OR REPLACE FUNCTION authflow.session_expiry(settings authflow.tenants, created_at timestamptz, at timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(at + settings.session_ttl, created_at + settings.session_max_lifetime);
COMMENT ON FUNCTION authflow.session_expiry(authflow.tenants, timestamptz, timestamptz) IS
  'Internal: the sliding expiry of a session at a time, capped by the tenant''s session_max_lifetime';
