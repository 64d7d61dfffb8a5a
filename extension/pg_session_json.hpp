// pg_session_json.hpp: the hot route's body, shared by authflow.http_session_json and
// authflow.http (extension/pg_session_validate.cpp). Follows the rules of pg_guard.hpp.
#pragma once

#include "pg_values.hpp"

#include <string_view>

extern "C" {
#include "postgres.h"
#include "utils/uuid.h"
}

namespace authflow::pg {

// SessionJson is the session of a live access token of `tenant` as the JSON text to_jsonb gives
// session_validate's row (in the current memory context); nullptr when there is none.
text *SessionJson(const TokenArgument &token, std::string_view tenant);

// LocalShardIds are the ids of the local shards a write of one session goes to on a Citus node:
// the session's, and this node's copies of users and tenants (their relations are named
// authflow.<table>_<id>). `generation` changes whenever the placements are read again.
struct LocalShardIds {
  int64 sessions, users, tenants;
  uint64 generation;
};

// LocalSessionShardForWrite: on a Citus node that holds the session's shard and copies of users
// and tenants, takes the lock Citus takes before writing that shard (so that a shard move waits
// for this transaction) and gives the shards' ids; false, with no lock held that matters, where
// the write must go through Citus (one node, the shard elsewhere, or placements that changed).
bool LocalSessionShardForWrite(const pg_uuid_t &session_id, LocalShardIds &ids);

} // namespace authflow::pg
