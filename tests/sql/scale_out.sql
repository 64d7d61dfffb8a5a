-- scale_out.sql: the schema stays compatible with the Citus recipe of docs/scale-out.md.
BEGIN;
SELECT plan(5);

-- The recipe: authflow.distribution_plan(), which authflow.distribute() applies (tests/citus runs it).
CREATE TEMP TABLE recipe AS SELECT table_name, distribution_column FROM authflow.distribution_plan();

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

SELECT throws_ok($$SELECT authflow.distribute()$$, '55000', format('authflow.distribute needs the citus extension in database "%s"', current_database()),
                 'distribute without Citus: 55000, nothing changes');

SELECT * FROM finish();
ROLLBACK;
