-- The write floors' table: shaped like authflow.sessions (the same columns, defaults, checks and
-- indexes, unlogged), but no function, no foreign key, no trigger: what PostgreSQL itself writes.
-- :rows rows keyed md5(k) for the update floor; the delete floor's rows are added before each
-- of its cells (bench/floor_stage.cpp).
DROP TABLE IF EXISTS bench_floor;
CREATE UNLOGGED TABLE bench_floor (LIKE authflow.sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)
  WITH (fillfactor = 90);
INSERT INTO bench_floor (access_expires_at, expires_at, created_at, refreshed_at, user_key, session_id, kind,
                         access_hash, refresh_hash)
  SELECT now() + interval '15 minutes', now() + interval '30 days', now(), now(), k % 100000,
         md5(k::text)::uuid, 'web', sha256(gen_random_bytes(32)), sha256(gen_random_bytes(32))
    FROM generate_series(1, :rows) AS k;
DROP SEQUENCE IF EXISTS bench_floor_deleted;
CREATE UNLOGGED SEQUENCE bench_floor_deleted;
VACUUM ANALYZE bench_floor;
