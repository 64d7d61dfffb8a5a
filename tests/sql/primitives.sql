-- primitives.sql: the C++ token and hash functions, seen from SQL.
BEGIN;
SELECT plan(33);

-- Signatures, volatility, strictness.
SELECT has_function('authflow', 'token_generate', ARRAY['text'], 'token_generate(kind)');
SELECT has_function('authflow', 'token_generate', ARRAY['text', 'uuid'], 'token_generate(kind, row_id)');
SELECT has_function('authflow', 'token_issue', ARRAY['text', 'uuid'], 'token_issue(kind, row_id)');
SELECT has_function('authflow', 'token_parse', ARRAY['text', 'text'], 'token_parse(token, expected_kind)');
SELECT has_function('authflow', 'sha256', ARRAY['bytea'], 'sha256(bytea)');
SELECT has_function('authflow', 'sha256', ARRAY['text'], 'sha256(text)');
SELECT has_function('authflow', 'secure_equal', ARRAY['bytea', 'bytea'], 'secure_equal(bytea, bytea)');
SELECT volatility_is('authflow', 'token_generate', ARRAY['text'], 'volatile', 'token_generate is volatile');
SELECT volatility_is('authflow', 'sha256', ARRAY['bytea'], 'immutable', 'sha256 is immutable');
SELECT is_strict('authflow', 'sha256', ARRAY['text'], 'sha256 is strict');
SELECT is(
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'authflow' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
      AND obj_description(p.oid, 'pg_proc') IS NULL),
  0::bigint, 'every C function has a comment');

-- SHA-256 agrees with pgcrypto on random inputs of many lengths, as bytea and as text.
SELECT is(
  (SELECT count(*) FROM generate_series(0, 600) AS length,
          LATERAL (SELECT CASE WHEN length = 0 THEN ''::bytea ELSE gen_random_bytes(least(length, 1024)) END AS input) AS r
    WHERE authflow.sha256(input) IS DISTINCT FROM digest(input, 'sha256')),
  0::bigint, 'sha256(bytea) equals pgcrypto digest(x, ''sha256'') on 601 random inputs');
SELECT is(
  (SELECT count(*) FROM generate_series(1, 200) AS g,
          LATERAL (SELECT encode(gen_random_bytes(g), 'base64') || 'é€' AS input) AS r
    WHERE authflow.sha256(input) IS DISTINCT FROM digest(input, 'sha256')),
  0::bigint, 'sha256(text) equals pgcrypto digest(text, ''sha256'') on 200 random UTF-8 texts');
SELECT is(encode(authflow.sha256(''), 'hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          'sha256 of the empty string');
SELECT is(authflow.sha256(repeat('x', 10 * 1024 * 1024)), digest(repeat('x', 10 * 1024 * 1024), 'sha256'),
          'sha256 of a 10 MB text');
SELECT is(authflow.sha256(NULL::text), NULL, 'sha256(NULL) is NULL');

-- secure_equal.
SELECT ok(authflow.secure_equal('\x0102', '\x0102'), 'secure_equal: equal bytes');
SELECT ok(NOT authflow.secure_equal('\x0102', '\x0103'), 'secure_equal: different bytes');
SELECT ok(NOT authflow.secure_equal('\x01', '\x0102'), 'secure_equal: different lengths');

-- Tokens.
SELECT matches(authflow.token_generate('access'), '^afa_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$', 'access token format');
SELECT matches(authflow.token_generate('refresh'), '^afr_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$', 'refresh token format');
SELECT matches(authflow.token_generate('polling'), '^afp_', 'polling code prefix');
SELECT matches(authflow.token_generate('login'), '^afl_', 'login code prefix');
SELECT is((authflow.token_parse(authflow.token_generate('login', '8a3e2b51-0c4d-4e6f-8a9b-0c1d2e3f4a5b'))).row_id,
          '8a3e2b51-0c4d-4e6f-8a9b-0c1d2e3f4a5b'::uuid, 'token_parse returns the row id given to token_generate');
SELECT is((SELECT p.secret_hash = i.secret_hash AND p.secret_hash = authflow.sha256(p.secret) AND p.kind = 'polling'
             FROM authflow.token_issue('polling', gen_random_uuid()) AS i, authflow.token_parse(i.token) AS p),
          true, 'token_issue returns the hash of the secret token_parse finds');
SELECT is((authflow.token_parse(authflow.token_generate('refresh'), 'access')).row_id, NULL,
          'a token of another kind parses to NULL when a kind is expected');

-- Bad input: NULL for "not a token", 22023 for a bad argument.
SELECT is((authflow.token_parse(NULL)).kind, NULL, 'token_parse(NULL) is NULL');
SELECT is((authflow.token_parse('')).kind, NULL, 'token_parse of the empty string is NULL');
SELECT is((authflow.token_parse(repeat('a', 1024 * 1024))).kind, NULL, 'token_parse of 1 MB of text is NULL');
SELECT is((authflow.token_parse('afa_' || repeat('0', 32) || '_' || repeat('!', 43))).kind, NULL,
          'token_parse of a valid prefix with a garbage secret is NULL');
SELECT throws_ok($$SELECT authflow.token_generate('bogus')$$, '22023',
                 'kind must be one of access, refresh, polling, login, key, device', 'token_generate of an unknown kind raises 22023');
SELECT throws_ok($$SELECT authflow.token_parse('x', 'session')$$, '22023',
                 'expected_kind must be one of access, refresh, polling, login, key, device', 'token_parse with an unknown kind raises 22023');
SELECT is(authflow.token_generate(NULL), NULL, 'token_generate(NULL) is NULL');

SELECT * FROM finish();
ROLLBACK;
