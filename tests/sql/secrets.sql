-- secrets.sql: no raw token, nor its secret in any usual encoding, is ever stored.
BEGIN;
\ir ../fixtures/clean_slate.sql
SELECT plan(3);

-- Tokens of every flow, as callers receive them.
CREATE TEMP TABLE issued (token text);
INSERT INTO issued SELECT unnest(ARRAY[refresh_token, access_token]) FROM authflow.session_create('did:plc:secret', 'secret.test');
INSERT INTO issued SELECT access_token FROM authflow.session_refresh((SELECT token FROM issued WHERE token LIKE 'afr%' LIMIT 1));
-- The CLI flow: an anonymous CLI, a claim, a completion, the successful poll.
CREATE TEMP TABLE anon AS SELECT * FROM authflow.user_create_anonymous();
CREATE TEMP TABLE attempt AS SELECT * FROM authflow.cli_start(anon_refresh_token => (SELECT refresh_token FROM anon));
INSERT INTO issued SELECT unnest(ARRAY[refresh_token, access_token]) FROM anon;
INSERT INTO issued SELECT unnest(ARRAY[polling_code, login_code]) FROM attempt;
INSERT INTO issued SELECT unnest(ARRAY[refresh_token, access_token])
  FROM authflow.cli_claim_anon_session((SELECT login_code FROM attempt));
SELECT authflow.cli_complete((SELECT login_code FROM attempt), (SELECT token FROM issued WHERE token LIKE 'afr%' LIMIT 1));
INSERT INTO issued SELECT unnest(ARRAY[refresh_token, access_token]) FROM authflow.cli_poll((SELECT polling_code FROM attempt));

-- Each token in the forms a careless store would use.
CREATE TEMP TABLE forms AS
  SELECT i.token, f.text_form, p.secret
    FROM issued AS i, authflow.token_parse(i.token) AS p,
         LATERAL unnest(ARRAY[i.token, substr(i.token, 38), encode(p.secret, 'hex'), encode(p.secret, 'base64'),
                              encode(convert_to(i.token, 'UTF8'), 'hex'), encode(convert_to(i.token, 'UTF8'), 'base64')])
           AS f(text_form);
SELECT cmp_ok((SELECT count(DISTINCT left(token, 3)) FROM forms), '=', 4::bigint, 'tokens of all four kinds were issued');

CREATE TEMP TABLE leaks (location text);
DO $$
DECLARE
  col record;
BEGIN
  FOR col IN
    SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns AS c
     WHERE c.table_schema = 'authflow' AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea')
  LOOP
    IF col.data_type = 'bytea' THEN
      EXECUTE format($q$INSERT INTO leaks SELECT %L FROM authflow.%I AS t, forms AS f
                        WHERE position(f.secret IN t.%I) > 0 OR position(convert_to(f.text_form, 'UTF8') IN t.%I) > 0$q$,
                     col.table_name || '.' || col.column_name, col.table_name, col.column_name, col.column_name);
    ELSE
      EXECUTE format($q$INSERT INTO leaks SELECT %L FROM authflow.%I AS t, forms AS f
                        WHERE strpos(t.%I::text, f.text_form) > 0$q$,
                     col.table_name || '.' || col.column_name, col.table_name, col.column_name);
    END IF;
  END LOOP;
END $$;
SELECT is_empty($$SELECT DISTINCT location FROM leaks$$, 'no column of any authflow table holds a raw token or its secret');
SELECT cmp_ok((SELECT count(*) FROM information_schema.columns WHERE table_schema = 'authflow' AND data_type = 'bytea'),
              '>=', 2::bigint, 'the search covered the hash columns');

SELECT * FROM finish();
ROLLBACK;
