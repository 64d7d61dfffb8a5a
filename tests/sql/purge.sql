-- purge.sql: purge_expired deletes expired rows and only those; schedule_purge and pg_cron.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(9);

CREATE TEMP TABLE live AS SELECT s.* FROM generate_series(1, 30) AS g, LATERAL authflow.session_create('did:plc:purge-' || g) AS s;
CREATE TEMP TABLE dead AS SELECT s.* FROM generate_series(1, 20) AS g, LATERAL authflow.session_create('did:plc:purge-' || g) AS s;
UPDATE authflow.sessions SET expires_at = now() - interval '1 second' WHERE session_id IN (SELECT session_id FROM dead);
-- A session whose access token expired but which itself is live is not garbage.
UPDATE authflow.sessions SET access_expires_at = now() - interval '1 hour' WHERE session_id = (SELECT session_id FROM live LIMIT 1);

SELECT is(authflow.purge_expired(5), 5::bigint, 'purge_expired stops at max_rows');
SELECT is(authflow.purge_expired(), 15::bigint, 'purge_expired deletes the remaining expired sessions');
SELECT is((SELECT count(*) FROM authflow.sessions WHERE session_id IN (SELECT session_id FROM dead)), 0::bigint,
          'no expired session is left');
SELECT is((SELECT count(*) FROM authflow.sessions WHERE session_id IN (SELECT session_id FROM live)), 30::bigint,
          'every live session is kept');
SELECT throws_ok($$SELECT authflow.purge_expired(0)$$, '22023', 'max_rows must be at least 1', 'purge_expired(0)');

-- pg_cron is installed in this database (cron.database_name).
SELECT cmp_ok(authflow.schedule_purge(), '>', 0::bigint, 'schedule_purge returns the job id');
SELECT is((SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'authflow-purge'),
          '* * * * * SELECT authflow.purge_expired()', 'the job runs purge_expired every minute');
SELECT ok(authflow.unschedule_purge(), 'unschedule_purge removes it');

-- Without pg_cron in this database, schedule_purge says what to run instead.
DROP EXTENSION pg_cron;
SELECT throws_ok($$SELECT authflow.schedule_purge()$$, '55000', 'pg_cron is not installed in database "' || current_database() || '"',
                 'schedule_purge without pg_cron raises 55000');

SELECT * FROM finish();
ROLLBACK;
