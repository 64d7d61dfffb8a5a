// rotation_stage.cpp: refresh with refresh-token rotation on against off. Two tenants that differ
// only in refresh_rotation hold the same number of sessions; each client thread refreshes its own
// sessions in turn, presenting the refresh token the last refresh returned (with rotation, the new
// one: the pattern of a well-behaved client, whose every refresh rotates). The two run in the same
// rounds at each client count, the one that goes first alternating.
#include <algorithm>
#include <iostream>

#include "stages.hpp"

namespace authflow::bench {

namespace {

const char *const tenant_on = "bench-rotation-on";
const char *const tenant_off = "bench-rotation-off";

} // namespace

void run_rotation(Context &context) {
  const auto &options = context.options;
  if (!sql_function_exists("authflow.session_refresh(text)") ||
      sql_value("SELECT count(*) FROM pg_attribute WHERE attrelid = 'authflow.tenants'::regclass "
                "AND attname = 'refresh_rotation'") != "1") {
    context.results.notes.push_back("refresh-token rotation is not installed: its section was skipped.");
    return;
  }
  // Alike but for rotation: tenant_set's defaults, the same grace window and lifetime cap.
  sql_value(std::string("SELECT authflow.tenant_set('") + tenant_on + "', refresh_rotation => true)");
  sql_value(std::string("SELECT authflow.tenant_set('") + tenant_off + "', refresh_rotation => false)");
  const long sessions = std::min(options.preload, 20000L);
  const long users = std::max(1L, sessions / 4);
  std::unique_ptr<Side> sides[2] = {make_sql_side(users, tenant_on), make_sql_side(users, tenant_off)};
  std::cout << "rotation: " << sessions << " sessions in each of " << tenant_on << " and " << tenant_off << std::endl;
  for (auto &side : sides)
    side->live = side->bulk_create(sessions);
  sql_value("VACUUM ANALYZE authflow.sessions");

  for (int clients : options.clients) {
    std::vector<std::unique_ptr<Client>> connected[2] = {clients_for(*sides[0], clients),
                                                         clients_for(*sides[1], clients)};
    for (int round = 0; round < options.rounds; ++round) {
      std::cout << "rotation: refresh, " << clients << " clients, round " << round + 1 << std::endl;
      for (int turn = 0; turn < 2; ++turn) {
        int s = (round + turn) % 2;
        auto &pair = context.results.rotation[clients];
        (s == 0 ? pair.authflow : pair.other)
            .add(run_timed(operations_of(connected[s], "refresh"), context.cell_seconds()));
      }
    }
    sides[0]->collect(connected[0]);
    sides[1]->collect(connected[1]);
  }
  // The later stages measure a table without them.
  sql_value(std::string("WITH gone AS (DELETE FROM authflow.sessions AS s USING authflow.users AS u "
                        "JOIN authflow.tenants AS t USING (tenant_id) WHERE s.user_key = u.user_key AND t.name IN ('") +
            tenant_on + "', '" + tenant_off + "') RETURNING 1) SELECT count(*) FROM gone");
  sql_value(std::string("DELETE FROM authflow.tenants WHERE name IN ('") + tenant_on + "', '" + tenant_off + "')");
}

} // namespace authflow::bench
