-- http_session_current.sql: GET /api/v1/sessions/current through authflow.http, as the gateway
-- calls it (headers as a JSON text parameter, given to pgbench as -D headers=...), with the same
-- token as session_validate.sql.
SELECT status, headers::text, body FROM authflow.http('GET', '/api/v1/sessions/current', :headers::jsonb, '');
