-- scale_out.sql: the schema stays compatible with the Citus recipe of docs/scale-out.md.
BEGIN;
SELECT plan(4);

-- The recipe: distributed tables by the id their tokens carry, the rest as reference tables.
CREATE TEMP TABLE recipe (table_name regclass, distribution_column name);
INSERT INTO recipe VALUES
  ('authflow.sessions', 'session_id'),
  ('authflow.cli_attempts', 'attempt_id'),
  ('authflow.device_attempts', 'attempt_id'),
  ('authflow.device_user_codes', 'user_code_hash'),  -- what a person types: one shard too
  ('authflow.oauth_clients', NULL),
  ('authflow.rate_counters', 'subject'),
  ('authflow.tenants', NULL), ('authflow.users', NULL), ('authflow.api_keys', NULL), ('authflow.merge_rules', NULL),
  ('authflow.rate_limits', NULL), ('authflow.secrets', NULL),
  ('authflow.security_events', 'tenant_id');

SELECT set_eq($$SELECT oid::regclass FROM pg_class WHERE relnamespace = 'authflow'::regnamespace AND relkind IN ('r', 'p')$$,
              $$SELECT table_name FROM recipe$$, 'the recipe names every table of the extension');
SELECT is_empty($$
  SELECT r.table_name, i.indexrelid::regclass
    FROM recipe AS r JOIN pg_index AS i ON i.indrelid = r.table_name
   WHERE r.distribution_column IS NOT NULL AND (i.indisunique OR i.indisprimary)
     AND NOT EXISTS (SELECT 1 FROM pg_attribute AS a
                      WHERE a.attrelid = r.table_name AND a.attname = r.distribution_column AND a.attnum = ANY (i.indkey))$$,
  'every primary and unique key of a distributed table includes its distribution column');
SELECT is_empty($$
  SELECT c.conname FROM pg_constraint AS c JOIN recipe AS r ON r.table_name = c.confrelid
   WHERE c.contype = 'f' AND r.distribution_column IS NOT NULL$$,
  'no foreign key points at a distributed table');
SELECT is_empty($$
  SELECT r.table_name FROM recipe AS r
   WHERE r.distribution_column IS NOT NULL
     AND r.table_name NOT IN ('authflow.rate_counters'::regclass, 'authflow.security_events'::regclass) AND NOT EXISTS (
     SELECT 1 FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = r.table_name AND i.indisprimary AND a.attname = r.distribution_column)$$,
  'the primary key of a distributed table is its distribution column: every token lookup routes to one shard');

SELECT * FROM finish();
ROLLBACK;
