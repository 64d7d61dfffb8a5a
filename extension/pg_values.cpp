// pg_values.cpp: see pg_values.hpp.
#include "pg_values.hpp"

#include <cstring>
#include <string_view>

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

TokenArgument ParseTokenArgument(FunctionCallInfo fcinfo, int argument, TokenKind kind) {
  TokenArgument parsed{};
  if (PG_ARGISNULL(argument))
    return parsed;
  const struct varlena *text = PG_GETARG_VARLENA_PP(argument);
  const std::optional<ParsedToken> token = token_parse(std::string_view(VARDATA_ANY(text), VARSIZE_ANY_EXHDR(text)));
  if (!token || token->kind != kind)
    return parsed;
  parsed.valid = true;
  parsed.row_id = token->row_id;
  std::memcpy(parsed.row_uuid.data, token->row_id.data(), sizeof parsed.row_uuid.data);
  parsed.secret_hash = sha256(token->secret.data(), token->secret.size());
  return parsed;
}

} // namespace authflow::pg
