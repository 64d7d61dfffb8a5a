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

// pgbench_scripts runs several scripts in one pgbench run (each weighted 1, picked at random per
// transaction, so they share the same moments of the machine) with -D variables; each script's
// tps and latency average, in the order given. Empty results when pgbench failed.
std::vector<ScriptShare> run_pgbench_scripts(const std::string &database, int clients, int seconds,
                                             const std::vector<std::string> &scripts,
                                             const std::vector<std::pair<std::string, std::string>> &variables);

// process_cpu_seconds is utime + stime of a process (from /proc/<pid>/stat); -1 when unreadable.
double process_cpu_seconds(int pid);

// redis-benchmark -t get with `requests` requests over `clients` connections.
Summary run_redis_get(const std::string &socket, int clients, long requests);

// wrk against a URL with a Lua script and its arguments.
Summary run_wrk(const std::string &url, int clients, int seconds, const std::string &script,
                const std::vector<std::string> &script_arguments);

} // namespace authflow::bench
