-- Merge of an anonymous user into another user: declared rules, set-based moves, credentials
-- deleted rather than moved, both users locked in a fixed order.

-- merge_execute runs one statement of a merge with the rights of the table's owner, never the
-- extension owner's (C++: extension/pg_merge.cpp). Internal: nobody is granted EXECUTE on it.
CREATE OR REPLACE FUNCTION authflow.merge_execute(target regclass, statement text, anon_user_id text, target_user_id text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'authflow_merge_execute'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION authflow.merge_execute(regclass, text, text, text) IS
  'Internal: runs a merge statement on an application table as that table''s owner (restricted: no SET ROLE, no temporary objects, settings restored); $1 is the anonymous user id, $2 the target''s; returns a count or the rows processed';

-- merge_rule_allowed is true when the current role may declare a merge rule on a table: it owns
-- the table (or is a member of its owner), and the table is the application''s own, not in a
-- system schema, not authflow''s, not another extension''s. The row security of
-- authflow.merge_rules applies it, so it holds however a rule is written.
CREATE OR REPLACE FUNCTION authflow.merge_rule_allowed(target regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce((
    SELECT pg_has_role(current_user, c.relowner, 'USAGE')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'authflow')
           AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = target AND c.relkind IN ('r', 'p')), false)
$$;
COMMENT ON FUNCTION authflow.merge_rule_allowed(regclass) IS
  'true when the current role may declare merge rules on a table: a table of the application''s, owned by the role or a role it is a member of';

-- Rules are rows only their tables' owners may see, write or remove (merge_rule_allowed), whoever
-- was granted the table (grant_api with include_admin grants it).
ALTER TABLE authflow.merge_rules ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS merge_rules_of_owned_tables ON authflow.merge_rules;
CREATE POLICY merge_rules_of_owned_tables ON authflow.merge_rules
  USING (authflow.merge_rule_allowed(target)) WITH CHECK (authflow.merge_rule_allowed(target));

CREATE OR REPLACE FUNCTION authflow.merge_rule_add(target regclass, user_column name, key_columns name[] DEFAULT '{}',
                                        on_conflict text DEFAULT 'keep_target', is_credential boolean DEFAULT false,
                                        tenant_column name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  column_name name;
BEGIN
  IF target IS NULL OR (SELECT relkind FROM pg_class WHERE oid = target) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'target must be a table' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (SELECT relnamespace FROM pg_class WHERE oid = target) = 'authflow'::regnamespace THEN
    RAISE EXCEPTION 'target must be an application table, not one of authflow''s' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT authflow.merge_rule_allowed(target) THEN
    RAISE EXCEPTION 'permission denied to declare a merge rule on %', target USING ERRCODE = 'insufficient_privilege',
      DETAIL = 'Only the owner of an application table (or a member of its owning role) may; tables of system schemas and of other extensions are refused.';
  END IF;
  IF on_conflict IS NULL OR on_conflict NOT IN ('keep_target', 'keep_anonymous', 'error') THEN
    RAISE EXCEPTION 'on_conflict must be keep_target, keep_anonymous or error' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF key_columns IS NULL OR user_column = ANY (key_columns)
     OR cardinality(key_columns) <> (SELECT count(DISTINCT k) FROM unnest(key_columns) AS k) THEN
    RAISE EXCEPTION 'key_columns must be distinct columns other than user_column' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH column_name IN ARRAY ARRAY[user_column, tenant_column] || key_columns LOOP
    CONTINUE WHEN column_name IS NULL AND tenant_column IS NULL;
    IF column_name IS NULL OR NOT EXISTS (SELECT 1 FROM pg_attribute
                                          WHERE attrelid = target AND attname = column_name AND attnum > 0 AND NOT attisdropped) THEN
      RAISE EXCEPTION 'column "%" does not exist in table %', column_name, target USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  INSERT INTO authflow.merge_rules AS r (target, user_column, key_columns, on_conflict, is_credential, tenant_column)
  VALUES (target, user_column, key_columns, on_conflict, is_credential, tenant_column)
  ON CONFLICT ON CONSTRAINT merge_rules_pkey DO UPDATE
    SET key_columns = excluded.key_columns, on_conflict = excluded.on_conflict,
        is_credential = excluded.is_credential, tenant_column = excluded.tenant_column;
END $$;
COMMENT ON FUNCTION authflow.merge_rule_add(regclass, name, name[], text, boolean, name) IS
  'Declares (as the table''s owner: 42501 otherwise) an application table with user-owned rows: key_columns plus user_column form the unique key that may collide, on_conflict says which side wins, credential tables have the anonymous rows deleted, never moved';

CREATE OR REPLACE FUNCTION authflow.merge_rule_remove(target regclass, user_column name DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  removed integer;
BEGIN
  DELETE FROM authflow.merge_rules AS r
   WHERE r.target = merge_rule_remove.target
     AND (merge_rule_remove.user_column IS NULL OR r.user_column = merge_rule_remove.user_column);
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
COMMENT ON FUNCTION authflow.merge_rule_remove(regclass, name) IS
  'Removes the merge rules of a table (of one user column, when given) that the caller may declare; returns how many';

-- merge_users merges user anon_key into target_key: see merge_anonymous_user. With missing_ok, an
-- anonymous user that is gone (merged by a concurrent transaction) or no longer anonymous is no
-- error: the result is NULL and nothing changes.
CREATE OR REPLACE FUNCTION authflow.merge_users(anon_key bigint, target_key bigint, missing_ok boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  anon authflow.users;
  target authflow.users;
  tenant_name text;
  rule authflow.merge_rules;
  user_type text;
  tenant_filter text;
  same_key text;
  colliding text;
  moved bigint;
  deleted bigint;
  tables jsonb := '{}';
  sessions_revoked bigint;
BEGIN
  -- Fixed lock order: concurrent merges of overlapping users queue instead of deadlocking.
  PERFORM 1 FROM authflow.users AS u WHERE u.user_key IN (anon_key, target_key) ORDER BY u.user_key FOR UPDATE;
  SELECT * INTO anon FROM authflow.users AS u WHERE u.user_key = anon_key;
  SELECT * INTO target FROM authflow.users AS u WHERE u.user_key = target_key;
  IF anon.user_key IS NULL OR NOT anon.is_anonymous THEN
    IF missing_ok THEN RETURN NULL; END IF;
    IF anon.user_key IS NULL THEN
      RAISE EXCEPTION 'the anonymous user does not exist' USING ERRCODE = 'AF031';
    END IF;
    RAISE EXCEPTION 'user "%" is not anonymous', anon.user_id USING ERRCODE = 'AF030';
  END IF;
  IF target.user_key IS NULL OR target.tenant_id <> anon.tenant_id THEN
    RAISE EXCEPTION 'the target user does not exist' USING ERRCODE = 'AF031';
  END IF;
  tenant_name := (SELECT t.name FROM authflow.tenants AS t WHERE t.tenant_id = anon.tenant_id);

  FOR rule IN SELECT * FROM authflow.merge_rules AS r ORDER BY r.target::text, r.user_column LOOP
    user_type := (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a
                   WHERE a.attrelid = rule.target AND a.attname = rule.user_column AND NOT a.attisdropped);
    IF user_type IS NULL THEN
      RAISE EXCEPTION 'merge rule of %: column "%" no longer exists', rule.target, rule.user_column
        USING ERRCODE = 'AF033';
    END IF;
    tenant_filter := CASE WHEN rule.tenant_column IS NULL THEN 'true'
                          ELSE format('%%1$s.%I = %L', rule.tenant_column, tenant_name) END;
    same_key := (SELECT string_agg(format('other.%1$I = mine.%1$I', k), ' AND ') FROM unnest(rule.key_columns) AS k);
    deleted := 0;
    moved := 0;

    -- Every statement on the application table runs as its owner (merge_execute); $1 is the
    -- anonymous user's id, $2 the target's.
    IF rule.is_credential THEN
      deleted := authflow.merge_execute(rule.target,
        format('DELETE FROM %s AS mine WHERE mine.%I = $1::%s AND %s',
               rule.target, rule.user_column, user_type, format(tenant_filter, 'mine')),
        anon.user_id, target.user_id);
    ELSE
      IF same_key IS NOT NULL THEN
        -- Rows of both users with the same key collide once moved: on_conflict decides.
        -- keep_target deletes the anonymous side's colliding rows, keep_anonymous the target's.
        colliding := format('FROM %1$s AS mine WHERE mine.%2$I = %7$s::%3$s AND %4$s AND EXISTS '
                            '(SELECT 1 FROM %1$s AS other WHERE other.%2$I = %8$s::%3$s AND %5$s AND %6$s)',
                            rule.target, rule.user_column, user_type, format(tenant_filter, 'mine'),
                            format(tenant_filter, 'other'), same_key,
                            CASE WHEN rule.on_conflict = 'keep_anonymous' THEN '$2' ELSE '$1' END,
                            CASE WHEN rule.on_conflict = 'keep_anonymous' THEN '$1' ELSE '$2' END);
        IF rule.on_conflict = 'error' THEN
          deleted := authflow.merge_execute(rule.target, 'SELECT count(*) ' || colliding, anon.user_id, target.user_id);
          IF deleted > 0 THEN
            RAISE EXCEPTION 'merge conflict: % rows of % collide with rows of the target user', deleted, rule.target
              USING ERRCODE = 'AF032';
          END IF;
        ELSE
          deleted := authflow.merge_execute(rule.target, 'DELETE ' || colliding, anon.user_id, target.user_id);
        END IF;
      END IF;
      moved := authflow.merge_execute(rule.target,
        format('UPDATE %s AS mine SET %I = $2::%s WHERE mine.%I = $1::%s AND %s',
               rule.target, rule.user_column, user_type, rule.user_column, user_type, format(tenant_filter, 'mine')),
        anon.user_id, target.user_id);
    END IF;
    tables := tables || jsonb_build_object(format('%s.%s', rule.target, rule.user_column),
                                           jsonb_build_object('moved', moved, 'deleted', deleted));
  END LOOP;

  UPDATE authflow.users AS u SET metadata = anon.metadata || u.metadata WHERE u.user_key = target_key;
  DELETE FROM authflow.sessions AS s WHERE s.user_key = anon_key;
  GET DIAGNOSTICS sessions_revoked = ROW_COUNT;
  UPDATE authflow.cli_attempts AS a SET completed_user_key = target_key WHERE a.completed_user_key = anon_key;
  DELETE FROM authflow.users AS u WHERE u.user_key = anon_key;
  PERFORM authflow.security_event(target.tenant_id, 'merge_performed', target.user_id, NULL,
                                  jsonb_build_object('anon_user_id', anon.user_id, 'sessions_revoked', sessions_revoked,
                                                     'tables', tables), false);
  RETURN jsonb_build_object('anon_user_id', anon.user_id, 'target_user_id', target.user_id,
                            'sessions_revoked', sessions_revoked, 'tables', tables);
END $$;
COMMENT ON FUNCTION authflow.merge_users(bigint, bigint, boolean) IS
  'Internal: merges one user into another by user_key (see merge_anonymous_user)';

CREATE OR REPLACE FUNCTION authflow.merge_anonymous_user(anon_user_id text, target_user_id text, tenant text DEFAULT 'default')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  settings authflow.tenants;
  anon_key bigint;
  target_key bigint;
BEGIN
  PERFORM authflow.require_text(anon_user_id, 'anon_user_id'), authflow.require_text(target_user_id, 'target_user_id');
  IF anon_user_id = target_user_id THEN
    RAISE EXCEPTION 'anon_user_id and target_user_id must differ' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  settings := authflow.require_tenant(tenant);
  anon_key := (SELECT u.user_key FROM authflow.users AS u WHERE u.tenant_id = settings.tenant_id AND u.user_id = anon_user_id);
  target_key := (SELECT u.user_key FROM authflow.users AS u WHERE u.tenant_id = settings.tenant_id AND u.user_id = target_user_id);
  IF anon_key IS NULL THEN
    RAISE EXCEPTION 'user "%" does not exist', left(anon_user_id, 256) USING ERRCODE = 'AF031';
  ELSIF target_key IS NULL THEN
    RAISE EXCEPTION 'user "%" does not exist', left(target_user_id, 256) USING ERRCODE = 'AF031';
  END IF;
  RETURN authflow.merge_users(anon_key, target_key);
END $$;
COMMENT ON FUNCTION authflow.merge_anonymous_user(text, text, text) IS
  'Merges an anonymous user into another user in the caller''s transaction: moves rows per merge_rules, deletes credential rows, merges metadata (target wins), revokes the anonymous sessions, deletes the anonymous user; returns a summary';
