// stages.hpp: the parts of a run, in the order the driver runs them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "options.hpp"
#include "results.hpp"
#include "sessions.hpp"

namespace authflow::bench {

struct Context {
  const Options &options;
  Results &results;
  std::unique_ptr<Side> sql;    // authflow, with its preloaded sessions
  std::unique_ptr<Side> valkey; // the Valkey design, with its preloaded sessions

  double cell_seconds() const { return options.seconds / options.rounds; }
  int whole_cell_seconds() const; // for tools that take whole seconds
};

void run_tokens(Context &context);   // token primitives: authflow vs pgcrypto (pgbench scripts)
void run_sessions(Context &context); // preload, then session operations and floors, interleaved
bool cli_installed();                // whether authflow.cli_start and friends are installed
void prepare_write_floors(Context &context);             // the floors' table (bench/sql/floor_setup.sql)
void run_write_floor_round(Context &context, int clients); // one round of the write floors and new-user create
void run_rotation(Context &context); // refresh with refresh-token rotation on vs off
void run_cli(Context &context);      // CLI cycles and merge (when the CLI flow is installed)
void run_http(Context &context);     // wrk against the gateway (when it is built)
void run_size(Context &context);     // bytes per session
void run_purge(Context &context);    // purge of expired sessions under validate load
void run_large(Context &context);    // --large: 10M sessions

// Helpers the stages share.
// clients_for connects n clients of a side and hands them its sessions.
std::vector<std::unique_ptr<Client>> clients_for(Side &side, int n);
// operations_of binds one operation of each client, for run_timed.
std::vector<Operation> operations_of(std::vector<std::unique_ptr<Client>> &clients, const std::string &operation);
// sql_value runs one query on a new connection and returns the first field as text ("" for NULL).
std::string sql_value(const std::string &query);
// sql_function_exists: whether a function of that signature is installed.
bool sql_function_exists(const std::string &signature);
// bulk_fill creates n sessions through session_create in statements of 100000 (users
// did:plc:<label><k>, four sessions each), on one connection per core; returns the seconds taken.
double bulk_fill(long n, const std::string &label);
// validate_during measures validate on `clients` threads while `work` runs; work's seconds out.
Measurement validate_during(Side &side, int clients, const std::function<void()> &work, double &work_seconds);

} // namespace authflow::bench
