// sessions_stage.cpp: token primitives, then the session operations of both sides and the
// floors, interleaved: every round runs each workload on each side, the side that goes first
// alternating from round to round, so that noise on the machine falls on both alike.
#include <algorithm>
#include <iostream>

#include "redis.hpp"
#include "stages.hpp"
#include "tools.hpp"

namespace authflow::bench {

namespace {

const std::vector<std::string> measured_order{"validate", "refresh", "create", "revoke", "mix"};

void say(const std::string &line) { std::cout << line << std::endl; }

long redis_used_memory(const std::string &socket) {
  Redis redis(socket);
  auto info = redis.command({"INFO", "memory"});
  std::string text(info->str, info->len);
  auto at = text.find("used_memory:");
  return at == std::string::npos ? 0 : std::stol(text.substr(at + 12));
}

// top_up makes sure every client holds enough sessions to revoke for one cell at `rate`.
void top_up(Side &side, std::vector<std::unique_ptr<Client>> &clients, double rate, double seconds) {
  const std::size_t n = clients.size();
  const auto per_client = static_cast<std::size_t>(rate * seconds * 1.5 / static_cast<double>(n)) + 64;
  long missing = 0;
  for (auto &client : clients)
    if (client->revocable.size() < per_client)
      missing += static_cast<long>(per_client - client->revocable.size());
  if (missing == 0)
    return;
  auto made = side.bulk_create(missing);
  std::size_t next = 0;
  for (auto &client : clients)
    while (client->revocable.size() < per_client && next < made.size())
      client->revocable.push_back(made[next++].refresh);
}

} // namespace

void run_tokens(Context &context) {
  const auto &options = context.options;
  std::string scripts = options.bench_dir + "/sql/";
  std::string logs = options.work_dir + "/pgbench-log";
  for (int clients : {1, 4}) {
    auto &pair = context.results.tokens[clients];
    for (int round = 0; round < options.rounds; ++round) {
      say("tokens: " + std::to_string(clients) + " clients, round " + std::to_string(round + 1));
      for (int turn = 0; turn < 2; ++turn) {
        bool authflow_turn = (turn == 0) == (round % 2 == 0);
        std::string script = scripts + (authflow_turn ? "token_issue.sql" : "token_pgcrypto.sql");
        auto measured = run_pgbench("", clients, context.whole_cell_seconds(), "-f " + shell_quote(script), logs);
        (authflow_turn ? pair.authflow : pair.other).add(std::move(measured));
      }
    }
  }
}

void run_sessions(Context &context) {
  const auto &options = context.options;
  auto &results = context.results;
  Side &sql = *context.sql;
  Side &valkey = *context.valkey;

  say("preload: " + std::to_string(options.preload) + " sessions on each side");
  long memory_before = redis_used_memory(options.redis_socket);
  valkey.live = valkey.bulk_create(options.preload);
  long memory_after = redis_used_memory(options.redis_socket);
  results.valkey_bytes_per_session =
      static_cast<double>(memory_after - memory_before) / static_cast<double>(options.preload);
  sql.live = sql.bulk_create(options.preload);
  results.preload = options.preload;
  sql_value("VACUUM ANALYZE authflow.sessions");
  // Keys for redis-benchmark -t get -r 100000, so that its GETs find values.
  run_command("redis-benchmark -s " + shell_quote(options.redis_socket) + " -c 8 -n 200000 -t set -r 100000 -q");

  prepare_write_floors(context);

  Side *sides[2] = {&sql, &valkey};
  for (int clients : options.clients) {
    sql.renew_stale();
    valkey.renew_stale();
    std::vector<std::unique_ptr<Client>> connected[2] = {clients_for(sql, clients), clients_for(valkey, clients)};
    for (int round = 0; round < options.rounds; ++round) {
      int first = round % 2;
      for (const auto &operation : measured_order) {
        say("sessions: " + operation + ", " + std::to_string(clients) + " clients, round " + std::to_string(round + 1));
        for (int turn = 0; turn < 2; ++turn) {
          int s = (first + turn) % 2;
          auto &pair = results.sessions[operation][clients];
          Measurement &total = s == 0 ? pair.authflow : pair.other;
          if (operation == "revoke") {
            // Enough for the faster of validate and earlier revokes at this count: noise on the
            // machine can make one round much faster than the last.
            const auto &validate = results.sessions["validate"][clients];
            double rate = std::max((s == 0 ? validate.authflow : validate.other).rate(), total.rate());
            top_up(*sides[s], connected[s], std::max(rate, 1000.0), context.cell_seconds());
          }
          total.add(run_timed(operations_of(connected[s], operation), context.cell_seconds()));
        }
      }
      say("floors: " + std::to_string(clients) + " clients, round " + std::to_string(round + 1));
      for (int turn = 0; turn < 2; ++turn) {
        if ((first + turn) % 2 == 0) {
          results.pgbench_select[clients].add(run_pgbench(options.pgbench_database, clients,
                                                          context.whole_cell_seconds(), "-S",
                                                          options.work_dir + "/pgbench-log"));
        } else {
          // redis-benchmark takes a request count: aim at the cell's length from the last rate seen.
          auto &rounds = results.redis_get[clients];
          double rate = rounds.empty() ? 2 * results.sessions["validate"][clients].other.rate() : rounds.back().rate;
          long requests = std::max(2000L, static_cast<long>(rate * context.cell_seconds()));
          rounds.push_back(run_redis_get(options.redis_socket, clients, requests));
        }
      }
      say("write floors: " + std::to_string(clients) + " clients, round " + std::to_string(round + 1));
      run_write_floor_round(context, clients);
    }
    sql.collect(connected[0]);
    valkey.collect(connected[1]);
  }
}

} // namespace authflow::bench
