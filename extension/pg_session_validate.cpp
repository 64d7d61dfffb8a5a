// pg_session_validate.cpp: authflow.session_validate, the hot path of every request, and
// authflow.http_session_json, the same lookup written as the body of GET /api/v1/sessions/current.
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
#include "pg_session_json.hpp"
#include "pg_values.hpp"
#include "token.hpp"

extern "C" {
#include "access/genam.h"
#include "miscadmin.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/datetime.h"
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

// SessionRow is one row of session_validate's result, in its column order.
struct SessionRow {
  Datum values[8];
  bool nulls[8];
};

// FindRoutedSession answers through authflow.session_validate_routed, whose statements Citus
// routes to the session's shard, and copies its row (if any) out into the caller's memory.
bool FindRoutedSession(const authflow::pg::TokenArgument &token, SessionRow &row) {
  const authflow::IssuedToken text = authflow::token_from_secret(authflow::TokenKind::access, token.row_id, token.secret);
  Datum argument = PointerGetDatum(cstring_to_text_with_len(text.text.data(), static_cast<int>(text.text.size())));
  MemoryContext caller = CurrentMemoryContext;
  // As the tables' owner: the caller may hold only EXECUTE on authflow.http (the gateway's role),
  // whose hot route comes here without a SECURITY DEFINER frame. An error's abort restores the
  // user, as it does for SECURITY DEFINER functions.
  Oid owner = InvalidOid;
  if (HeapTuple relation = SearchSysCache1(RELOID, ObjectIdGetDatum(layout.sessions)); HeapTupleIsValid(relation)) {
    owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(relation))->relowner;
    ReleaseSysCache(relation);
  }
  if (!OidIsValid(owner))
    elog(ERROR, "authflow: the sessions table is missing");
  Oid saved_user;
  int saved_context;
  GetUserIdAndSecContext(&saved_user, &saved_context);
  SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE);
  SPI_connect();
  Oid type = TEXTOID;
  const int status = SPI_execute_with_args("SELECT * FROM authflow.session_validate_routed($1)", 1, &type, &argument,
                                           nullptr, true, 1);
  if (status != SPI_OK_SELECT)
    elog(ERROR, "authflow: session_validate_routed failed: %s", SPI_result_code_string(status));
  const bool found = SPI_processed == 1;
  if (found) {
    TupleDesc descriptor = SPI_tuptable->tupdesc;
    Datum values[8];
    heap_deform_tuple(SPI_tuptable->vals[0], descriptor, values, row.nulls);
    MemoryContext spi = MemoryContextSwitchTo(caller);
    for (int i = 0; i < 8; ++i) {
      const Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
      row.values[i] = row.nulls[i] ? static_cast<Datum>(0) : datumCopy(values[i], attribute->attbyval, attribute->attlen);
    }
    MemoryContextSwitchTo(spi);
  }
  SPI_finish();
  SetUserIdAndSecContext(saved_user, saved_context);
  return found;
}

// FindLiveSession probes the three tables for the session of a parsed access token and copies
// its row out (in the current memory context) so that the tables can be closed; false when the
// token names no live session.
bool FindLiveSession(const authflow::pg::TokenArgument &token, SessionRow &row) {
  pg_uuid_t session_id = token.row_uuid;
  if (!layout.valid)
    ResolveRelations();
  if (layout.distributed) {
    layout.valid = true; // no columns are read here: the routed function reads them
    return FindRoutedSession(token, row);
  }
  const TimestampTz now = GetCurrentTransactionStartTimestamp();
  Table sessions = OpenTable(layout.sessions, layout.sessions_pkey);
  Table users = OpenTable(layout.users, layout.users_pkey);
  Table tenants = OpenTable(layout.tenants, layout.tenants_pkey);
  if (!layout.valid)
    ResolveColumns(sessions, users, tenants);

  bool is_null;
  const bool found = FetchByKey(sessions, F_UUID_EQ, UUIDPGetDatum(&session_id)) &&
                     DatumGetTimestampTz(Value(sessions, layout.access_expires_at, &is_null)) > now &&
                     DatumGetTimestampTz(Value(sessions, layout.expires_at, &is_null)) > now &&
                     HashMatches(Value(sessions, layout.access_hash, &is_null), token.secret_hash) &&
                     FetchByKey(users, F_INT8EQ, Value(sessions, layout.user_key, &is_null)) &&
                     FetchByKey(tenants, F_INT4EQ, Value(users, layout.tenant_id, &is_null));
  if (found) {
    struct Source {
      Table *table;
      AttrNumber column;
      bool by_value;
      int16 length;
    };
    const Source sources[8] = {{&sessions, layout.session_id, false, UUID_LEN},
                               {&tenants, layout.name, false, -1},
                               {&users, layout.user_id, false, -1},
                               {&users, layout.handle, false, -1},
                               {&users, layout.is_anonymous, true, 1},
                               {&sessions, layout.access_expires_at, true, 8},
                               {&sessions, layout.expires_at, true, 8},
                               {&sessions, layout.created_at, true, 8}};
    for (int i = 0; i < 8; ++i) {
      const Datum value = Value(*sources[i].table, sources[i].column, &row.nulls[i]);
      row.values[i] = row.nulls[i] ? static_cast<Datum>(0) : datumCopy(value, sources[i].by_value, sources[i].length);
    }
  }
  CloseTable(tenants);
  CloseTable(users);
  CloseTable(sessions);
  return found;
}

// AppendJsonString appends a text value as a JSON string, or null.
void AppendJsonString(StringInfo out, Datum value, bool is_null) {
  if (is_null) {
    appendStringInfoString(out, "null");
    return;
  }
  escape_json(out, TextDatumGetCString(value));
}

// AppendJsonTimestamp appends a timestamptz as to_jsonb writes it.
void AppendJsonTimestamp(StringInfo out, Datum value, bool is_null) {
  if (is_null) {
    appendStringInfoString(out, "null");
    return;
  }
  char text[MAXDATELEN + 1];
  appendStringInfoChar(out, '"');
  appendStringInfoString(out, JsonEncodeDateTime(text, value, TIMESTAMPTZOID, nullptr));
  appendStringInfoChar(out, '"');
}

} // namespace

// authflow_session_validate returns the session of a live access token, or no row.
AUTHFLOW_SQL_FUNCTION(authflow_session_validate) {
  ReturnSetInfo *result = authflow::pg::MaterializeResult(
      fcinfo, "authflow.session_validate",
      {UUIDOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID});

  const authflow::pg::TokenArgument token = authflow::pg::ParseTokenArgument(fcinfo, 0, authflow::TokenKind::access);
  if (!token.valid)
    return static_cast<Datum>(0);
  SessionRow row;
  if (FindLiveSession(token, row))
    tuplestore_putvalues(result->setResult, result->setDesc, row.values, row.nulls);
  return static_cast<Datum>(0);
}

namespace authflow::pg {

// SessionJson writes the session's row as to_jsonb would, when the token names a live session of
// `tenant`; NULL otherwise.
text *SessionJson(const TokenArgument &token, std::string_view tenant) {
  SessionRow row;
  if (!token.valid || !FindLiveSession(token, row) || row.nulls[1])
    return nullptr;
  const text *session_tenant = reinterpret_cast<const text *>(DatumGetPointer(row.values[1]));
  if (VARSIZE_ANY_EXHDR(session_tenant) != tenant.size() ||
      std::memcmp(VARDATA_ANY(session_tenant), tenant.data(), tenant.size()) != 0)
    return nullptr;

  // jsonb's key order: shorter keys first, then bytewise.
  StringInfoData out;
  initStringInfo(&out);
  appendStringInfoString(&out, "{\"handle\": ");
  AppendJsonString(&out, row.values[3], row.nulls[3]);
  appendStringInfoString(&out, ", \"tenant\": ");
  AppendJsonString(&out, row.values[1], row.nulls[1]);
  appendStringInfoString(&out, ", \"user_id\": ");
  AppendJsonString(&out, row.values[2], row.nulls[2]);
  appendStringInfoString(&out, ", \"created_at\": ");
  AppendJsonTimestamp(&out, row.values[7], row.nulls[7]);
  appendStringInfoString(&out, ", \"expires_at\": ");
  AppendJsonTimestamp(&out, row.values[6], row.nulls[6]);
  appendStringInfoString(&out, ", \"session_id\": ");
  if (row.nulls[0]) {
    appendStringInfoString(&out, "null");
  } else {
    appendStringInfoChar(&out, '"');
    appendStringInfoString(&out, DatumGetCString(DirectFunctionCall1(uuid_out, row.values[0])));
    appendStringInfoChar(&out, '"');
  }
  appendStringInfoString(&out, ", \"is_anonymous\": ");
  appendStringInfoString(&out, row.nulls[4] ? "null" : DatumGetBool(row.values[4]) ? "true" : "false");
  appendStringInfoString(&out, ", \"access_expires_at\": ");
  AppendJsonTimestamp(&out, row.values[5], row.nulls[5]);
  appendStringInfoChar(&out, '}');
  return cstring_to_text_with_len(out.data, out.len);
}

} // namespace authflow::pg

// authflow_http_session_json is the body of GET /api/v1/sessions/current: session_validate's
// row as one JSON object, written once (the text to_jsonb(row)::text gives: the same keys, order
// and spacing), when the token names a live session of the given tenant; else NULL. It saves the
// hot route a result set, a record and a jsonb value built only to be printed.
AUTHFLOW_SQL_FUNCTION(authflow_http_session_json) {
  const authflow::pg::TokenArgument token = authflow::pg::ParseTokenArgument(fcinfo, 0, authflow::TokenKind::access);
  const text *tenant = PG_GETARG_TEXT_PP(1);
  text *json = authflow::pg::SessionJson(token, std::string_view(VARDATA_ANY(tenant), VARSIZE_ANY_EXHDR(tenant)));
  if (json == nullptr)
    PG_RETURN_NULL();
  PG_RETURN_TEXT_P(json);
}
