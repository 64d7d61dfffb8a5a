-- session_refresh.sql: a refresh without rotation (the default tenant's), the refresh token given
-- to pgbench as -D token=...; the same token works again and again.
SELECT * FROM authflow.session_refresh(:token);
