// pg_values.cpp: see pg_values.hpp.
#include "pg_values.hpp"

#include <cstdio>
#include <cstring>
#include <string_view>

#include "error.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
}

namespace authflow::pg {

Datum ByteaDatum(const void *data, std::size_t size) {
  bytea *result = static_cast<bytea *>(palloc(VARHDRSZ + size));
  SET_VARSIZE(result, VARHDRSZ + size);
  std::memcpy(VARDATA(result), data, size);
  return PointerGetDatum(result);
}

Datum UuidDatum(const RowId &id) {
  auto *result = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
  std::memcpy(result->data, id.data(), id.size());
  return UUIDPGetDatum(result);
}

void RequireResultShape(TupleDesc declared, const char *function, std::initializer_list<Oid> columns) {
  const int expected = static_cast<int>(columns.size());
  int column = 0;
  bool matches = declared != nullptr && declared->natts == expected;
  for (auto type = columns.begin(); matches && type != columns.end(); ++type, ++column)
    matches = TupleDescAttr(declared, column)->atttypid == *type;
  if (matches)
    return;
  static char message[512];
  std::snprintf(message, sizeof message,
                "authflow: %s is declared with a result of %d columns that does not match this library's %d columns "
                "(first difference: column %d); the extension's SQL and its library are of different versions: "
                "run ALTER EXTENSION authflow UPDATE",
                function, declared == nullptr ? 0 : declared->natts, expected, column + 1);
  throw Error("39000", message); // external_routine_invocation_exception
}

namespace {

// CheckedFunctions remembers, for the backend's life, the functions whose result declaration was
// checked and which of two shapes it has (a re-created function has a new OID, so an entry never
// describes another function). Checking means building the declared descriptor from the catalog,
// which cost a refresh 6 % of its instructions when done on every call.
struct CheckedFunction {
  Oid oid = InvalidOid;
  bool is_older = false;
};
CheckedFunction checked[16];
int next_checked = 0;

const CheckedFunction *FindChecked(Oid self) {
  for (const CheckedFunction &entry : checked)
    if (entry.oid == self && self != InvalidOid)
      return &entry;
  return nullptr;
}

void RememberChecked(Oid self, bool is_older) {
  checked[next_checked] = {self, is_older};
  next_checked = (next_checked + 1) % 16;
}

// InitResult sets up the tuplestore, with the caller's expected descriptor when it gave one (the
// function's declared result: no catalog lookup), else with the declared one.
ReturnSetInfo *InitResult(FunctionCallInfo fcinfo) {
  auto *info = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  const bool expected = info != nullptr && IsA(info, ReturnSetInfo) && info->expectedDesc != nullptr;
  InitMaterializedSRF(fcinfo, expected ? MAT_SRF_USE_EXPECTED_DESC : 0);
  return reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
}

} // namespace

ReturnSetInfo *MaterializeResult(FunctionCallInfo fcinfo, const char *function, std::initializer_list<Oid> columns) {
  const Oid self = fcinfo->flinfo->fn_oid;
  if (FindChecked(self) == nullptr) {
    TupleDesc declared = nullptr;
    if (get_call_result_type(fcinfo, nullptr, &declared) != TYPEFUNC_COMPOSITE)
      declared = nullptr;
    RequireResultShape(declared, function, columns);
    RememberChecked(self, false);
  }
  return InitResult(fcinfo);
}

bool MaterializeResultOfEither(FunctionCallInfo fcinfo, const char *function, std::initializer_list<Oid> older,
                               std::initializer_list<Oid> current, ReturnSetInfo **result) {
  const Oid self = fcinfo->flinfo->fn_oid;
  const CheckedFunction *known = FindChecked(self);
  bool is_older;
  if (known != nullptr) {
    is_older = known->is_older;
  } else {
    TupleDesc declared = nullptr;
    if (get_call_result_type(fcinfo, nullptr, &declared) != TYPEFUNC_COMPOSITE)
      declared = nullptr;
    is_older = declared != nullptr && declared->natts == static_cast<int>(older.size());
    RequireResultShape(declared, function, is_older ? older : current);
    RememberChecked(self, is_older);
  }
  *result = InitResult(fcinfo);
  return !is_older;
}

TokenArgument ParseTokenArgument(FunctionCallInfo fcinfo, int argument, TokenKind kind) {
  if (PG_ARGISNULL(argument))
    return TokenArgument{};
  const struct varlena *text = PG_GETARG_VARLENA_PP(argument);
  return ParseToken(std::string_view(VARDATA_ANY(text), VARSIZE_ANY_EXHDR(text)), kind);
}

TokenArgument ParseToken(std::string_view text, TokenKind kind) {
  TokenArgument parsed{};
  const std::optional<ParsedToken> token = token_parse(text);
  if (!token || token->kind != kind)
    return parsed;
  parsed.valid = true;
  parsed.row_id = token->row_id;
  std::memcpy(parsed.row_uuid.data, token->row_id.data(), sizeof parsed.row_uuid.data);
  parsed.secret_hash = sha256(token->secret.data(), token->secret.size());
  parsed.secret = token->secret;
  return parsed;
}

} // namespace authflow::pg
