// pg_commit.cpp: a commit that need not wait for the WAL flush.
//
// A user row is the one logged write of signing in a user for the first time. While sessions
// are unlogged (authflow.set_durable(false), the default), a crash empties every session anyway,
// so nothing durable depends on that row being flushed before the caller hears "committed": a
// lost user row is recreated by the user's next sign-in, and any later transaction that refers to
// it durably flushes the WAL up to its own commit, the user row's included. Waiting for the flush
// cost a new user's session_create 3-4x its throughput.
//
// The rule, exact: a transaction commits with synchronous_commit = off (for itself only, as SET
// LOCAL would) when
//   - it had written no WAL before authflow.user_ensure inserted the user row,
//   - it writes no WAL after that insert (checked at pre-commit: any other logged write of the
//     caller's, in the same transaction, keeps the commit synchronous), and
//   - authflow.sessions is unlogged at commit.
// Otherwise nothing changes. See docs/operations.md, "What a crash loses".
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
}

#include "pg_guard.hpp"

namespace {

// The end of this transaction's WAL right after the user row was written; invalid when the
// transaction does not qualify.
XLogRecPtr relaxed_end = InvalidXLogRecPtr;
bool callback_registered = false;

bool SessionsAreUnlogged() {
  const Oid schema = get_namespace_oid("authflow", true);
  const Oid sessions = OidIsValid(schema) ? get_relname_relid("sessions", schema) : InvalidOid;
  return OidIsValid(sessions) && get_rel_persistence(sessions) == RELPERSISTENCE_UNLOGGED;
}

void AtTransactionEvent(XactEvent event, void *) {
  if (event == XACT_EVENT_PRE_COMMIT) {
    if (relaxed_end != InvalidXLogRecPtr && XactLastRecEnd == relaxed_end && SessionsAreUnlogged())
      (void)set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
                              false);
    return;
  }
  relaxed_end = InvalidXLogRecPtr;  // commit, abort, prepare: the next transaction starts afresh
}

} // namespace

// authflow_transaction_wal_end: the end of the WAL this transaction has written so far, 0/0
// when it has written none.
AUTHFLOW_SQL_FUNCTION(authflow_transaction_wal_end) {
  (void)fcinfo;
  PG_RETURN_LSN(XactLastRecEnd);
}

// authflow_relax_commit_after(since): called right after the user row's insert with the value
// transaction_wal_end() had before it. See the rule above.
AUTHFLOW_SQL_FUNCTION(authflow_relax_commit_after) {
  const XLogRecPtr since = PG_GETARG_LSN(0);
  if (since != InvalidXLogRecPtr || XactLastRecEnd == InvalidXLogRecPtr || !SessionsAreUnlogged())
    PG_RETURN_VOID();
  if (!callback_registered) {
    RegisterXactCallback(AtTransactionEvent, nullptr);
    callback_registered = true;
  }
  relaxed_end = XactLastRecEnd;
  PG_RETURN_VOID();
}
