// options.hpp: the driver's command line.
#pragma once

#include <string>
#include <vector>

namespace authflow::bench {

struct Options {
  double seconds = 10; // measured time per cell and side, split over the rounds
  int rounds = 2;      // rounds per client count, alternating which side goes first
  std::vector<int> clients{1, 4, 16, 64};
  long preload = 100000;          // sessions on each side before measuring
  long size_sessions = 1000000;   // sessions in the table for bytes per session
  long purge_sessions = 1000000;  // expired sessions the purge deletes
  long large_sessions = 10000000; // sessions in the --large run
  bool large = false;
  bool quick = false;
  std::string redis_socket; // the local redis-server's unix socket
  std::string pgbench_database = "authflow_bench_pgbench";
  std::string bench_dir = "bench"; // pgbench scripts and wrk Lua scripts
  std::string work_dir;            // logs, token files, results
  std::string gateway;             // authflow-gateway binary; empty: HTTP is skipped
  std::string baseline_gateway;    // another build to measure in the same rounds (before/after)
  std::string baseline_flags;      // its extra flags, space separated
  int gateway_port = 58080;        // the baseline listens on the next port
  std::vector<std::string> only; // sections to run; empty: all
  bool wants(const std::string &section) const;
};

// parse_options reads argv; on --help or a bad option it prints and exits.
Options parse_options(int argc, char **argv);

} // namespace authflow::bench
