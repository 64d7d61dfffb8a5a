// pg_values.hpp: Postgres values the SQL-callable functions share: byte strings, UUIDs, and a
// token argument parsed and hashed once. Follows the rules of pg_guard.hpp.
#pragma once

#include "crypto.hpp"
#include "pg_guard.hpp"
#include "token.hpp"

#include <initializer_list>
#include <string_view>

extern "C" {
#include "access/tupdesc.h"
#include "nodes/execnodes.h"
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
  Secret secret; // the raw secret: for derivations (rotation), never stored or logged
};

// RequireResultShape checks the result row a function is declared with (in SQL, which may be of
// another version than this library: between installing a new library and ALTER EXTENSION
// UPDATE) against the columns this library fills: same count, same types. A mismatch throws
// 39000 naming the function, instead of writing values into columns of other types.
void RequireResultShape(TupleDesc declared, const char *function, std::initializer_list<Oid> columns);

// MaterializeResult prepares the result set of a function that returns rows, after checking
// (once per function, by OID: a re-declared function has a new one) that its SQL declaration
// has the columns given here, with RequireResultShape.
ReturnSetInfo *MaterializeResult(FunctionCallInfo fcinfo, const char *function, std::initializer_list<Oid> columns);

// MaterializeResultOfEither is MaterializeResult for a function whose result grew in a release:
// `older` is the shape an older version's SQL declares, `current` this version's. It returns
// true for the current shape, false for the older one (which the function keeps serving until
// ALTER EXTENSION UPDATE), and throws 39000 for any other.
bool MaterializeResultOfEither(FunctionCallInfo fcinfo, const char *function, std::initializer_list<Oid> older,
                               std::initializer_list<Oid> current, ReturnSetInfo **result);

// ParseTokenArgument reads argument `argument` as a token of `kind`.
TokenArgument ParseTokenArgument(FunctionCallInfo fcinfo, int argument, TokenKind kind);

// ParseToken reads text as a token of `kind` (a token found inside another value).
TokenArgument ParseToken(std::string_view text, TokenKind kind);

} // namespace authflow::pg
