-- Rate limits on unauthenticated writes (anonymous sign-up, CLI start) over HTTP: a counter per
-- minute per tenant and client address, and one per tenant. authflow.http applies them; a backend
-- that offers these calls to the internet by other means can call authflow.rate_limit_hit itself.

-- rate_limit_defaults are the limits of a tenant that has set none.
CREATE OR REPLACE FUNCTION authflow.rate_limit_defaults()
RETURNS TABLE (action text, per_address_per_minute integer, per_tenant_per_minute integer)
LANGUAGE sql IMMUTABLE
AS $$
  VALUES ('anonymous_sign_up', 30, 3000), ('cli_start', 30, 3000), ('device_authorization', 30, 3000),
         ('device_user_code', 10, 300)
$$;
COMMENT ON FUNCTION authflow.rate_limit_defaults() IS
  'The default limits per action: 30 a minute from one client address, 3000 a minute per tenant; failed device user-code entries (device_user_code): 10 and 300';

CREATE OR REPLACE FUNCTION authflow.rate_limit_set(action text, per_address_per_minute integer,
                                                   per_tenant_per_minute integer, tenant text DEFAULT 'default')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  settings authflow.tenants := authflow.require_tenant(tenant);
BEGIN
  IF action IS NULL OR action NOT IN (SELECT d.action FROM authflow.rate_limit_defaults() AS d) THEN
    RAISE EXCEPTION 'action must be one of %', (SELECT string_agg(d.action, ', ') FROM authflow.rate_limit_defaults() AS d)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF per_address_per_minute < 1 OR per_tenant_per_minute < 1 THEN
    RAISE EXCEPTION 'limits must be at least 1 (NULL: no limit)' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO authflow.rate_limits AS l (tenant_id, action, per_address_per_minute, per_tenant_per_minute)
  VALUES (settings.tenant_id, action, per_address_per_minute, per_tenant_per_minute)
  ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE
    SET per_address_per_minute = excluded.per_address_per_minute, per_tenant_per_minute = excluded.per_tenant_per_minute;
END $$;
COMMENT ON FUNCTION authflow.rate_limit_set(text, integer, integer, text) IS
  'Sets a tenant''s limits for an unauthenticated action (anonymous_sign_up, cli_start, device_authorization, device_user_code): requests a minute from one client address and in all; NULL: no limit';

CREATE OR REPLACE FUNCTION authflow.rate_limit_get(tenant text DEFAULT 'default')
RETURNS TABLE (action text, per_address_per_minute integer, per_tenant_per_minute integer)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT d.action, CASE WHEN l.action IS NULL THEN d.per_address_per_minute ELSE l.per_address_per_minute END,
         CASE WHEN l.action IS NULL THEN d.per_tenant_per_minute ELSE l.per_tenant_per_minute END
    FROM authflow.require_tenant(tenant) AS s CROSS JOIN authflow.rate_limit_defaults() AS d
    LEFT JOIN authflow.rate_limits AS l ON l.tenant_id = s.tenant_id AND l.action = d.action
   ORDER BY d.action
$$;
COMMENT ON FUNCTION authflow.rate_limit_get(text) IS 'A tenant''s limits per unauthenticated action (defaults where none were set)';

-- rate_limit_hit counts one request of an action for a tenant (and a client address, when
-- known) and returns NULL when it is within the limits, else the seconds until the current
-- minute ends (for Retry-After). Refused requests count too, so a client that keeps hammering
-- stays refused for the whole minute; one refused for its address does not count for the tenant.
-- A fixed window: at a minute's turn a client may get up to twice its limit in a short burst.
CREATE OR REPLACE FUNCTION authflow.rate_limit_hit(tenant_id integer, action text, client_address text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  minute timestamptz := date_trunc('minute', now());
  per_address integer;
  per_tenant integer;
  hits_address integer := 0;
  hits_tenant integer := 0;
BEGIN
  SELECT CASE WHEN l.action IS NULL THEN d.per_address_per_minute ELSE l.per_address_per_minute END,
         CASE WHEN l.action IS NULL THEN d.per_tenant_per_minute ELSE l.per_tenant_per_minute END
    INTO STRICT per_address, per_tenant
    FROM authflow.rate_limit_defaults() AS d
    LEFT JOIN authflow.rate_limits AS l ON l.tenant_id = rate_limit_hit.tenant_id AND l.action = d.action
   WHERE d.action = rate_limit_hit.action;
  IF per_address IS NOT NULL AND client_address IS NOT NULL AND client_address <> '' THEN
    INSERT INTO authflow.rate_counters AS c (window_start, tenant_id, hits, action, subject)
    VALUES (minute, tenant_id, 1, action, left(client_address, 64))
    ON CONFLICT ON CONSTRAINT rate_counters_pkey DO UPDATE
      SET hits = CASE WHEN c.window_start = excluded.window_start THEN c.hits + 1 ELSE 1 END,
          window_start = excluded.window_start
    RETURNING c.hits INTO hits_address;
    -- One address over its limit does not use up the tenant's.
    IF hits_address > per_address THEN
      RETURN greatest(1, ceil(extract(epoch FROM minute + interval '1 minute' - now())))::integer;
    END IF;
  END IF;
  IF per_tenant IS NOT NULL THEN
    INSERT INTO authflow.rate_counters AS c (window_start, tenant_id, hits, action, subject)
    VALUES (minute, tenant_id, 1, action, '*')
    ON CONFLICT ON CONSTRAINT rate_counters_pkey DO UPDATE
      SET hits = CASE WHEN c.window_start = excluded.window_start THEN c.hits + 1 ELSE 1 END,
          window_start = excluded.window_start
    RETURNING c.hits INTO hits_tenant;
  END IF;
  IF hits_tenant > per_tenant THEN
    RETURN greatest(1, ceil(extract(epoch FROM minute + interval '1 minute' - now())))::integer;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION authflow.rate_limit_hit(integer, text, text) IS
  'Internal: counts a request of an unauthenticated action; NULL when within the tenant''s limits, else the seconds to wait';

-- rate_limit_exceeded is rate_limit_hit without the count: the seconds until the current minute
-- ends when the client address or the tenant has used up its limit of an action, else NULL.
-- Failed device user-code entries are counted with rate_limit_hit after they fail, and every
-- entry is refused while the limit is used up (a right guess included: else guessing goes on).
CREATE OR REPLACE FUNCTION authflow.rate_limit_exceeded(tenant_id integer, action text, client_address text)
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT greatest(1, ceil(extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now())))::integer
    FROM authflow.rate_limit_defaults() AS d
    LEFT JOIN authflow.rate_limits AS l ON l.tenant_id = rate_limit_exceeded.tenant_id AND l.action = d.action
   WHERE d.action = rate_limit_exceeded.action
     AND EXISTS (SELECT 1 FROM authflow.rate_counters AS c
                  WHERE c.tenant_id = rate_limit_exceeded.tenant_id AND c.action = d.action
                    AND c.window_start = date_trunc('minute', now())
                    AND ((c.subject = left(client_address, 64) AND client_address <> '' AND
                          c.hits >= CASE WHEN l.action IS NULL THEN d.per_address_per_minute ELSE l.per_address_per_minute END)
                         OR (c.subject = '*' AND
                             c.hits >= CASE WHEN l.action IS NULL THEN d.per_tenant_per_minute ELSE l.per_tenant_per_minute END)))
$$;
COMMENT ON FUNCTION authflow.rate_limit_exceeded(integer, text, text) IS
  'Internal: the seconds to wait when a client address or the tenant has used up its limit of an action this minute, else NULL; counts nothing';
