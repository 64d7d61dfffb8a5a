-- Privileges. Tables are reachable only through functions; PUBLIC may call the primitives and
-- nothing else. authflow.grant_api gives an application role what it needs.

CREATE OR REPLACE FUNCTION authflow.api_functions(include_admin boolean DEFAULT false)
RETURNS regprocedure[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  api text[] := ARRAY[
    'authflow.session_create(text, text, jsonb, text, text, text)', 'authflow.session_validate(text)', 'authflow.session_validate_routed(text)',
    'authflow.session_refresh(text)', 'authflow.session_revoke(text)', 'authflow.session_revoke_all(text, text)',
    'authflow.session_list(text, text)', 'authflow.session_revoke_by_id(text, uuid, text)',
    'authflow.session_revoke_others(text, uuid, text)', 'authflow.user_set_handle(text, text, text)',
    'authflow.tenant_get(text)', 'authflow.user_create_anonymous(text, text, text)', 'authflow.user_upgrade(text, text, text)',
    'authflow.cli_start(interval, text, jsonb, text)', 'authflow.cli_poll(text, text, text, text)', 'authflow.cli_check(text, text)',
    'authflow.cli_claim_anon_session(text, text, text, text)', 'authflow.cli_complete(text, text, boolean, text)',
    'authflow.merge_anonymous_user(text, text, text)', 'authflow.http(text, text, jsonb, text)',
    'authflow.notify_channel(text)', 'authflow.device_authorize(text, text, text)',
    'authflow.device_poll(text, text, text, text, text)', 'authflow.device_lookup(text, text, text)',
    'authflow.device_approve(text, text, text, text)', 'authflow.device_deny(text, text, text)',
    'authflow.oauth_refresh(text, text, text, text)'];
  admin text[] := ARRAY[
    'authflow.tenant_set(text, interval, interval, interval, interval, interval, interval, boolean, text, boolean, interval, interval)',
    'authflow.purge_expired(integer)', 'authflow.schedule_purge()', 'authflow.unschedule_purge()',
    'authflow.set_durable(boolean)', 'authflow.merge_rule_add(regclass, name, name[], text, boolean, name)',
    'authflow.merge_rule_remove(regclass, name)', 'authflow.api_key_create(text, text)', 'authflow.api_key_revoke(text)',
    'authflow.rate_limit_set(text, integer, integer, text)', 'authflow.rate_limit_get(text)',
    'authflow.security_events_list(text, timestamptz, integer)',
    'authflow.oauth_client_register(text, text, text, text[], text, integer, interval)', 'authflow.oauth_client_list(text)',
    'authflow.oauth_client_remove(text, text)'];
BEGIN
  RETURN (SELECT array_agg(signature::regprocedure ORDER BY signature)
            FROM unnest(api || CASE WHEN include_admin THEN admin ELSE '{}' END) AS signature);
END $$;
COMMENT ON FUNCTION authflow.api_functions(boolean) IS
  'The functions an application calls (with include_admin, also tenant settings, device-grant clients and maintenance)';

-- quiet_parameter_logging keeps a role's statement parameters (tokens, codes, keys: the values
-- of every authflow call) out of PostgreSQL's log, whatever log_statement or
-- log_min_duration_statement say. log_parameter_max_length needs a superuser to set it; anyone
-- else is told what to run.
CREATE OR REPLACE FUNCTION authflow.quiet_parameter_logging(grantee name)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  EXECUTE format('ALTER ROLE %I SET log_parameter_max_length = 0', grantee);
  EXECUTE format('ALTER ROLE %I SET log_parameter_max_length_on_error = 0', grantee);
  RETURN true;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'could not turn off parameter logging for role "%": the log may show its tokens', grantee
    USING HINT = format('As a superuser run: ALTER ROLE %I SET log_parameter_max_length = 0; '
                        'ALTER ROLE %I SET log_parameter_max_length_on_error = 0;', grantee, grantee);
  RETURN false;
END $$;
COMMENT ON FUNCTION authflow.quiet_parameter_logging(name) IS
  'Internal: sets log_parameter_max_length and log_parameter_max_length_on_error to 0 for a role (a superuser may); otherwise warns with the statements to run';

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
  IF include_admin THEN
    -- merge_rule_add and merge_rule_remove run with the caller's rights; row security limits
    -- them to rules on tables the caller owns.
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON authflow.merge_rules TO %I', grantee);
  END IF;
  PERFORM authflow.quiet_parameter_logging(grantee);
END $$;
COMMENT ON FUNCTION authflow.grant_api(name, boolean) IS
  'GRANT EXECUTE on the API (with include_admin, also on tenant settings, maintenance and the merge rules of the role''s own tables) to a role, and keep its parameters out of the server log';

-- The gateway's role may call authflow.http and nothing else:
--   CREATE ROLE authflow_gateway LOGIN PASSWORD '...';
--   SELECT authflow.grant_http('authflow_gateway');
CREATE OR REPLACE FUNCTION authflow.grant_http(grantee name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  failed bigint;
BEGIN
  IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
    RAISE EXCEPTION 'role "%" does not exist', grantee USING ERRCODE = 'undefined_object';
  END IF;
  EXECUTE format('GRANT EXECUTE ON FUNCTION authflow.http(text, text, jsonb, text) TO %I', grantee);
  PERFORM authflow.quiet_parameter_logging(grantee);
  -- On a Citus coordinator, the same grant on every worker (Citus propagates the role, not a grant
  -- on an extension's function), so that a gateway can be pointed at any node.
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    EXECUTE $q$SELECT count(*) FROM pg_catalog.run_command_on_workers($1) WHERE NOT success$q$
      INTO failed USING format('GRANT EXECUTE ON FUNCTION authflow.http(text, text, jsonb, text) TO %I', grantee);
    -- Those commands run in connections of their own, outside this transaction: a role created
    -- in it is not on the workers yet. The local grant stands; the workers are named.
    IF failed > 0 THEN
      RAISE WARNING 'authflow.grant_http: the grant was refused on % Citus worker(s)', failed
        USING HINT = 'Commit the role first, then run SELECT authflow.grant_http(...) on the coordinator again.';
    END IF;
  END IF;
END $$;
COMMENT ON FUNCTION authflow.grant_http(name) IS 'GRANT EXECUTE on authflow.http, and nothing else, to a role (the gateway''s), and keep its parameters out of the server log; on a Citus coordinator, on every worker too';

-- Last, so that it covers every function of the extension, these above included.
REVOKE ALL ON ALL TABLES IN SCHEMA authflow FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA authflow FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA authflow FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authflow.token_generate(text), authflow.token_generate(text, uuid),
  authflow.token_issue(text, uuid), authflow.token_parse(text, text), authflow.sha256(bytea),
  authflow.sha256(text), authflow.secure_equal(bytea, bytea), authflow.time_ordered_uuid(),
  authflow.merge_rule_allowed(regclass), authflow.token_kinds() TO PUBLIC;
