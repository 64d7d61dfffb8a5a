// options.cpp: see options.hpp.
#include "options.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace authflow::bench {

namespace {

const char *usage = R"(authflow-bench: authflow over SQL against the Valkey session design, and the floors.

  --quick                 a smoke run of under two minutes (1 s cells, one round, small size and purge runs)
  --large                 also 10M sessions: bytes per session and validate p99
  --seconds S             measured seconds per cell and side, over all rounds (10)
  --rounds N              rounds per client count, alternating sides (2)
  --clients LIST          client threads, comma separated (1,4,16,64)
  --preload N             sessions on each side before measuring (100000)
  --size-sessions N       sessions for bytes per session (1000000)
  --purge-sessions N      expired sessions to purge (1000000)
  --large-sessions N      sessions in the --large run (10000000)
  --redis-socket PATH     unix socket of the local redis-server (required)
  --pgbench-database DB   database initialised by pgbench -i (authflow_bench_pgbench)
  --bench-dir DIR         the bench sources: pgbench and wrk scripts (bench)
  --work-dir DIR          logs, token files and results (required)
  --gateway PATH          authflow-gateway binary; without it HTTP is skipped
  --gateway-port N        loopback port for the gateway (58080); a baseline gets the next one
  --baseline-gateway PATH another authflow-gateway build, measured in the same rounds (before/after)
  --baseline-flags FLAGS  its extra flags, space separated (e.g. "--pool-size 4")
  --only LIST             sections: tokens,sessions,rotation,size,purge,cli,http (all)

The database is the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
)";

std::vector<std::string> split(const std::string &text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ','))
    if (!part.empty())
      parts.push_back(part);
  return parts;
}

[[noreturn]] void fail(const std::string &message) {
  std::cerr << "authflow-bench: " << message << " (see --help)\n";
  std::exit(2);
}

} // namespace

bool Options::wants(const std::string &section) const {
  return only.empty() || std::find(only.begin(), only.end(), section) != only.end();
}

Options parse_options(int argc, char **argv) {
  Options options;
  bool seconds_given = false, rounds_given = false, size_given = false, purge_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        fail(flag + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> double {
      std::string text = value();
      char *end = nullptr;
      double parsed = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || parsed <= 0)
        fail(flag + " needs a positive number");
      return parsed;
    };
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      std::exit(0);
    } else if (flag == "--quick") {
      options.quick = true;
    } else if (flag == "--large") {
      options.large = true;
    } else if (flag == "--seconds") {
      options.seconds = number();
      seconds_given = true;
    } else if (flag == "--rounds") {
      options.rounds = static_cast<int>(number());
      rounds_given = true;
    } else if (flag == "--clients") {
      options.clients.clear();
      for (const auto &part : split(value())) {
        int count = std::atoi(part.c_str());
        if (count < 1 || count > 256)
          fail("--clients takes counts from 1 to 256");
        options.clients.push_back(count);
      }
    } else if (flag == "--preload") {
      options.preload = static_cast<long>(number());
    } else if (flag == "--size-sessions") {
      options.size_sessions = static_cast<long>(number());
      size_given = true;
    } else if (flag == "--purge-sessions") {
      options.purge_sessions = static_cast<long>(number());
      purge_given = true;
    } else if (flag == "--large-sessions") {
      options.large_sessions = static_cast<long>(number());
    } else if (flag == "--redis-socket") {
      options.redis_socket = value();
    } else if (flag == "--pgbench-database") {
      options.pgbench_database = value();
    } else if (flag == "--bench-dir") {
      options.bench_dir = value();
    } else if (flag == "--work-dir") {
      options.work_dir = value();
    } else if (flag == "--gateway") {
      options.gateway = value();
    } else if (flag == "--baseline-gateway") {
      options.baseline_gateway = value();
    } else if (flag == "--baseline-flags") {
      options.baseline_flags = value();
    } else if (flag == "--gateway-port") {
      options.gateway_port = static_cast<int>(number());
    } else if (flag == "--only") {
      options.only = split(value());
    } else {
      fail("unknown option " + flag);
    }
  }
  if (options.quick) {
    if (!seconds_given)
      options.seconds = 1;
    if (!rounds_given)
      options.rounds = 1;
    if (!size_given)
      options.size_sessions = 100000;
    if (!purge_given)
      options.purge_sessions = 100000;
  }
  if (options.redis_socket.empty())
    fail("--redis-socket is required");
  if (options.work_dir.empty())
    fail("--work-dir is required");
  if (options.rounds < 1)
    options.rounds = 1;
  return options;
}

} // namespace authflow::bench
