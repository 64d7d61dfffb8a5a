// pg_session_write.cpp: authflow.session_create, session_refresh and session_revoke, the
// frequent writes.
//
// Each is one statement with a plan saved per backend (SPI_keepplan; the plan cache re-plans it
// after DDL), run from C++: the token is parsed and hashed once, the new access token made once,
// and no PL/pgSQL interpreter or nested function call sits between the caller and the statement.
// The SQL declarations are SECURITY DEFINER with a pinned search_path; the statements name every
// object by schema.
//
// The updates and the revoke take the transaction's start time (now()) as their last parameter:
// Citus refuses a STABLE function over columns in an UPDATE and any non-IMMUTABLE one in
// RETURNING, and a parameter routes the statement to the session's shard as now() would not.
//
// The statements spell out the sliding expiry, least(now() + session_ttl, created_at +
// session_max_lifetime), which authflow.session_expiry defines for the SQL side: calling that
// function here with the tenant's whole row keeps it from being inlined and cost a third of
// refresh's and create's throughput. Change both together.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto.hpp"
#include "pg_guard.hpp"
#include "pg_session_json.hpp"
#include "pg_values.hpp"
#include "token.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

namespace {

// SavedStatement is a statement prepared once per backend.
struct SavedStatement {
  const char *sql;
  int argument_count;
  Oid argument_types[9];
  SPIPlanPtr plan;
};

SavedStatement refresh_statement = {
    // The row lock serializes concurrent refreshes of a session: the last one's token is the only
    // one left working. Expiry slides, never past the tenant's cap.
    "UPDATE authflow.sessions AS s"
    "   SET access_hash = $3,"
    "       expires_at = least($4 + t.session_ttl, s.created_at + t.session_max_lifetime),"
    "       access_expires_at = least($4 + t.access_token_ttl, $4 + t.session_ttl,"
    "                                 s.created_at + t.session_max_lifetime),"
    "       refreshed_at = $4"
    "  FROM authflow.users AS u, authflow.tenants AS t"
    " WHERE s.session_id = $1 AND u.user_key = s.user_key AND t.tenant_id = u.tenant_id"
    "   AND s.expires_at > $4 AND least($4 + t.session_ttl, s.created_at + t.session_max_lifetime) > $4"
    "   AND authflow.secure_equal(s.refresh_hash, $2)"
    " RETURNING s.session_id, u.user_id, u.handle, s.access_expires_at, s.expires_at, s.created_at",
    4,
    {UUIDOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID},
    nullptr};

// The rotating refresh: with the tenant's refresh_rotation, the pair derived from the presented
// secret replaces both hashes and the replaced refresh hash is kept (grace window, reuse);
// without, a random access token replaces the old one and the refresh token stays. The pair is
// derived with the rotation key this backend read (RotationKey: re-read when the secrets table
// is a new one, i.e. the extension was re-created; nothing else writes it).
SavedStatement rotating_refresh_statement = {
    "UPDATE authflow.sessions AS s"
    "   SET access_hash = CASE WHEN t.refresh_rotation THEN $3 ELSE $5 END,"
    "       previous_refresh_hash = CASE WHEN t.refresh_rotation THEN s.refresh_hash ELSE s.previous_refresh_hash END,"
    "       refresh_hash = CASE WHEN t.refresh_rotation THEN $4 ELSE s.refresh_hash END,"
    "       rotated_at = CASE WHEN t.refresh_rotation THEN $6 ELSE s.rotated_at END,"
    "       refresh_generation = s.refresh_generation + CASE WHEN t.refresh_rotation THEN 1 ELSE 0 END,"
    "       expires_at = least(authflow.instant_after($6, t.session_ttl), authflow.instant_after(s.created_at, t.session_max_lifetime)),"
    "       access_expires_at = least(authflow.instant_after($6, t.access_token_ttl), authflow.instant_after($6, t.session_ttl),"
    "                                 authflow.instant_after(s.created_at, t.session_max_lifetime)),"
    "       refreshed_at = $6"
    "  FROM authflow.users AS u, authflow.tenants AS t"
    " WHERE s.session_id = $1 AND u.user_key = s.user_key AND t.tenant_id = u.tenant_id"
    "   AND s.expires_at > $6 AND least(authflow.instant_after($6, t.session_ttl), authflow.instant_after(s.created_at, t.session_max_lifetime)) > $6"
    "   AND authflow.secure_equal(s.refresh_hash, $2)"
    " RETURNING s.session_id, u.user_id, u.handle, s.access_expires_at, s.expires_at, s.created_at, t.refresh_rotation",
    6,
    {UUIDOID, BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID},
    nullptr};

// What a refresh token that did not match the current one points to (the rare path: a token
// just replaced, an older one, a forged one, or a new rotation key).
SavedStatement refresh_miss_statement = {
    "SELECT s.session_id, u.user_id, u.handle, s.access_expires_at, s.expires_at, s.created_at, t.refresh_rotation,"
    "       s.previous_refresh_hash, s.refresh_hash, coalesce(s.rotated_at + t.refresh_reuse_grace > now(), false),"
    "       s.refresh_generation,"
    "       s.expires_at > now() AND coalesce(s.created_at + t.session_max_lifetime > now(), true), k.value"
    "  FROM authflow.sessions AS s JOIN authflow.users AS u ON u.user_key = s.user_key"
    "  JOIN authflow.tenants AS t ON t.tenant_id = u.tenant_id, authflow.secrets AS k"
    " WHERE s.session_id = $1 AND k.name = 'refresh_rotation'",
    1,
    {UUIDOID},
    nullptr};

SavedStatement rotation_key_statement = {"SELECT value FROM authflow.secrets WHERE name = 'refresh_rotation'", 0, {},
                                         nullptr};

// Revoking deletes the row (the tenant and user come back from the reference table joined in the
// same single-shard statement); the event is recorded and sent by a second statement over
// parameters only, so that on Citus it runs on the coordinator, not inside a shard's query.
SavedStatement revoke_statement = {"DELETE FROM authflow.sessions AS s USING authflow.users AS u"
                                   " WHERE s.session_id = $1 AND authflow.secure_equal(s.refresh_hash, $2)"
                                   "   AND u.user_key = s.user_key"
                                   " RETURNING s.expires_at > $3, u.tenant_id, u.user_id",
                                   3,
                                   {UUIDOID, BYTEAOID, TIMESTAMPTZOID},
                                   nullptr};

SavedStatement revoke_event_statement = {"SELECT authflow.security_event($1, 'session_revoked', $2, $3, NULL, true)",
                                         3,
                                         {INT4OID, TEXTOID, UUIDOID},
                                         nullptr};

SavedStatement create_lookup_statement = {
    // The tenant, and the user when it exists with the same handle (or no handle was given).
    "SELECT t.tenant_id, u.user_key, $3::text IS NULL OR u.handle IS NOT DISTINCT FROM $3"
    "  FROM authflow.tenants AS t LEFT JOIN authflow.users AS u ON u.tenant_id = t.tenant_id AND u.user_id = $1"
    " WHERE t.name = $2",
    3,
    {TEXTOID, TEXTOID, TEXTOID},
    nullptr};

SavedStatement create_insert_statement = {
    "INSERT INTO authflow.sessions AS s (access_expires_at, expires_at, created_at, refreshed_at, user_key,"
    "                                    session_id, kind, access_hash, refresh_hash, client, client_address, user_agent)"
    " SELECT least(now() + t.access_token_ttl, now() + t.session_ttl, now() + t.session_max_lifetime),"
    "        least(now() + t.session_ttl, now() + t.session_max_lifetime), now(), now(), $1, $2, 'web', $3, $4, $5,"
    "        $7, left($8, 512)"
    "   FROM authflow.tenants AS t WHERE t.tenant_id = $6"
    " RETURNING s.access_expires_at, s.expires_at, s.created_at",
    8,
    {INT8OID, UUIDOID, BYTEAOID, BYTEAOID, JSONBOID, INT4OID, TEXTOID, TEXTOID},
    nullptr};

// A first-time user (or a new handle): user_ensure owns that rare path, called through a saved
// plan so that a burst of sign-ups does not parse and plan the call each time.
SavedStatement user_ensure_statement = {"SELECT authflow.user_ensure($1, $2, $3)", 3, {INT4OID, TEXTOID, TEXTOID},
                                        nullptr};

// The common case in one statement: the user exists in the tenant with the same handle (or no
// handle is given). No row inserted means the rare path: an unknown tenant, a new user or a new
// handle (create_lookup_statement, user_ensure, then create_insert_statement).
SavedStatement create_existing_statement = {
    "INSERT INTO authflow.sessions AS s (access_expires_at, expires_at, created_at, refreshed_at, user_key,"
    "                                    session_id, kind, access_hash, refresh_hash, client, client_address, user_agent)"
    " SELECT least(now() + t.access_token_ttl, now() + t.session_ttl, now() + t.session_max_lifetime),"
    "        least(now() + t.session_ttl, now() + t.session_max_lifetime), now(), now(), u.user_key, $4, 'web', $5, $6,"
    "        $7, $8, left($9, 512)"
    "   FROM authflow.tenants AS t JOIN authflow.users AS u ON u.tenant_id = t.tenant_id AND u.user_id = $1"
    "  WHERE t.name = $2 AND ($3::text IS NULL OR u.handle IS NOT DISTINCT FROM $3)"
    " RETURNING s.access_expires_at, s.expires_at, s.created_at",
    9,
    {TEXTOID, TEXTOID, TEXTOID, UUIDOID, BYTEAOID, BYTEAOID, JSONBOID, TEXTOID, TEXTOID},
    nullptr};

// RotationKey is the database's rotation key as this backend last read it, and the secrets
// table it read it from (a re-created extension has a new table, and a new key).
struct RotationKey {
  std::size_t size = 0;
  std::uint8_t bytes[64];
  Oid table = InvalidOid;
};
RotationKey rotation_key;

// SecretsTable is the OID of authflow.secrets now (a syscache probe, no executor).
Oid SecretsTable() {
  const Oid schema = get_namespace_oid("authflow", true);
  return OidIsValid(schema) ? get_relname_relid("secrets", schema) : InvalidOid;
}

void RememberRotationKey(Datum value) {
  const struct varlena *key = PG_DETOAST_DATUM_PACKED(value);
  rotation_key.size = std::min<std::size_t>(VARSIZE_ANY_EXHDR(key), sizeof rotation_key.bytes);
  std::memcpy(rotation_key.bytes, VARDATA_ANY(key), rotation_key.size);
}

// The insert of 0.1.0's tables (no client_address, user_agent), for 0.1.0's declaration of
// session_create running on this library until ALTER EXTENSION UPDATE.
SavedStatement create_insert_legacy_statement = {
    "INSERT INTO authflow.sessions AS s (access_expires_at, expires_at, created_at, refreshed_at, user_key,"
    "                                    session_id, kind, access_hash, refresh_hash, client)"
    " SELECT least(now() + t.access_token_ttl, now() + t.session_ttl, now() + t.session_max_lifetime),"
    "        least(now() + t.session_ttl, now() + t.session_max_lifetime), now(), now(), $1, $2, 'web', $3, $4, $5"
    "   FROM authflow.tenants AS t WHERE t.tenant_id = $6"
    " RETURNING s.access_expires_at, s.expires_at, s.created_at",
    6,
    {INT8OID, UUIDOID, BYTEAOID, BYTEAOID, JSONBOID, INT4OID},
    nullptr};

// Execute runs a saved statement, preparing it on first use (SPI must be connected). `nulls`
// marks NULL arguments with 'n', as SPI does; nullptr means none is NULL.
void Execute(SavedStatement &statement, Datum *arguments, const char *nulls = nullptr) {
  if (statement.plan == nullptr) {
    SPIPlanPtr plan = SPI_prepare(statement.sql, statement.argument_count, statement.argument_types);
    if (plan == nullptr)
      elog(ERROR, "authflow: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    statement.plan = plan;
  }
  const int result = SPI_execute_plan(statement.plan, arguments, nulls, false, 1);
  if (result < 0)
    elog(ERROR, "authflow: SPI_execute_plan failed: %s", SPI_result_code_string(result));
}

// The worker-local write: on a Citus node holding the session's shard, a refresh or a revoke runs
// its statement on the local shards themselves (authflow.sessions_<id>, and this node's copies of
// users and tenants), planned once per shard and backend, instead of having Citus plan the
// distributed statement on every call. LocalSessionShardForWrite first takes the shard's
// metadata lock, as Citus' executor does, so that a block_writes shard move waits for the write.
struct ShardPlan {
  const SavedStatement *statement;
  int64 shard;
  SPIPlanPtr plan;
};
std::vector<ShardPlan> shard_plans;
uint64 shard_plans_generation = 0;

// ShardSql is a statement's text with the three tables replaced by the local shards.
std::string ShardSql(const char *sql, const authflow::pg::LocalShardIds &ids) {
  std::string text(sql);
  const std::pair<const char *, int64> tables[] = {
      {"authflow.sessions AS ", ids.sessions}, {"authflow.users AS ", ids.users}, {"authflow.tenants AS ", ids.tenants}};
  for (const auto &[name, id] : tables) {
    const std::string from(name);
    const std::string to = from.substr(0, from.size() - 4) + "_" + std::to_string(id) + " AS ";
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  }
  return text;
}

// ExecuteOnSession runs a saved statement that writes one session (its id is the first
// argument) on the local shards when this node holds them, else as it is, through Citus.
void ExecuteOnSession(SavedStatement &statement, Datum *arguments, const char *nulls = nullptr) {
  authflow::pg::LocalShardIds ids;
  if (!authflow::pg::LocalSessionShardForWrite(*DatumGetUUIDP(arguments[0]), ids)) {
    Execute(statement, arguments, nulls);
    return;
  }
  if (ids.generation != shard_plans_generation) {
    for (ShardPlan &entry : shard_plans)
      SPI_freeplan(entry.plan);
    shard_plans.clear();
    shard_plans_generation = ids.generation;
  }
  SPIPlanPtr plan = nullptr;
  for (const ShardPlan &entry : shard_plans) {
    if (entry.statement == &statement && entry.shard == ids.sessions) {
      plan = entry.plan;
      break;
    }
  }
  if (plan == nullptr) {
    const std::string sql = ShardSql(statement.sql, ids);
    shard_plans.reserve(shard_plans.size() + 1); // before the plan is kept: no kept plan is lost to a failed push
    plan = SPI_prepare(sql.c_str(), statement.argument_count, statement.argument_types);
    if (plan == nullptr)
      elog(ERROR, "authflow: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    shard_plans.push_back({&statement, ids.sessions, plan});
  }
  const int result = SPI_execute_plan(plan, arguments, nulls, false, 1);
  if (result < 0)
    elog(ERROR, "authflow: SPI_execute_plan failed: %s", SPI_result_code_string(result));
}

// CallHelper runs one of the SQL helpers that own the rare paths (and their error messages):
// argument checks, tenant lookup, creating the user. It returns the first column of its row.
Datum CallHelper(const char *sql, int count, Oid *types, Datum *values, const char *nulls) {
  const int result = SPI_execute_with_args(sql, count, types, values, nulls, false, 1);
  if (result < 0 || SPI_processed != 1)
    elog(ERROR, "authflow: %s failed: %s", sql, SPI_result_code_string(result));
  bool is_null;
  return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
}

// TextRefused is true for an argument the SQL helper require_text would refuse.
bool TextRefused(FunctionCallInfo fcinfo, int argument) {
  if (PG_ARGISNULL(argument))
    return true;
  const std::size_t size = VARSIZE_ANY_EXHDR(PG_GETARG_VARLENA_PP(argument));
  return size == 0 || size > 256;
}

} // namespace

// authflow_session_create creates a session for a user (created when missing) and returns both
// tokens, raw, once. Arguments: user_id, handle, client, tenant.
AUTHFLOW_SQL_FUNCTION(authflow_session_create) {
  ReturnSetInfo *result = authflow::pg::MaterializeResult(fcinfo, "authflow.session_create",
                                   {UUIDOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID});
  SPI_connect();
  Oid text_types[3] = {TEXTOID, TEXTOID, TEXTOID};
  if (TextRefused(fcinfo, 0)) {
    Datum values[2] = {PG_ARGISNULL(0) ? static_cast<Datum>(0) : PG_GETARG_DATUM(0), CStringGetTextDatum("user_id")};
    CallHelper("SELECT authflow.require_text($1, $2)", 2, text_types, values, PG_ARGISNULL(0) ? "n " : "  ");
  }
  const bool has_handle = !PG_ARGISNULL(1);
  if (has_handle && TextRefused(fcinfo, 1)) {
    Datum values[2] = {PG_GETARG_DATUM(1), CStringGetTextDatum("handle")};
    CallHelper("SELECT authflow.require_text($1, $2)", 2, text_types, values, "  ");
  }
  const bool has_client = !PG_ARGISNULL(2);
  if (has_client) {
    Oid jsonb_type = JSONBOID;
    Datum value = PG_GETARG_DATUM(2);
    CallHelper("SELECT authflow.require_client($1)", 1, &jsonb_type, &value, " ");
  }
  // client_address and user_agent (arguments 4 and 5) exist from 0.2.0's declaration on.
  const bool has_address = PG_NARGS() > 4 && !PG_ARGISNULL(4);
  const bool has_agent = PG_NARGS() > 5 && !PG_ARGISNULL(5);
  Datum client_address = static_cast<Datum>(0);
  if (has_address) {
    Datum value = PG_GETARG_DATUM(4);
    client_address = CallHelper("SELECT authflow.require_client_address($1)", 1, text_types, &value, " ");
  }
  const Datum user_id = PG_GETARG_DATUM(0);
  const Datum handle = has_handle ? PG_GETARG_DATUM(1) : static_cast<Datum>(0);
  const Datum tenant = PG_ARGISNULL(3) ? static_cast<Datum>(0) : PG_GETARG_DATUM(3);

  const authflow::RowId id = authflow::time_ordered_row_id();
  pg_uuid_t session_id;
  std::memcpy(session_id.data, id.data(), sizeof session_id.data);
  const authflow::IssuedToken refresh = authflow::token_issue(authflow::TokenKind::refresh, id);
  const authflow::IssuedToken access = authflow::token_issue(authflow::TokenKind::access, id);
  const Datum access_hash = authflow::pg::ByteaDatum(access.secret_hash.data(), access.secret_hash.size());
  const Datum refresh_hash = authflow::pg::ByteaDatum(refresh.secret_hash.data(), refresh.secret_hash.size());
  const Datum client = has_client ? PG_GETARG_DATUM(2) : static_cast<Datum>(0);
  const Datum agent = has_agent ? PG_GETARG_DATUM(5) : static_cast<Datum>(0);

  bool inserted = false;
  if (PG_NARGS() > 4 && !PG_ARGISNULL(3)) {
    Datum arguments[9] = {user_id, tenant, handle, UUIDPGetDatum(&session_id), access_hash, refresh_hash,
                          client, client_address, agent};
    const char nulls[10] = {' ', ' ', has_handle ? ' ' : 'n', ' ', ' ', ' ', has_client ? ' ' : 'n',
                            has_address ? ' ' : 'n', has_agent ? ' ' : 'n', '\0'};
    Execute(create_existing_statement, arguments, nulls);
    inserted = SPI_processed == 1;
  }
  if (!inserted) {
    Datum lookup_arguments[3] = {user_id, tenant, handle};
    const char lookup_nulls[4] = {' ', PG_ARGISNULL(3) ? 'n' : ' ', has_handle ? ' ' : 'n', '\0'};
    Execute(create_lookup_statement, lookup_arguments, lookup_nulls);
    if (SPI_processed != 1) {
      CallHelper("SELECT (authflow.require_tenant($1)).tenant_id", 1, text_types, &lookup_arguments[1],
                 &lookup_nulls[1]);
    }
    bool tenant_null, user_null, handle_same_null;
    const Datum tenant_id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &tenant_null);
    Datum user_key = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &user_null);
    const bool handle_same =
        DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &handle_same_null));
    if (user_null || !handle_same) {
      Datum values[3] = {tenant_id, user_id, handle};
      const char nulls[4] = {' ', ' ', has_handle ? ' ' : 'n', '\0'};
      Execute(user_ensure_statement, values, nulls);
      if (SPI_processed != 1)
        elog(ERROR, "authflow: user_ensure returned no row");
      bool key_null;
      user_key = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &key_null);
    }
    Datum insert_arguments[8] = {user_key, UUIDPGetDatum(&session_id), access_hash, refresh_hash, client, tenant_id,
                                 client_address, agent};
    const char insert_nulls[9] = {' ', ' ', ' ', ' ', has_client ? ' ' : 'n', ' ', has_address ? ' ' : 'n',
                                  has_agent ? ' ' : 'n', '\0'};
    Execute(PG_NARGS() > 4 ? create_insert_statement : create_insert_legacy_statement, insert_arguments, insert_nulls);
    if (SPI_processed != 1)
      elog(ERROR, "authflow: the session was not inserted");
  }

  // Output: session_id, refresh_token, access_token, access_expires_at, expires_at, created_at.
  HeapTuple row = SPI_tuptable->vals[0];
  Datum values[6];
  bool nulls[6] = {};
  values[0] = UUIDPGetDatum(&session_id);
  values[1] = PointerGetDatum(cstring_to_text_with_len(refresh.text.data(), static_cast<int>(refresh.text.size())));
  values[2] = PointerGetDatum(cstring_to_text_with_len(access.text.data(), static_cast<int>(access.text.size())));
  values[3] = SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &nulls[3]);
  values[4] = SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &nulls[4]);
  values[5] = SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &nulls[5]);
  tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
  SPI_finish();
  return static_cast<Datum>(0);
}

namespace {

// TokenText is the text datum of a token.
Datum TokenText(const authflow::IssuedToken &token) {
  return PointerGetDatum(cstring_to_text_with_len(token.text.data(), static_cast<int>(token.text.size())));
}

// SameKey is true when `value` is the rotation key this backend derives with.
bool SameKey(Datum value) {
  const struct varlena *key = PG_DETOAST_DATUM_PACKED(value);
  return VARSIZE_ANY_EXHDR(key) == rotation_key.size && std::memcmp(VARDATA_ANY(key), rotation_key.bytes, rotation_key.size) == 0;
}

// Matches compares a bytea value with a digest in constant time.
bool Matches(Datum stored, bool is_null, const authflow::Sha256Digest &digest) {
  if (is_null)
    return false;
  const struct varlena *bytes = PG_DETOAST_DATUM_PACKED(stored);
  return authflow::secure_equal(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), digest.data(), digest.size());
}

// kReuseChainLimit bounds how far back a presented refresh token is recognised as one of its
// session's replaced tokens (a session refreshed every 15 minutes: ten days). Older ones are
// only invalid.
constexpr int kReuseChainLimit = 1000;

// PutRow writes the output row: session_id, user_id, handle, access_token, access_expires_at,
// expires_at, created_at (columns 1-6 of `row`), then new_refresh_token in the current shape.
void PutRow(ReturnSetInfo *result, HeapTuple row, TupleDesc row_descriptor, Datum access_token,
            const authflow::IssuedToken *new_refresh) {
  Datum values[8];
  bool nulls[8] = {};
  values[0] = SPI_getbinval(row, row_descriptor, 1, &nulls[0]);
  values[1] = SPI_getbinval(row, row_descriptor, 2, &nulls[1]);
  values[2] = SPI_getbinval(row, row_descriptor, 3, &nulls[2]);
  values[3] = access_token;
  values[4] = SPI_getbinval(row, row_descriptor, 4, &nulls[4]);
  values[5] = SPI_getbinval(row, row_descriptor, 5, &nulls[5]);
  values[6] = SPI_getbinval(row, row_descriptor, 6, &nulls[6]);
  values[7] = new_refresh == nullptr ? static_cast<Datum>(0) : TokenText(*new_refresh);
  nulls[7] = new_refresh == nullptr;
  tuplestore_putvalues(result->setResult, result->setDesc, values, nulls); // copies the values
}

} // namespace

// authflow_session_refresh returns a new access token (and, with rotation, a new refresh token)
// for a live refresh token, or no row. Under 0.1.0's declaration (seven columns, until ALTER
// EXTENSION UPDATE) it refreshes as 0.1.0 did.
AUTHFLOW_SQL_FUNCTION(authflow_session_refresh) {
  ReturnSetInfo *result = nullptr;
  const bool current_shape = authflow::pg::MaterializeResultOfEither(
      fcinfo, "authflow.session_refresh",
      {UUIDOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
      {UUIDOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID}, &result);
  const authflow::pg::TokenArgument token = authflow::pg::ParseTokenArgument(fcinfo, 0, authflow::TokenKind::refresh);
  if (!token.valid)
    return static_cast<Datum>(0);
  const authflow::IssuedToken random_access = authflow::token_issue(authflow::TokenKind::access, token.row_id);
  const Datum session_id = UUIDPGetDatum(&token.row_uuid);
  const Datum presented_hash = authflow::pg::ByteaDatum(token.secret_hash.data(), token.secret_hash.size());
  SPI_connect();

  if (!current_shape) {
    Datum arguments[4] = {session_id, presented_hash,
                          authflow::pg::ByteaDatum(random_access.secret_hash.data(), random_access.secret_hash.size()),
                          TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
    ExecuteOnSession(refresh_statement, arguments);
    if (SPI_processed == 1) {
      HeapTuple row = SPI_tuptable->vals[0];
      Datum values[7];
      bool nulls[7] = {};
      for (int column = 0; column < 3; ++column)
        values[column] = SPI_getbinval(row, SPI_tuptable->tupdesc, column + 1, &nulls[column]);
      values[3] = TokenText(random_access);
      for (int column = 4; column < 7; ++column)
        values[column] = SPI_getbinval(row, SPI_tuptable->tupdesc, column, &nulls[column]);
      tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    }
    SPI_finish();
    return static_cast<Datum>(0);
  }

  const Oid secrets = SecretsTable();
  if (rotation_key.size == 0 || rotation_key.table != secrets) {
    Execute(rotation_key_statement, nullptr);
    bool is_null = true;
    if (SPI_processed == 1) {
      const Datum key = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
      if (!is_null) {
        RememberRotationKey(key);
        rotation_key.table = secrets;
      }
    }
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    const authflow::RotatedPair next =
        authflow::rotate(token.row_id, token.secret, rotation_key.bytes, rotation_key.size);
    Datum arguments[6] = {session_id,
                          presented_hash,
                          authflow::pg::ByteaDatum(next.access.secret_hash.data(), next.access.secret_hash.size()),
                          authflow::pg::ByteaDatum(next.refresh.secret_hash.data(), next.refresh.secret_hash.size()),
                          authflow::pg::ByteaDatum(random_access.secret_hash.data(), random_access.secret_hash.size()),
                          TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
    ExecuteOnSession(rotating_refresh_statement, arguments);
    if (SPI_processed == 1) {
      bool is_null;
      HeapTuple row = SPI_tuptable->vals[0];
      const bool rotated = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 7, &is_null));
      PutRow(result, row, SPI_tuptable->tupdesc, TokenText(rotated ? next.access : random_access),
             rotated ? &next.refresh : nullptr);
      break;
    }

    // The rare path: not the current refresh token of a live session (or another key).
    Execute(refresh_miss_statement, &arguments[0]);
    if (SPI_processed != 1)
      break;
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc row_descriptor = SPI_tuptable->tupdesc;
    bool is_null, previous_null, current_null;
    const Datum key = SPI_getbinval(row, row_descriptor, 13, &is_null);
    if (!is_null && !SameKey(key)) {
      RememberRotationKey(key); // the extension was re-created: derive with the new key, once
      continue;
    }
    const bool rotation = DatumGetBool(SPI_getbinval(row, row_descriptor, 7, &is_null));
    const Datum previous_hash = SPI_getbinval(row, row_descriptor, 8, &previous_null);
    const Datum current_hash = SPI_getbinval(row, row_descriptor, 9, &current_null);
    const bool in_grace = DatumGetBool(SPI_getbinval(row, row_descriptor, 10, &is_null));
    const int generation = DatumGetInt32(SPI_getbinval(row, row_descriptor, 11, &is_null));
    const bool live = DatumGetBool(SPI_getbinval(row, row_descriptor, 12, &is_null));
    if (!rotation || !live)
      break;
    if (Matches(previous_hash, previous_null, token.secret_hash) && in_grace) {
      // A benign race (two tabs, a retry): the same pair the winner stored, derived again.
      PutRow(result, row, row_descriptor, TokenText(next.access), &next.refresh);
      break;
    }
    // Reuse: the token just replaced, after the window, or an older one of the same chain.
    int generations_back = Matches(previous_hash, previous_null, token.secret_hash) ? 1 : 0;
    authflow::Secret walked = token.secret;
    for (int step = 1; generations_back == 0 && step <= std::min(generation, kReuseChainLimit); ++step) {
      walked = authflow::next_refresh_secret(walked, rotation_key.bytes, rotation_key.size);
      const authflow::Sha256Digest walked_hash = authflow::sha256(walked.data(), walked.size());
      if (Matches(current_hash, current_null, walked_hash))
        generations_back = step;
      else if (Matches(previous_hash, previous_null, walked_hash))
        generations_back = step + 1;
    }
    if (generations_back > 0) {
      Oid types[2] = {UUIDOID, INT4OID};
      Datum values[2] = {session_id, Int32GetDatum(generations_back)};
      SPI_execute_with_args("SELECT authflow.session_reuse_detected($1, $2)", 2, types, values, nullptr, false, 1);
    }
    break;
  }
  SPI_finish();
  return static_cast<Datum>(0);
}

// authflow_session_revoke deletes the session of a refresh token; true when it was live.
AUTHFLOW_SQL_FUNCTION(authflow_session_revoke) {
  const authflow::pg::TokenArgument token = authflow::pg::ParseTokenArgument(fcinfo, 0, authflow::TokenKind::refresh);
  if (!token.valid)
    PG_RETURN_BOOL(false);
  Datum arguments[3] = {UUIDPGetDatum(&token.row_uuid),
                        authflow::pg::ByteaDatum(token.secret_hash.data(), token.secret_hash.size()),
                        TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
  SPI_connect();
  ExecuteOnSession(revoke_statement, arguments);
  bool was_live = false;
  if (SPI_processed == 1) {
    bool is_null, tenant_null, user_null;
    HeapTuple row = SPI_tuptable->vals[0];
    was_live = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &is_null)) && !is_null;
    Datum event_arguments[3] = {SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &tenant_null),
                                SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &user_null), arguments[0]};
    Execute(revoke_event_statement, event_arguments);
  }
  SPI_finish();
  PG_RETURN_BOOL(was_live);
}
