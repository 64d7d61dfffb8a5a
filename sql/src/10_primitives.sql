-- Token and hash primitives, implemented in C++ (extension/pg_functions.cpp).

CREATE OR REPLACE FUNCTION authflow.token_kinds()
RETURNS TABLE (kind text, prefix text)
AS 'MODULE_PATHNAME', 'authflow_token_kinds'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 6;
COMMENT ON FUNCTION authflow.token_kinds() IS
  'Every kind of token with its prefix: access afa, refresh afr, polling afp, login afl, key afk, device afd (the library''s one list)';

CREATE OR REPLACE FUNCTION authflow.token_generate(kind text)
RETURNS text
AS 'MODULE_PATHNAME', 'authflow_token_generate'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_generate(text) IS
  'A new token of kind access, refresh, polling, login, key or device for a random row id: <prefix>_<row id hex>_<256-bit secret, base64url>';

CREATE OR REPLACE FUNCTION authflow.token_generate(kind text, row_id uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'authflow_token_generate'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_generate(text, uuid) IS
  'A new token of a kind for the given row id';

CREATE OR REPLACE FUNCTION authflow.token_issue(kind text, row_id uuid, OUT token text, OUT secret_hash bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'authflow_token_issue'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_issue(text, uuid) IS
  'A new token of a kind for a row id, with SHA-256 of its secret: the hash is what gets stored';

CREATE OR REPLACE FUNCTION authflow.token_parse(token text, expected_kind text DEFAULT NULL,
                                     OUT kind text, OUT row_id uuid, OUT secret bytea, OUT secret_hash bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'authflow_token_parse'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION authflow.token_parse(text, text) IS
  'Splits a token into kind, row id, secret and SHA-256 of the secret; NULL for anything that is not a well-formed token (of expected_kind, when given). An unknown expected_kind raises 22023.';

CREATE OR REPLACE FUNCTION authflow.sha256(bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'authflow_sha256'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.sha256(bytea) IS 'SHA-256 of the bytes';

CREATE OR REPLACE FUNCTION authflow.sha256(text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'authflow_sha256'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.sha256(text) IS 'SHA-256 of the text''s bytes in the database encoding';

CREATE OR REPLACE FUNCTION authflow.secure_equal(bytea, bytea)
RETURNS boolean
AS 'MODULE_PATHNAME', 'authflow_secure_equal'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION authflow.secure_equal(bytea, bytea) IS
  'true when both byte strings are equal; constant time for equal lengths';

CREATE OR REPLACE FUNCTION authflow.time_ordered_uuid()
RETURNS uuid
AS 'MODULE_PATHNAME', 'authflow_time_ordered_uuid'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION authflow.time_ordered_uuid() IS
  'A version 7 UUID: Unix time in milliseconds, then 74 random bits; later ids sort later (session ids: compact primary key)';
