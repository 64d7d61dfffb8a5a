// tools.hpp: the external load generators (pgbench, redis-benchmark, wrk), run with a time limit,
// and their output parsed into the same summary the driver's own cells produce.
#pragma once

#include <string>
#include <vector>

#include "measure.hpp"

namespace authflow::bench {

// run_command runs a shell command line and returns its exit status and output (stdout and stderr).
struct CommandOutput {
  int status = -1;
  std::string text;
};
CommandOutput run_command(const std::string &command_line);

// shell_quote quotes one argument for /bin/sh.
std::string shell_quote(const std::string &argument);

// pgbench: `arguments` selects the workload (-S, or -f script); latencies come from its
// per-transaction log (-l), written under log_dir. Empty when pgbench failed.
Measurement run_pgbench(const std::string &database, int clients, int seconds, const std::string &arguments,
                        const std::string &log_dir);

// redis-benchmark -t get with `requests` requests over `clients` connections.
Summary run_redis_get(const std::string &socket, int clients, long requests);

// wrk against a URL with a Lua script and its arguments.
Summary run_wrk(const std::string &url, int clients, int seconds, const std::string &script,
                const std::vector<std::string> &script_arguments);

} // namespace authflow::bench
