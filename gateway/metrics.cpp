// metrics.cpp: see metrics.hpp.
#include "metrics.hpp"

#include <algorithm>
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

namespace {

// status_label keeps the statuses the gateway and the SQL side answer with; any other is
// counted by its class, so that the set of status labels is fixed.
std::string status_label(int status) {
  static constexpr std::array<int, 20> known = {200, 201, 204, 301, 302, 304, 400, 401, 403, 404,
                                                405, 409, 413, 414, 429, 431, 500, 502, 503, 504};
  for (int k : known) {
    if (k == status)
      return std::to_string(status);
  }
  if (status >= 100 && status <= 599)
    return std::to_string(status / 100) + "xx";
  return "other";
}

// is_own_label names the labels the gateway itself gives: always kept, outside the bound.
bool is_own_label(const std::string &route) {
  return route == "GET /healthz" || route == "GET /readyz" || route == "GET /metrics" || route == "unmatched" ||
         route == Metrics::other_route;
}

} // namespace

// route_label keeps a route already known, or a new one while it is short printable text and
// there is room; anything else is "other".
std::string Metrics::route_label(const std::string &route) const {
  if (latency_.count(route) > 0 || is_own_label(route))
    return route;
  bool printable = !route.empty() && route.size() <= max_route_label_length &&
                   std::all_of(route.begin(), route.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
  if (!printable || latency_.size() >= max_route_labels)
    return other_route;
  return route;
}

// record_request updates the request counter and the route's histogram together.
std::string Metrics::record_request(const std::string &route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string label = route_label(route);
  ++requests_[{label, status_label(status)}];
  auto &histogram = latency_[label];
  for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
    if (seconds <= bucket_bounds[i])
      ++histogram.buckets[i];
  }
  ++histogram.count;
  histogram.sum += seconds;
  return label;
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
      << "# HELP authflow_gateway_pool_connections_ready Database connections set up and taking calls.\n"
      << "# TYPE authflow_gateway_pool_connections_ready gauge\n"
      << "authflow_gateway_pool_connections_ready " << pool_ready_.load() << "\n"
      << "# HELP authflow_gateway_pool_connections_in_use Database connections with at least one call in flight.\n"
      << "# TYPE authflow_gateway_pool_connections_in_use gauge\n"
      << "authflow_gateway_pool_connections_in_use " << pool_busy_.load() << "\n"
      << "# HELP authflow_gateway_pool_waiting_requests Requests waiting for a database connection to be set up.\n"
      << "# TYPE authflow_gateway_pool_waiting_requests gauge\n"
      << "authflow_gateway_pool_waiting_requests " << pool_waiting_.load() << "\n"
      << "# HELP authflow_gateway_pool_requests_in_flight Calls sent to the database (in a pipeline) and not answered "
         "yet.\n"
      << "# TYPE authflow_gateway_pool_requests_in_flight gauge\n"
      << "authflow_gateway_pool_requests_in_flight " << pool_in_flight_.load() << "\n";

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
