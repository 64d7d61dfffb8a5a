-- worker/local.sql (Citus, run on a worker by tests/citus/run): the worker-local fast path.
-- On the node holding a session's shard, the C++ validate (and the hot route) read that shard
-- directly: no statement runs on any shard; refresh and revoke write it directly. Elsewhere
-- they take the routed path. After a shard
-- move the same backend follows the shard (routed), and never reads the copy left behind.
-- Statements on shards are counted with pg_stat_statements on both workers. Rows are committed
-- (the coordinator must see them), so the test removes its own sessions at the end.
-- psql variable: coordinator, the coordinator's connection string (for \! psql). No token leaves this session: the coordinator revokes by session id.
SET client_min_messages = error;  -- Citus notes that the pg_temp helpers stay local
SET citus.enable_ddl_propagation = off;  -- the pg_temp helpers are this session's alone
SELECT plan(35);

CREATE FUNCTION pg_temp.reset_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM * FROM run_command_on_workers('SELECT pg_stat_statements_reset()');
END $$;
-- shard_calls: the statements that ran on a shard of authflow.sessions, on this node ('here')
-- and on the other worker ('there').
CREATE FUNCTION pg_temp.shard_calls(node text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT sum(w.result::bigint) FROM run_command_on_workers(
    $q$SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ~ 'authflow\.sessions_[0-9]+'$q$) AS w
   WHERE (w.nodeport = inet_server_port()) = (node = 'here'));
END $$;
CREATE FUNCTION pg_temp.node_of(id uuid) RETURNS integer LANGUAGE sql AS $$
  SELECT p.nodeport FROM pg_dist_shard_placement AS p
   WHERE p.shardid = get_shard_id_for_distribution_column('authflow.sessions', id)
$$;

SELECT authflow.session_revoke_all('did:plc:worker-local') \g /dev/null
CREATE TEMP TABLE s AS
  SELECT c.session_id, c.access_token, c.refresh_token, pg_temp.node_of(c.session_id) = inet_server_port() AS here
    FROM generate_series(1, 24) AS g  -- g in an argument: one session per row
   CROSS JOIN LATERAL authflow.session_create('did:plc:worker-local', CASE WHEN g > 0 THEN 'local.test' END) AS c;
SELECT ok((SELECT count(*) FILTER (WHERE here) >= 4 AND count(*) FILTER (WHERE NOT here) >= 4 FROM s),
          'sessions on this worker''s shards and on the other''s');

SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.here),
          (SELECT count(*) FROM s WHERE here), 'validate here: every session on this worker''s shards');
SELECT is(pg_temp.shard_calls('here') + pg_temp.shard_calls('there'), 0::bigint,
          'the fast path: no statement ran on any shard');

SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE NOT s.here),
          (SELECT count(*) FROM s WHERE NOT here), 'validate here: every session on the other worker''s shards');
SELECT is(pg_temp.shard_calls('there'), (SELECT count(*) FROM s WHERE NOT here), 'routed: one statement each, there');
SELECT is(pg_temp.shard_calls('here'), 0::bigint, 'and none here');

SELECT pg_temp.reset_counts();
SELECT is((SELECT h.status FROM s, authflow.http('GET', '/api/v1/sessions/current',
                                                  jsonb_build_object('authorization', 'Bearer ' || s.access_token), NULL) AS h
            WHERE s.here LIMIT 1), 200, 'the hot route here: 200');
SELECT is(pg_temp.shard_calls('here') + pg_temp.shard_calls('there'), 0::bigint, 'through the fast path');

-- Refresh and revoke here: the statement runs on this worker's shards themselves, under the
-- shard's metadata lock (the one Citus' executor takes before writing a shard, and a block_writes
-- move takes exclusively), with no distributed statement. Counted with citus_stat_counters,
-- which counts every statement Citus' executor runs (in this session only: the setting is ours).
SET citus.enable_stat_counters = on;
CREATE FUNCTION pg_temp.citus_executions() RETURNS bigint LANGUAGE sql AS $$
  SELECT query_execution_single_shard + query_execution_multi_shard FROM citus_stat_counters WHERE name = current_database()
$$;
SELECT session_id AS refreshed_id FROM s WHERE here ORDER BY session_id LIMIT 1 \gset
CREATE TEMP TABLE elsewhere AS SELECT session_id, refresh_token, row_number() OVER (ORDER BY session_id) AS n FROM s WHERE NOT here;
-- What a backend reads once (its first refresh and revoke) is not counted: these two go first.
SELECT is((SELECT count(*) FROM elsewhere AS e, authflow.session_refresh(e.refresh_token) AS v WHERE e.n = 1), 1::bigint,
          'refresh of a session on the other worker');
SELECT ok((SELECT authflow.session_revoke(refresh_token) FROM elsewhere WHERE n = 2), 'revoke of a session on the other worker');
SELECT pg_temp.citus_executions() AS executions \gset
BEGIN;
CREATE TEMP TABLE r AS SELECT v.* FROM s, authflow.session_refresh(s.refresh_token) AS v WHERE s.session_id = :'refreshed_id';
SELECT ok(EXISTS (SELECT FROM pg_locks AS l, pg_dist_partition AS d
                   WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory' AND l.mode = 'ShareLock' AND l.granted
                     AND l.objsubid = 8 AND l.objid = d.colocationid AND d.logicalrelid = 'authflow.sessions'::regclass),
          'refresh here holds the shard''s metadata lock until its transaction ends');
COMMIT;
SELECT is(pg_temp.citus_executions() - :executions, 0::bigint, 'refresh here: no distributed statement');
SELECT is((SELECT count(*) FROM r, authflow.session_validate(r.access_token) AS v), 1::bigint, 'its new access token validates');
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.session_id = :'refreshed_id'),
          0::bigint, 'and the replaced one does not');
SELECT is((SELECT count(*) FROM authflow.sessions WHERE session_id = :'refreshed_id' AND access_expires_at = (SELECT access_expires_at FROM r)),
          1::bigint, 'Citus reads the refreshed row from the shard');
SELECT pg_temp.citus_executions() AS executions \gset
SELECT is((SELECT count(*) FROM elsewhere AS e, authflow.session_refresh(e.refresh_token) AS v WHERE e.n = 3), 1::bigint,
          'another refresh of a session on the other worker');
SELECT is(pg_temp.citus_executions() - :executions, 1::bigint, '... goes through Citus: one statement');
-- A rotating refresh here (the tenant's setting changed in this transaction only).
BEGIN;
SELECT NULL FROM authflow.tenant_set('default', refresh_rotation => true) \g /dev/null
SELECT pg_temp.citus_executions() AS executions \gset
CREATE TEMP TABLE rotated ON COMMIT DROP AS SELECT * FROM authflow.session_refresh(NULL) WITH NO DATA;
SELECT session_id AS rotating_id FROM s WHERE here AND session_id <> :'refreshed_id' ORDER BY session_id DESC LIMIT 1 \gset
INSERT INTO rotated SELECT v.* FROM s, authflow.session_refresh(s.refresh_token) AS v WHERE s.session_id = :'rotating_id';
SELECT ok((SELECT new_refresh_token IS NOT NULL FROM rotated) AND pg_temp.citus_executions() - :executions = 0,
          'a rotating refresh here: a new refresh token, no distributed statement');
SELECT is((SELECT count(*) FROM rotated, authflow.session_refresh(rotated.new_refresh_token) AS v), 1::bigint,
          'the new refresh token works');
ROLLBACK;
SELECT session_id AS local_revoked_id FROM s WHERE here AND session_id NOT IN (:'refreshed_id', :'rotating_id') ORDER BY session_id LIMIT 1 \gset
SELECT pg_temp.citus_executions() AS executions \gset
SELECT ok((SELECT authflow.session_revoke(refresh_token) FROM s WHERE session_id = :'local_revoked_id'), 'revoke here');
SELECT pg_temp.citus_executions() - :executions AS revoke_here, pg_temp.citus_executions() AS executions \gset
SELECT ok((SELECT authflow.session_revoke(refresh_token) FROM elsewhere WHERE n = 4), 'another revoke of a session on the other worker');
SELECT is(:revoke_here::bigint, pg_temp.citus_executions() - :executions - 1,
          'revoke here: one distributed statement fewer than there (the delete ran on the shard; the security event goes through Citus)');
SELECT is((SELECT count(*) FROM authflow.sessions WHERE session_id = :'local_revoked_id'), 0::bigint, 'the row is gone from the shard');

-- A revoke elsewhere (on the coordinator) is seen here at once.
SELECT session_id AS revoked_id FROM s WHERE here AND session_id NOT IN (:'refreshed_id', :'local_revoked_id') LIMIT 1 \gset
\setenv AUTHFLOW_SESSION :revoked_id
\setenv AUTHFLOW_COORDINATOR :coordinator
\! PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -d "$AUTHFLOW_COORDINATOR" -c "SELECT authflow.session_revoke_by_id('did:plc:worker-local', '$AUTHFLOW_SESSION')" >/dev/null
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.session_id = :'revoked_id'),
          0::bigint, 'a session revoked on the coordinator is gone here');

-- A shard move: this backend has read the shard through the fast path; the shard moves to the
-- other worker (block_writes: unlogged shards cannot move by logical replication).
SELECT session_id AS moved_id,
       get_shard_id_for_distribution_column('authflow.sessions', session_id) AS shard,
       (SELECT nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0 AND nodeport <> inet_server_port()) AS other,
       inet_server_port() AS this
  FROM s WHERE here AND session_id NOT IN (:'revoked_id', :'refreshed_id', :'local_revoked_id') LIMIT 1 \gset
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.session_id = :'moved_id'),
          1::bigint, 'before the move: validate here');
\setenv AUTHFLOW_MOVE 'SELECT citus_move_shard_placement(':shard', ''127.0.0.1'', ':this', ''127.0.0.1'', ':other', shard_transfer_mode => ''block_writes'')'
\setenv AUTHFLOW_MOVE_BACK 'SELECT citus_move_shard_placement(':shard', ''127.0.0.1'', ':other', ''127.0.0.1'', ':this', shard_transfer_mode => ''block_writes'')'
\setenv AUTHFLOW_SESSION :moved_id
\! PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$AUTHFLOW_COORDINATOR" -c "$AUTHFLOW_MOVE" >/dev/null
SELECT is(pg_temp.node_of(:'moved_id'), :other, 'the shard moved to the other worker');

SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.session_id = :'moved_id'),
          1::bigint, 'after the move: the same backend still validates it');
SELECT ok(pg_temp.shard_calls('there') = 1 AND pg_temp.shard_calls('here') = 0, 'routed to where the shard is now');
SELECT pg_temp.citus_executions() AS executions \gset
CREATE TEMP TABLE moved_refresh AS SELECT v.* FROM s, authflow.session_refresh(s.refresh_token) AS v WHERE s.session_id = :'moved_id';
SELECT ok((SELECT count(*) = 1 FROM moved_refresh) AND pg_temp.citus_executions() - :executions = 1,
          'after the move: a refresh from this backend goes through Citus to the shard''s new place');
SELECT is((SELECT count(*) FROM moved_refresh, authflow.session_validate(moved_refresh.access_token) AS v), 1::bigint,
          'and its new access token validates (it was not written into the copy left behind)');

\! PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -d "$AUTHFLOW_COORDINATOR" -c "SELECT authflow.session_revoke_by_id('did:plc:worker-local', '$AUTHFLOW_SESSION')" >/dev/null
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.session_id = :'moved_id'),
          0::bigint, 'revoked after the move: gone here too (the copy left behind is never read)');

-- Back again: the fast path resumes on this worker.
\! PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$AUTHFLOW_COORDINATOR" -c 'CALL citus_cleanup_orphaned_resources()' -c "$AUTHFLOW_MOVE_BACK" >/dev/null
SELECT is(pg_temp.node_of(:'moved_id'), :this, 'the shard moved back');
SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.here),
          (SELECT count(*) - 4 FROM s WHERE here), 'moved back: every live session here is found (but the refreshed one''s old token)');
SELECT is(pg_temp.shard_calls('here') + pg_temp.shard_calls('there'), 0::bigint, 'through the fast path again');

SELECT is(authflow.session_revoke_all('did:plc:worker-local'), (SELECT count(*) - 5 FROM s)::integer,
          'clean up: the test''s sessions are revoked');
RESET citus.enable_stat_counters;
SELECT * FROM finish();
