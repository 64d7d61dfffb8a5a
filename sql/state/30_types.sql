-- Composite types the functions return or pass around.

CREATE TYPE authflow.tenant_settings AS (
  tenant text, session_ttl interval, access_token_ttl interval, session_max_lifetime interval,
  cli_attempt_ttl interval, cli_attempt_max_ttl interval, anonymous_user_retention interval,
  refresh_cookie_name text, refresh_rotation boolean, refresh_reuse_grace interval, security_event_retention interval);
COMMENT ON TYPE authflow.tenant_settings IS 'The settings of a tenant, as tenant_set and tenant_get return them';

-- RefreshSession is what a refresh token points to, whether live or not.
CREATE TYPE authflow.refresh_session AS (
  session_id uuid, user_key bigint, user_id text, tenant_id integer, is_anonymous boolean, is_live boolean);
COMMENT ON TYPE authflow.refresh_session IS 'Internal: the session and user of a refresh token';

CREATE TYPE authflow.http_response AS (status integer, headers jsonb, body text);
COMMENT ON TYPE authflow.http_response IS 'What authflow.http answers: status, headers (name to value, or to an array of values), body';
