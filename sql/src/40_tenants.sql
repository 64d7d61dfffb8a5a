-- Tenants: settings per project.

CREATE OR REPLACE FUNCTION authflow.tenant_set(
  tenant                      text,
  session_ttl                 interval DEFAULT NULL,
  access_token_ttl            interval DEFAULT NULL,
  session_max_lifetime        interval DEFAULT NULL,
  cli_attempt_ttl             interval DEFAULT NULL,
  cli_attempt_max_ttl         interval DEFAULT NULL,
  anonymous_user_retention    interval DEFAULT NULL,
  remove_session_max_lifetime boolean DEFAULT false,
  refresh_cookie_name         text DEFAULT NULL,
  refresh_rotation            boolean DEFAULT NULL,
  refresh_reuse_grace         interval DEFAULT NULL,
  security_event_retention    interval DEFAULT NULL)
RETURNS authflow.tenant_settings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  setting record;
  settings authflow.tenants;
BEGIN
  IF tenant IS NULL OR tenant !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' THEN
    RAISE EXCEPTION 'tenant must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  tenant := authflow.tenant_canonical_name(tenant);
  FOR setting IN SELECT * FROM (VALUES
      ('session_ttl', session_ttl, interval '10 years'),
      ('access_token_ttl', access_token_ttl, interval '1 day'),
      ('session_max_lifetime', session_max_lifetime, interval '10 years'),
      ('cli_attempt_ttl', cli_attempt_ttl, interval '7 days'),
      ('cli_attempt_max_ttl', cli_attempt_max_ttl, interval '7 days'),
      ('anonymous_user_retention', anonymous_user_retention, interval '10 years'),
      ('refresh_reuse_grace', refresh_reuse_grace, interval '5 minutes'),
      ('security_event_retention', security_event_retention, interval '10 years')) AS v(name, value, maximum) LOOP
    IF setting.value IS NOT NULL AND (setting.value <= interval '0' OR setting.value > setting.maximum) THEN
      RAISE EXCEPTION '% must be greater than 0 and at most %', setting.name, setting.maximum
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  IF refresh_cookie_name IS NOT NULL AND refresh_cookie_name !~ '^[A-Za-z0-9_.-]{1,100}$' THEN
    RAISE EXCEPTION 'refresh_cookie_name must be 1 to 100 characters of A-Z a-z 0-9 _ . - (e.g. __Host-myapp_refresh)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF remove_session_max_lifetime AND session_max_lifetime IS NOT NULL THEN
    RAISE EXCEPTION 'session_max_lifetime and remove_session_max_lifetime cannot be given together'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO authflow.tenants AS t (name) VALUES (tenant) ON CONFLICT (name) DO NOTHING;
  UPDATE authflow.tenants AS t SET
    session_ttl = coalesce(session_ttl, t.session_ttl),
    access_token_ttl = coalesce(access_token_ttl, t.access_token_ttl),
    session_max_lifetime = CASE WHEN remove_session_max_lifetime THEN NULL
                                ELSE coalesce(session_max_lifetime, t.session_max_lifetime) END,
    cli_attempt_ttl = coalesce(cli_attempt_ttl, t.cli_attempt_ttl),
    cli_attempt_max_ttl = coalesce(cli_attempt_max_ttl, t.cli_attempt_max_ttl),
    anonymous_user_retention = coalesce(anonymous_user_retention, t.anonymous_user_retention),
    refresh_cookie_name = coalesce(refresh_cookie_name, t.refresh_cookie_name),
    refresh_rotation = coalesce(refresh_rotation, t.refresh_rotation),
    refresh_reuse_grace = coalesce(refresh_reuse_grace, t.refresh_reuse_grace),
    security_event_retention = coalesce(security_event_retention, t.security_event_retention),
    updated_at = now()
  WHERE t.name = tenant
  RETURNING * INTO settings;

  IF settings.access_token_ttl > settings.session_ttl THEN
    RAISE EXCEPTION 'access_token_ttl (%) must not exceed session_ttl (%)', settings.access_token_ttl, settings.session_ttl
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF settings.cli_attempt_ttl > settings.cli_attempt_max_ttl THEN
    RAISE EXCEPTION 'cli_attempt_ttl (%) must not exceed cli_attempt_max_ttl (%)', settings.cli_attempt_ttl,
      settings.cli_attempt_max_ttl USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN ROW(settings.name, settings.session_ttl, settings.access_token_ttl, settings.session_max_lifetime,
             settings.cli_attempt_ttl, settings.cli_attempt_max_ttl, settings.anonymous_user_retention,
             settings.refresh_cookie_name, settings.refresh_rotation, settings.refresh_reuse_grace,
             settings.security_event_retention)::authflow.tenant_settings;
END $$;
COMMENT ON FUNCTION authflow.tenant_set(text, interval, interval, interval, interval, interval, interval, boolean, text, boolean, interval, interval) IS
  'Creates or updates a tenant''s settings (NULL keeps the current value) and returns them; out-of-range values raise 22023';

CREATE OR REPLACE FUNCTION authflow.tenant_get(tenant text DEFAULT 'default')
RETURNS authflow.tenant_settings
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ROW(s.name, s.session_ttl, s.access_token_ttl, s.session_max_lifetime, s.cli_attempt_ttl,
         s.cli_attempt_max_ttl, s.anonymous_user_retention, s.refresh_cookie_name, s.refresh_rotation,
         s.refresh_reuse_grace, s.security_event_retention)::authflow.tenant_settings
    FROM authflow.require_tenant(tenant) AS s
$$;
COMMENT ON FUNCTION authflow.tenant_get(text) IS 'The settings of a tenant; 22023 when there is no such tenant';
