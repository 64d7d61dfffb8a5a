-- authflow.session_create for a user never seen before (the user row is created too).
\set u random(1, 2000000000)
SELECT session_id FROM authflow.session_create('did-new-' || :client_id::text || '-' || :u::text, 'new.test');
