-- The update floor: a primary-key update of one session-shaped row (a new SHA-256, the expiries).
\set k random(1, :rows)
UPDATE bench_floor
   SET access_hash = sha256(gen_random_bytes(32)), expires_at = now() + interval '30 days',
       access_expires_at = now() + interval '15 minutes', refreshed_at = now()
 WHERE session_id = md5(:k::text)::uuid;
