-- distribute.sql (Citus): authflow.distribute() applied the plan, and the flows that span
-- tables (the CLI login with an anonymous user and the merge, a handle change) hold on it.
BEGIN;
SELECT plan(12);

SELECT set_eq($$SELECT logicalrelid::regclass, column_to_column_name(logicalrelid, partkey)::name
                  FROM pg_dist_partition WHERE logicalrelid::regclass::text LIKE 'authflow.%'$$,
              $$SELECT table_name, distribution_column FROM authflow.distribution_plan()$$,
              'every table is distributed (or a reference table) as distribution_plan says');
SELECT is((SELECT count(DISTINCT colocationid) FROM pg_dist_partition
            WHERE logicalrelid IN ('authflow.sessions'::regclass, 'authflow.cli_attempts', 'authflow.device_attempts')),
          1::bigint, 'sessions, CLI attempts and device attempts are colocated');
SELECT is(authflow.distribute(), 0, 'distribute again: nothing to do');
SELECT ok((SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'authflow.users'::regclass) = 1,
          'the foreign keys between the tables are back');
SELECT ok((SELECT count(*) FROM run_command_on_placements('authflow.sessions', 'SELECT 1')) > 0,
          'sessions has shards');

-- Handle change reaches every session.
CREATE TEMP TABLE s AS SELECT * FROM authflow.session_create('did:plc:carol', 'carol.test');
SELECT ok(authflow.user_set_handle('did:plc:carol', 'carol.example'), 'user_set_handle');
SELECT is((SELECT handle FROM authflow.session_validate((SELECT access_token FROM s))), 'carol.example',
          'validate sees the new handle');

-- The CLI flow with an anonymous user and the merge.
CREATE TEMP TABLE anon AS SELECT * FROM authflow.user_create_anonymous();
CREATE TEMP TABLE attempt AS SELECT * FROM authflow.cli_start(NULL, (SELECT refresh_token FROM anon));
SELECT is(authflow.cli_check((SELECT login_code FROM attempt)), 'anonymous', 'check: anonymous');
SELECT ok(authflow.cli_complete((SELECT login_code FROM attempt), (SELECT refresh_token FROM s), true), 'complete with merge');
CREATE TEMP TABLE polled AS SELECT * FROM authflow.cli_poll((SELECT polling_code FROM attempt));
SELECT is((SELECT status || ' ' || user_id FROM polled), 'success did:plc:carol', 'poll: success as the browser user');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM anon))), 0::bigint,
          'the anonymous user''s session is gone with the merge');
SELECT is((SELECT count(*) FROM authflow.session_list('did:plc:carol')), 2::bigint, 'the user has both sessions');

SELECT * FROM finish();
ROLLBACK;
