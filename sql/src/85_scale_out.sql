-- Scale-out with Citus (docs/scale-out.md): the distribution of every table, in one place, and
-- the call that applies it.

-- distribution_plan is the recipe: distributed tables by the id their tokens carry (colocated
-- with sessions where a flow joins them), every other table a reference table (replicated to
-- every node), in the order authflow.distribute applies it. tests/sql/scale_out.sql checks it
-- against the schema on every run; tests/citus checks it on a real cluster.
CREATE OR REPLACE FUNCTION authflow.distribution_plan()
RETURNS TABLE (table_name regclass, distribution_column name, colocate_with regclass)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT r.table_name::regclass, r.distribution_column::name, r.colocate_with::regclass
    FROM (VALUES (1, 'authflow.tenants', NULL, NULL),
                 (2, 'authflow.users', NULL, NULL),
                 (3, 'authflow.api_keys', NULL, NULL),
                 (4, 'authflow.merge_rules', NULL, NULL),
                 (5, 'authflow.rate_limits', NULL, NULL),
                 (6, 'authflow.secrets', NULL, NULL),
                 (7, 'authflow.oauth_clients', NULL, NULL),
                 (8, 'authflow.sessions', 'session_id', NULL),
                 (9, 'authflow.cli_attempts', 'attempt_id', 'authflow.sessions'),
                 (10, 'authflow.device_attempts', 'attempt_id', 'authflow.sessions'),
                 (11, 'authflow.device_user_codes', 'user_code_hash', NULL),   -- what a person types: its HMAC
                 (12, 'authflow.rate_counters', 'subject', NULL),              -- one client address, one shard
                 (13, 'authflow.security_events', 'tenant_id', NULL))
           AS r (position, table_name, distribution_column, colocate_with)
   ORDER BY r.position;
END;
COMMENT ON FUNCTION authflow.distribution_plan() IS
  'How authflow.distribute spreads each table over a Citus cluster: a distribution column (and colocation), or none for a reference table';

-- is_distributed: the table is a Citus distributed or reference table (false without Citus).
-- Functions that Citus cannot run as written on such a table (a purge over ctid ranges) take
-- another path there.
CREATE OR REPLACE FUNCTION authflow.is_distributed(target regclass)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  found boolean;
BEGIN
  IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)' INTO found USING target;
  RETURN found;
END $$;
COMMENT ON FUNCTION authflow.is_distributed(regclass) IS
  'Internal: true when a table is distributed (or a reference table) in a Citus cluster';

-- identity_ranges gives this node's identity sequences (users.user_key, security_events.event_id,
-- tenants.tenant_id) a range of their own: Citus runs CREATE EXTENSION on every node, so every
-- node's sequences would start at 1, and a user (or event, or tenant) created through one node
-- could take the key of one created through another. Node group g draws from
-- [g * 2^48 + 1, (g + 1) * 2^48 - 1] (2^24 for the integer tenant id), as Citus does for the
-- sequences it creates itself; a sequence already inside its range keeps its place. Run on the
-- coordinator (group 0) and, by distribute, on every worker.
CREATE OR REPLACE FUNCTION authflow.identity_ranges()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  node bigint;
  item record;
  sequence_name text;
  low bigint;
  high bigint;
  last bigint;
  changed integer := 0;
BEGIN
  IF to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO node;
  SET LOCAL citus.enable_ddl_propagation = off;  -- this node's range only
  FOR item IN SELECT * FROM (VALUES ('authflow.users', 'user_key', 48), ('authflow.security_events', 'event_id', 48),
                                    ('authflow.tenants', 'tenant_id', 24)) AS v(table_name, column_name, bits) LOOP
    CONTINUE WHEN node >= (CASE WHEN item.bits = 24 THEN 127 ELSE 32767 END);
    sequence_name := pg_get_serial_sequence(item.table_name, item.column_name);
    low := (node << item.bits) + 1;
    high := ((node + 1) << item.bits) - 1;
    EXECUTE format('SELECT last_value FROM %s', sequence_name) INTO last;
    IF last < low OR last > high THEN
      EXECUTE format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s START %s RESTART %s', sequence_name, low, high, low, low);
    ELSE
      EXECUTE format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s', sequence_name, low, high);
    END IF;
    changed := changed + 1;
  END LOOP;
  RETURN changed;
END $$;
COMMENT ON FUNCTION authflow.identity_ranges() IS
  'Internal (Citus): gives this node''s identity sequences a range of their own (node group g: g * 2^48 + 1 to (g + 1) * 2^48 - 1), so keys made through different nodes never collide; authflow.distribute runs it on every node';

-- distribute applies distribution_plan on a Citus coordinator. Foreign keys between the tables
-- are dropped first and re-created once every table is distributed (Citus would otherwise
-- convert the tables linked to tenants one by one, dropping the extension's sequences); the
-- data already there moves to the shards and the coordinator's local copies are emptied (they
-- are shells from then on). Running it again distributes nothing more (and gives a worker added
-- since its identity ranges).
CREATE OR REPLACE FUNCTION authflow.distribute()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  step record;
  fk record;
  foreign_keys text[] := '{}';
  definition text;
  done integer := 0;
  failed bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    RAISE EXCEPTION 'authflow.distribute needs the citus extension in database "%"', current_database()
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'On a Citus coordinator (citus first in shared_preload_libraries, workers added): CREATE EXTENSION citus; then SELECT authflow.distribute();';
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RAISE EXCEPTION 'authflow.distribute must be run by a superuser' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Every node's identity sequences get a range of their own, also on a second call (a worker
  -- added since).
  PERFORM authflow.identity_ranges();
  EXECUTE 'SELECT count(*) FROM run_command_on_workers($1) WHERE NOT success'
    INTO failed USING 'SELECT authflow.identity_ranges()';
  IF failed > 0 THEN
    RAISE EXCEPTION 'authflow.distribute could not set the identity ranges on % worker(s)', failed
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM authflow.distribution_plan() AS p WHERE NOT authflow.is_distributed(p.table_name)) THEN
    RETURN 0;
  END IF;
  SET LOCAL citus.multi_shard_modify_mode = 'sequential';
  FOR fk IN SELECT c.conrelid::regclass AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
              FROM pg_constraint AS c
             WHERE c.contype = 'f' AND c.conrelid IN (SELECT p.table_name FROM authflow.distribution_plan() AS p)
             ORDER BY c.conrelid::regclass::text, c.conname LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    -- The workers' copies of the extension's tables (CREATE EXTENSION ran there too) become the
    -- shells Citus keeps there: the constraint goes there as well, and comes back with the rest.
    EXECUTE 'SELECT count(*) FROM run_command_on_workers($1) WHERE NOT success'
      INTO failed USING format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', fk.tbl, fk.conname);
    IF failed > 0 THEN
      RAISE EXCEPTION 'authflow.distribute could not drop % of % on every worker', fk.conname, fk.tbl
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    foreign_keys := foreign_keys || format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.conname, fk.def);
  END LOOP;
  FOR step IN SELECT * FROM authflow.distribution_plan() LOOP
    CONTINUE WHEN authflow.is_distributed(step.table_name);
    IF step.distribution_column IS NULL THEN
      EXECUTE 'SELECT create_reference_table($1)' USING step.table_name;
    ELSE
      EXECUTE 'SELECT create_distributed_table($1, $2, colocate_with => $3)'
        USING step.table_name, step.distribution_column::text, coalesce(step.colocate_with::text, 'default');
    END IF;
    EXECUTE 'SELECT truncate_local_data_after_distributing_table($1)' USING step.table_name;
    done := done + 1;
  END LOOP;
  FOREACH definition IN ARRAY foreign_keys LOOP
    EXECUTE definition;
  END LOOP;
  RETURN done;
END $$;
COMMENT ON FUNCTION authflow.distribute() IS
  'On a Citus coordinator: distributes every table of authflow as authflow.distribution_plan() says and gives every node''s identity sequences a range of their own (superuser; raises 55000 without Citus); returns how many tables it distributed';
