-- token_issue.sql (pgbench): an access token and the SHA-256 of its secret, by authflow.
SELECT * FROM authflow.token_issue('access', gen_random_uuid());
