-- openapi.sql: docs/openapi.yaml describes exactly the routes authflow.http serves.
\set openapi `cat docs/openapi.yaml`
BEGIN;
SELECT plan(3);

-- The operations of the file: a path at two spaces under "paths:", a method at four.
CREATE TEMP TABLE documented AS
WITH lines AS (
  SELECT line, ordinality FROM unnest(string_to_array(:'openapi', E'\n')) WITH ORDINALITY AS l(line, ordinality)
), paths AS (
  SELECT substring(line FROM '^  (/[^:]*):\s*$') AS path, ordinality,
         lead(ordinality, 1, 1000000) OVER (ORDER BY ordinality) AS next_path
    FROM lines WHERE line ~ '^  /'
)
SELECT p.path, upper(substring(l.line FROM '^    (get|post|put|patch|delete):')) AS method,
       EXISTS (SELECT 1 FROM lines AS g WHERE g.ordinality > p.ordinality AND g.ordinality < p.next_path
                                         AND g.line ~ '^    x-served-by: gateway') AS by_gateway
  FROM paths AS p JOIN lines AS l ON l.ordinality > p.ordinality AND l.ordinality < p.next_path
 WHERE l.line ~ '^    (get|post|put|patch|delete):';

SELECT cmp_ok((SELECT count(*) FROM documented), '>=', 10::bigint, 'the file documents the operations');
SELECT set_eq($$SELECT path, method FROM documented WHERE NOT by_gateway$$,
              $$SELECT template, unnest(methods) FROM authflow.http_routes()$$,
              'every documented route is served by authflow.http, and every served route is documented');
SELECT set_eq($$SELECT path FROM documented WHERE by_gateway$$, ARRAY['/readyz', '/metrics'],
              'the gateway''s own routes are marked as such');

SELECT * FROM finish();
ROLLBACK;
