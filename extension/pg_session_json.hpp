// pg_session_json.hpp: the hot route's body, shared by authflow.http_session_json and
// authflow.http (extension/pg_session_validate.cpp). Follows the rules of pg_guard.hpp.
#pragma once

#include "pg_values.hpp"

#include <string_view>

extern "C" {
#include "postgres.h"
}

namespace authflow::pg {

// SessionJson is the session of a live access token of `tenant` as the JSON text to_jsonb gives
// session_validate's row (in the current memory context); nullptr when there is none.
text *SessionJson(const TokenArgument &token, std::string_view tenant);

} // namespace authflow::pg
