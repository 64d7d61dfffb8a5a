// pg_session_validate.cpp: authflow.session_validate, the hot path of every request.
//
// It does what this query does, without the executor or PL/pgSQL around it:
//   SELECT s.session_id, t.name, u.user_id, u.handle, u.is_anonymous, s.access_expires_at, s.expires_at, s.created_at
//     FROM token_parse($1, 'access') p JOIN sessions s ON s.session_id = p.row_id
//     JOIN users u ON u.user_key = s.user_key JOIN tenants t ON t.tenant_id = u.tenant_id
//    WHERE s.access_expires_at > now() AND s.expires_at > now() AND secure_equal(s.access_hash, p.secret_hash)
// i.e. three primary-key probes under the statement's snapshot. The token is parsed and hashed
// once, in C++; no plan, no portal, no GUC switch. Like a SECURITY DEFINER function it reads the
// tables whatever the caller's privileges; EXECUTE on it is what is granted.
//
// Relations and columns are found by name once per backend and kept in a Layout, which a relcache
// invalidation callback drops whenever one of the tables changes (ALTER, DROP EXTENSION, an
// update of the extension), so a stale OID or column number is never used.
//
// On a Citus cluster (authflow.distribute), the local heap of authflow.sessions is an empty shell
// on every node: there, validate answers through authflow.session_validate_routed, whose
// statements Citus routes to the session's shard. It never reads the shell.
#include <cstring>
#include <string_view>

#include "crypto.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "token.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

namespace {

// Table is an open heap with its primary-key index and a slot to read rows into.
struct Table {
  Relation heap;
  Relation primary_key;
  TupleTableSlot *slot;
};

// Layout is where the three tables and their columns are, as of the last invalidation.
struct Layout {
  bool valid;
  bool distributed; // sessions is a Citus distributed table: its local heap is an empty shell
  Oid sessions, sessions_pkey, users, users_pkey, tenants, tenants_pkey;
  AttrNumber access_expires_at, expires_at, created_at, user_key, session_id, access_hash; // sessions
  AttrNumber tenant_id, user_id, handle, is_anonymous;                                     // users
  AttrNumber name;                                                                         // tenants
};

Layout layout;
bool callback_registered = false;

// ForgetLayout is the relcache invalidation callback: any change to one of the tables (or a
// reset of the whole cache) forgets the layout.
void ForgetLayout(Datum, Oid relation) {
  if (relation == InvalidOid || relation == layout.sessions || relation == layout.users || relation == layout.tenants ||
      relation == layout.sessions_pkey || relation == layout.users_pkey || relation == layout.tenants_pkey) {
    layout.valid = false;
  }
}

Oid RelationOid(Oid schema, const char *name) {
  const Oid oid = get_relname_relid(name, schema);
  if (!OidIsValid(oid)) {
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("authflow: relation authflow.%s is missing", name)));
  }
  return oid;
}

Table OpenTable(Oid heap, Oid primary_key) {
  Table table;
  table.heap = table_open(heap, AccessShareLock);
  table.primary_key = index_open(primary_key, AccessShareLock);
  table.slot = table_slot_create(table.heap, nullptr);
  return table;
}

void CloseTable(Table &table) {
  ExecDropSingleTupleTableSlot(table.slot);
  index_close(table.primary_key, AccessShareLock);
  table_close(table.heap, AccessShareLock);
}

// Column is the attribute number of a column, found by name.
AttrNumber Column(Relation relation, const char *name) {
  const TupleDesc descriptor = RelationGetDescr(relation);
  for (int i = 0; i < descriptor->natts; ++i) {
    const Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
    if (!attribute->attisdropped && std::strcmp(NameStr(attribute->attname), name) == 0)
      return attribute->attnum;
  }
  ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                  errmsg("authflow: column %s of %s is missing", name, RelationGetRelationName(relation))));
  pg_unreachable();
}

// IsDistributed is true when Citus' metadata (on the coordinator, or synced to a worker) lists
// the table. Citus invalidates the table's relcache entry when it distributes it, which forgets
// the layout, so this is asked again then.
bool IsDistributed(Oid relation) {
  if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
    return false;
  SPI_connect();
  Oid type = OIDOID;
  Datum value = ObjectIdGetDatum(relation);
  const int result = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1", 1,
                                           &type, &value, nullptr, true, 1);
  const bool distributed = result == SPI_OK_SELECT && SPI_processed == 1;
  SPI_finish();
  return distributed;
}

// ValidateRouted answers through authflow.session_validate_routed, whose statements Citus routes
// to the session's shard, and copies its row (if any) into the result.
void ValidateRouted(ReturnSetInfo *result, Datum token) {
  SPI_connect();
  Oid type = TEXTOID;
  const int status = SPI_execute_with_args("SELECT * FROM authflow.session_validate_routed($1)", 1, &type, &token,
                                           nullptr, true, 1);
  if (status != SPI_OK_SELECT)
    elog(ERROR, "authflow: session_validate_routed failed: %s", SPI_result_code_string(status));
  if (SPI_processed == 1) {
    Datum values[8];
    bool nulls[8];
    heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, values, nulls);
    tuplestore_putvalues(result->setResult, result->setDesc, values, nulls); // copies the values
  }
  SPI_finish();
}

// ResolveRelations finds the tables and indexes by name (when the layout was forgotten).
void ResolveRelations() {
  if (!callback_registered) {
    CacheRegisterRelcacheCallback(ForgetLayout, static_cast<Datum>(0));
    callback_registered = true;
  }
  const Oid schema = get_namespace_oid("authflow", false);
  layout.sessions = RelationOid(schema, "sessions");
  layout.sessions_pkey = RelationOid(schema, "sessions_pkey");
  layout.users = RelationOid(schema, "users");
  layout.users_pkey = RelationOid(schema, "users_pkey");
  layout.tenants = RelationOid(schema, "tenants");
  layout.tenants_pkey = RelationOid(schema, "tenants_pkey");
  layout.distributed = IsDistributed(layout.sessions);
}

// ResolveColumns reads the column numbers from the open tables; opening them processed any
// pending invalidation, so these descriptors are current.
void ResolveColumns(const Table &sessions, const Table &users, const Table &tenants) {
  layout.access_expires_at = Column(sessions.heap, "access_expires_at");
  layout.expires_at = Column(sessions.heap, "expires_at");
  layout.created_at = Column(sessions.heap, "created_at");
  layout.user_key = Column(sessions.heap, "user_key");
  layout.session_id = Column(sessions.heap, "session_id");
  layout.access_hash = Column(sessions.heap, "access_hash");
  layout.tenant_id = Column(users.heap, "tenant_id");
  layout.user_id = Column(users.heap, "user_id");
  layout.handle = Column(users.heap, "handle");
  layout.is_anonymous = Column(users.heap, "is_anonymous");
  layout.name = Column(tenants.heap, "name");
  layout.valid = true;
}

// FetchByKey reads the row whose primary key equals `key` (compared with `equality`) into the
// table's slot; false when there is none visible to the statement's snapshot.
bool FetchByKey(Table &table, RegProcedure equality, Datum key) {
  ScanKeyData scan_key;
  ScanKeyInit(&scan_key, 1, BTEqualStrategyNumber, equality, key);
  IndexScanDesc scan = index_beginscan(table.heap, table.primary_key, GetActiveSnapshot(), 1, 0);
  index_rescan(scan, &scan_key, 1, nullptr, 0);
  const bool found = index_getnext_slot(scan, ForwardScanDirection, table.slot);
  index_endscan(scan);
  return found;
}

Datum Value(Table &table, AttrNumber column, bool *is_null) { return slot_getattr(table.slot, column, is_null); }

bool HashMatches(Datum stored, const authflow::Sha256Digest &expected) {
  const struct varlena *hash = reinterpret_cast<struct varlena *>(DatumGetPointer(stored));
  return authflow::secure_equal(VARDATA_ANY(hash), VARSIZE_ANY_EXHDR(hash), expected.data(), expected.size());
}

} // namespace

// authflow_session_validate returns the session of a live access token, or no row.
AUTHFLOW_SQL_FUNCTION(authflow_session_validate) {
  ReturnSetInfo *result = authflow::pg::MaterializeResult(fcinfo, "authflow.session_validate",
                                   {UUIDOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
                                    TIMESTAMPTZOID});

  const authflow::pg::TokenArgument token = authflow::pg::ParseTokenArgument(fcinfo, 0, authflow::TokenKind::access);
  if (!token.valid)
    return static_cast<Datum>(0);
  const authflow::Sha256Digest &secret_hash = token.secret_hash;
  pg_uuid_t session_id = token.row_uuid;

  if (!layout.valid)
    ResolveRelations();
  if (layout.distributed) {
    layout.valid = true; // no columns are read here: the routed function reads them
    ValidateRouted(result, PG_GETARG_DATUM(0));
    return static_cast<Datum>(0);
  }
  const TimestampTz now = GetCurrentTransactionStartTimestamp();
  Table sessions = OpenTable(layout.sessions, layout.sessions_pkey);
  Table users = OpenTable(layout.users, layout.users_pkey);
  Table tenants = OpenTable(layout.tenants, layout.tenants_pkey);
  if (!layout.valid)
    ResolveColumns(sessions, users, tenants);

  bool is_null;
  if (FetchByKey(sessions, F_UUID_EQ, UUIDPGetDatum(&session_id)) &&
      DatumGetTimestampTz(Value(sessions, layout.access_expires_at, &is_null)) > now &&
      DatumGetTimestampTz(Value(sessions, layout.expires_at, &is_null)) > now &&
      HashMatches(Value(sessions, layout.access_hash, &is_null), secret_hash) &&
      FetchByKey(users, F_INT8EQ, Value(sessions, layout.user_key, &is_null)) &&
      FetchByKey(tenants, F_INT4EQ, Value(users, layout.tenant_id, &is_null))) {
    Datum values[8];
    bool nulls[8] = {};
    values[0] = Value(sessions, layout.session_id, &nulls[0]);
    values[1] = Value(tenants, layout.name, &nulls[1]);
    values[2] = Value(users, layout.user_id, &nulls[2]);
    values[3] = Value(users, layout.handle, &nulls[3]);
    values[4] = Value(users, layout.is_anonymous, &nulls[4]);
    values[5] = Value(sessions, layout.access_expires_at, &nulls[5]);
    values[6] = Value(sessions, layout.expires_at, &nulls[6]);
    values[7] = Value(sessions, layout.created_at, &nulls[7]);
    tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
  }

  CloseTable(tenants);
  CloseTable(users);
  CloseTable(sessions);
  return static_cast<Datum>(0);
}
