// measure.hpp: timed loops over client threads, and what they measured.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace authflow::bench {

using Clock = std::chrono::steady_clock;

// Measurement is what one or more timed cells of one workload measured.
struct Measurement {
  std::uint64_t ops = 0;       // successful operations
  std::uint64_t errors = 0;    // failed operations (exceptions, unexpected results)
  std::uint64_t exhausted = 0; // threads that ran out of work before the end of a cell
  double seconds = 0;          // wall time of the cells
  std::vector<std::uint64_t> latencies_ns;

  bool empty() const { return seconds <= 0; }
  double rate() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double p50_us() const { return percentile_us(0.50); }
  double p99_us() const { return percentile_us(0.99); }
  double percentile_us(double fraction) const;
  void add(Measurement other);
};

// An Operation runs one operation of a client thread; false when it failed. It throws Exhausted
// when its client has nothing left to work on (no session left to revoke): that thread stops.
using Operation = std::function<bool()>;
struct Exhausted {};

// run_timed runs each operation in a loop on its own thread, all starting together, until
// `seconds` have passed or *stop becomes true, whichever comes first.
Measurement run_timed(const std::vector<Operation> &operations, double seconds,
                      const std::atomic<bool> *stop = nullptr);

// Summary is a measurement reduced to the numbers the report shows (also for external tools).
struct Summary {
  double rate = 0, p50_us = 0, p99_us = 0;
  std::uint64_t errors = 0;
  bool present = false;
};
Summary summarize(const Measurement &measurement);

// ScriptShare is one pgbench script's part of a run: its transactions per second and latency average.
struct ScriptShare {
  double tps = 0, latency_ms = 0;
  bool present = false;
};

} // namespace authflow::bench
