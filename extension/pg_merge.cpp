// pg_merge.cpp: authflow.merge_execute, the one place where a merge touches an application table.
//
// merge_anonymous_user and cli_complete are SECURITY DEFINER functions of the extension's owner
// (a superuser). The rows they move live in the application's tables, whose triggers, defaults,
// check constraints, index expressions and row-level security policies are code written by those
// tables' owners. So each statement on such a table runs here as the table's owner, the way
// PostgreSQL itself runs REFRESH MATERIALIZED VIEW and index builds: the user id switched to the
// owner with SECURITY_RESTRICTED_OPERATION (no SET ROLE, no temporary objects, no session state
// that outlives the statement), search_path pinned, and every setting the statement changed
// rolled back before control returns to the extension. An error anywhere restores the caller's
// user id and settings with the (sub)transaction abort.
#include "pg_guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/syscache.h"
}

namespace {

// TableOwner is the owner of a relation; 42P01 when there is none of that OID.
Oid TableOwner(Oid relation) {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relation));
  if (!HeapTupleIsValid(tuple))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("authflow: relation %u of a merge rule does not exist", relation)));
  const Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
  ReleaseSysCache(tuple);
  return owner;
}

} // namespace

// authflow_merge_execute runs one statement of a merge on table `target` with the rights of the
// table's owner: $1 is the anonymous user's id, $2 the target user's id. It returns the first
// column of the first row for a statement that returns rows (a count), else the rows processed.
AUTHFLOW_SQL_FUNCTION(authflow_merge_execute) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("authflow: merge_execute arguments must not be NULL")));
  const Oid owner = TableOwner(PG_GETARG_OID(0));
  char *statement = text_to_cstring(PG_GETARG_TEXT_PP(1));
  Oid types[2] = {TEXTOID, TEXTOID};
  Datum values[2] = {PG_GETARG_DATUM(2), PG_GETARG_DATUM(3)};

  Oid caller;
  int caller_context;
  GetUserIdAndSecContext(&caller, &caller_context);
  SetUserIdAndSecContext(owner, caller_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  const int settings_level = NewGUCNestLevel();
  (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                          false);

  SPI_connect();
  const int result = SPI_execute_with_args(statement, 2, types, values, nullptr, false, 0);
  if (result < 0)
    elog(ERROR, "authflow: merge statement failed: %s", SPI_result_code_string(result));
  int64 answer = static_cast<int64>(SPI_processed);
  if (result == SPI_OK_SELECT && SPI_processed > 0) {
    bool is_null;
    const Datum first = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    answer = is_null ? 0 : DatumGetInt64(first);
  }
  SPI_finish();

  AtEOXact_GUC(false, settings_level);
  SetUserIdAndSecContext(caller, caller_context);
  PG_RETURN_INT64(answer);
}
