-- lifecycle.sql: the extension drops and re-creates cleanly (upgrades: upgrade.sql).
BEGIN;
SELECT plan(7);

SELECT has_schema('authflow', 'the extension creates schema authflow');
SELECT is((SELECT e.extname FROM pg_namespace n JOIN pg_depend d ON d.objid = n.oid AND d.classid = 'pg_namespace'::regclass
                              JOIN pg_extension e ON e.oid = d.refobjid
            WHERE n.nspname = 'authflow' AND d.deptype = 'e'),
          'authflow', 'schema authflow belongs to the extension');

-- session_validate keeps where its tables are per backend: use it before and after a re-creation.
CREATE TEMP TABLE before_drop AS SELECT * FROM authflow.session_create('did:plc:lifecycle');
SELECT count(*) AS warm FROM authflow.session_validate((SELECT access_token FROM before_drop)) \gset
SELECT lives_ok($$DROP EXTENSION authflow CASCADE$$, 'DROP EXTENSION authflow');
SELECT hasnt_schema('authflow', 'schema authflow is gone with it');
SELECT lives_ok($$CREATE EXTENSION authflow$$, 'CREATE EXTENSION authflow again');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'authflow'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'authflow'), 'it installs the default version');
CREATE TEMP TABLE after_create AS SELECT * FROM authflow.session_create('did:plc:lifecycle');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM after_create))) + :warm, 2::bigint,
          'session_validate finds the new tables after the extension was re-created in the same session');

SELECT * FROM finish();
ROLLBACK;
