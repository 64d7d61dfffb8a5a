-- Security events: what happened to whose sessions, per tenant, without any secret; and a
-- NOTIFY per tenant in the same transaction as each revocation, so an application that caches
-- validations can drop them at once (the notification is delivered at commit, never after a
-- rollback).

-- The key that derives rotated refresh tokens (extension/token.hpp), made once per database.
INSERT INTO authflow.secrets (name, value)
VALUES ('refresh_rotation', (authflow.token_parse(authflow.token_generate('key'))).secret)
ON CONFLICT (name) DO NOTHING;

CREATE OR REPLACE FUNCTION authflow.notify_channel(tenant text DEFAULT 'default')
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT 'authflow_events_' || s.tenant_id FROM authflow.require_tenant(tenant) AS s
$$;
COMMENT ON FUNCTION authflow.notify_channel(text) IS
  'The channel to LISTEN on for a tenant''s revocations and refresh-token reuse (payload: JSON with event, tenant, user_id, session_id; never a secret)';

-- security_event records an event and, with notify, sends it on the tenant's channel.
-- The kinds of security events, the one list (security_event refuses any other).
CREATE OR REPLACE FUNCTION authflow.security_event_kinds()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '{refresh_token_reuse,session_revoked,sessions_revoked_all,cli_login_completed,merge_performed,api_key_created,api_key_revoked,device_login_approved,device_login_denied}'::text[];
COMMENT ON FUNCTION authflow.security_event_kinds() IS 'Internal: every kind of security event authflow records (security_event refuses any other)';

CREATE OR REPLACE FUNCTION authflow.security_event(event_tenant_id integer, event_kind text, event_user_id text,
                                                   event_session_id uuid, event_details jsonb, notify boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF event_kind IS NULL OR NOT event_kind = ANY (authflow.security_event_kinds()) THEN
    RAISE EXCEPTION 'unknown security event kind %', event_kind USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO authflow.security_events (tenant_id, kind, user_id, session_id, details)
  VALUES (event_tenant_id, event_kind, event_user_id, event_session_id, coalesce(event_details, '{}'));
  IF notify THEN
    PERFORM pg_notify('authflow_events_' || event_tenant_id,
                      (jsonb_build_object('event', event_kind,
                                          'tenant', (SELECT t.name FROM authflow.tenants AS t WHERE t.tenant_id = event_tenant_id),
                                          'user_id', event_user_id, 'session_id', event_session_id)
                       || coalesce(event_details, '{}'))::text);
  END IF;
END $$;
COMMENT ON FUNCTION authflow.security_event(integer, text, text, uuid, jsonb, boolean) IS
  'Internal: records a security event (no secrets) and, with notify, sends it on the tenant''s channel';

CREATE OR REPLACE FUNCTION authflow.security_events_list(tenant text DEFAULT 'default',
                                                         since timestamptz DEFAULT now() - interval '1 day',
                                                         max_rows integer DEFAULT 1000)
RETURNS TABLE (event_id bigint, occurred_at timestamptz, kind text, user_id text, session_id uuid, details jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT e.event_id, e.occurred_at, e.kind, e.user_id, e.session_id, e.details
    FROM authflow.require_tenant(tenant) AS s
    JOIN authflow.security_events AS e ON e.tenant_id = s.tenant_id AND e.occurred_at >= since
   ORDER BY e.occurred_at, e.event_id
   LIMIT greatest(coalesce(max_rows, 1000), 0)
$$;
COMMENT ON FUNCTION authflow.security_events_list(text, timestamptz, integer) IS
  'A tenant''s security events since a time, oldest first: refresh_token_reuse, session_revoked, sessions_revoked_all, cli_login_completed, merge_performed, api_key_created, api_key_revoked, device_login_approved, device_login_denied';
