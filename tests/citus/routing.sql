-- routing.sql (Citus): every hot call runs on exactly one worker, the one holding its row's shard;
-- NULL and malformed tokens reach none. Counted with pg_stat_statements on the workers: the
-- statements Citus sent to a shard of a distributed table name the shard (authflow.sessions_102040).
BEGIN;
SELECT plan(16);
SET client_min_messages = error;  -- Citus notes that these pg_temp helpers stay local

CREATE FUNCTION pg_temp.reset_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM * FROM run_command_on_workers('SELECT pg_stat_statements_reset()');
END $$;
-- shard_calls: per worker, the statements that ran on a shard of a distributed authflow table.
CREATE FUNCTION pg_temp.shard_calls() RETURNS TABLE (port integer, calls bigint) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT w.nodeport, w.result::bigint FROM run_command_on_workers(
    $q$SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
        WHERE query ~ 'authflow\.(sessions|cli_attempts|device_attempts|device_user_codes)_[0-9]+'$q$) AS w
   ORDER BY w.nodeport;
END $$;
-- on_one_worker: the shard statements since the reset ran on one worker only, `expected` of them.
CREATE FUNCTION pg_temp.on_one_worker(expected bigint, description text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  counts bigint[] := ARRAY(SELECT c.calls FROM pg_temp.shard_calls() AS c);
BEGIN
  RETURN is(ARRAY(SELECT x FROM unnest(counts) AS x ORDER BY x), ARRAY[0, expected]::bigint[], description);
END $$;
-- worker_of_session: the port of the worker holding a session's shard.
CREATE FUNCTION pg_temp.worker_of(table_name regclass, id uuid) RETURNS integer LANGUAGE sql AS $$
  SELECT p.nodeport FROM pg_dist_shard AS s JOIN pg_dist_shard_placement AS p USING (shardid)
   WHERE s.shardid = get_shard_id_for_distribution_column(table_name, id)
$$;

CREATE TEMP TABLE s AS SELECT * FROM authflow.session_create('did:plc:routing', 'routing.test');

SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM s))), 1::bigint, 'validate finds the session');
SELECT pg_temp.on_one_worker(1, 'validate: one statement, on one worker');
SELECT is((SELECT c.port FROM pg_temp.shard_calls() AS c WHERE c.calls > 0),
          pg_temp.worker_of('authflow.sessions', (SELECT session_id FROM s)), 'the worker holding the session''s shard');

SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM authflow.session_refresh((SELECT refresh_token FROM s))), 1::bigint, 'refresh');
SELECT pg_temp.on_one_worker(1, 'refresh: one statement, on one worker');

SELECT NULL FROM authflow.tenant_set('default', refresh_rotation => true);
SELECT pg_temp.reset_counts();
CREATE TEMP TABLE r AS SELECT * FROM authflow.session_refresh((SELECT refresh_token FROM s));
SELECT ok((SELECT new_refresh_token IS NOT NULL FROM r), 'a rotating refresh');
SELECT pg_temp.on_one_worker(1, 'rotating refresh: one statement, on one worker');

SELECT pg_temp.reset_counts();
SELECT ok(authflow.session_revoke((SELECT new_refresh_token FROM r)), 'revoke');
SELECT pg_temp.on_one_worker(1, 'revoke: one statement, on one worker');

CREATE TEMP TABLE attempt AS SELECT * FROM authflow.cli_start();
SELECT pg_temp.reset_counts();
SELECT is((SELECT status FROM authflow.cli_poll((SELECT polling_code FROM attempt))), 'waiting', 'CLI poll');
SELECT pg_temp.on_one_worker(1, 'CLI poll: one statement, on one worker');

SELECT NULL FROM authflow.oauth_client_register('tv', 'TV', 'https://example.test/device');
CREATE TEMP TABLE device AS SELECT * FROM authflow.device_authorize('tv');
SELECT pg_temp.reset_counts();
SELECT is((SELECT status FROM authflow.device_poll_at((SELECT device_code FROM device), 'tv', 'default', NULL, NULL,
                                                     now() + interval '6 seconds')), 'authorization_pending',
          'device-token poll');
SELECT ok((SELECT sum(c.calls) > 0 AND count(*) FILTER (WHERE c.calls > 0) = 1 FROM pg_temp.shard_calls() AS c),
          'device-token poll: on one worker only');

-- NULL and malformed tokens are refused before any distributed statement.
SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM authflow.session_validate(NULL)) + (SELECT count(*) FROM authflow.session_validate('garbage'))
          + (SELECT count(*) FROM authflow.session_validate_routed(NULL))
          + (SELECT count(*) FROM authflow.session_refresh('afr_not-a-token'))
          + (SELECT count(*) FROM authflow.session_validate((SELECT refresh_token FROM s))),  -- the wrong kind
          0::bigint, 'NULL, malformed and wrong-kind tokens: no row');
SELECT ok(NOT authflow.session_revoke(NULL) AND NOT authflow.session_revoke('garbage'), 'and revoke says false');
SELECT is(ARRAY(SELECT c.calls FROM pg_temp.shard_calls() AS c), ARRAY[0, 0]::bigint[], 'none of them reached a worker');

SELECT * FROM finish();
ROLLBACK;
