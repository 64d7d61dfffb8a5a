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

  struct Http {
    bool built = false;
    std::string error;
    int pool_size = 0;
    std::map<int, Summary> current, poll; // connections -> wrk
    bool poll_skipped = false;
    long rss_idle_kib = 0, rss_peak_kib = 0; // the gateway's resident memory: started, and at most
  } http;

  std::vector<std::string> notes;
};

} // namespace authflow::bench
