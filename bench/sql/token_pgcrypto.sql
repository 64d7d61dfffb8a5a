-- token_pgcrypto.sql (pgbench): the same token and hash composed from pgcrypto: 32 random
-- bytes, base64url without padding, the row id, the kind prefix, and SHA-256 of the secret.
SELECT 'afa_' || replace(id::text, '-', '') || '_' || rtrim(translate(encode(secret, 'base64'), '+/', '-_'), '=') AS token,
       digest(secret, 'sha256') AS secret_hash
  FROM (SELECT gen_random_uuid() AS id, gen_random_bytes(32) AS secret) AS s;
