// floor_stage.cpp: what PostgreSQL itself writes, beside authflow's writes. Each round of the
// session stage runs these cells right after its authflow and Valkey cells, at the same client
// count: the bare insert, primary-key update and primary-key delete of a session-shaped row on an
// unlogged table with the sessions table's indexes (bench/sql/floor_*.sql), and session_create
// for users never seen before (bench/sql/create_new_user.sql), each a pgbench script, prepared.
#include <algorithm>
#include <iostream>

#include "stages.hpp"
#include "tools.hpp"

namespace authflow::bench {

namespace {

long floor_rows = 0;           // rows keyed md5(k) for the update floor
long delete_rows_added = 0;    // rows keyed md5('d' || n), n = 1.., added so far for the delete floor

std::string script(const Context &context, const std::string &name) {
  return "-f " + shell_quote(context.options.bench_dir + "/sql/" + name);
}

// add_deletable makes sure the next `n` deletes each find their row.
void add_deletable(long n) {
  long deleted = std::stol(sql_value("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench_floor_deleted"));
  long wanted = deleted + n;
  if (wanted <= delete_rows_added)
    return;
  sql_value("INSERT INTO bench_floor (access_expires_at, expires_at, created_at, refreshed_at, user_key, session_id,"
            " kind, access_hash, refresh_hash)"
            " SELECT now() + interval '15 minutes', now() + interval '30 days', now(), now(), k % 100000,"
            " md5('d' || k)::uuid, 'web', sha256(gen_random_bytes(32)), sha256(gen_random_bytes(32))"
            " FROM generate_series(" + std::to_string(delete_rows_added + 1) + ", " + std::to_string(wanted) +
            ") AS k");
  sql_value("VACUUM bench_floor");
  delete_rows_added = wanted;
}

} // namespace

void prepare_write_floors(Context &context) {
  floor_rows = context.options.preload;
  delete_rows_added = 0;
  std::cout << "write floors: " << floor_rows << " rows in bench_floor" << std::endl;
  run_command("psql -q -v ON_ERROR_STOP=1 -v rows=" + std::to_string(floor_rows) + " -f " +
              shell_quote(context.options.bench_dir + "/sql/floor_setup.sql") + " >/dev/null");
}

void run_write_floor_round(Context &context, int clients) {
  auto &floors = context.results.write_floors;
  const std::string logs = context.options.work_dir + "/pgbench-log";
  const int seconds = context.whole_cell_seconds();
  floors["insert"][clients].add(run_pgbench("", clients, seconds, script(context, "floor_insert.sql"), logs));
  floors["update"][clients].add(run_pgbench(
      "", clients, seconds, script(context, "floor_update.sql") + " -D rows=" + std::to_string(floor_rows), logs));
  const auto &previous = floors["delete"][clients];
  add_deletable(static_cast<long>(std::max({previous.rate(), floors["insert"][clients].rate(), 20000.0}) * seconds * 1.5));
  floors["delete"][clients].add(run_pgbench("", clients, seconds, script(context, "floor_delete.sql"), logs));
  floors["create_new_user"][clients].add(run_pgbench("", clients, seconds, script(context, "create_new_user.sql"), logs));
}

} // namespace authflow::bench
