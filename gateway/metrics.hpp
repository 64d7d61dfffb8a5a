// metrics.hpp: counters, gauges and a latency histogram, rendered in the Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace authflow::gateway {

class Metrics {
public:
  // record_request counts one answered request and its latency under its route's label, and
  // returns that label (see route_label).
  std::string record_request(const std::string &route, int status, double seconds);

  // record_database_error counts a failed database call by kind (connection, timeout, ...).
  void record_database_error(const std::string &kind);

  // record_retry counts one retried call by reason (serialization_failure, deadlock, ...).
  void record_retry(const std::string &reason);

  // set_pool_size sets the pool size gauge.
  void set_pool_size(std::size_t size) { pool_size_ = static_cast<std::int64_t>(size); }
  // pool_busy_add moves the connections-in-use gauge.
  void pool_busy_add(std::int64_t delta) { pool_busy_ += delta; }
  // pool_ready_add moves the gauge of connections set up and taking calls.
  void pool_ready_add(std::int64_t delta) { pool_ready_ += delta; }
  // pool_waiting_add moves the waiting-requests gauge.
  void pool_waiting_add(std::int64_t delta) { pool_waiting_ += delta; }
  // pool_in_flight_add moves the gauge of calls sent to the database and not answered yet.
  void pool_in_flight_add(std::int64_t delta) { pool_in_flight_.fetch_add(delta, std::memory_order_relaxed); }

  // render writes every metric in the Prometheus text exposition format 0.0.4.
  std::string render() const;

  // The labels kept are bounded whatever the SQL side names: at most max_route_labels distinct
  // routes of at most max_route_label_length printable ASCII characters; anything else is
  // counted under other_route. Statuses outside a fixed list are counted by class ("4xx").
  static constexpr std::size_t max_route_labels = 32;
  static constexpr std::size_t max_route_label_length = 64;
  static constexpr const char *other_route = "other";

  static constexpr std::array<double, 12> bucket_bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

private:
  struct Histogram {
    std::array<std::uint64_t, bucket_bounds.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };

  // route_label is the label a route is kept under; the caller holds mutex_.
  std::string route_label(const std::string &route) const;

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, std::uint64_t> database_errors_;
  std::map<std::string, std::uint64_t> retries_;
  std::atomic<std::int64_t> pool_size_{0};
  std::atomic<std::int64_t> pool_busy_{0};
  std::atomic<std::int64_t> pool_ready_{0};
  std::atomic<std::int64_t> pool_waiting_{0};
  std::atomic<std::int64_t> pool_in_flight_{0};
};

// escape_label_value escapes a Prometheus label value (backslash, quote, newline).
std::string escape_label_value(const std::string &value);

} // namespace authflow::gateway
