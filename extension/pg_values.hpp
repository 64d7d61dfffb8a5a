// pg_values.hpp: Postgres values the SQL-callable functions share: byte strings, UUIDs, and a
// token argument parsed and hashed once. Follows the rules of pg_guard.hpp.
#pragma once

#include "crypto.hpp"
#include "pg_guard.hpp"
#include "token.hpp"

extern "C" {
#include "utils/uuid.h"
}

namespace authflow::pg {

// ByteaDatum copies bytes into a new bytea.
Datum ByteaDatum(const void *data, std::size_t size);

// UuidDatum copies a row id into a new uuid.
Datum UuidDatum(const RowId &id);

// TokenArgument is a token argument of a function: its row id (as a uuid, ready to bind) and
// SHA-256 of its secret; valid is false for NULL, anything that is not a token, or another kind.
struct TokenArgument {
  bool valid;
  RowId row_id;
  pg_uuid_t row_uuid;
  Sha256Digest secret_hash;
};

// ParseTokenArgument reads argument `argument` as a token of `kind`.
TokenArgument ParseTokenArgument(FunctionCallInfo fcinfo, int argument, TokenKind kind);

} // namespace authflow::pg
