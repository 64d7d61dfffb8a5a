-- upgrade_tenant_names.sql: from 0.2.0 on, a tenant named by a UUID is named in lower case
-- (authflow.tenant_canonical_name). The update from 0.1.0 renames such tenants, keeping their
-- sessions, and stops, naming them, when two names differ only in the case of a UUID.
BEGIN;
SELECT plan(6);

DROP EXTENSION authflow CASCADE;
CREATE EXTENSION authflow VERSION '0.1.0';
SELECT authflow.tenant_set('8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55');
SELECT authflow.tenant_set('Acme');
CREATE TEMP TABLE made AS SELECT * FROM authflow.session_create('did:plc:upper', NULL, NULL, '8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55');
ALTER EXTENSION authflow UPDATE;
SELECT is((SELECT array_agg(name ORDER BY name) FROM authflow.tenants), '{8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55,Acme,default}',
          'the update writes UUID names in lower case and leaves other names alone');
SELECT is((SELECT tenant FROM authflow.session_validate((SELECT access_token FROM made))), '8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55',
          'a session of 0.1.0 is of the renamed tenant');
SELECT is((SELECT status FROM authflow.http('GET', '/api/v1/sessions/current',
             (SELECT jsonb_build_object('authorization', 'Bearer ' || access_token, 'x-stack-project-id', '8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55') FROM made), NULL)),
          200, 'and is reached by its project id in either case');

DROP EXTENSION authflow CASCADE;
CREATE EXTENSION authflow VERSION '0.1.0';
SELECT authflow.tenant_set('8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55');
SELECT authflow.tenant_set('8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55');
SELECT throws_ok('ALTER EXTENSION authflow UPDATE', '23505',
                 'tenants ''8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55'', ''8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55'' differ only in the case of a UUID; rename all but one before updating',
                 'two UUID names that differ only in case stop the update, naming them');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'authflow'), '0.1.0', 'and nothing was updated');
UPDATE authflow.tenants SET name = 'renamed-by-operator' WHERE name = '8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55';
ALTER EXTENSION authflow UPDATE;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'authflow'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'authflow'), 'once renamed, it updates');

SELECT * FROM finish();
ROLLBACK;
