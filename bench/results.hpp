// results.hpp: everything one run measured, as the report shows it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "measure.hpp"

namespace authflow::bench {

// A pair of sides measured in the same rounds.
struct Pair {
  Measurement authflow, other;
};

struct TableSize {
  bool present = false;
  long rows = 0;
  long long total_bytes = 0, heap_bytes = 0, index_bytes = 0;
  double create_seconds = 0;
  std::map<int, Summary> validate; // clients -> validate on a table of this size
};

struct Results {
  // Session operations in the order they are reported.
  static const std::vector<std::string> &operations();

  std::map<int, Pair> tokens;                          // clients -> token_issue vs pgcrypto
  std::map<std::string, std::map<int, Pair>> sessions; // operation -> clients -> authflow vs Valkey
  std::map<int, Pair> rotation;                        // clients -> refresh with rotation on vs off
  std::map<int, Measurement> pgbench_select;           // the floors, by clients
  // The write floors ("insert", "update", "delete") and authflow's "create_new_user", by clients.
  std::map<std::string, std::map<int, Measurement>> write_floors;
  std::map<int, std::vector<Summary>> redis_get;       // one per round (the report averages them)
  long preload = 0;
  double valkey_bytes_per_session = 0; // used_memory after preload / sessions

  TableSize size, large;

  struct Purge {
    bool present = false;
    long rows_expired = 0, rows_deleted = 0;
    double seconds = 0;
    int clients = 0;
    Summary idle, during;
  } purge;

  struct Cli {
    bool installed = false;
    std::map<int, Summary> cycles; // clients -> full CLI cycles
    bool merge_ran = false;
    std::string merge_error;
    long merge_rows = 0;
    double merge_seconds = 0;
    Summary merge_idle, merge_during;
  } cli;

  // One gateway binary measured with wrk: the new one, and optionally a baseline (--baseline-gateway).
  struct GatewayRun {
    std::string label;                    // "after" (the one built) or "before" (the baseline)
    int pool_size = 0, io_threads = 0;    // as its /metrics and flags say
    std::map<int, Summary> current, poll; // connections -> wrk
    std::map<int, double> cpu_us;         // connections -> gateway CPU (utime + stime) per request, current route
    long rss_idle_kib = 0, rss_1000_kib = 0, rss_peak_kib = 0; // at start, with 1,000 connections open, at most
  };

  struct Http {
    bool built = false;
    std::string error;
    std::vector<GatewayRun> gateways; // the new one first
    bool poll_skipped = false;
    // authflow.http and session_validate called directly (pgbench, the same token), at the new
    // gateway's pool size, in the same rounds as wrk: requests/s.
    int direct_clients = 0;
    ScriptShare direct_http, direct_validate;
    // The hot route's SQL cost: both scripts in one pgbench run, by clients.
    std::map<int, std::pair<ScriptShare, ScriptShare>> sql_cost; // clients -> (validate, http)
    // perf's view of the new gateway at 64 connections: (what, share of its CPU in %).
    std::vector<std::pair<std::string, double>> profile;
    std::string profile_note; // why there is no profile, when there is none
  } http;

  std::vector<std::string> notes;
};

} // namespace authflow::bench
