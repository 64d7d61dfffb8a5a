-- Privileges. Tables are reachable only through functions; PUBLIC may call the primitives and
-- nothing else. authflow.grant_api gives an application role what it needs.

CREATE OR REPLACE FUNCTION authflow.api_functions(include_admin boolean DEFAULT false)
RETURNS regprocedure[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  api text[] := ARRAY[
    'authflow.session_create(text, text, jsonb, text)', 'authflow.session_validate(text)', 'authflow.session_validate_routed(text)',
    'authflow.session_refresh(text)', 'authflow.session_revoke(text)', 'authflow.session_revoke_all(text, text)',
    'authflow.session_list(text, text)', 'authflow.user_set_handle(text, text, text)',
    'authflow.tenant_get(text)', 'authflow.user_create_anonymous(text)', 'authflow.user_upgrade(text, text, text)',
    'authflow.cli_start(interval, text, jsonb, text)', 'authflow.cli_poll(text, text)', 'authflow.cli_check(text, text)',
    'authflow.cli_claim_anon_session(text, text)', 'authflow.cli_complete(text, text, boolean, text)',
    'authflow.merge_anonymous_user(text, text, text)', 'authflow.http(text, text, jsonb, text)'];
  admin text[] := ARRAY[
    'authflow.tenant_set(text, interval, interval, interval, interval, interval, interval, boolean, text)',
    'authflow.purge_expired(integer)', 'authflow.schedule_purge()', 'authflow.unschedule_purge()',
    'authflow.set_durable(boolean)', 'authflow.merge_rule_add(regclass, name, name[], text, boolean, name)',
    'authflow.merge_rule_remove(regclass, name)', 'authflow.api_key_create(text, text)', 'authflow.api_key_revoke(text)'];
BEGIN
  RETURN (SELECT array_agg(signature::regprocedure ORDER BY signature)
            FROM unnest(api || CASE WHEN include_admin THEN admin ELSE '{}' END) AS signature);
END $$;
COMMENT ON FUNCTION authflow.api_functions(boolean) IS
  'The functions an application calls (with include_admin, also tenant settings and maintenance)';

CREATE OR REPLACE FUNCTION authflow.grant_api(grantee name, include_admin boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  api_function regprocedure;
BEGIN
  IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
    RAISE EXCEPTION 'role "%" does not exist', grantee USING ERRCODE = 'undefined_object';
  END IF;
  FOREACH api_function IN ARRAY authflow.api_functions(include_admin) LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', api_function, grantee);
  END LOOP;
END $$;
COMMENT ON FUNCTION authflow.grant_api(name, boolean) IS
  'GRANT EXECUTE on the API (with include_admin, also on tenant settings and maintenance) to a role';

-- The gateway's role may call authflow.http and nothing else:
--   CREATE ROLE authflow_gateway LOGIN PASSWORD '...';
--   SELECT authflow.grant_http('authflow_gateway');
CREATE OR REPLACE FUNCTION authflow.grant_http(grantee name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
    RAISE EXCEPTION 'role "%" does not exist', grantee USING ERRCODE = 'undefined_object';
  END IF;
  EXECUTE format('GRANT EXECUTE ON FUNCTION authflow.http(text, text, jsonb, text) TO %I', grantee);
END $$;
COMMENT ON FUNCTION authflow.grant_http(name) IS 'GRANT EXECUTE on authflow.http, and nothing else, to a role (the gateway''s)';

-- Last, so that it covers every function of the extension, these above included.
REVOKE ALL ON ALL TABLES IN SCHEMA authflow FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA authflow FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA authflow FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authflow.token_generate(text), authflow.token_generate(text, uuid),
  authflow.token_issue(text, uuid), authflow.token_parse(text, text), authflow.sha256(bytea),
  authflow.sha256(text), authflow.secure_equal(bytea, bytea), authflow.time_ordered_uuid() TO PUBLIC;
