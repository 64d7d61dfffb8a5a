-- lifecycle.sql: the extension drops, re-creates, and updates along every upgrade path.
BEGIN;
SELECT plan(8);

SELECT has_schema('authflow', 'the extension creates schema authflow');
SELECT is((SELECT e.extname FROM pg_namespace n JOIN pg_depend d ON d.objid = n.oid AND d.classid = 'pg_namespace'::regclass
                              JOIN pg_extension e ON e.oid = d.refobjid
            WHERE n.nspname = 'authflow' AND d.deptype = 'e'),
          'authflow', 'schema authflow belongs to the extension');

-- What a fresh install defines: every object of the extension, by identity.
CREATE TEMP TABLE fresh_objects AS
  SELECT pg_describe_object(classid, objid, objsubid) AS object
    FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'authflow');

-- session_validate keeps where its tables are per backend: use it before and after a re-creation.
CREATE TEMP TABLE before_drop AS SELECT * FROM authflow.session_create('did:plc:lifecycle');
SELECT count(*) AS warm FROM authflow.session_validate((SELECT access_token FROM before_drop)) \gset
SELECT lives_ok($$DROP EXTENSION authflow CASCADE$$, 'DROP EXTENSION authflow');
SELECT hasnt_schema('authflow', 'schema authflow is gone with it');
SELECT lives_ok($$CREATE EXTENSION authflow$$, 'CREATE EXTENSION authflow again');
CREATE TEMP TABLE after_create AS SELECT * FROM authflow.session_create('did:plc:lifecycle');
SELECT is((SELECT count(*) FROM authflow.session_validate((SELECT access_token FROM after_create))) + :warm, 2::bigint,
          'session_validate finds the new tables after the extension was re-created in the same session');

-- Upgrade paths: from every older packaged version, ALTER EXTENSION UPDATE must reach the
-- default version and define exactly what a fresh install defines.
CREATE TEMP TABLE upgrade_failures (from_version text, problem text);
DO $$
DECLARE
  old_version text;
  target text := (SELECT default_version FROM pg_available_extensions WHERE name = 'authflow');
BEGIN
  FOR old_version IN SELECT version FROM pg_available_extension_versions
                      WHERE name = 'authflow' AND version <> target ORDER BY version LOOP
    DROP EXTENSION authflow CASCADE;
    EXECUTE format('CREATE EXTENSION authflow VERSION %L', old_version);
    ALTER EXTENSION authflow UPDATE;
    IF (SELECT extversion FROM pg_extension WHERE extname = 'authflow') <> target THEN
      INSERT INTO upgrade_failures VALUES (old_version, 'did not reach ' || target);
    END IF;
    INSERT INTO upgrade_failures
      SELECT old_version, 'differs from a fresh install: ' || object FROM (
        (SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
          WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
            AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'authflow')
         EXCEPT SELECT object FROM fresh_objects)
        UNION ALL
        (SELECT object FROM fresh_objects
         EXCEPT SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
          WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
            AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'authflow'))) AS diff(object);
  END LOOP;
  DROP EXTENSION authflow CASCADE;
  CREATE EXTENSION authflow;
END $$;
SELECT is_empty($$SELECT * FROM upgrade_failures$$, 'every upgrade path reaches the default version with the same objects');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'authflow'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'authflow'),
          'the installed version is the default version');

SELECT * FROM finish();
ROLLBACK;
