// table_stage.cpp: the sessions table at scale: bytes per session, purge under load, --large.
// These stages empty authflow.sessions of the benchmark's own database first.
#include <pqxx/pqxx>

#include <algorithm>
#include <iostream>

#include "stages.hpp"

namespace authflow::bench {

namespace {

void say(const std::string &line) { std::cout << line << std::endl; }

void measure_size(TableSize &size) {
  pqxx::connection connection("");
  pqxx::nontransaction tx(connection);
  auto row = tx.exec("SELECT count(*), pg_total_relation_size('authflow.sessions'), "
                     "pg_relation_size('authflow.sessions'), pg_indexes_size('authflow.sessions') "
                     "FROM authflow.sessions")[0];
  size.present = true;
  size.rows = row[0].as<long>();
  size.total_bytes = row[1].as<long long>();
  size.heap_bytes = row[2].as<long long>();
  size.index_bytes = row[3].as<long long>();
}

// fill_and_measure empties the table, creates n sessions, measures their size, then validate on
// a sample of them at each client count.
void fill_and_measure(Context &context, TableSize &size, long n, const std::string &label,
                      const std::vector<int> &client_counts) {
  sql_value("TRUNCATE authflow.sessions");
  say("size: creating " + std::to_string(n) + " sessions");
  size.create_seconds = bulk_fill(n, label);
  measure_size(size);
  // The sample comes after the measurement, so that it does not count in the size.
  Side &sql = *context.sql;
  sql.live = sql.bulk_create(std::min(n, 100000L));
  sql.revocable.clear();
  sql_value("ANALYZE authflow.sessions");
  for (int clients : client_counts) {
    say("size: validate at " + std::to_string(n) + " sessions, " + std::to_string(clients) + " clients");
    auto connected = clients_for(sql, clients);
    size.validate[clients] = summarize(run_timed(operations_of(connected, "validate"), context.options.seconds / 2));
    sql.collect(connected);
  }
}

} // namespace

void run_size(Context &context) {
  fill_and_measure(context, context.results.size, context.options.size_sessions, "size", {4});
}

void run_large(Context &context) {
  fill_and_measure(context, context.results.large, context.options.large_sessions, "large", {4, 16});
}

void run_purge(Context &context) {
  const auto &options = context.options;
  auto &purge = context.results.purge;
  Side &sql = *context.sql;

  // The table holds the size stage's sessions when it ran; otherwise create them.
  long rows = std::stol(sql_value("SELECT count(*) FROM authflow.sessions"));
  if (rows != options.size_sessions || options.size_sessions != options.purge_sessions) {
    sql_value("TRUNCATE authflow.sessions");
    say("purge: creating " + std::to_string(options.purge_sessions) + " sessions");
    bulk_fill(options.purge_sessions, "purge");
  }
  say("purge: expiring them");
  purge.rows_expired =
      std::stol(sql_value("WITH expired AS (UPDATE authflow.sessions SET expires_at = now() - interval '1 second' "
                          "RETURNING 1) SELECT count(*) FROM expired"));
  // Live sessions for the validating clients, created after the update so they stay live.
  sql.live = sql.bulk_create(20000);
  sql.revocable.clear();
  sql_value("VACUUM ANALYZE authflow.sessions");

  purge.clients = 4;
  say("purge: validate while idle");
  {
    auto connected = clients_for(sql, purge.clients);
    purge.idle = summarize(run_timed(operations_of(connected, "validate"), std::max(2.0, context.cell_seconds())));
    sql.collect(connected);
  }
  say("purge: purge_expired under validate load");
  long deleted = 0;
  auto measured = validate_during(
      sql, purge.clients,
      [&] {
        pqxx::connection connection("");
        pqxx::nontransaction tx(connection);
        tx.exec("SET statement_timeout = '15min'"); // bounded, however large the table
        long limit = std::max(2000000L, std::min(2 * purge.rows_expired, 2000000000L));
        deleted = tx.exec_params("SELECT authflow.purge_expired($1::integer)", limit)[0][0].as<long>();
      },
      purge.seconds);
  purge.during = summarize(measured);
  purge.rows_deleted = deleted;
  purge.present = true;
}

} // namespace authflow::bench
