-- The insert floor: one session-shaped row (a uuid, two SHA-256s) into bench_floor.
\set u random(0, 99999)
INSERT INTO bench_floor (access_expires_at, expires_at, created_at, refreshed_at, user_key, session_id, kind,
                         access_hash, refresh_hash)
  VALUES (now() + interval '15 minutes', now() + interval '30 days', now(), now(), :u, gen_random_uuid(), 'web',
          sha256(gen_random_bytes(32)), sha256(gen_random_bytes(32)));
