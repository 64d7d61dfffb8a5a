
-- 0.1.0 -> 0.2.0, after the functions: the grants of functions the update re-created.
DO $$
DECLARE
  kept record;
BEGIN
  FOR kept IN SELECT * FROM authflow.upgrade_grants LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', kept.new_signature,
                   CASE WHEN kept.grantee = 0 THEN 'PUBLIC' ELSE kept.grantee::regrole::text END);
  END LOOP;
END $$;
DROP TABLE authflow.upgrade_grants;
