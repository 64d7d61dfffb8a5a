-- authflow 0.1.0 -> 0.2.0: the changes to tables and types. The build appends every function
-- of sql/src (CREATE OR REPLACE), so the functions of an updated database are those of a fresh
-- install; tests/sql/upgrade.sql holds the two catalogs equal.
\echo Use "ALTER EXTENSION authflow UPDATE" to load this file. \quit

-- The composite types moved to sql/state in 0.2.0; their definitions did not change.

-- Security: revoking the session that completed a CLI attempt (or all of the user's sessions)
-- voids the attempt before the CLI picks it up. Attempts completed under 0.1.0 have no session
-- recorded and are picked up as before.
ALTER TABLE authflow.cli_attempts ADD COLUMN completed_session_id uuid;
