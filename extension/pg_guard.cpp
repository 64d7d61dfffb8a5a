// pg_guard.cpp: guard(), the exception boundary declared in pg_guard.hpp.
#include "pg_guard.hpp"

#include <cstring>
#include <exception>
#include <new>

#include "error.hpp"

extern "C" {
#include "utils/elog.h"
}

namespace authflow::pg {
namespace {

// CopyMessage copies an exception's message into storage that outlives the exception object.
void CopyMessage(char (&buffer)[512], const char *message) noexcept {
  std::strncpy(buffer, message, sizeof buffer - 1);
  buffer[sizeof buffer - 1] = '\0';
}

} // namespace

Datum guard(FunctionCallInfo fcinfo, FunctionBody body) {
  static char message[512];
  const char *sqlstate = nullptr;
  try {
    return body(fcinfo);
  } catch (const Error &error) {
    sqlstate = error.sqlstate();
    CopyMessage(message, error.what());
  } catch (const std::bad_alloc &) {
    sqlstate = "53200"; // out_of_memory
    CopyMessage(message, "out of memory in authflow");
  } catch (const std::exception &error) {
    sqlstate = "38000"; // external_routine_exception
    CopyMessage(message, error.what());
  } catch (...) {
    sqlstate = "38000";
    CopyMessage(message, "unexpected C++ exception in authflow");
  }
  // Every exception object is destroyed here; raising the error is now safe.
  ereport(ERROR, (errcode(MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4])),
                  errmsg("%s", message)));
  pg_unreachable();
}

} // namespace authflow::pg
