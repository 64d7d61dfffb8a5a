// metrics.cpp: see metrics.hpp.
#include "metrics.hpp"

#include <sstream>

namespace authflow::gateway {

// escape_label_value follows the exposition format's three escapes.
std::string escape_label_value(const std::string &value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// record_request updates the request counter and the route's histogram together.
void Metrics::record_request(const std::string &route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  auto &histogram = latency_[route];
  for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
    if (seconds <= bucket_bounds[i])
      ++histogram.buckets[i];
  }
  ++histogram.count;
  histogram.sum += seconds;
}

// record_database_error bumps one error kind.
void Metrics::record_database_error(const std::string &kind) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++database_errors_[kind];
}

// record_retry bumps one retry reason.
void Metrics::record_retry(const std::string &reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++retries_[reason];
}

// render prints the families in a fixed order, each with HELP and TYPE lines.
std::string Metrics::render() const {
  std::ostringstream out;
  std::lock_guard<std::mutex> lock(mutex_);

  out << "# HELP authflow_gateway_requests_total HTTP requests answered, by route template and status.\n"
      << "# TYPE authflow_gateway_requests_total counter\n";
  for (const auto &[key, count] : requests_) {
    out << "authflow_gateway_requests_total{route=\"" << escape_label_value(key.first) << "\",status=\"" << key.second
        << "\"} " << count << "\n";
  }

  out << "# HELP authflow_gateway_request_duration_seconds Time from a complete request to its answer.\n"
      << "# TYPE authflow_gateway_request_duration_seconds histogram\n";
  for (const auto &[route, histogram] : latency_) {
    std::string label = "route=\"" + escape_label_value(route) + "\"";
    for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
      out << "authflow_gateway_request_duration_seconds_bucket{" << label << ",le=\"" << bucket_bounds[i] << "\"} "
          << histogram.buckets[i] << "\n";
    }
    out << "authflow_gateway_request_duration_seconds_bucket{" << label << ",le=\"+Inf\"} " << histogram.count << "\n"
        << "authflow_gateway_request_duration_seconds_sum{" << label << "} " << histogram.sum << "\n"
        << "authflow_gateway_request_duration_seconds_count{" << label << "} " << histogram.count << "\n";
  }

  out << "# HELP authflow_gateway_pool_connections Size of the database connection pool.\n"
      << "# TYPE authflow_gateway_pool_connections gauge\n"
      << "authflow_gateway_pool_connections " << pool_size_.load() << "\n"
      << "# HELP authflow_gateway_pool_connections_in_use Database connections busy with a call.\n"
      << "# TYPE authflow_gateway_pool_connections_in_use gauge\n"
      << "authflow_gateway_pool_connections_in_use " << pool_busy_.load() << "\n"
      << "# HELP authflow_gateway_pool_waiting_requests Requests waiting for a free database connection.\n"
      << "# TYPE authflow_gateway_pool_waiting_requests gauge\n"
      << "authflow_gateway_pool_waiting_requests " << pool_waiting_.load() << "\n";

  out << "# HELP authflow_gateway_database_errors_total Failed database calls, by kind.\n"
      << "# TYPE authflow_gateway_database_errors_total counter\n";
  for (const auto &[kind, count] : database_errors_) {
    out << "authflow_gateway_database_errors_total{kind=\"" << escape_label_value(kind) << "\"} " << count << "\n";
  }

  out << "# HELP authflow_gateway_database_retries_total Database calls retried, by reason.\n"
      << "# TYPE authflow_gateway_database_retries_total counter\n";
  for (const auto &[reason, count] : retries_) {
    out << "authflow_gateway_database_retries_total{reason=\"" << escape_label_value(reason) << "\"} " << count << "\n";
  }
  return out.str();
}

} // namespace authflow::gateway
