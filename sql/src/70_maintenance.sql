-- Maintenance: garbage collection (pg_cron), durability.

-- purge_rows deletes up to max_rows rows of a table matching a condition, walking the heap in
-- ranges of 256 blocks (TID range scans): one pass over the table, each statement short, and
-- only rows that match are ever locked.
CREATE OR REPLACE FUNCTION authflow.purge_rows(target regclass, condition text, max_rows bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  chunk constant integer := 256;
  blocks bigint := pg_relation_size(target) / current_setting('block_size')::integer;
  first_block bigint := 0;
  deleted bigint := 0;
  batch bigint;
BEGIN
  WHILE first_block <= blocks AND deleted < max_rows LOOP
    EXECUTE format(
      'DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE ctid >= %L::tid AND ctid < %L::tid AND (%s) LIMIT %s))',
      target, target, format('(%s,0)', first_block), format('(%s,0)', first_block + chunk), condition,
      max_rows - deleted);
    GET DIAGNOSTICS batch = ROW_COUNT;
    deleted := deleted + batch;
    first_block := first_block + chunk;
  END LOOP;
  RETURN deleted;
END $$;
COMMENT ON FUNCTION authflow.purge_rows(regclass, text, bigint) IS
  'Internal: deletes up to max_rows rows matching condition, in short statements over block ranges';

CREATE OR REPLACE FUNCTION authflow.purge_expired(max_rows integer DEFAULT 100000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  deleted bigint;
BEGIN
  IF max_rows IS NULL OR max_rows < 1 THEN
    RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  deleted := authflow.purge_rows('authflow.sessions', 'expires_at <= now()', max_rows);
  deleted := deleted + authflow.purge_rows('authflow.cli_attempts', 'expires_at <= now()', max_rows - deleted);
  deleted := deleted + authflow.purge_rows('authflow.device_attempts', 'expires_at <= now()', max_rows - deleted);
  deleted := deleted + authflow.purge_rows('authflow.device_user_codes', 'expires_at <= now()', max_rows - deleted);
  deleted := deleted + authflow.purge_rows('authflow.security_events',
    'occurred_at < now() - (SELECT t.security_event_retention FROM authflow.tenants AS t
                             WHERE t.tenant_id = security_events.tenant_id)', max_rows - deleted);
  deleted := deleted + authflow.purge_rows('authflow.rate_counters', 'window_start < now() - interval ''1 minute''',
                                           max_rows - deleted);
  -- Anonymous users nobody can sign in as any more, past their tenant's retention.
  deleted := deleted + authflow.purge_rows('authflow.users',
    'is_anonymous AND created_at < now() - (SELECT t.anonymous_user_retention FROM authflow.tenants AS t
                                             WHERE t.tenant_id = users.tenant_id)
     AND NOT EXISTS (SELECT 1 FROM authflow.sessions AS s WHERE s.user_key = users.user_key)',
    max_rows - deleted);
  -- The scheduled job's own history: keep a day of it.
  IF to_regclass('cron.job_run_details') IS NOT NULL THEN
    DELETE FROM cron.job_run_details AS d
     USING cron.job AS j
     WHERE d.jobid = j.jobid AND j.jobname = 'authflow-purge' AND d.end_time < now() - interval '1 day';
  END IF;
  RETURN deleted;
END $$;
COMMENT ON FUNCTION authflow.purge_expired(integer) IS
  'Deletes up to max_rows expired sessions, expired CLI attempts and device authorizations, old security events and rate counters, and anonymous users without sessions past their tenant''s retention (garbage only: every read checks expiry itself); the pg_cron job calls it every minute';

CREATE OR REPLACE FUNCTION authflow.schedule_purge()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job bigint;
BEGIN
  IF to_regprocedure('cron.schedule(text, text, text)') IS NULL THEN
    RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = format('Add pg_cron to shared_preload_libraries and, in the database named by cron.database_name, run: '
                          'SELECT cron.schedule_in_database(''authflow-purge'', ''* * * * *'', '
                          '''SELECT authflow.purge_expired()'', %L);', current_database());
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'authflow-purge', '* * * * *', 'SELECT authflow.purge_expired()';
  RETURN job;
END $$;
COMMENT ON FUNCTION authflow.schedule_purge() IS
  'Schedules authflow.purge_expired() every minute with pg_cron (job authflow-purge); without pg_cron in this database, raises 55000 with the call to run instead';

CREATE OR REPLACE FUNCTION authflow.unschedule_purge()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  removed boolean := false;
BEGIN
  IF to_regclass('cron.job') IS NOT NULL AND EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'authflow-purge') THEN
    EXECUTE 'SELECT cron.unschedule($1)' INTO removed USING 'authflow-purge';
  END IF;
  RETURN removed;
END $$;
COMMENT ON FUNCTION authflow.unschedule_purge() IS 'Removes the pg_cron job authflow-purge; false when there was none';

CREATE OR REPLACE FUNCTION authflow.set_durable(durable boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  volatile_table regclass;
BEGIN
  IF durable IS NULL THEN
    RAISE EXCEPTION 'durable must be true or false' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH volatile_table IN ARRAY authflow.volatile_tables() LOOP
    EXECUTE format('ALTER TABLE %s SET %s', volatile_table, CASE WHEN durable THEN 'LOGGED' ELSE 'UNLOGGED' END);
  END LOOP;
END $$;
COMMENT ON FUNCTION authflow.set_durable(boolean) IS
  'true: sessions, CLI attempts, device authorizations and security events become logged tables (survive crashes, visible on replicas); false: unlogged (the default). Rewrites the tables under an exclusive lock.';

CREATE OR REPLACE FUNCTION authflow.volatile_tables()
RETURNS regclass[]
LANGUAGE sql STABLE
RETURN ARRAY['authflow.sessions'::regclass, 'authflow.cli_attempts'::regclass, 'authflow.security_events'::regclass,
             'authflow.device_attempts'::regclass, 'authflow.device_user_codes'::regclass];
COMMENT ON FUNCTION authflow.volatile_tables() IS 'Internal: the tables that are unlogged unless set_durable(true)';
