// driver.cpp: authflow-bench, the benchmark driver that bench/run starts. It measures authflow
// over SQL against the Valkey session design it replaces, with pgbench -S and redis-benchmark as
// the floors, then the table at scale, and the CLI flow and HTTP gateway where they exist. It
// prints the results as markdown and writes them to <work dir>/results.md for docs/benchmarks.md.
#include <pqxx/pqxx>

#include <fstream>
#include <iostream>

#include "redis.hpp"
#include "report.hpp"
#include "stages.hpp"

using namespace authflow::bench;

int main(int argc, char **argv) {
  Options options = parse_options(argc, argv);
  Results results;
  try {
    if (sql_value("SELECT extversion FROM pg_extension WHERE extname = 'authflow'").empty()) {
      std::cerr << "authflow-bench: the extension authflow is not installed in this database\n";
      return 1;
    }
    {
      Redis redis(options.redis_socket);
      redis.command({"FLUSHALL"});
    }
    // Four sessions per user on both sides, as the preload spreads them.
    const long users = std::max(1L, options.preload / 4);
    Context context{options, results, make_sql_side(users), make_valkey_side(options.redis_socket, users)};

    results.cli.installed = cli_installed();

    if (options.wants("tokens"))
      run_tokens(context);
    if (options.wants("sessions"))
      run_sessions(context);
    if (options.wants("rotation"))
      run_rotation(context);
    if (context.sql->live.empty() && (options.wants("cli") || options.wants("http")))
      context.sql->live = context.sql->bulk_create(1000);
    if (options.wants("cli"))
      run_cli(context);
    if (options.wants("http"))
      run_http(context);
    if (options.wants("size"))
      run_size(context);
    if (options.wants("purge"))
      run_purge(context);
    if (options.large)
      run_large(context);
    else
      results.notes.push_back("the 10M-session run (`bench/run --large`) was not part of this run.");
  } catch (const std::exception &error) {
    std::cerr << "authflow-bench: " << error.what() << "\n";
    results.notes.push_back(std::string("the run stopped early: ") + error.what());
    std::cout << "\n" << render_report(options, results);
    return 1;
  }
  std::string report = render_report(options, results);
  std::cout << "\n" << report;
  std::ofstream(options.work_dir + "/results.md") << report;
  return 0;
}
