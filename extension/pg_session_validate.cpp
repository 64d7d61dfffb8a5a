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
// on every node, and is never read. On a node holding the session's shard (and copies of the
// reference tables users and tenants), the same three probes read those local shards: the
// worker-local fast path, found from Citus' metadata on that node and forgotten whenever a
// placement changes. Elsewhere validate answers through authflow.session_validate_routed, whose
// statements Citus routes to the session's shard. The same layout tells refresh and revoke
// (pg_session_write.cpp) where to write: LocalSessionShardForWrite.
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
#include "storage/lock.h"
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

// SessionColumns, UserColumns and TenantColumns are where the lookup's columns are in the
// relation it reads. They are found by name in that very relation: a Citus shard numbers its
// columns from its own definition, which need not match its table's (dropped columns).
struct SessionColumns {
  AttrNumber access_expires_at, expires_at, created_at, user_key, session_id, access_hash;
};
struct UserColumns {
  AttrNumber tenant_id, user_id, handle, is_anonymous;
};
struct TenantColumns {
  AttrNumber name;
};

// Source is one relation the lookup reads: a table on a single node, or the local shard of one
// on a Citus node. Its primary key and columns are resolved when it is first opened.
template <typename Columns> struct Source {
  Oid heap;
  Oid primary_key;
  bool resolved;
  Columns columns;
};
using SessionsSource = Source<SessionColumns>;
using UsersSource = Source<UserColumns>;
using TenantsSource = Source<TenantColumns>;

// SessionShard is one shard of the distributed sessions table: its range of hash values and,
// when this node holds it, its local relation (heap is InvalidOid otherwise).
struct SessionShard {
  int32 min, max;
  int64 shard_id;
  SessionsSource source;
};

// Layout is where the three tables are, as of the last invalidation. On a Citus cluster it also
// holds the sessions' shards in hash order and the local shards of the two reference tables
// (users, tenants): their placements, from Citus' metadata on this node. Citus invalidates a
// distributed table's relcache entry whenever one of its placements changes (a shard move, a
// rebalance), which forgets the layout, so a moved shard is never read where it was.
struct Layout {
  bool current;  // no invalidation of a relation below since it was resolved
  bool complete; // the last resolution finished
  bool distributed; // sessions is a Citus distributed table: its local heap is an empty shell
  Oid sessions, users, tenants; // the tables (the shells, on Citus: never read there)
  SessionsSource plain_sessions;
  UsersSource plain_users;
  TenantsSource plain_tenants;
  SessionShard *shards; // Citus: in TopMemoryContext, shard_count of them
  int shard_count;
  UsersSource users_shard;     // Citus: heap is InvalidOid when this node holds no copy
  TenantsSource tenants_shard; // likewise
  int64 users_shard_id, tenants_shard_id;
  uint32 colocation_id; // Citus: the sessions' colocation group (0: none)
  uint64 generation;    // counts resolutions: what was derived from an older one is stale
};

Layout layout;
bool callback_registered = false;

template <typename Columns> bool IsSource(const Source<Columns> &source, Oid relation) {
  return OidIsValid(relation) && (relation == source.heap || relation == source.primary_key);
}

// ForgetLayout is the relcache invalidation callback: any change to one of the tables or shards
// (or a reset of the whole cache) forgets the layout.
void ForgetLayout(Datum, Oid relation) {
  if (!layout.current)
    return;
  bool known = relation == InvalidOid || relation == layout.sessions || relation == layout.users ||
               relation == layout.tenants || IsSource(layout.plain_sessions, relation) ||
               IsSource(layout.plain_users, relation) || IsSource(layout.plain_tenants, relation) ||
               IsSource(layout.users_shard, relation) || IsSource(layout.tenants_shard, relation);
  for (int i = 0; !known && i < layout.shard_count; ++i)
    known = IsSource(layout.shards[i].source, relation);
  if (known)
    layout.current = false;
}

Oid RelationOid(Oid schema, const char *name) {
  const Oid oid = get_relname_relid(name, schema);
  if (!OidIsValid(oid)) {
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("authflow: relation authflow.%s is missing", name)));
  }
  return oid;
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

void ResolveColumns(Relation heap, SessionColumns &columns) {
  columns.access_expires_at = Column(heap, "access_expires_at");
  columns.expires_at = Column(heap, "expires_at");
  columns.created_at = Column(heap, "created_at");
  columns.user_key = Column(heap, "user_key");
  columns.session_id = Column(heap, "session_id");
  columns.access_hash = Column(heap, "access_hash");
}

void ResolveColumns(Relation heap, UserColumns &columns) {
  columns.tenant_id = Column(heap, "tenant_id");
  columns.user_id = Column(heap, "user_id");
  columns.handle = Column(heap, "handle");
  columns.is_anonymous = Column(heap, "is_anonymous");
}

void ResolveColumns(Relation heap, TenantColumns &columns) { columns.name = Column(heap, "name"); }

// Table is an open heap with its primary-key index and a slot to read rows into.
struct Table {
  Relation heap;
  Relation primary_key;
  TupleTableSlot *slot;
};

// OpenTable opens a source (processing any pending invalidation: the caller checks that the
// layout is still current) and, the first time, finds its primary key and columns.
template <typename Columns> Table OpenTable(Source<Columns> &source) {
  Table table;
  table.heap = table_open(source.heap, AccessShareLock);
  if (!source.resolved) {
    const Oid primary_key = RelationGetPrimaryKeyIndex(table.heap);
    if (!OidIsValid(primary_key)) {
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                      errmsg("authflow: %s has no primary key", RelationGetRelationName(table.heap))));
    }
    source.primary_key = primary_key;
    ResolveColumns(table.heap, source.columns);
    source.resolved = true;
  }
  table.primary_key = index_open(source.primary_key, AccessShareLock);
  table.slot = table_slot_create(table.heap, nullptr);
  return table;
}

void CloseTable(Table &table) {
  ExecDropSingleTupleTableSlot(table.slot);
  index_close(table.primary_key, AccessShareLock);
  table_close(table.heap, AccessShareLock);
}

// IsDistributed is true when Citus' metadata (on the coordinator, or synced to a worker) lists
// the table. Citus invalidates the table's relcache entry when it distributes it, which forgets
// the layout, so this is asked again then.
bool IsDistributed(Oid relation, uint32 &colocation_id) {
  colocation_id = 0;
  if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
    return false;
  SPI_connect();
  Oid type = OIDOID;
  Datum value = ObjectIdGetDatum(relation);
  const int result = SPI_execute_with_args(
      "SELECT colocationid::pg_catalog.int8 FROM pg_catalog.pg_dist_partition WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
      1, &type, &value, nullptr, true, 1);
  const bool distributed = result == SPI_OK_SELECT && SPI_processed == 1;
  if (distributed) {
    bool is_null;
    const Datum colocation = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    colocation_id = is_null ? 0 : static_cast<uint32>(DatumGetInt64(colocation));
  }
  SPI_finish();
  return distributed;
}

// The shards of a table in Citus' metadata on this node, in hash order, each with whether this
// node holds a placement of it. Everything is schema-qualified: it runs under the caller's
// search_path.
constexpr const char *kShardsQuery =
    "SELECT s.shardid, s.shardminvalue::pg_catalog.int4, s.shardmaxvalue::pg_catalog.int4,"
    "       EXISTS (SELECT FROM pg_catalog.pg_dist_placement AS p, pg_catalog.pg_dist_local_group AS g"
    "                WHERE p.shardid OPERATOR(pg_catalog.=) s.shardid"
    "                  AND p.groupid OPERATOR(pg_catalog.=) g.groupid)"
    "  FROM pg_catalog.pg_dist_shard AS s"
    " WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1"
    " ORDER BY 2";

// LocalShard is the relation of shard `shard_id` of table `name` on this node (Citus names a
// shard after its table and id), or InvalidOid.
Oid LocalShard(Oid schema, const char *name, int64 shard_id) {
  char shard_name[NAMEDATALEN * 2];
  snprintf(shard_name, sizeof shard_name, "%s_" INT64_FORMAT, name, shard_id);
  return get_relname_relid(shard_name, schema);
}

// ResolveReferenceShard finds the local copy of a reference table (its single shard).
template <typename Columns>
void ResolveReferenceShard(Oid schema, Oid table, const char *name, Source<Columns> &out, int64 &out_id) {
  out = Source<Columns>{};
  out_id = 0;
  Oid type = OIDOID;
  Datum value = ObjectIdGetDatum(table);
  if (SPI_execute_with_args(kShardsQuery, 1, &type, &value, nullptr, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
    return;
  bool is_null;
  const int64 shard_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
  if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &is_null))) {
    out.heap = LocalShard(schema, name, shard_id);
    out_id = shard_id;
  }
}

// ResolveShards reads the placements of sessions, users and tenants from Citus' metadata.
void ResolveShards(Oid schema) {
  SPI_connect();
  ResolveReferenceShard(schema, layout.users, "users", layout.users_shard, layout.users_shard_id);
  ResolveReferenceShard(schema, layout.tenants, "tenants", layout.tenants_shard, layout.tenants_shard_id);
  Oid type = OIDOID;
  Datum value = ObjectIdGetDatum(layout.sessions);
  if (SPI_execute_with_args(kShardsQuery, 1, &type, &value, nullptr, true, 0) == SPI_OK_SELECT && SPI_processed > 0) {
    const int count = static_cast<int>(SPI_processed);
    auto *shards = static_cast<SessionShard *>(MemoryContextAllocZero(TopMemoryContext, sizeof(SessionShard) * count));
    for (int i = 0; i < count; ++i) {
      HeapTuple tuple = SPI_tuptable->vals[i];
      bool null_id, null_min, null_max, is_null;
      const int64 shard_id = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &null_id));
      const Datum min = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &null_min);
      const Datum max = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 3, &null_max);
      const bool local = DatumGetBool(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 4, &is_null));
      if (null_id || null_min || null_max) { // not hash-distributed as distribution_plan says: route everything
        pfree(shards);
        SPI_finish();
        return;
      }
      shards[i].min = DatumGetInt32(min);
      shards[i].max = DatumGetInt32(max);
      shards[i].shard_id = shard_id;
      shards[i].source.heap = local ? LocalShard(schema, "sessions", shard_id) : InvalidOid;
    }
    layout.shards = shards;
    layout.shard_count = count;
  }
  SPI_finish();
}

// ResolveRelations finds the tables by name, and on Citus their shards (when the layout was
// forgotten). The layout counts as current from the start: an invalidation that arrives while
// it is read forgets it again.
void ResolveRelations() {
  if (!callback_registered) {
    CacheRegisterRelcacheCallback(ForgetLayout, static_cast<Datum>(0));
    callback_registered = true;
  }
  layout.complete = false;
  layout.current = true;
  ++layout.generation;
  if (layout.shards != nullptr)
    pfree(layout.shards);
  layout.shards = nullptr;
  layout.shard_count = 0;
  layout.users_shard = UsersSource{};
  layout.tenants_shard = TenantsSource{};
  const Oid schema = get_namespace_oid("authflow", false);
  layout.sessions = RelationOid(schema, "sessions");
  layout.users = RelationOid(schema, "users");
  layout.tenants = RelationOid(schema, "tenants");
  layout.plain_sessions = SessionsSource{layout.sessions, InvalidOid, false, {}};
  layout.plain_users = UsersSource{layout.users, InvalidOid, false, {}};
  layout.plain_tenants = TenantsSource{layout.tenants, InvalidOid, false, {}};
  layout.distributed = IsDistributed(layout.sessions, layout.colocation_id);
  if (layout.distributed)
    ResolveShards(schema);
  layout.complete = true;
}

// LocalSessionShard is the local shard holding the session, when this node holds it and copies
// of users and tenants; nullptr when the lookup must be routed. The shard is the one whose range
// holds the hash Citus computes for a uuid column (the type's standard hash function).
SessionsSource *LocalSessionShard(const pg_uuid_t &session_id, int *index = nullptr) {
  if (!OidIsValid(layout.users_shard.heap) || !OidIsValid(layout.tenants_shard.heap))
    return nullptr;
  pg_uuid_t id = session_id;
  const int32 hash = DatumGetInt32(DirectFunctionCall1(uuid_hash, UUIDPGetDatum(&id)));
  int low = 0, high = layout.shard_count - 1;
  while (low <= high) {
    const int middle = low + (high - low) / 2;
    SessionShard &shard = layout.shards[middle];
    if (hash < shard.min) {
      high = middle - 1;
    } else if (hash > shard.max) {
      low = middle + 1;
    } else {
      if (index != nullptr)
        *index = middle;
      return OidIsValid(shard.source.heap) ? &shard.source : nullptr;
    }
  }
  return nullptr;
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

// Probe reads the session of a parsed access token from three sources (the tables, or this
// node's shards of them) and copies its row out (in the current memory context) so that they
// can be closed; false when the token names no live session. `stale` is set, and nothing read,
// when opening them processed an invalidation that forgot the layout.
bool Probe(SessionsSource &sessions_source, UsersSource &users_source, TenantsSource &tenants_source,
           const authflow::pg::TokenArgument &token, SessionRow &row, bool &stale) {
  pg_uuid_t session_id = token.row_uuid;
  const TimestampTz now = GetCurrentTransactionStartTimestamp();
  Table sessions = OpenTable(sessions_source);
  Table users = OpenTable(users_source);
  Table tenants = OpenTable(tenants_source);
  stale = !layout.current;
  const SessionColumns &s = sessions_source.columns;
  const UserColumns &u = users_source.columns;
  bool is_null;
  const bool found = !stale && FetchByKey(sessions, F_UUID_EQ, UUIDPGetDatum(&session_id)) &&
                     DatumGetTimestampTz(Value(sessions, s.access_expires_at, &is_null)) > now &&
                     DatumGetTimestampTz(Value(sessions, s.expires_at, &is_null)) > now &&
                     HashMatches(Value(sessions, s.access_hash, &is_null), token.secret_hash) &&
                     FetchByKey(users, F_INT8EQ, Value(sessions, s.user_key, &is_null)) &&
                     FetchByKey(tenants, F_INT4EQ, Value(users, u.tenant_id, &is_null));
  if (found) {
    struct Column {
      Table *table;
      AttrNumber column;
      bool by_value;
      int16 length;
    };
    const Column columns[8] = {{&sessions, s.session_id, false, UUID_LEN},
                               {&tenants, tenants_source.columns.name, false, -1},
                               {&users, u.user_id, false, -1},
                               {&users, u.handle, false, -1},
                               {&users, u.is_anonymous, true, 1},
                               {&sessions, s.access_expires_at, true, 8},
                               {&sessions, s.expires_at, true, 8},
                               {&sessions, s.created_at, true, 8}};
    for (int i = 0; i < 8; ++i) {
      const Datum value = Value(*columns[i].table, columns[i].column, &row.nulls[i]);
      row.values[i] = row.nulls[i] ? static_cast<Datum>(0) : datumCopy(value, columns[i].by_value, columns[i].length);
    }
  }
  CloseTable(tenants);
  CloseTable(users);
  CloseTable(sessions);
  return found;
}

// FindLiveSession finds the live session of a parsed access token: three primary-key probes on
// one node; on Citus the same probes on this node's shards when it holds the session's shard
// (the worker-local fast path), else the routed query. Never the empty shells.
bool FindLiveSession(const authflow::pg::TokenArgument &token, SessionRow &row) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!layout.current || !layout.complete)
      ResolveRelations();
    bool stale = false, found;
    if (!layout.distributed) {
      found = Probe(layout.plain_sessions, layout.plain_users, layout.plain_tenants, token, row, stale);
    } else if (SessionsSource *shard = LocalSessionShard(token.row_uuid); shard != nullptr) {
      found = Probe(*shard, layout.users_shard, layout.tenants_shard, token, row, stale);
    } else {
      return FindRoutedSession(token, row);
    }
    if (!stale)
      return found;
  }
  // The tables kept changing while they were opened: let the planner find the row.
  return FindRoutedSession(token, row);
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


// LocalSessionShardForWrite: see pg_session_json.hpp. The lock is the one Citus' executor takes
// before it writes a shard (AcquireMetadataLocks: ShareLock on the shard's metadata, keyed by
// the colocation group and the shard's index in hash order for a hash-distributed table), and
// that a block_writes shard move takes in ExclusiveLock: once it is held, the placement cannot
// change before this transaction ends. A move that committed while this waited has sent the
// invalidation that forgets the layout; that is checked after the lock is held.
// Citus' advisory lock classes (its resource_lock.h) for a shard's metadata: of a shard of a
// colocated hash-distributed table, and of any other shard.
constexpr uint16 kCitusColocatedShardsMetadataLock = 8;
constexpr uint16 kCitusShardMetadataLock = 4;

bool LocalSessionShardForWrite(const pg_uuid_t &session_id, LocalShardIds &ids) {
  if (!layout.current || !layout.complete)
    ResolveRelations();
  if (!layout.distributed)
    return false;
  int index = -1;
  if (LocalSessionShard(session_id, &index) == nullptr || index < 0)
    return false;
  const int64 shard_id = layout.shards[index].shard_id;
  LOCKTAG tag;
  if (layout.colocation_id != 0) {
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(index), layout.colocation_id,
                         kCitusColocatedShardsMetadataLock);
  } else {
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(shard_id >> 32), static_cast<uint32>(shard_id),
                         kCitusShardMetadataLock);
  }
  (void)LockAcquire(&tag, ShareLock, false, false);
  AcceptInvalidationMessages();
  if (!layout.current)
    return false;
  ids.sessions = shard_id;
  ids.users = layout.users_shard_id;
  ids.tenants = layout.tenants_shard_id;
  ids.generation = layout.generation;
  return true;
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
