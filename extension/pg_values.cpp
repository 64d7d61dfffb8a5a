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

ReturnSetInfo *MaterializeResult(FunctionCallInfo fcinfo, const char *function, std::initializer_list<Oid> columns) {
  static Oid checked[16];
  static int next = 0;
  const Oid self = fcinfo->flinfo->fn_oid;
  bool known = false;
  for (const Oid oid : checked)
    known = known || oid == self;
  if (!known) {
    TupleDesc declared = nullptr;
    if (get_call_result_type(fcinfo, nullptr, &declared) != TYPEFUNC_COMPOSITE)
      declared = nullptr;
    RequireResultShape(declared, function, columns);
    checked[next] = self;
    next = (next + 1) % 16;
  }
  InitMaterializedSRF(fcinfo, 0);
  return reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
}

bool MaterializeResultOfEither(FunctionCallInfo fcinfo, const char *function, std::initializer_list<Oid> older,
                               std::initializer_list<Oid> current, ReturnSetInfo **result) {
  TupleDesc declared = nullptr;
  if (get_call_result_type(fcinfo, nullptr, &declared) != TYPEFUNC_COMPOSITE)
    declared = nullptr;
  const bool is_older = declared != nullptr && declared->natts == static_cast<int>(older.size());
  RequireResultShape(declared, function, is_older ? older : current);
  InitMaterializedSRF(fcinfo, 0);
  *result = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
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
