// pg_functions.cpp: the SQL-callable functions of authflow.so. Each body reads its arguments,
// calls the pure core (token.hpp, crypto.hpp) and builds its result; see pg_guard.hpp for the
// rules a body follows.
#include <cstring>
#include <string_view>

#include "crypto.hpp"
#include "error.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"
#include "token.hpp"
#include "user_code.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

PG_MODULE_MAGIC;
}

namespace {

using authflow::TokenKind;
using authflow::pg::ByteaDatum;
using authflow::pg::UuidDatum;

// ArgumentView is the bytes of a text or bytea argument, detoasted.
std::string_view ArgumentView(FunctionCallInfo fcinfo, int argument) {
  const struct varlena *value = PG_GETARG_VARLENA_PP(argument);
  return {VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)};
}

// KindArgument reads a token kind name; an unknown name raises 22023 naming the argument.
TokenKind KindArgument(FunctionCallInfo fcinfo, int argument, const char *argument_name) {
  const std::string_view name = ArgumentView(fcinfo, argument);
  if (const auto kind = authflow::token_kind_from_name(name))
    return *kind;
  static char message[128];
  snprintf(message, sizeof message, "%s must be one of %s", argument_name, authflow::token_kind_list());
  throw authflow::Error(authflow::kInvalidParameter, message);
}

authflow::RowId RowIdArgument(FunctionCallInfo fcinfo, int argument) {
  authflow::RowId id;
  std::memcpy(id.data(), PG_GETARG_UUID_P(argument)->data, id.size());
  return id;
}

Datum TextDatum(const char *data, std::size_t size) {
  return PointerGetDatum(cstring_to_text_with_len(data, static_cast<int>(size)));
}

// ResultDescriptor is the blessed row type of a function with OUT parameters. A prepared
// statement gets a new FmgrInfo on each execution, so fn_extra does not outlive one call; the
// descriptor is therefore kept for the backend's life, keyed by the function's OID (a re-created
// function has a new OID, so an entry never describes another function).
TupleDesc ResultDescriptor(FunctionCallInfo fcinfo, const char *name, std::initializer_list<Oid> columns) {
  struct Entry {
    Oid function;
    TupleDesc descriptor;
  };
  static Entry cache[8];
  const Oid function = fcinfo->flinfo->fn_oid;
  for (const Entry &entry : cache) {
    if (entry.function == function)
      return entry.descriptor;
  }
  TupleDesc descriptor;
  if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE) {
    throw authflow::Error("42804", "authflow: function must return a row type");
  }
  authflow::pg::RequireResultShape(descriptor, name, columns); // once: then cached
  MemoryContext previous = MemoryContextSwitchTo(TopMemoryContext);
  descriptor = BlessTupleDesc(CreateTupleDescCopy(descriptor));
  MemoryContextSwitchTo(previous);
  static int next = 0;
  cache[next] = {function, descriptor};
  next = (next + 1) % 8;
  return descriptor;
}

Datum TokenDatum(const authflow::IssuedToken &issued) { return TextDatum(issued.text.data(), issued.text.size()); }

} // namespace

// authflow_token_generate returns a new token of a kind, for a given row id or a random one.
AUTHFLOW_SQL_FUNCTION(authflow_token_generate) {
  const TokenKind kind = KindArgument(fcinfo, 0, "kind");
  const authflow::RowId row_id = PG_NARGS() > 1 ? RowIdArgument(fcinfo, 1) : authflow::random_row_id();
  const authflow::IssuedToken issued = authflow::token_issue(kind, row_id);
  PG_RETURN_DATUM(TokenDatum(issued));
}

// authflow_token_issue returns a new token for a row and SHA-256 of its secret (what is stored).
AUTHFLOW_SQL_FUNCTION(authflow_token_issue) {
  const TokenKind kind = KindArgument(fcinfo, 0, "kind");
  const authflow::IssuedToken issued = authflow::token_issue(kind, RowIdArgument(fcinfo, 1));
  TupleDesc descriptor = ResultDescriptor(fcinfo, "authflow.token_issue", {TEXTOID, BYTEAOID});
  Datum values[2] = {TokenDatum(issued), ByteaDatum(issued.secret_hash.data(), issued.secret_hash.size())};
  bool nulls[2] = {false, false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls)));
}

// authflow_token_parse splits a token into kind, row id, secret and SHA-256 of the secret.
// NULL when the input is not a well-formed token, or not of the expected kind when one is given.
AUTHFLOW_SQL_FUNCTION(authflow_token_parse) {
  bool has_expected_kind = PG_NARGS() > 1 && !PG_ARGISNULL(1);
  const TokenKind expected = has_expected_kind ? KindArgument(fcinfo, 1, "expected_kind") : TokenKind::access;
  if (PG_ARGISNULL(0))
    PG_RETURN_NULL();
  const std::optional<authflow::ParsedToken> parsed = authflow::token_parse(ArgumentView(fcinfo, 0));
  if (!parsed || (has_expected_kind && parsed->kind != expected))
    PG_RETURN_NULL();

  const authflow::Sha256Digest secret_hash = authflow::sha256(parsed->secret.data(), parsed->secret.size());
  const std::string_view kind_name = authflow::token_kind_name(parsed->kind);
  TupleDesc descriptor = ResultDescriptor(fcinfo, "authflow.token_parse", {TEXTOID, UUIDOID, BYTEAOID, BYTEAOID});
  Datum values[4] = {TextDatum(kind_name.data(), kind_name.size()), UuidDatum(parsed->row_id),
                     ByteaDatum(parsed->secret.data(), parsed->secret.size()),
                     ByteaDatum(secret_hash.data(), secret_hash.size())};
  bool nulls[4] = {false, false, false, false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls)));
}

// authflow_sha256 returns SHA-256 of a text's or a bytea's bytes.
AUTHFLOW_SQL_FUNCTION(authflow_sha256) {
  const std::string_view input = ArgumentView(fcinfo, 0);
  const authflow::Sha256Digest digest = authflow::sha256(input.data(), input.size());
  PG_RETURN_DATUM(ByteaDatum(digest.data(), digest.size()));
}

// authflow_secure_equal compares two byte strings in constant time for equal lengths.
AUTHFLOW_SQL_FUNCTION(authflow_secure_equal) {
  const std::string_view a = ArgumentView(fcinfo, 0);
  const std::string_view b = ArgumentView(fcinfo, 1);
  PG_RETURN_BOOL(authflow::secure_equal(a.data(), a.size(), b.data(), b.size()));
}

// authflow_time_ordered_uuid returns a version 7 UUID (time-ordered; see token.hpp).
AUTHFLOW_SQL_FUNCTION(authflow_time_ordered_uuid) {
  (void)fcinfo;
  const authflow::RowId id = authflow::time_ordered_row_id();
  PG_RETURN_DATUM(UuidDatum(id));
}

// authflow_token_kinds returns every token kind with its prefix: the C++ list, for SQL and tests.
AUTHFLOW_SQL_FUNCTION(authflow_token_kinds) {
  ReturnSetInfo *result = authflow::pg::MaterializeResult(fcinfo, "authflow.token_kinds", {TEXTOID, TEXTOID});
  for (const TokenKind kind : authflow::kTokenKinds) {
    const std::string_view name = authflow::token_kind_name(kind), prefix = authflow::token_prefix(kind);
    Datum values[2] = {TextDatum(name.data(), name.size()), TextDatum(prefix.data(), prefix.size())};
    bool nulls[2] = {false, false};
    tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
  }
  return static_cast<Datum>(0);
}

// authflow_user_code_generate returns a new device-grant user code, shown as XXXX-XXXX.
AUTHFLOW_SQL_FUNCTION(authflow_user_code_generate) {
  (void)fcinfo;
  const auto shown = authflow::user_code_shown(authflow::user_code_generate());
  PG_RETURN_DATUM(TextDatum(shown.data(), shown.size()));
}

// authflow_user_code_hash returns HMAC-SHA-256 under a key of what a person typed, normalised
// (user_code.hpp): the one form a user code is stored and looked up in. NULL when the input is
// not a user code.
AUTHFLOW_SQL_FUNCTION(authflow_user_code_hash) {
  const std::optional<authflow::UserCode> code = authflow::user_code_normalize(ArgumentView(fcinfo, 0));
  if (!code)
    PG_RETURN_NULL();
  const std::string_view key = ArgumentView(fcinfo, 1);
  const authflow::Sha256Digest digest = authflow::hmac_sha256(key.data(), key.size(), code->data(), code->size());
  PG_RETURN_DATUM(ByteaDatum(digest.data(), digest.size()));
}

// authflow_user_code_alphabet returns the characters of user codes: the library's one list.
AUTHFLOW_SQL_FUNCTION(authflow_user_code_alphabet) {
  (void)fcinfo;
  PG_RETURN_DATUM(TextDatum(authflow::kUserCodeAlphabet.data(), authflow::kUserCodeAlphabet.size()));
}
