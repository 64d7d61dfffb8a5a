-- worker/local.sql (Citus, run on a worker by tests/citus/run): the worker-local fast path.
-- On the node holding a session's shard, the C++ validate (and the hot route) read that shard
-- directly: no statement runs on any shard. Elsewhere they take the routed path. After a shard
-- move the same backend follows the shard (routed), and never reads the copy left behind.
-- Statements on shards are counted with pg_stat_statements on both workers. Rows are committed
-- (the coordinator must see them), so the test removes its own sessions at the end.
-- psql variable: coordinator, the coordinator's connection string (for \! psql). No token leaves this session: the coordinator revokes by session id.
SET client_min_messages = error;  -- Citus notes that the pg_temp helpers stay local
SET citus.enable_ddl_propagation = off;  -- the pg_temp helpers are this session's alone
SELECT plan(18);

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
SELECT ok((SELECT count(*) FILTER (WHERE here) > 1 AND count(*) FILTER (WHERE NOT here) > 0 FROM s),
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

-- A revoke elsewhere (on the coordinator) is seen here at once.
SELECT session_id AS revoked_id FROM s WHERE here LIMIT 1 \gset
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
  FROM s WHERE here AND session_id <> :'revoked_id' LIMIT 1 \gset
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

\! PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -d "$AUTHFLOW_COORDINATOR" -c "SELECT authflow.session_revoke_by_id('did:plc:worker-local', '$AUTHFLOW_SESSION')" >/dev/null
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.session_id = :'moved_id'),
          0::bigint, 'revoked after the move: gone here too (the copy left behind is never read)');

-- Back again: the fast path resumes on this worker.
\! PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$AUTHFLOW_COORDINATOR" -c 'CALL citus_cleanup_orphaned_resources()' -c "$AUTHFLOW_MOVE_BACK" >/dev/null
SELECT is(pg_temp.node_of(:'moved_id'), :this, 'the shard moved back');
SELECT pg_temp.reset_counts();
SELECT is((SELECT count(*) FROM s, authflow.session_validate(s.access_token) AS v WHERE s.here),
          (SELECT count(*) - 2 FROM s WHERE here), 'moved back: every live session here is found');
SELECT is(pg_temp.shard_calls('here') + pg_temp.shard_calls('there'), 0::bigint, 'through the fast path again');

SELECT is(authflow.session_revoke_all('did:plc:worker-local'), (SELECT count(*) - 2 FROM s)::integer,
          'clean up: the test''s sessions are revoked');
SELECT * FROM finish();
