// pg_guard.hpp: the one boundary between Postgres and C++ exceptions.
//
// Postgres reports errors with longjmp, which skips C++ destructors, and a C++ exception must
// never unwind into Postgres' C frames. Every SQL-callable function is therefore declared with
// AUTHFLOW_SQL_FUNCTION: its body runs inside guard(), which catches every exception, copies
// the message into a static buffer and raises the Postgres error only after the catch block has
// ended, with the exception's SQLSTATE. Bodies keep no object with a non-trivial destructor alive
// across a call into Postgres, so a Postgres error raised there unwinds nothing of C++.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace authflow::pg {

using FunctionBody = Datum (*)(FunctionCallInfo);

// guard runs body(fcinfo) and turns any C++ exception into a Postgres error.
Datum guard(FunctionCallInfo fcinfo, FunctionBody body);

} // namespace authflow::pg

#define AUTHFLOW_SQL_FUNCTION(name)                                                                                    \
  static Datum name##_body(FunctionCallInfo fcinfo);                                                                   \
  extern "C" {                                                                                                         \
  PG_FUNCTION_INFO_V1(name);                                                                                           \
  }                                                                                                                    \
  extern "C" Datum name(PG_FUNCTION_ARGS) { return authflow::pg::guard(fcinfo, name##_body); }                         \
  static Datum name##_body(FunctionCallInfo fcinfo)
